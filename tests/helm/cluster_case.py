"""A test case with a chart installed in its own namespace and rolled out for
real: kube-controller-manager's controllers plus the fake kubelet of
rollout_cluster.py run the chart's Pods as pgdog-control processes with the
chart's config, ServiceAccount and Secrets. A Timeline watches the election
Lease and the Service's EndpointSlices. Used by chart_rollout_test.py and
operations_recipes_test.py.
"""
import os
import socket
import subprocess
import sys
import threading
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "kube"))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import chart_install_test as ci  # noqa: E402
import daemon_test as d  # noqa: E402
import helm_common as h  # noqa: E402
import kube_api  # noqa: E402
import lease_daemon_test as kube  # noqa: E402
import rollout_cluster as rc  # noqa: E402

KENV = kube.KENV
RELEASE = "roll"
FULLNAME = f"{RELEASE}-pgdog-control"
ADMIN_TOKEN = "rollout-admin-" + uuid.uuid4().hex
TOKEN_SECRET = "roll-admin-tokens"


def controller_manager_bin():
    path = os.environ.get("KUBE_CONTROLLER_MANAGER_BIN")
    if path:
        return path
    r = subprocess.run([os.path.join(HERE, "..", "kube", "build-tools.sh"), "--print-env"],
                       capture_output=True, text=True, timeout=3600)
    if r.returncode != 0:
        raise AssertionError("build-tools.sh failed:\n" + r.stderr[-3000:])
    for line in r.stdout.splitlines():
        if line.startswith("KUBE_CONTROLLER_MANAGER_BIN="):
            return line.split("=", 1)[1].strip("'\"")
    raise AssertionError("build-tools.sh printed no KUBE_CONTROLLER_MANAGER_BIN")


def pod_of(identity):
    return identity.rsplit("_", 1)[0] if "_" in identity else identity


class Timeline:
    """Lease holder changes and the Service's ready endpoints, as watched."""

    def __init__(self, api, ns, lease, service):
        self.holders = []  # (t, holder) on every change of holderIdentity
        self.ready = []    # (t, sorted ready pod names) on every change
        self.slices = {}
        self.watches = [
            kube_api.Watch(api, f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases"
                                f"?fieldSelector=metadata.name%3D{lease}", self.on_lease),
            kube_api.Watch(api, f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices"
                                f"?labelSelector=kubernetes.io%2Fservice-name%3D{service}",
                           self.on_slice)]
        for w in self.watches:
            w.start()

    def on_lease(self, kind, obj, t):
        holder = "" if kind == "DELETED" else pod_of(obj.get("spec", {}).get("holderIdentity") or "")
        if not self.holders or self.holders[-1][1] != holder:
            self.holders.append((t, holder))

    def on_slice(self, kind, obj, t):
        name = obj["metadata"]["name"]
        if kind == "DELETED":
            self.slices.pop(name, None)
        else:
            self.slices[name] = [
                ep.get("targetRef", {}).get("name", "?") for ep in obj.get("endpoints") or []
                if (ep.get("conditions") or {}).get("ready")]
        now = sorted(p for eps in self.slices.values() for p in eps)
        if not self.ready or self.ready[-1][1] != now:
            self.ready.append((t, now))

    def ready_now(self):
        return self.ready[-1][1] if self.ready else []

    def leadership_changes(self, t0, t1):
        """Changes from one named holder to another within [t0, t1] (a
        handover passes through a blank holder: that is one change)."""
        before = [hd for t, hd in self.holders if t < t0 and hd]
        last = before[-1] if before else ""
        changes = []
        for t, hd in self.holders:
            if t0 <= t <= t1 and hd and hd != last:
                if last:
                    changes.append((t, last, hd))
                last = hd
        return changes

    def no_endpoint_gaps(self, t0, t1):
        """[(start, end)] within [t0, t1] while no endpoint was ready."""
        gaps, start = [], None
        state = [n for t, n in self.ready if t < t0]
        if state and not state[-1]:
            start = t0
        for t, names in self.ready:
            if t < t0 or t > t1:
                continue
            if not names and start is None:
                start = t
            elif names and start is not None:
                gaps.append((start, t))
                start = None
        if start is not None:
            gaps.append((start, t1))
        return gaps

    def stop(self):
        for w in self.watches:
            w.stop()


class ServiceProxy(threading.Thread):
    """What `kubectl port-forward svc/...` gives an operator: a local port whose
    connections go to the Service's ready endpoint of the moment (the leader,
    under leader-label routing), resolved per connection from the Timeline."""

    def __init__(self, endpoint_port):
        super().__init__(daemon=True)
        self.endpoint_port = endpoint_port  # () -> a daemon port, or None
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(16)
        self.port = self.server.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def run(self):
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(client,), daemon=True).start()

    def serve(self, client):
        port = self.endpoint_port()
        if port is None:
            client.close()  # no ready endpoint: the connection is refused
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError:
            client.close()
            return

        def pipe(a, b):
            try:
                while True:
                    data = a.recv(65536)
                    if not data:
                        break
                    b.sendall(data)
            except OSError:
                pass
            finally:
                for sock in (a, b):
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()
        pipe(client, upstream)
        client.close()
        upstream.close()

    def close(self):
        self.server.close()


@unittest.skipUnless(KENV and os.path.exists(d.BIN), "no kube environment (PGDC_KUBE_ENV) or no PGDC_BIN")
class ClusterCase(unittest.TestCase):
    """setUp: namespace, admin token Secret, `helm install` with VALUES, the
    controllers and the fake kubelet, and waits for the first rollout."""

    VALUES = "rollout"

    def setUp(self):
        self.ns = "pgdc-roll-" + uuid.uuid4().hex[:6]
        ci.kubectl("create", "namespace", self.ns)
        ci.kubectl("create", "secret", "generic", TOKEN_SECRET, f"--from-literal=admin={ADMIN_TOKEN}",
                   ns=self.ns)
        self.workdir = os.path.join(h.TMP, self.ns)
        os.makedirs(self.workdir, exist_ok=True)
        self.api = kube_api.KubeApi(KENV["KUBE_API_URL"], KENV["KUBE_ADMIN_TOKEN"], KENV["KUBE_CA"])
        self.kubeconfigs = {}
        self.addCleanup(self.cleanup)
        self.kcm = rc.ControllerManager(controller_manager_bin(), KENV["KUBECONFIG_ADMIN"],
                                        os.path.join(h.TMP, f"kcm-{self.ns}.log"))
        self.kubelet = None
        self.timeline = None
        r = h.helm("install", RELEASE, h.CHART, "-n", self.ns, "-f",
                   os.path.join(h.VALUES_DIR, self.VALUES + ".yaml"), "--set",
                   f"control.api.adminTokens.existingSecret={TOKEN_SECRET}",
                   "--set", "control.api.adminTokens.key=admin",
                   kubeconfig=KENV["KUBECONFIG_ADMIN"])
        self.assertIn("STATUS: deployed", r.stdout)
        self.timeline = Timeline(self.api, self.ns, FULLNAME, FULLNAME)
        self.kubelet = rc.FakeKubelet(self.api, self.ns, self.start_daemon, self.sa_kubeconfig,
                                      self.workdir)
        self.kubelet.start()
        self.service = ServiceProxy(self.service_endpoint_port)
        self.service.start()
        self.wait("the first rollout", self.rolled_out)

    def cleanup(self):
        if getattr(self, "service", None):
            self.service.close()
        if getattr(self, "timeline", None):
            self.timeline.stop()
        # Uninstall first, so the ReplicaSet does not recreate what the kubelet removes.
        h.helm("uninstall", RELEASE, "-n", self.ns, kubeconfig=KENV["KUBECONFIG_ADMIN"], check=False)
        if getattr(self, "kubelet", None):
            self.kubelet.stop()
            for pp in self.kubelet.all_processes():
                pp.daemon.close()
        if getattr(self, "kcm", None):
            self.kcm.close()
        ci.kubectl("delete", "namespace", self.ns, "--wait=false", check=False)

    def sa_kubeconfig(self, sa):
        if sa not in self.kubeconfigs:
            installed = ci.Installed("run")
            installed.ns = self.ns
            self.kubeconfigs[sa] = installed.sa_kubeconfig(sa)
        return self.kubeconfigs[sa]

    @staticmethod
    def start_daemon(pod, config, env):
        dm = ci.PodDaemon(config, env)
        dm.name = pod["metadata"]["name"]
        return dm

    def wait(self, what, fn, timeout=120):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            self.assertIsNone(self.kubelet.error, "fake kubelet failed")
            last = fn()
            if last:
                return last
            time.sleep(0.1)
        logs = "\n".join(f"--- {pp.name}\n{pp.daemon.logs()[-1500:]}" for pp in self.kubelet.all_processes())
        self.fail(f"timed out after {timeout}s waiting for {what} (last: {last!r})\n{self.describe()}\n{logs}")

    def describe(self):
        """The cluster's state, for a failure message."""
        try:
            st = self.deployment().get("status", {})
            pods = self.api.get(f"/api/v1/namespaces/{self.ns}/pods")["items"]
            lines = [f"deployment status: {st}", f"lease holder: {self.leader()!r}",
                     f"service ready endpoints: {self.timeline.ready_now()}"]
            for p in pods:
                conds = {c["type"]: c["status"] for c in p.get("status", {}).get("conditions", [])}
                lines.append(f"pod {p['metadata']['name']} node={p['spec'].get('nodeName')} "
                             f"phase={p.get('status', {}).get('phase')} ready={conds.get('Ready')} "
                             f"labels={p['metadata'].get('labels')} "
                             f"deleting={bool(p['metadata'].get('deletionTimestamp'))}")
            for es in self.api.get(f"/apis/discovery.k8s.io/v1/namespaces/{self.ns}/endpointslices")["items"]:
                lines.append(f"endpointslice {es['metadata']['name']} "
                             f"service={es['metadata'].get('labels', {}).get('kubernetes.io/service-name')} "
                             f"endpoints={[(e.get('targetRef', {}).get('name'), e.get('conditions')) for e in es.get('endpoints') or []]}")
            svc = self.api.get(f"/api/v1/namespaces/{self.ns}/services/{FULLNAME}")
            lines.append(f"service selector={svc['spec'].get('selector')} ports={svc['spec'].get('ports')}")
            return "\n".join(lines)
        except Exception as e:  # noqa: BLE001: best effort
            return f"(cannot describe the cluster: {e!r})"

    def deployment(self):
        return self.api.get(f"/apis/apps/v1/namespaces/{self.ns}/deployments/{FULLNAME}")

    def rolled_out(self):
        dep = self.deployment()
        st = dep.get("status", {})
        pods = self.api.get(f"/api/v1/namespaces/{self.ns}/pods")["items"]
        want = dep["spec"]["replicas"]
        done = (st.get("observedGeneration") == dep["metadata"]["generation"]
                and st.get("updatedReplicas") == want and st.get("availableReplicas") == want
                and st.get("replicas") == want and len(pods) == want
                and len(self.timeline.ready_now()) == 1)
        if done:
            # The Service's one endpoint is the leader, and it serves: a
            # replica that created the Lease holds it (and the label) a lease
            # duration before it acts.
            dm = self.daemon_of(self.timeline.ready_now()[0])
            done = dm is not None and rc.http_status(dm.port, "/readyz") == 200
        return dep if done else None

    def service_endpoint_port(self):
        ready = self.timeline.ready_now() if self.timeline else []
        dm = self.daemon_of(ready[0]) if ready else None
        return dm.port if dm else None

    def leader(self):
        """The Pod whose replica holds the Lease ("" when none): identities are
        the Pod name, "_", and a suffix new at every process start."""
        holder = (self.api.get(f"/apis/coordination.k8s.io/v1/namespaces/{self.ns}/leases/{FULLNAME}")
                  .get("spec", {}).get("holderIdentity") or "")
        return pod_of(holder)

    def daemon_of(self, pod):
        for pp in self.kubelet.all_processes():
            if pp.name == pod and pp.daemon.proc.poll() is None:
                return pp.daemon
        return None

    def check_never_two(self):
        """No two readiness intervals of any process that ran overlap."""
        daemons = []
        for pp in self.kubelet.all_processes():
            pp.daemon.killed_at = None
            daemons.append(pp.daemon)
        return kube.check_safety(self, daemons)

