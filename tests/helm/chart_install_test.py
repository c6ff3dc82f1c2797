#!/usr/bin/env python3
"""The chart installed for real (`helm install`) into the test kube-apiserver
(tests/kube), then pgdog-control run OUTSIDE the cluster as if it were one of
the chart's pods: the config file taken verbatim from the installed ConfigMap
(only `listen` moved to a free loopback port), POD_NAME/POD_NAMESPACE/POD_IP
set as the downward API would, and a kubeconfig holding a token issued for the
chart's ServiceAccount (TokenRequest, `kubectl create token`). So the daemon
has exactly the chart's permissions:

- readiness routing: it acquires, renews and releases the Lease, hands over to
  a second replica on SIGTERM, and posts its events;
- leader-label routing: the leader labels its own Pod (bare Pod objects: no
  kubelet runs), strips the label from a stale Pod, and the label moves with
  leadership, so the Service's selector always matches exactly the leader;
- `kubectl auth can-i` as the ServiceAccount: every verb the plugin needs is
  allowed, and neighbours (other Leases, delete, patch, other resources, pods
  in readiness routing) are denied.

Environment: PGDC_BIN, PGDC_KUBE_ENV, HELM_BIN (else build-helm.sh), PGDC_TMP.
"""
import json
import os
import re
import subprocess
import sys
import time
import unittest
import uuid


sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "kube"))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import helm_common as h  # noqa: E402
import lease_daemon_test as kube  # noqa: E402
import daemon_test as d  # noqa: E402

KENV = kube.KENV


def kubectl(*args, ns=None, kubeconfig=None, check=True, input=None):
    cmd = [KENV["KUBECTL"], "--kubeconfig", kubeconfig or KENV["KUBECONFIG_ADMIN"]]
    if ns:
        cmd += ["-n", ns]
    r = subprocess.run(cmd + list(args), capture_output=True, text=True, input=input, timeout=60,
                       env=dict(os.environ, KUBECACHEDIR=os.path.join(h.TMP, "kube-cache")))
    if check and r.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)}: {r.stderr}")
    return r


def get_json(ns, *args):
    r = kubectl("get", *args, "-o", "json", ns=ns, check=False)
    return json.loads(r.stdout) if r.returncode == 0 else None


def wait_for(what, fn, timeout):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


class PodDaemon(d.Daemon):
    """pgdog-control configured like a pod of the chart: PGDOG_CONTROL_CONFIG
    names the chart's config file (listen moved to a free loopback port)."""

    def __init__(self, chart_config, env):
        port = d.free_port()
        text, n = re.subn(r"(?m)^listen: .*$", f'listen: "127.0.0.1:{port}"', chart_config)
        assert n == 1, chart_config
        path = d.write_config(f"helm-config-{port}.yaml", text)
        super().__init__(None, env=dict(env, PGDOG_CONTROL_CONFIG=path))
        self.port = port

    def status(self):
        return json.loads(d.get(self.port, "/api/status")[2])


@unittest.skipUnless(KENV and os.path.exists(d.BIN), "no kube environment (PGDC_KUBE_ENV) or no PGDC_BIN")
class Installed(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ns = "pgdc-helm-" + uuid.uuid4().hex[:6]
        kubectl("create", "namespace", cls.ns)
        cls.releases = []

    @classmethod
    def tearDownClass(cls):
        for rel in cls.releases:
            h.helm("uninstall", rel, "-n", cls.ns, kubeconfig=KENV["KUBECONFIG_ADMIN"], check=False)
        kubectl("delete", "pods,leases", "--all", "--wait=false", ns=cls.ns, check=False)
        # Without kube-controller-manager the namespace stays Terminating; harmless.
        kubectl("delete", "namespace", cls.ns, "--wait=false", check=False)

    def setUp(self):
        self.daemons = []

    def tearDown(self):
        for dm in self.daemons:
            dm.close()

    # --- helpers -------------------------------------------------------------

    def install(self, release, case):
        r = h.helm("install", release, h.CHART, "-n", self.ns, "-f", os.path.join(h.VALUES_DIR, case + ".yaml"),
                   kubeconfig=KENV["KUBECONFIG_ADMIN"])
        self.releases.append(release)
        self.assertIn("STATUS: deployed", r.stdout)
        dep = get_json(self.ns, "deployment", f"{release}-pgdog-control" if release != "pgdog-control" else release)
        config = get_json(self.ns, "configmap", dep["spec"]["template"]["spec"]["volumes"][0]["configMap"]["name"])
        return r.stdout.split("NOTES:", 1)[1], dep, config["data"]["config.yaml"]

    def sa_kubeconfig(self, sa):
        token = kubectl("create", "token", sa, "--duration=1h", ns=self.ns).stdout.strip()
        self.assertRegex(token, r"^ey")
        path = os.path.join(h.TMP, f"kubeconfig-{self.ns}-{sa}")
        with open(path, "w") as f:
            f.write(f"""apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: {KENV['KUBE_API_URL']}
    certificate-authority: {KENV['KUBE_CA']}
users:
- name: {sa}
  user:
    token: {token}
contexts:
- name: {sa}
  context: {{cluster: test, user: {sa}, namespace: {self.ns}}}
current-context: {sa}
""")
        os.chmod(path, 0o600)
        return path

    def can_i(self, kubeconfig, verb, resource, ns=None):
        r = kubectl("auth", "can-i", verb, resource, ns=ns or self.ns, kubeconfig=kubeconfig, check=False)
        return r.stdout.strip()

    def check_permissions(self, kubeconfig, allowed, denied):
        # The authorizer learns new bindings through an informer: wait for the first.
        wait_for("the chart's RoleBinding to take effect",
                 lambda: self.can_i(kubeconfig, *allowed[0]) == "yes", 30)
        for verb, resource, *ns in allowed:
            self.assertEqual(self.can_i(kubeconfig, verb, resource, *ns), "yes", f"{verb} {resource} must be allowed")
        for verb, resource, *ns in denied:
            self.assertEqual(self.can_i(kubeconfig, verb, resource, *ns), "no", f"{verb} {resource} must be denied")

    def lease_checks(self, lease):
        # The members (one Lease per replica, named after its pod) need get, list,
        # update and delete on any Lease of the namespace; watch stays narrowed.
        allowed = [("get", f"leases.coordination.k8s.io/{lease}"), ("create", "leases.coordination.k8s.io"),
                   ("update", f"leases.coordination.k8s.io/{lease}"), ("watch", f"leases.coordination.k8s.io/{lease}"),
                   ("list", f"leases.coordination.k8s.io/{lease}"), ("create", "events"),
                   ("get", f"leases.coordination.k8s.io/{lease}-member-x"),
                   ("update", f"leases.coordination.k8s.io/{lease}-member-x"),
                   ("delete", f"leases.coordination.k8s.io/{lease}-member-x"), ("list", "leases.coordination.k8s.io")]
        denied = [("watch", "leases.coordination.k8s.io"), ("patch", f"leases.coordination.k8s.io/{lease}"),
                  ("create", "leases.coordination.k8s.io", KENV["KUBE_NAMESPACE"]),
                  ("get", "events"), ("delete", "events"), ("get", "secrets"), ("get", "configmaps"),
                  ("create", "pods"), ("delete", "pods"), ("update", "pods")]
        return allowed, denied

    def start(self, config, sa_kubeconfig, pod):
        dm = PodDaemon(config, {"KUBECONFIG": sa_kubeconfig, "POD_NAME": pod, "POD_NAMESPACE": self.ns,
                                "POD_IP": "127.0.0.1"})
        self.daemons.append(dm)
        dm.wait_listening()
        return dm

    def lease(self, name):
        return get_json(self.ns, "lease", name)

    def holder_via_notes(self, notes):
        """Runs the NOTES' own command for "who leads" (with the admin's kubeconfig)."""
        m = re.search(r"kubectl -n (\S+) get lease (\S+) -o jsonpath='([^']+)'", notes)
        self.assertIsNotNone(m, notes)
        return kubectl("get", "lease", m.group(2), "-o", "jsonpath=" + m.group(3), ns=m.group(1)).stdout.strip()

    def no_permission_problems(self, dm):
        logs = dm.logs()
        # Every permission failure the plugin logs says "403 Forbidden" or
        # "HTTP 403"; a bare "403" also occurs in microsecond timestamps.
        self.assertIsNone(re.search(r"403 Forbidden|HTTP 403|Forbidden", logs), logs)

    # --- tests -----------------------------------------------------------------

    def test_readiness_routing_lease_lifecycle_with_the_charts_permissions(self):
        notes, dep, config = self.install("ha", "ha")
        cfg = h.load(config)["leader"]
        lease = cfg["lease_name"]
        self.assertEqual(lease, "pgdc-helm-ha")
        sa = dep["spec"]["template"]["spec"]["serviceAccountName"]
        kc = self.sa_kubeconfig(sa)
        allowed, denied = self.lease_checks(lease)
        self.check_permissions(kc, allowed, denied + [("get", "pods"), ("list", "pods"), ("patch", "pods")])

        a = self.start(config, kc, "ha-pgdog-control-a")
        a.wait_status("/readyz", 200)
        ident = a.status()["identity"]
        self.assertTrue(ident.startswith("ha-pgdog-control-a_"), ident)
        got = self.lease(lease)
        self.assertEqual(got["spec"]["holderIdentity"], ident)
        self.assertEqual(got["spec"]["leaseDurationSeconds"], cfg["lease_duration_secs"])
        self.assertEqual(self.holder_via_notes(notes), ident)

        # Renewal: a new renewTime by the same holder within an interval (+ slack).
        renew0 = got["spec"]["renewTime"]
        renewed = wait_for("a renewal", lambda: (lambda l: l if l["spec"]["renewTime"] != renew0 else None)(self.lease(lease)),
                           cfg["lease_interval_secs"] * 2 + 5)
        self.assertEqual(renewed["spec"]["holderIdentity"], ident)
        self.assertEqual(d.get(a.port, "/readyz")[0], 200)

        # A follower with the same permissions waits; SIGTERM hands over at once.
        b = self.start(config, kc, "ha-pgdog-control-b")
        time.sleep(1)
        self.assertEqual(d.get(b.port, "/readyz")[0], 503)
        t0 = time.monotonic()
        self.assertEqual(a.stop(), 0, a.logs())
        self.assertIn("handed the Lease over to", a.logs())  # SIGTERM with a follower
        b.wait_status("/readyz", 200)
        self.assertLess(time.monotonic() - t0, cfg["lease_duration_secs"] - 3, "handover waited for expiry")
        self.assertEqual(self.lease(lease)["spec"]["holderIdentity"], b.status()["identity"])

        self.assertEqual(b.stop(), 0, b.logs())
        self.assertEqual(self.lease(lease)["spec"]["holderIdentity"], "")
        for dm in (a, b):
            self.no_permission_problems(dm)
        events = get_json(self.ns, "events", "--field-selector", f"involvedObject.name={lease}")["items"]
        self.assertTrue(any("became leader" in e.get("message", "") for e in events), events)

    def test_leader_label_routing_moves_the_label_with_leadership(self):
        notes, dep, config = self.install("pgdog-control", "leader-label")
        cfg = h.load(config)["leader"]
        lease = cfg["lease_name"]
        self.assertEqual(cfg["options"]["pod_label"], h.LEADER_LABEL)
        self.assertIn(f"get pods -l {h.LEADER_LABEL}=true", notes)
        sa = dep["spec"]["template"]["spec"]["serviceAccountName"]
        kc = self.sa_kubeconfig(sa)
        allowed, denied = self.lease_checks(lease)
        self.check_permissions(kc, allowed + [("get", "pods"), ("list", "pods"), ("patch", "pods"),
                                              ("get", "pods/anything"), ("patch", "pods/anything")],
                               [d_ for d_ in denied] + [("patch", "pods", KENV["KUBE_NAMESPACE"]),
                                                        ("patch", "deployments.apps")])

        # Pods as the Deployment would make them (no kubelet runs: they stay Pending).
        # pod c carries the label as a stale leader would.
        pod_labels = dep["spec"]["template"]["metadata"]["labels"]
        pods = {s: f"pgdog-control-{s}" for s in "abc"}
        for s, name in pods.items():
            labels = dict(pod_labels, **({h.LEADER_LABEL: "true"} if s == "c" else {}))
            kubectl("apply", "-f", "-", ns=self.ns, input=json.dumps({
                "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
                "spec": {"containers": [{"name": "pgdog-control", "image": h.container(dep)["image"]}]}}))
        svc = get_json(self.ns, "service", "pgdog-control")
        self.assertEqual(svc["spec"]["selector"].get(h.LEADER_LABEL), "true")
        selector = ",".join(f"{k}={v}" for k, v in sorted(svc["spec"]["selector"].items()))

        def selected():
            out = kubectl("get", "pods", "-l", selector, "-o", "jsonpath={.items[*].metadata.name}", ns=self.ns).stdout
            return sorted(out.split())

        def label_of(name):
            return (get_json(self.ns, "pod", name)["metadata"].get("labels") or {}).get(h.LEADER_LABEL)

        a = self.start(config, kc, pods["a"])
        a.wait_status("/readyz", 200)
        wait_for("the leader's label on its pod", lambda: label_of(pods["a"]) == "true", 10)
        wait_for("the stale label removed", lambda: label_of(pods["c"]) is None, 10)
        self.assertEqual(selected(), [pods["a"]], "the Service selects exactly the leader")
        self.assertEqual(self.holder_via_notes(notes), a.status()["identity"])

        b = self.start(config, kc, pods["b"])
        time.sleep(2)
        self.assertIsNone(label_of(pods["b"]), "a follower does not label itself")
        self.assertEqual(selected(), [pods["a"]])

        self.assertEqual(a.stop(), 0, a.logs())
        wait_for("the old leader's label removed", lambda: label_of(pods["a"]) is None, 10)
        b.wait_status("/readyz", 200)
        wait_for("the new leader's label", lambda: label_of(pods["b"]) == "true", 10)
        self.assertEqual(selected(), [pods["b"]])
        self.assertEqual(self.lease(lease)["spec"]["holderIdentity"], b.status()["identity"])

        self.assertEqual(b.stop(), 0, b.logs())
        wait_for("the label removed at shutdown", lambda: label_of(pods["b"]) is None, 10)
        self.assertEqual(selected(), [])
        self.assertEqual(self.lease(lease)["spec"]["holderIdentity"], "")
        for dm in (a, b):
            self.no_permission_problems(dm)


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
    from ctest_main import main  # noqa: E402
    main()
