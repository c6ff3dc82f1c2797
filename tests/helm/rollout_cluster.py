"""Just enough of a cluster around the test kube-apiserver for a Deployment to
roll: the REAL kube-controller-manager (its deployment, replicaset,
endpointslice and garbage-collector controllers, built from the same
k8s.io/kubernetes module as the API server), and a fake scheduler + kubelet
that runs each Pod as a real pgdog-control process:

- scheduling: binds every unbound Pod to the schedulable fake Node with the
  fewest Pods (pods/binding); there are three Nodes, and a cordoned one
  (spec.unschedulable) gets nothing;
- starting: runs the daemon with the config of the ConfigMap the Pod mounts
  (only `listen` moved to a free loopback port), POD_NAME/POD_NAMESPACE/POD_IP
  as the downward API sets them, and a kubeconfig with a token of the Pod's
  ServiceAccount (TokenRequest): the chart's own permissions;
- readiness: probes the Pod's readinessProbe path every 50 ms and writes the
  Ready condition to the Pod's status, as the kubelet's prober does;
- Secrets: projected Secret volumes (the API tokens) are written to files
  under a directory per Pod, re-synced every second like the kubelet's
  volume manager (atomically: a new file renamed over the old), and the
  config's mount path points there;
- deletion: on a deletionTimestamp sends SIGTERM, and once the process has
  exited removes the Pod (delete with grace 0), as the kubelet does; a process
  still running after terminationGracePeriodSeconds gets SIGKILL.

Container images, init containers, volumes and probes other than readiness
are not emulated. Everything is in one namespace.
"""
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import kube_api  # noqa: E402


def now_iso():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class ControllerManager:
    """kube-controller-manager with the controllers a rollout needs."""

    CONTROLLERS = "deployment,replicaset,endpointslice,garbagecollector,disruption"

    def __init__(self, binary, kubeconfig, log_path):
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen(
            [binary, f"--kubeconfig={kubeconfig}", f"--controllers={self.CONTROLLERS}",
             "--leader-elect=false", "--secure-port=0", "--use-service-account-credentials=false",
             "--concurrent-deployment-syncs=2", "--concurrent-replicaset-syncs=2",
             "--concurrent-service-endpoint-syncs=2", "-v=1"],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class PodProcess:
    def __init__(self, daemon, name, grace, secrets):
        self.daemon = daemon
        self.name = name
        self.grace = grace
        self.secrets = secrets  # [(secret, key, file path)]
        self.ready = None  # last Ready written to the status
        self.term_at = None
        self.synced_at = 0.0


class FakeKubelet(threading.Thread):
    """Schedules, runs, probes and stops the Pods of one namespace.

    start_daemon(pod, config_text, env) -> an object with .proc (Popen),
    .port and .logs(): supplied by the test (it knows how to run the daemon).
    sa_kubeconfig(service_account) -> a kubeconfig path for that account."""


    def __init__(self, api, ns, start_daemon, sa_kubeconfig, workdir, period=0.05):
        super().__init__(daemon=True)
        self.api, self.ns = api, ns
        self.start_daemon, self.sa_kubeconfig = start_daemon, sa_kubeconfig
        self.period = period
        self.workdir = workdir
        # Nodes of this namespace only: a drain must not meet another test's Pods.
        self.NODES = tuple(f"{ns}-node-{x}" for x in "abc")
        self.pods = {}  # name -> PodProcess
        self.finished = []  # PodProcess of pods that ran and were removed
        self.stopping = threading.Event()
        self.error = None
        self.ip_seq = 0
        self.lock = threading.Lock()
        self.ensure_node()

    def ensure_node(self):
        for node in self.NODES:
            try:
                self.api.get(f"/api/v1/nodes/{node}")
                self.api.merge_patch(f"/api/v1/nodes/{node}", {"spec": {"unschedulable": None}})
            except kube_api.ApiError as e:
                if e.status != 404:
                    raise
                self.api.post("/api/v1/nodes", {"apiVersion": "v1", "kind": "Node",
                                                "metadata": {"name": node}})

    def pod_path(self, name, sub=""):
        return f"/api/v1/namespaces/{self.ns}/pods/{urllib.parse.quote(name)}{sub}"

    def run(self):
        while not self.stopping.is_set():
            try:
                self.tick()
            except Exception as e:  # noqa: BLE001: reported to the test
                self.error = repr(e)
            time.sleep(self.period)

    def tick(self):
        pods = self.api.get(f"/api/v1/namespaces/{self.ns}/pods")["items"]
        seen = set()
        load = {n: 0 for n in self.NODES}
        for pod in pods:
            if pod["spec"].get("nodeName") in load:
                load[pod["spec"]["nodeName"]] += 1
        for pod in pods:
            name = pod["metadata"]["name"]
            seen.add(name)
            if not pod["spec"].get("nodeName"):
                node = self.pick_node(load)
                if node:
                    self.bind(name, node)
                    load[node] += 1
                continue
            with self.lock:
                pp = self.pods.get(name)
            if pod["metadata"].get("deletionTimestamp"):
                self.terminate(pod, pp)
                continue
            if pp is None:
                pp = self.launch(pod)
            elif time.time() - pp.synced_at >= 1.0:
                self.sync_secrets(pp.secrets)
                pp.synced_at = time.time()
            self.probe(pod, pp)
        with self.lock:
            for name in list(self.pods):
                if name not in seen:  # removed by someone else
                    self.kill(self.pods.pop(name))

    def pick_node(self, load):
        nodes = {n["metadata"]["name"]: n for n in self.api.get("/api/v1/nodes")["items"]}
        free = [n for n in self.NODES if not nodes.get(n, {}).get("spec", {}).get("unschedulable")]
        return min(free, key=lambda n: (load[n], n)) if free else None

    def bind(self, name, node):
        self.api.post(self.pod_path(name, "/binding"), {
            "apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node}})

    def launch(self, pod):
        spec = pod["spec"]
        config_map = next(v["configMap"]["name"] for v in spec["volumes"] if "configMap" in v)
        config = self.api.get(f"/api/v1/namespaces/{self.ns}/configmaps/{config_map}")["data"]["config.yaml"]
        self.ip_seq += 1
        ip = f"10.244.0.{self.ip_seq}"
        secrets = []
        mounts = {m["name"]: m["mountPath"] for m in spec["containers"][0].get("volumeMounts", [])}
        for v in spec["volumes"]:
            if "projected" not in v or v["name"] not in mounts:
                continue
            local = os.path.join(self.workdir, pod["metadata"]["name"], v["name"])
            os.makedirs(local, exist_ok=True)
            for src in v["projected"]["sources"]:
                sec = src.get("secret")
                for item in (sec or {}).get("items", []):
                    secrets.append((sec["name"], item["key"], os.path.join(local, item["path"])))
            config = config.replace(mounts[v["name"]] + "/", local + "/")
        self.sync_secrets(secrets)
        env = {"KUBECONFIG": self.sa_kubeconfig(spec["serviceAccountName"]),
               "POD_NAME": pod["metadata"]["name"], "POD_NAMESPACE": self.ns, "POD_IP": ip}
        daemon = self.start_daemon(pod, config, env)
        pp = PodProcess(daemon, pod["metadata"]["name"], spec.get("terminationGracePeriodSeconds", 30),
                        secrets)
        pp.synced_at = time.time()
        with self.lock:
            self.pods[pp.name] = pp
        self.api.merge_patch(self.pod_path(pp.name, "/status"), {"status": {
            "phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "hostIP": "10.0.0.1",
            "startTime": now_iso(),
            "conditions": self.conditions(False)}})
        pp.ready = False
        return pp

    def sync_secrets(self, secrets):
        import base64
        cache = {}
        for name, key, path in secrets:
            if name not in cache:
                cache[name] = self.api.get(f"/api/v1/namespaces/{self.ns}/secrets/{name}").get("data", {})
            value = base64.b64decode(cache[name].get(key, ""))
            try:
                with open(path, "rb") as f:
                    if f.read() == value:
                        continue
            except FileNotFoundError:
                pass
            tmp = path + ".tmp"
            with open(tmp, "wb") as f:
                f.write(value)
            os.chmod(tmp, 0o440)
            os.replace(tmp, path)

    @staticmethod
    def conditions(ready):
        s = "True" if ready else "False"
        t = now_iso()
        return [{"type": "PodScheduled", "status": "True", "lastTransitionTime": t},
                {"type": "Initialized", "status": "True", "lastTransitionTime": t},
                {"type": "ContainersReady", "status": s, "lastTransitionTime": t},
                {"type": "Ready", "status": s, "lastTransitionTime": t}]

    def probe(self, pod, pp):
        c = pod["spec"]["containers"][0]
        path = c.get("readinessProbe", {}).get("httpGet", {}).get("path", "/healthz")
        ok = False
        if pp.daemon.proc.poll() is None:
            try:
                ok = http_status(pp.daemon.port, path) == 200
            except OSError:
                ok = False
        if ok != pp.ready:
            self.api.merge_patch(self.pod_path(pp.name, "/status"),
                                 {"status": {"conditions": self.conditions(ok)}})
            pp.ready = ok

    def terminate(self, pod, pp):
        if pp is None:
            self.api.delete(self.pod_path(pod["metadata"]["name"]), {"gracePeriodSeconds": 0})
            return
        proc = pp.daemon.proc
        if pp.term_at is None:
            pp.term_at = time.time()
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        if proc.poll() is None and time.time() - pp.term_at > pp.grace:
            proc.kill()
        if proc.poll() is not None:
            try:
                self.api.delete(self.pod_path(pp.name), {"gracePeriodSeconds": 0})
            except kube_api.ApiError as e:
                if e.status != 404:
                    raise
            with self.lock:
                self.pods.pop(pp.name, None)
                self.finished.append(pp)

    def kill(self, pp):
        if pp.daemon.proc.poll() is None:
            pp.daemon.proc.kill()
            pp.daemon.proc.wait()
        self.finished.append(pp)

    def all_processes(self):
        with self.lock:
            return list(self.pods.values()) + list(self.finished)

    def stop(self):
        self.stopping.set()
        self.join(timeout=10)
        with self.lock:
            for pp in list(self.pods.values()):
                self.kill(pp)
            self.pods.clear()
        # What a kubelet would have finished: the Pods go, and so do the Nodes.
        paths = [self.pod_path(p["metadata"]["name"])
                 for p in self.api.get(f"/api/v1/namespaces/{self.ns}/pods")["items"]]
        for path in paths + [f"/api/v1/nodes/{node}" for node in self.NODES]:
            try:
                self.api.delete(path, {"gracePeriodSeconds": 0})
            except kube_api.ApiError:
                pass  # gone already


def http_status(port, path, timeout=1.0):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        return c.getresponse().status
    finally:
        c.close()
