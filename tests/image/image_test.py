#!/usr/bin/env python3
"""The pgdog-control OCI image (helm/image), run with podman as the Helm chart
runs it: user 1000:1000, read-only root filesystem, every capability dropped,
no-new-privileges, the config mounted read-only and named by
PGDOG_CONTROL_CONFIG.

The image is built and loaded once per CTest run by image-fixture.sh into the
tests' own podman storage ($PGDC_IMAGE_STATE/storage); tests/image/podman.sh
carries the podman settings that work here (vfs, runc, cgroupfs). Every
container is labelled with this run's id and removed in tearDown, also when a
test fails; the fixture's cleanup removes whatever is left.

Run one class: image_test.py Contents | Run | ConfigErrors | HighAvailability

Environment: PGDC_IMAGE_STATE (the fixture's directory), PGDC_SOURCE_DIR (the
source tree, for the chart's defaults), PGDC_KUBE_ENV (HighAvailability only:
an environment started by tests/kube/kube-env.sh).
"""
import gzip
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
sys.path.insert(0, os.path.join(HERE, "..", "kube"))
import daemon_test as d  # noqa: E402  free_port, get
import lease_daemon_test as lt  # noqa: E402  KENV, kubectl, get_lease, check_safety

STATE = os.environ.get("PGDC_IMAGE_STATE", "")
SOURCE = os.environ.get("PGDC_SOURCE_DIR", os.path.join(HERE, "..", ".."))
PODMAN = [os.path.join(HERE, "podman.sh")]
RUN_ID = uuid.uuid4().hex[:8]
LABEL = "pgdc-image-test=" + RUN_ID

# What the chart's pod spec sets (helm/pgdog-control/values.yaml:
# control.securityContext, terminationGracePeriodSeconds 15 by default).
CONFIG_PATH = "/etc/pgdog-control/config.yaml"
GRACE_SECS = 15
CHART_LIKE = [
    "--user", "1000:1000",
    "--read-only", "--read-only-tmpfs=false",  # Kubernetes mounts no tmpfs either
    "--cap-drop", "ALL",
    "--security-opt", "no-new-privileges",
    # podman's defaults fail with EPERM here (/work/shared/design/containers.md).
    "--ulimit", "nofile=4096:4096", "--ulimit", "nproc=2048:2048",
    "--env", "PGDOG_CONTROL_CONFIG=" + CONFIG_PATH,
]
GOAL_COMPRESSED = 30 * 1000 * 1000

# Short leases, as in tests/kube: duration 4 s, interval 1 s, renew deadline 3 s.
DURATION, INTERVAL = 4, 1


def load_image_env():
    env = {}
    path = os.path.join(STATE, "build", "image.env")
    if STATE and os.path.exists(path):
        with open(path) as f:
            for line in f:
                k, _, v = line.strip().partition("=")
                env[k] = shlex.split(v)[0] if v else ""
    return env


IMG = load_image_env()


def podman(*args, check=True, timeout=120):
    r = subprocess.run(PODMAN + list(args), capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
    return r


def scratch_dir(name):
    """A directory the container user (1000) can read, under the fixture's state."""
    path = os.path.join(STATE, "tmp", RUN_ID, name)
    os.makedirs(path, exist_ok=True)
    for p in (os.path.join(STATE, "tmp"), os.path.join(STATE, "tmp", RUN_ID), path):
        os.chmod(p, 0o755)
    return path


def write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


class Container:
    """A detached container of the image; logs() is what `podman logs` shows."""

    def __init__(self, name, port, args, image_args=()):
        self.name = f"pgdc-img-{RUN_ID}-{name}"
        self.port = port
        self.killed_at = None
        podman("run", "--detach", "--name", self.name, "--label", LABEL, *CHART_LIKE, *args,
               IMG["IMAGE_REF"], *image_args)

    def logs(self):
        r = podman("logs", self.name, check=False)
        return r.stdout + r.stderr

    def state(self):
        r = podman("inspect", self.name, "--format", "{{.State.Status}} {{.State.ExitCode}}")
        status, code = r.stdout.split()
        return status, int(code)

    def running(self):
        return self.state()[0] == "running"

    def status(self, path):
        try:
            return d.get(self.port, path, timeout=2)[0]
        except Exception:
            return None

    def ready(self):
        return self.status("/readyz") == 200

    def wait_status(self, path, status, timeout=20):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = self.status(path)
            if last == status:
                return
            if not self.running():
                raise AssertionError(f"{self.name} exited {self.state()}:\n{self.logs()}")
            time.sleep(0.05)
        raise AssertionError(f"{self.name}: {path} never answered {status} (last {last}):\n{self.logs()}")


def remove_run_containers():
    r = podman("ps", "--all", "--filter", "label=" + LABEL, "--format", "{{.Names}}", check=False)
    names = r.stdout.split()
    if names:
        podman("rm", "--force", "--time", "0", *names, check=False)


def image_path(member):
    """"./usr/bin/x" or "usr/bin/x" in a layer tar -> "/usr/bin/x"."""
    name = member.name[2:] if member.name.startswith("./") else member.name
    return "/" + name.rstrip("/")


def log_time(line):
    return lt.parse_ts(line.split(" ", 1)[0])


def first_line(logs, needle):
    for line in logs.splitlines():
        if needle in line:
            return line
    return None


@unittest.skipUnless(IMG, "no image fixture (PGDC_IMAGE_STATE)")
class Contents(unittest.TestCase):
    """What is in the image, read from the exported OCI archive."""

    @classmethod
    def setUpClass(cls):
        with tarfile.open(IMG["IMAGE_ARCHIVE"]) as t:
            def blob(digest):
                return t.extractfile("blobs/sha256/" + digest.split(":", 1)[1]).read()
            index = json.loads(t.extractfile("index.json").read())
            cls.index = index
            cls.manifest = json.loads(blob(index["manifests"][0]["digest"]))
            cls.config = json.loads(blob(cls.manifest["config"]["digest"]))
            cls.layers = [blob(layer["digest"]) for layer in cls.manifest["layers"]]
        cls.members = []
        for data in cls.layers:
            with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as lt_:
                cls.members += lt_.getmembers()
        with open(IMG["IMAGE_MANIFEST"]) as f:
            cls.tsv_text = f.read()
        rows = [line.split("\t") for line in cls.tsv_text.splitlines()[2:]]
        cls.tsv = {r[0]: r for r in rows}

    def test_one_gzip_layer_within_the_size_goal(self):
        self.assertEqual(len(self.layers), 1)
        self.assertEqual(self.manifest["layers"][0]["mediaType"], "application/vnd.oci.image.layer.v1.tar+gzip")
        size = len(self.layers[0])
        print(f"\nimage size: {size / 1048576:.1f} MiB compressed, "
              f"{len(gzip.decompress(self.layers[0])) / 1048576:.1f} MiB uncompressed", file=sys.stderr)
        self.assertLessEqual(size, GOAL_COMPRESSED)

    def test_config_is_what_the_chart_expects(self):
        c = self.config["config"]
        self.assertEqual(self.config["architecture"], "amd64")
        self.assertEqual(self.config["os"], "linux")
        self.assertEqual(c["User"], "1000:1000")
        self.assertEqual(c["Entrypoint"], ["/usr/bin/pgdog-control"])
        self.assertFalse(c.get("Cmd"))
        self.assertEqual(list(c["ExposedPorts"]), ["8080/tcp"])
        self.assertEqual(c.get("StopSignal"), "SIGTERM")
        labels = c["Labels"]
        self.assertEqual(labels["org.opencontainers.image.version"], IMG["IMAGE_VERSION"])
        for key in ("source", "licenses", "revision", "title"):
            self.assertTrue(labels.get("org.opencontainers.image." + key), key)
        ref_name = self.index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"]
        self.assertEqual(ref_name, IMG["IMAGE_REF"])

    def test_name_and_tag_are_the_charts_defaults(self):
        chart = os.path.join(SOURCE, "helm", "pgdog-control")
        if not os.path.exists(os.path.join(chart, "Chart.yaml")):
            self.skipTest("no chart")
        with open(os.path.join(chart, "Chart.yaml")) as f:
            app_version = re.search(r'^appVersion:\s*"?([^"\s]+)"?', f.read(), re.M).group(1)
        with open(os.path.join(chart, "values.yaml")) as f:
            repo = re.search(r"^\s+repository:\s*(\S+)", f.read(), re.M).group(1)
        self.assertEqual(IMG["IMAGE_REF"], f"{repo}:{app_version}")

    def test_manifest_lists_exactly_the_files_of_the_layer(self):
        files = {image_path(m): m for m in self.members if not m.isdir()}
        self.assertEqual(sorted(files), sorted(self.tsv))
        for path, m in files.items():
            row = self.tsv[path]
            pkg, version = row[6], row[7]
            self.assertTrue(pkg and version and version != "-", row)
            if m.issym():
                self.assertEqual(row[1], "symlink")
                self.assertEqual(row[5], m.linkname)
            else:
                self.assertTrue(m.isfile(), path)
                if row[3] != "-":
                    self.assertEqual(int(row[3]), m.size, path)
        # The copy inside the image is the build's manifest.
        with tarfile.open(fileobj=io.BytesIO(gzip.decompress(self.layers[0]))) as t:
            name = next(m.name for m in t.getmembers() if m.name.endswith("image-manifest.tsv"))
            self.assertEqual(t.extractfile(name).read().decode(), self.tsv_text)

    def test_own_files_and_debian_files(self):
        ours = {p for p, r in self.tsv.items() if r[6] == "pgdog-control"}
        self.assertEqual(ours, {
            "/usr/bin/pgdog-control",
            "/usr/lib/pgdog-control/plugins/noop.so",
            "/usr/lib/pgdog-control/plugins/kubernetes.so",
            "/etc/passwd", "/etc/group", "/etc/nsswitch.conf",
            "/usr/share/doc/pgdog-control/image-manifest.tsv",
        })
        self.assertTrue(all(self.tsv[p][7] == IMG["IMAGE_VERSION"] for p in ours))
        # Every other file is from a Debian package at its installed version.
        for p, r in self.tsv.items():
            if p in ours:
                continue
            q = subprocess.run(["dpkg-query", "-W", "-f=${Version}", r[6]], capture_output=True, text=True)
            self.assertEqual(q.stdout, r[7], p)
        pkgs = {r[6] for r in self.tsv.values()}
        for needed in ("libc6", "libstdc++6", "libssl3", "libcpprest2.10", "libyaml-cpp0.7",
                       "libboost-filesystem1.74.0", "ca-certificates"):
            self.assertIn(needed, pkgs)
        self.assertIn("/lib64/ld-linux-x86-64.so.2", self.tsv)
        self.assertIn("/etc/ssl/certs/ca-certificates.crt", self.tsv)

    def test_distroless_no_shell_no_package_manager_root_owned(self):
        names = {image_path(m) for m in self.members}
        for forbidden in ("/bin/sh", "/bin/bash", "/usr/bin/sh", "/bin/busybox", "/usr/bin/apt",
                          "/usr/bin/dpkg", "/var/lib/dpkg", "/usr/bin/env", "/sbin/ldconfig"):
            self.assertNotIn(forbidden, names)
        execs = sorted(image_path(m) for m in self.members if not m.isdir()
                       and image_path(m).startswith(("/bin/", "/sbin/", "/usr/bin/", "/usr/sbin/")))
        self.assertEqual(execs, ["/usr/bin/pgdog-control"])
        for m in self.members:
            self.assertEqual((m.uid, m.gid), (0, 0), m.name)
            self.assertFalse(m.mode & 0o6000, f"setuid/setgid: {m.name}")
            if not m.issym():
                self.assertFalse(m.mode & 0o002, f"world-writable: {m.name}")

    def test_passwd_and_group_hold_user_1000(self):
        with tarfile.open(fileobj=io.BytesIO(gzip.decompress(self.layers[0]))) as t:
            def read(n):
                return t.extractfile(next(m for m in t.getmembers() if image_path(m) == n)).read().decode()
            self.assertIn("pgdog-control:x:1000:1000:", read("/etc/passwd"))
            self.assertIn("pgdog-control:x:1000:", read("/etc/group"))


@unittest.skipUnless(IMG, "no image fixture (PGDC_IMAGE_STATE)")
class Run(unittest.TestCase):
    """One container with the no-op default, exactly as the chart runs it."""

    def tearDown(self):
        remove_run_containers()

    def test_chart_like_run_probes_and_clean_sigterm(self):
        cfg = write(os.path.join(scratch_dir("noop"), "config.yaml"),
                    '# as the chart renders control.config by default\n'
                    'listen: "0.0.0.0:8080"\nleader:\n  enabled: false\nlog:\n  level: info\n  format: text\n')
        port = d.free_port()
        t_run = time.monotonic()
        c = Container("noop", port, [
            "--volume", f"{cfg}:{CONFIG_PATH}:ro",
            "--env", "POD_NAME=pgdog-control-0", "--env", "POD_NAMESPACE=default",
            "--publish", f"127.0.0.1:{port}:8080"])
        c.wait_status("/healthz", 200)
        c.wait_status("/readyz", 200)
        print(f"\npodman run -> /readyz 200: {(time.monotonic() - t_run) * 1000:.0f} ms", file=sys.stderr)
        st = json.loads(d.get(port, "/api/status")[2])
        pid = podman("inspect", c.name, "--format", "{{.State.Pid}}").stdout.strip()
        with open(f"/proc/{pid}/status") as f:
            rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        print(f"RSS: {rss / 1024:.1f} MiB", file=sys.stderr)
        self.assertTrue(st["identity"].startswith("pgdog-control-0_"), st)
        # The process runs as 1000:1000 (named through the image's
        # /etc/passwd and /etc/group) with no capabilities.
        top = podman("top", c.name, "user", "group", "capeff").stdout.split("\n")[1].split()
        self.assertEqual(top, ["pgdog-control", "pgdog-control", "none"])
        self.assertEqual(podman("inspect", c.name, "--format", "{{.Config.User}}").stdout.strip(), "1000:1000")
        t0 = time.monotonic()
        podman("stop", "--time", str(GRACE_SECS), c.name, timeout=GRACE_SECS + 30)
        took = time.monotonic() - t0
        self.assertEqual(c.state(), ("exited", 0), c.logs())
        self.assertLess(took, GRACE_SECS, "podman stop had to SIGKILL")
        print(f"podman stop -> exit 0: {took * 1000:.0f} ms", file=sys.stderr)
        logs = c.logs()
        self.assertIn(f"pgdog-control {IMG['IMAGE_VERSION']} starting: plugin noop", logs)
        self.assertIn("(/usr/lib/pgdog-control/plugins/noop.so)", logs)
        self.assertIn("received signal 15, shutting down", logs)
        self.assertRegex(logs, r"stopped; leadership released in \d+ms")

    def test_embedded_default_without_config(self):
        # Without PGDOG_CONTROL_CONFIG: the embedded default on 0.0.0.0:8080.
        port = d.free_port()
        c = Container("default", port, ["--env", "PGDOG_CONTROL_CONFIG=", "--publish", f"127.0.0.1:{port}:8080"])
        c.wait_status("/readyz", 200)
        self.assertIn("listen 0.0.0.0:8080", c.logs())
        r = podman("exec", c.name, "/usr/bin/pgdog-control", "--check")
        self.assertIn("configuration OK (<embedded default>)", r.stdout)

    def test_version_and_check_through_the_entrypoint(self):
        r = podman("run", "--rm", "--label", LABEL, *CHART_LIKE, IMG["IMAGE_REF"], "--version")
        self.assertEqual(r.stdout.split()[:2], ["pgdog-control", IMG["IMAGE_VERSION"]])
        cfg = write(os.path.join(scratch_dir("check"), "config.yaml"),
                    "leader:\n  enabled: true\n  backend: kubernetes\n"
                    "  options:\n    kubeconfig: /nonexistent\n")
        # --check loads the plugin named by the file: kubernetes.so and its
        # whole library closure (cpprest, OpenSSL, Boost) resolve in the image.
        r = podman("run", "--rm", "--label", LABEL, *CHART_LIKE, "--network", "none",
                   "--volume", f"{cfg}:{CONFIG_PATH}:ro", IMG["IMAGE_REF"], "--check", check=False)
        out = r.stdout + r.stderr
        self.assertNotIn("cannot open shared object", out)
        self.assertIn("kubeconfig", out)


@unittest.skipUnless(IMG, "no image fixture (PGDC_IMAGE_STATE)")
class ConfigErrors(unittest.TestCase):
    """The image refuses to start, with exit status 2 and a clear message."""

    def tearDown(self):
        remove_run_containers()

    def run_image(self, *args):
        r = podman("run", "--rm", "--label", LABEL, *CHART_LIKE, "--network", "none", *args,
                   IMG["IMAGE_REF"], check=False, timeout=60)
        return r.returncode, r.stdout + r.stderr

    def test_missing_config_file(self):
        # The chart's PGDOG_CONTROL_CONFIG without the ConfigMap mounted.
        code, out = self.run_image()
        self.assertEqual(code, 2, out)
        self.assertIn(f'cannot read config file "{CONFIG_PATH}": No such file or directory', out)

    def test_invalid_config_file(self):
        cfg = write(os.path.join(scratch_dir("bad"), "config.yaml"),
                    'listen: "0.0.0.0"\nleader:\n  enabled: yes\n  lease_duratin_secs: 4\n')
        code, out = self.run_image("--volume", f"{cfg}:{CONFIG_PATH}:ro")
        self.assertEqual(code, 2, out)
        self.assertIn(f"invalid configuration in {CONFIG_PATH} (3 problems)", out)
        self.assertIn('listen: "0.0.0.0" has no port', out)
        self.assertIn('did you mean "lease_duration_secs"?', out)

    def test_unreadable_config_file(self):
        # Mounted, but not readable by user 1000 (a wrong defaultMode, say).
        cfg = write(os.path.join(scratch_dir("private"), "config.yaml"), "leader:\n  enabled: false\n", mode=0o600)
        code, out = self.run_image("--volume", f"{cfg}:{CONFIG_PATH}:ro")
        self.assertEqual(code, 2, out)
        self.assertIn(f'cannot read config file "{CONFIG_PATH}": Permission denied', out)


@unittest.skipUnless(IMG and lt.KENV, "needs the image fixture and a kube environment (PGDC_KUBE_ENV)")
class HighAvailability(unittest.TestCase):
    """Three containers with the Kubernetes plugin against the test
    kube-apiserver. It listens on the host's 127.0.0.1 only and its serving
    certificate names 127.0.0.1 (not a bridge or slirp gateway address), so
    the containers share the host's network namespace (--network host) and
    each listens on its own loopback port."""

    def setUp(self):
        self.lease = "img-" + uuid.uuid4().hex[:10]
        self.containers = []

    def tearDown(self):
        remove_run_containers()

    def start(self, i, in_cluster):
        dirn = scratch_dir(f"ha-{self.lease}-{i}")
        user = f"ELECTOR_{i}"
        port = d.free_port()
        args = ["--network", "host", "--env", f"POD_NAME={self.lease}-{i}",
                "--env", "POD_NAMESPACE=" + lt.KENV["KUBE_NAMESPACE"]]
        options = ""
        if in_cluster:
            # As in a pod: KUBERNETES_SERVICE_HOST/PORT and the service account's
            # token, CA and namespace (the chart's path; no kubeconfig).
            sa = os.path.join(dirn, "serviceaccount")
            os.makedirs(sa, exist_ok=True)
            os.chmod(sa, 0o755)
            write(os.path.join(sa, "token"), lt.KENV[f"KUBE_TOKEN_{user}"])
            shutil.copy(lt.KENV["KUBE_CA"], os.path.join(sa, "ca.crt"))
            os.chmod(os.path.join(sa, "ca.crt"), 0o644)
            write(os.path.join(sa, "namespace"), lt.KENV["KUBE_NAMESPACE"])
            args += ["--volume", f"{sa}:/var/run/secrets/kubernetes.io/serviceaccount:ro",
                     "--env", "KUBERNETES_SERVICE_HOST=127.0.0.1",
                     "--env", "KUBERNETES_SERVICE_PORT=" + lt.KENV["KUBE_API_PORT"]]
        else:
            # The user's kubeconfig (mode 0600, root's) rewritten for the
            # container: readable by 1000, CA at its path inside the container.
            kube = os.path.join(dirn, "kube")
            os.makedirs(kube, exist_ok=True)
            os.chmod(kube, 0o755)
            with open(lt.KENV[f"KUBECONFIG_{user}"]) as f:
                text = re.sub(r"certificate-authority: .*", "certificate-authority: /etc/pgdog-control/kube/ca.crt",
                              f.read())
            write(os.path.join(kube, "kubeconfig"), text)
            shutil.copy(lt.KENV["KUBE_CA"], os.path.join(kube, "ca.crt"))
            os.chmod(os.path.join(kube, "ca.crt"), 0o644)
            args += ["--volume", f"{kube}:/etc/pgdog-control/kube:ro"]
            options = "  options:\n    kubeconfig: /etc/pgdog-control/kube/kubeconfig\n"
        cfg = write(os.path.join(dirn, "config.yaml"),
                    f'listen: "127.0.0.1:{port}"\n'
                    "leader:\n"
                    "  enabled: true\n"
                    "  backend: kubernetes\n"
                    f"  lease_name: {self.lease}\n"
                    f"  lease_duration_secs: {DURATION}\n"
                    f"  lease_interval_secs: {INTERVAL}\n"
                    "  release_timeout_secs: 5\n" + options)
        args += ["--volume", f"{cfg}:{CONFIG_PATH}:ro"]
        c = Container(f"ha{i}", port, args)
        self.containers.append(c)
        return c

    def ready_ones(self, containers=None):
        return [c for c in (containers or self.containers) if c.ready()]

    def wait_one_ready(self, containers, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready = self.ready_ones(containers)
            if len(ready) == 1:
                return ready[0]
            time.sleep(0.05)
        self.fail("no single ready container:\n" + "\n".join(c.logs()[-3000:] for c in containers))

    def test_one_ready_stop_hands_over_kill_takes_over_after_the_lease(self):
        for i in (1, 2, 3):
            self.start(i, in_cluster=(i == 3))
        for c in self.containers:
            c.wait_status("/healthz", 200)
        leader = self.wait_one_ready(self.containers)

        # Exactly one Ready at every sample for a few renewals.
        rounds = 0
        end = time.monotonic() + 3 * INTERVAL + 1
        while time.monotonic() < end:
            ready = self.ready_ones()
            self.assertEqual([c.name for c in ready], [leader.name], "exactly one Ready")
            rounds += 1
            time.sleep(0.05)
        self.assertGreater(rounds, 10)
        lease = lt.get_lease(self.lease)
        self.assertEqual(lease["spec"]["leaseDurationSeconds"], DURATION)
        st = json.loads(d.get(leader.port, "/api/status")[2])
        self.assertEqual(lease["spec"]["holderIdentity"], st["identity"])
        self.assertIn("https://127.0.0.1:%s (in-cluster" % lt.KENV["KUBE_API_PORT"], self.containers[2].logs())

        # podman stop (SIGTERM) on the leader: it releases the Lease and exits
        # 0; a follower takes over at once, without waiting for expiry.
        podman("stop", "--time", str(GRACE_SECS), leader.name, timeout=GRACE_SECS + 30)
        self.assertEqual(leader.state(), ("exited", 0), leader.logs())
        rest = [c for c in self.containers if c is not leader]
        second = self.wait_one_ready(rest)
        old_logs = leader.logs()
        # With followers SIGTERM hands the Lease over (members, ABI 1.4).
        self.assertIn("handed the Lease over to", old_logs)
        signal_at = log_time(first_line(old_logs, "received signal 15"))
        ready_at = log_time(first_line(second.logs(), "[core] ready: leading"))
        self.assertLess(ready_at - signal_at, DURATION - INTERVAL,
                        "the handover waited for the lease to expire")
        print(f"\nSIGTERM handover: {ready_at - signal_at:.3f} s", file=sys.stderr)

        # podman kill (SIGKILL) on the new leader: no release; the last one
        # takes over only once the lease has expired.
        third = next(c for c in rest if c is not second)
        time.sleep(2 * INTERVAL)
        t0 = time.time()
        podman("kill", second.name)
        second.killed_at = time.time()
        # kill returns once the signal is sent; podman reports "stopped" until
        # it has reaped the container and recorded the exit: wait for that.
        podman("wait", second.name)
        self.assertEqual(second.state(), ("exited", 137))
        self.wait_one_ready([third], timeout=DURATION + 20)
        took = log_time(first_line(third.logs(), "[core] ready: leading")) - t0
        print(f"SIGKILL takeover: {took:.3f} s (lease {DURATION} s, interval {INTERVAL} s)", file=sys.stderr)
        self.assertGreaterEqual(took, DURATION - INTERVAL - 0.1, "took over before the lease expired")
        self.assertLess(took, DURATION + 10)
        self.assertNotIn("released lease", second.logs())
        st = json.loads(d.get(third.port, "/api/status")[2])
        self.assertEqual(st["epoch"]["term"], 3,
                         "two transitions after the create (at 1): the handover and the takeover")

        # Readiness intervals from the three logs never overlap.
        lt.check_safety(self, self.containers)


def tearDownModule():
    remove_run_containers()
    shutil.rmtree(os.path.join(STATE, "tmp", RUN_ID), ignore_errors=True)


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
    from ctest_main import main  # noqa: E402
    main()
