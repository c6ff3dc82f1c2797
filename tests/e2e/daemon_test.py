#!/usr/bin/env python3
"""The pgdog-control daemon end to end, as a process, over real sockets.

Environment (set by CTest):
  PGDC_BIN              path to pgdog-control
  PGDC_SCRIPTED_PLUGIN  path to the scripted test plugin (.so)
  PGDC_TMP              scratch directory
"""
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

BIN = os.environ.get("PGDC_BIN", "build/bin/pgdog-control")
SCRIPTED = os.environ.get("PGDC_SCRIPTED_PLUGIN", "")
TMP = os.environ.get("PGDC_TMP") or tempfile.mkdtemp(prefix="pgdc-e2e-")

# Liveness bounds only: generous, so a loaded 2-core machine cannot flake them.
START_TIMEOUT = 20.0
EXIT_TIMEOUT = 20.0


def free_port():
    """A port free now, below the kernel's ephemeral range (32768 and up): a
    port from bind(0) could be handed to another test's bind(0) or outgoing
    connection before the daemon binds it, and the test would then talk to
    someone else's listener."""
    for _ in range(200):
        port = random.randrange(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("0.0.0.0", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port between 20000 and 32000")


def write_config(name, text):
    os.makedirs(TMP, exist_ok=True)
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def get(port, path, timeout=5.0):
    """Returns (status, headers, body) without raising on HTTP errors."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def run(args, env=None, timeout=30):
    e = dict(os.environ)
    e.pop("PGDOG_CONTROL_CONFIG", None)
    if env:
        e.update(env)
    return subprocess.run([BIN] + args, capture_output=True, text=True, timeout=timeout, env=e)


class Daemon:
    """A running pgdog-control; stderr goes to a file the test can read."""

    def __init__(self, config_text=None, args=(), env=None):
        self.port = free_port()
        self.log_path = os.path.join(TMP, f"daemon-{self.port}.log")
        argv = [BIN] + list(args)
        if config_text is not None:
            text = config_text.replace("@PORT@", str(self.port))
            argv += ["--config", write_config(f"config-{self.port}.yaml", text)]
        e = dict(os.environ)
        e.pop("PGDOG_CONTROL_CONFIG", None)
        if env:
            e.update(env)
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=self.log, env=e)

    def wait_listening(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited early ({self.proc.returncode}):\n{self.logs()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.02)
        raise AssertionError("daemon never listened:\n" + self.logs())

    def wait_status(self, path, status, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited ({self.proc.returncode}):\n{self.logs()}")
            try:
                last = get(self.port, path)
            except (urllib.error.URLError, ConnectionError) as e:
                last = e
                time.sleep(0.02)
                continue
            if last[0] == status:
                return last
            time.sleep(0.05)
        raise AssertionError(f"{path} never returned {status}; last {last}\n{self.logs()}")

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        return self.wait_exit()

    def wait_exit(self):
        try:
            return self.proc.wait(timeout=EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError("daemon did not exit:\n" + self.logs())

    def logs(self):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


NOOP_CONFIG = 'listen: "127.0.0.1:@PORT@"\n'


def scripted_config(options, lease_duration=15, release_timeout=5, interval=5):
    opts = "".join(f"    {k}: {json.dumps(v)}\n" for k, v in options.items())
    return (
        'listen: "127.0.0.1:@PORT@"\n'
        "leader:\n"
        "  enabled: true\n"
        f"  backend: {SCRIPTED}\n"
        f"  lease_duration_secs: {lease_duration}\n"
        f"  lease_interval_secs: {interval}\n"
        f"  release_timeout_secs: {release_timeout}\n"
        "  options:\n" + (opts if opts else "    {}\n")
    )


class CommandLine(unittest.TestCase):
    def test_version_and_help(self):
        r = run(["--version"])
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^pgdog-control \d+\.\d+\.\d+ \(plugin ABI 1\.\d+\)")
        r = run(["--help"])
        self.assertEqual(r.returncode, 0)
        self.assertIn("--config PATH", r.stdout)
        self.assertIn("Exit status", r.stdout)

    def test_usage_errors_exit_2(self):
        r = run(["--bogus"])
        self.assertEqual(r.returncode, 2)
        self.assertIn('unknown argument "--bogus"', r.stderr)
        r = run(["--config"])
        self.assertEqual(r.returncode, 2)
        self.assertIn("--config needs a value", r.stderr)
        r = run(["--log-format", "xml"])
        self.assertEqual(r.returncode, 2)
        self.assertIn("--log-format must be text or json", r.stderr)

    def test_check_embedded_default(self):
        r = run(["--check"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"configuration OK \(<embedded default>\): plugin noop 1\.0\.0")
        self.assertIn("leader election off (single replica)", r.stdout)
        self.assertEqual(len(r.stdout.strip().splitlines()), 1, "one-line summary")

    def test_check_good_file_and_env_variable(self):
        path = write_config("good.yaml", 'listen: "127.0.0.1:9999"\nleader:\n  enabled: false\n')
        r = run(["--check", "--config", path])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"configuration OK ({path})", r.stdout)
        self.assertIn("listen 127.0.0.1:9999", r.stdout)
        r = run(["--check"], env={"PGDOG_CONTROL_CONFIG": path})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"configuration OK ({path})", r.stdout)

    def test_check_bad_config_reports_every_problem(self):
        path = write_config(
            "bad.yaml",
            "leader:\n  enabled: maybe\n  lease_duratin_secs: 10\n  lease_name: Bad_Name\n",
        )
        r = run(["--check", "--config", path])
        self.assertEqual(r.returncode, 2)
        self.assertIn(f"invalid configuration in {path} (3 problems)", r.stderr)
        self.assertIn("leader.enabled", r.stderr)
        self.assertIn('did you mean "lease_duration_secs"', r.stderr)
        self.assertIn("leader.lease_name", r.stderr)

    def test_check_missing_config_file(self):
        r = run(["--check", "--config", os.path.join(TMP, "nope.yaml")])
        self.assertEqual(r.returncode, 2)
        self.assertIn("No such file or directory", r.stderr)

    def test_config_that_is_not_a_regular_file_is_refused_at_once(self):
        # A FIFO used to block open() for ever, with SIGTERM blocked;
        # /dev/zero used to end in std::bad_alloc.
        fifo = os.path.join(TMP, "config.fifo")
        if os.path.exists(fifo):
            os.unlink(fifo)
        os.mkfifo(fifo)
        for path, kind in ((fifo, "a FIFO"), ("/dev/zero", "a character device")):
            r = run(["--config", path], timeout=10)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(f'cannot read config file "{path}": not a regular file ({kind})',
                          r.stderr)

    def test_control_bytes_of_the_config_are_escaped_in_errors(self):
        path = write_config("esc.yaml", 'a: "\\\x1b"\r\n')
        r = run(["--check", "--config", path])
        self.assertEqual(r.returncode, 2)
        self.assertIn("YAML syntax error", r.stderr)
        self.assertIn("\\x1b", r.stderr)
        self.assertNotIn("\x1b", r.stderr)

    def test_check_missing_plugin_names_the_file(self):
        path = write_config(
            "k8s.yaml", f"plugin_dir: {TMP}/no-plugins\nleader:\n  enabled: true\n"
        )
        r = run(["--check", "--config", path])
        self.assertEqual(r.returncode, 2)
        self.assertIn(f"{TMP}/no-plugins/kubernetes.so", r.stderr)
        self.assertIn("not found", r.stderr)

    def test_check_plugin_create_error_is_the_plugins_message(self):
        text = scripted_config({"fail_create": "options.fail_create: asked to fail"})
        path = write_config("s.yaml", text.replace("@PORT@", "0"))
        r = run(["--check", "--config", path])
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("(scripted 1.0.0): create failed: config error: "
                      "options.fail_create: asked to fail", r.stderr)


class Running(unittest.TestCase):
    def test_noop_ready_endpoints_and_sigterm_exit_0(self):
        d = Daemon(NOOP_CONFIG)
        try:
            d.wait_listening()
            status, _, body = d.wait_status("/readyz", 200)
            ready = json.loads(body)
            self.assertEqual(ready["role"], "leader")
            self.assertTrue(ready["ready"])
            self.assertEqual(get(d.port, "/healthz")[0], 200)
            s, _, body = get(d.port, "/api/status")
            self.assertEqual(s, 200)
            st = json.loads(body)
            self.assertEqual(st["role"], "leader")
            self.assertEqual(st["backend"]["name"], "noop")
            self.assertEqual(st["epoch"]["term"], 1)
            self.assertTrue(st["identity"])
            self.assertEqual(st["holder"], st["identity"])
            s, headers, metrics = get(d.port, "/metrics")
            self.assertEqual(s, 200)
            self.assertRegex(metrics, r"(?m)^pgdog_control_leader 1$")
            if shutil.which("promtool"):
                p = subprocess.run(["promtool", "check", "metrics"], input=metrics,
                                   capture_output=True, text=True)
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertEqual(d.stop(), 0, d.logs())
            self.assertIn("noop", d.logs())
            self.assertIn("Run exactly one replica", d.logs())
        finally:
            d.close()

    def test_http11_without_host_or_with_two_hosts_is_400(self):
        d = Daemon(NOOP_CONFIG)
        try:
            d.wait_listening()
            for head in (b"GET /healthz HTTP/1.1\r\n\r\n",
                         b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"):
                with socket.create_connection(("127.0.0.1", d.port), timeout=5) as c:
                    c.sendall(head)
                    reply = b""
                    while not reply.endswith(b"}\n"):
                        chunk = c.recv(4096)
                        if not chunk:
                            break
                        reply += chunk
                self.assertTrue(reply.startswith(b"HTTP/1.1 400 "), reply)
                self.assertIn(b"Host", reply)
            self.assertEqual(get(d.port, "/healthz")[0], 200)  # urllib sends one Host
        finally:
            d.stop()
            d.close()

    def test_embedded_default_without_config(self):
        # The embedded default listens on :8080; only run when it is free.
        with socket.socket() as s:
            try:
                s.bind(("0.0.0.0", 8080))
            except OSError:
                self.skipTest("port 8080 is busy on this machine")
        d = Daemon(None)
        d.port = 8080
        try:
            d.wait_status("/readyz", 200)
            self.assertEqual(d.stop(signal.SIGINT), 0, d.logs())
        finally:
            d.close()

    def test_json_logs_are_json_lines_without_secrets(self):
        d = Daemon(NOOP_CONFIG, args=["--log-format", "json"])
        try:
            d.wait_status("/readyz", 200)
            self.assertEqual(d.stop(), 0)
            lines = [l for l in d.logs().splitlines() if l.strip()]
            self.assertGreater(len(lines), 2)
            for line in lines:
                rec = json.loads(line)
                self.assertIn(rec["level"], ("debug", "info", "warn", "error"))
                self.assertTrue(rec["msg"])
        finally:
            d.close()

    def test_port_in_use_is_a_runtime_failure(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            port = s.getsockname()[1]
            path = write_config("busy.yaml", f'listen: "127.0.0.1:{port}"\n')
            r = run(["--config", path])
            self.assertEqual(r.returncode, 1)
            self.assertIn("Address already in use", r.stderr)


@unittest.skipUnless(SCRIPTED and os.path.exists(SCRIPTED), "scripted plugin not built")
class Shutdown(unittest.TestCase):
    def test_release_is_asked_with_the_release_timeout(self):
        d = Daemon(scripted_config({}, release_timeout=3))
        try:
            d.wait_status("/readyz", 200)
            self.assertEqual(d.stop(), 0, d.logs())
            m = re.search(r"scripted: stop release=(\d) deadline_in_ms=(\d+)", d.logs())
            self.assertIsNotNone(m, d.logs())
            self.assertEqual(m.group(1), "1")
            self.assertLessEqual(int(m.group(2)), 3000)
            self.assertGreater(int(m.group(2)), 0)
        finally:
            d.close()

    def test_failed_release_still_exits_0_and_says_so(self):
        d = Daemon(scripted_config({"release_fails": True}))
        try:
            d.wait_status("/readyz", 200)
            self.assertEqual(d.stop(), 0, d.logs())
            self.assertIn("release not confirmed", d.logs())
        finally:
            d.close()

    def test_plugin_ignoring_its_deadline_cannot_hang_shutdown(self):
        d = Daemon(scripted_config({"stop_sleep_ms": 60000}, release_timeout=1))
        try:
            d.wait_status("/readyz", 200)
            t0 = time.monotonic()
            self.assertEqual(d.stop(), 1, d.logs())
            self.assertLess(time.monotonic() - t0, EXIT_TIMEOUT)
            self.assertIn("did not return from stop()", d.logs())
        finally:
            d.close()

    def test_second_signal_exits_at_once(self):
        d = Daemon(scripted_config({"stop_sleep_ms": 4000}, release_timeout=5))
        try:
            d.wait_status("/readyz", 200)
            d.proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + START_TIMEOUT
            while "scripted: stop" not in d.logs() and time.monotonic() < deadline:
                time.sleep(0.02)
            self.assertEqual(get(d.port, "/readyz")[0], 503, "not ready while shutting down")
            d.proc.send_signal(signal.SIGTERM)
            self.assertEqual(d.wait_exit(), 1)
            self.assertIn("second signal", d.logs())
        finally:
            d.close()

    def test_start_failure_is_a_runtime_failure(self):
        d = Daemon(scripted_config({"fail_start": "backend unreachable: 10.0.0.1:443"}))
        try:
            self.assertEqual(d.wait_exit(), 1)
            self.assertIn("(scripted 1.0.0): start failed: unavailable: backend unreachable",
                          d.logs())
        finally:
            d.close()

    def test_expiring_leadership_turns_readiness_off(self):
        # Leadership valid for 1.5 s and never renewed: ready, then not.
        d = Daemon(scripted_config({"valid_ms": 1500}))
        try:
            d.wait_status("/readyz", 200)
            d.wait_status("/readyz", 503)
            self.assertIn("validity deadline passed", d.logs())
            self.assertEqual(d.stop(), 0)
        finally:
            d.close()

    def test_wedged_elector_fails_healthz(self):
        # Progress once, then silence for longer than 2 x lease duration (4 s).
        d = Daemon(scripted_config({"progress": True}, lease_duration=2, interval=0.2))
        try:
            d.wait_listening()
            self.assertEqual(get(d.port, "/healthz")[0], 200)
            status, _, body = d.wait_status("/healthz", 503)
            self.assertIn("no progress", body)
            self.assertEqual(d.stop(), 0)
        finally:
            d.close()


class LeadershipContract(unittest.TestCase):
    """Issue 11: the core's side of the leadership contract (plugin.h)."""

    def test_a_renewal_that_arrives_after_the_deadline_resumes_the_term(self):
        # Every renewal (400 ms) comes 100 ms after the last one ran out
        # (300 ms): the core ends the term at its deadline, and the late
        # renewal of the same epoch must resume it. It used to be refused as
        # "not greater than the earlier epoch", for ever: never Ready again,
        # while the plugin kept the lease.
        d = Daemon(scripted_config({"valid_ms": 300, "renew_ms": 400}, interval=0.4,
                                   lease_duration=2))
        try:
            d.wait_status("/readyz", 200)
            d.wait_status("/readyz", 503)
            d.wait_status("/readyz", 200)
            self.assertIn("resumed: the backend renewed it after its validity deadline", d.logs())
            self.assertEqual(get(d.port, "/healthz")[0], 200)
            self.assertNotIn("refusing leadership", d.logs())
            self.assertEqual(d.stop(), 0)
        finally:
            d.close()

    def test_leadership_the_core_keeps_refusing_fails_healthz(self):
        # The plugin renews with epoch 0 after epoch 1: a fencing violation the
        # core refuses every time. Disagreeing for longer than one interval
        # must fail /healthz, so the replica is restarted rather than holding
        # the lease without serving.
        d = Daemon(scripted_config({"valid_ms": 5000, "renew_ms": 100, "renew_epoch": 0},
                                   interval=0.2, lease_duration=2))
        try:
            d.wait_status("/readyz", 200)
            d.wait_status("/readyz", 503)
            status, _, body = d.wait_status("/healthz", 503)
            self.assertIn("not greater than the earlier 1", body)
            self.assertEqual(d.stop(), 0)
        finally:
            d.close()

    def test_an_expired_leader_names_no_holder(self):
        # After its term ran out, a replica has not confirmed any holder:
        # its 503 must not point clients back at itself.
        d = Daemon(scripted_config({"valid_ms": 500}) + "api:\n  web:\n    read_access: open\n")
        try:
            d.wait_status("/readyz", 200)
            d.wait_status("/readyz", 503)
            status, _, body = get(d.port, "/api/web/control")
            self.assertEqual(status, 503, body)
            self.assertEqual(json.loads(body).get("holder"), "", body)
            status, _, body = get(d.port, "/api/status")
            self.assertEqual(json.loads(body)["holder"], "", body)
            self.assertEqual(d.stop(), 0)
        finally:
            d.close()

    def test_sighup_is_ignored_and_logged(self):
        # The default action would end the process without releasing the lease.
        d = Daemon(scripted_config({}))
        try:
            d.wait_status("/readyz", 200)
            d.proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 10
            while "received SIGHUP: ignored" not in d.logs() and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertIn("received SIGHUP: ignored", d.logs())
            self.assertIsNone(d.proc.poll(), "SIGHUP ended the process")
            self.assertEqual(get(d.port, "/readyz")[0], 200)
            self.assertEqual(d.stop(), 0)
            self.assertIn("scripted: stop release=1", d.logs(), "SIGTERM afterwards still releases")
        finally:
            d.close()

    def test_release_timeout_above_the_duration_is_a_startup_warning(self):
        d = Daemon(scripted_config({}, lease_duration=3, release_timeout=4, interval=1))
        try:
            d.wait_status("/readyz", 200)
            self.assertIn("configuration: leader.release_timeout_secs: 4 exceeds "
                          "leader.lease_duration_secs (3)", d.logs())
            self.assertEqual(d.stop(), 0)
        finally:
            d.close()


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
    from ctest_main import main  # noqa: E402
    main()
