#!/usr/bin/env python3
"""What durable control state costs (issue 14), on a real kube-apiserver.

Three pgdog-control replicas through the HA harness (tests/ha/harness.py),
configured as the durability soak configures them (tests/kube/durability_soak.py).
Printed, not asserted (figures for docs/benchmarks.md):

  issue latency      p50/p99/max of N POST /api/web/deployments/{dep}/commands
                     sent to the leader one after another (20 nodes registered);
                     goal p99 <= 100 ms with the durable write
  API requests       Kubernetes API requests on configmaps per command issued, and
                     per 1,000 acks of one fleet-wide command to --ack-nodes nodes
                     (their polls included), counted two ways: the
                     leader plugin's own pgdog_control_kube_api_requests_total
                     {resource="configmaps"} and the API server's
                     apiserver_request_total{resource="configmaps"} (admin
                     credentials); goal <= 5 per 1,000 acks
  failover delivery  a command answered 201, then the leader SIGKILLed before
                     any node polled: time from the kill until a node polling
                     any replica receives it (goal: lease duration + 1 s), and
                     until a node receives a command issued after the kill
  state size         the state ConfigMaps' data.value size with 5,000 nodes
                     registered (plain HTTP, 8 client threads)

Usage: bench_durability.py BUILD_DIR [--commands 200] [--nodes 20] [--ack-nodes 1000]
       [--registry 5000] [--env DIR] [--duration 4]
"""
import argparse
import concurrent.futures
import os
import re
import signal
import ssl
import http.client
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(HERE, "..", "ha"))
sys.path.insert(0, os.path.join(HERE, "..", "kube"))
import harness as ha  # noqa: E402
import durability_soak as ds  # noqa: E402


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))] if xs else float("nan")


def plugin_configmap_requests(replica):
    text = replica.metrics()
    return sum(float(m.group(1)) for m in re.finditer(
        r'^pgdog_control_kube_api_requests_total\{[^}]*resource="configmaps"[^}]*\} (\S+)$',
        text, re.M))


def apiserver_configmap_requests(kube, resource="configmaps"):
    ctx = ssl.create_default_context(cafile=kube.env["KUBE_CA"])
    c = http.client.HTTPSConnection("127.0.0.1", kube.api_port, context=ctx, timeout=20)
    c.request("GET", "/metrics", headers={"Authorization": f"Bearer {kube.env['KUBE_ADMIN_TOKEN']}"})
    r = c.getresponse()
    text = r.read().decode()
    c.close()
    assert r.status == 200 and "apiserver_request_total{" in text, \
        f"API server /metrics: {r.status} {text[:200]}"
    return sum(float(m.group(1)) for m in re.finditer(
        r'^apiserver_request_total\{[^}]*resource="' + resource + r'"[^}]*\} (\S+)$', text, re.M))


class Counts:
    def __init__(self, kube, leader):
        self.kube, self.leader = kube, leader
        self.p0, self.a0 = plugin_configmap_requests(leader), apiserver_configmap_requests(kube)

    def delta(self):
        return (plugin_configmap_requests(self.leader) - self.p0,
                apiserver_configmap_requests(self.kube) - self.a0)


def register(port, names, threads=8):
    def one(n):
        for _ in range(50):
            s, _, _ = ds.request(port, "POST", "/api/v2/register",
                                 {"node_id": n, "version": "bench", "host": "h"}, ds.TOKEN)
            if s in (200, 201):
                return True
            time.sleep(0.1)
        return False
    with concurrent.futures.ThreadPoolExecutor(threads) as ex:
        return sum(ex.map(one, names))


def issue(port):
    t = time.monotonic()
    s, _, b = ds.request(port, "POST", f"/api/web/deployments/{ds.DEP}/commands",
                         {"name": "maintenance_on", "args": {"reason": f"bench-{uuid.uuid4()}"}},
                         ds.ADMIN, timeout=15)
    return s, (time.monotonic() - t) * 1000, b


def drain(port, node):
    """Polls (wait 0) and acks everything pending for node; returns acks sent."""
    acks = 0
    while True:
        s, _, b = ds.request(port, "GET", f"/api/v2/commands?node_id={node}&wait_ms=0",
                             token=ds.TOKEN)
        cmds = b.get("commands", []) if s == 200 else []
        if not cmds:
            return acks
        for c in cmds:
            s, _, _ = ds.request(port, "POST", f"/api/v2/commands/{urllib.parse.quote(c['id'])}/ack",
                                 {"node_id": node, "status": "ok"}, ds.TOKEN)
            acks += s == 200


def wait_command(router, node, want, timeout):
    """Polls through any replica until a command whose args.reason is in want
    arrives; returns the time (monotonic) or None."""
    deadline = time.monotonic() + timeout
    epoch = ""
    while time.monotonic() < deadline:
        q = f"/api/v2/commands?node_id={node}&wait_ms=1000" + (
            f"&epoch={urllib.parse.quote(epoch, safe='')}" if epoch else "")
        s, _, b, _ = router.send("GET", q, token=ds.TOKEN, timeout=10,
                                 deadline=time.monotonic() + 2)
        if s == 404:
            router.send("POST", "/api/v2/register", {"node_id": node, "version": "b", "host": "h"},
                        ds.TOKEN, deadline=time.monotonic() + 2)
            continue
        if s == 200:
            epoch = b.get("epoch", epoch)
            if any((c.get("args") or {}).get("reason") in want for c in b.get("commands", [])):
                return time.monotonic()
        else:
            time.sleep(0.05)
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build")
    ap.add_argument("--commands", type=int, default=200)
    ap.add_argument("--nodes", type=int, default=20)
    ap.add_argument("--registry", type=int, default=5000)
    ap.add_argument("--ack-nodes", type=int, default=1000)
    ap.add_argument("--env", default=os.environ.get("PGDC_KUBE_ENV") or None)
    ap.add_argument("--duration", type=int, default=4)
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    os.environ.setdefault("PGDC_BIN", os.path.join(os.path.abspath(a.build), "bin", "pgdog-control"))
    work = tempfile.mkdtemp(prefix="pgdc-bench-durability-")
    kube = ha.KubeEnv(a.env, work)
    toxi = ha.Toxiproxy(work)
    h = ha.Harness(kube, toxi, work, settings=ha.Settings(a.duration, 1, a.duration - 1, 3),
                   tag="b" + uuid.uuid4().hex[:6])
    secret = os.path.join(work, "forward.secret")
    with open(secret, "w") as f:
        f.write(uuid.uuid4().hex * 2 + "\n")
    os.chmod(secret, 0o600)
    for r in h.replicas:
        ds.daemon_config(r, secret)
        # 5,000 nodes' metric rings fit: a short retention and a larger budget.
        r.api_extra += ("  telemetry:\n    retention_secs: 30\n"
                        "  memory:\n    max_bytes: 536870912\n"
                        "    max_bytes_per_deployment: 536870912\n")
    rows = []
    try:
        h.start(sample=False)
        leader = h.wait_leader(3 * a.duration + 6)
        assert leader, "no leader"
        names = [f"b-{i:03d}" for i in range(a.nodes)]
        assert register(leader.port, names) == a.nodes, "registration failed"

        # 1. issue latency and requests per command
        c = Counts(kube, leader)
        leases0 = apiserver_configmap_requests(kube, "leases")
        assert leases0 > 0, "the API server counted no lease requests: is the metric's name right?"
        lat, codes = [], {}
        for _ in range(a.commands):
            s, ms, _ = issue(leader.port)
            codes[s] = codes.get(s, 0) + 1
            if s == 201:
                lat.append(ms)
        pc, ac = c.delta()
        rows.append(("issue latency p50 / p99 / max", f"{pct(lat, 50):.1f} / {pct(lat, 99):.1f} / "
                      f"{max(lat) if lat else float('nan'):.1f} ms", f"{len(lat)} of {a.commands} "
                      f"answered 201 ({codes})"))
        rows.append(("configmap requests per command", f"{pc / max(1, len(lat)):.2f} (plugin) / "
                     f"{ac / max(1, len(lat)):.2f} (API server)", f"{len(lat)} commands (the API "
                     f"server's lease counter read {leases0:.0f}: the metric parses)"))

        # 2. requests per 1,000 acks: a fleet-wide command to ack_nodes nodes,
        # each of which polls it and acks it at once (as a fleet does: every
        # node holds a long poll, so all get it together); the acks of one
        # batch share a write.
        ack_names = [f"a-{i:04d}" for i in range(a.ack_nodes)]
        assert register(leader.port, ack_names, threads=250) == a.ack_nodes, "registration failed"
        s, _, b = ds.request(leader.port, "POST", f"/api/web/deployments/{ds.DEP}/commands",
                             {"name": "reload_configuration", "target": "*"}, ds.ADMIN)
        assert s == 201, (s, b)
        c = Counts(kube, leader)
        t0 = time.monotonic()
        # One client thread per node, as each node has its own connection: the
        # acks arrive together and one write covers a batch of them.
        threads = min(len(ack_names), 250)
        with concurrent.futures.ThreadPoolExecutor(threads) as ex:
            acks = sum(ex.map(lambda n: drain(leader.port, n), ack_names))
        el = time.monotonic() - t0
        pc, ac = c.delta()
        rows.append(("configmap requests per 1,000 acks", f"{1000 * pc / max(1, acks):.1f} (plugin) / "
                     f"{1000 * ac / max(1, acks):.1f} (API server)",
                     f"{acks} acks of one fleet-wide command, with their polls, in {el:.1f}s "
                     f"({acks / max(el, 1e-9):.0f}/s, {threads} client threads)"))

        # 3. failover: a command pending at the kill; and one issued after it
        router = ds.Router(h, __import__("random").Random(1))
        pending = f"bench-pending-{uuid.uuid4()}"
        s, _, b = ds.request(leader.port, "POST", f"/api/web/deployments/{ds.DEP}/commands",
                             {"name": "maintenance_on", "target": names[0],
                              "args": {"reason": pending}}, ds.ADMIN)
        assert s == 201, (s, b)
        after = set()
        stop = threading.Event()

        def issuer():
            while not stop.is_set():
                tok = f"bench-after-{uuid.uuid4()}"
                st, _, _, _ = router.send("POST", f"/api/web/deployments/{ds.DEP}/commands",
                                          {"name": "maintenance_on", "target": names[1],
                                           "args": {"reason": tok}}, ds.ADMIN,
                                          deadline=time.monotonic() + 0.2)
                if st == 201:
                    after.add(tok)
                time.sleep(0.1)
        t_kill = time.monotonic()
        leader.kill()
        th = threading.Thread(target=issuer, daemon=True)
        th.start()
        got = {}
        t1 = threading.Thread(target=lambda: got.update(p=wait_command(router, names[0], {pending},
                                                                      4 * a.duration + 10)))
        t2 = threading.Thread(target=lambda: got.update(a=wait_command(router, names[1], after,
                                                                      4 * a.duration + 10)))
        t1.start(), t2.start()
        leader.start()  # the killed replica comes back as a follower
        t1.join(), t2.join()
        stop.set()
        th.join()
        goal = f"goal <= {a.duration + 1} s (lease duration + 1 s)"
        for key, what in (("p", "pending at the kill"), ("a", "issued after the kill")):
            v = got.get(key)
            rows.append((f"SIGKILL -> node receives a command {what}",
                         f"{v - t_kill:.2f} s" if v else f"not within {4 * a.duration + 10} s", goal))

        # 4. state size with a large registry
        nl = h.wait_leader(3 * a.duration + 6)
        t0 = time.monotonic()
        n = register(nl.port, [f"r-{i:05d}" for i in range(a.registry)], threads=250)
        el = time.monotonic() - t0
        w = ds.StateWatcher(kube, h.lease, stop)
        w.relist()
        sizes = {k[len(ds.state_prefix(h.lease)):]: v for k, v in w.sizes.items()}
        rows.append((f"registering {a.registry} nodes", f"{el:.1f} s",
                     f"{n} answered 200/201, {n / max(el, 1e-9):.0f}/s with 250 client threads (each "
                     f"answered once its batch is written)"))
        rows.append((f"state size, {a.registry + a.nodes} nodes",
                     ", ".join(f"{k} {v / 1024:.1f} KiB" for k, v in sorted(sizes.items()))
                     or "no state ConfigMaps", "data.value bytes (ConfigMap limit 1 MiB)"))
    finally:
        h.close()
        toxi.close()
        kube.close()
    w1 = max(len(r[0]) for r in rows)
    w2 = max(len(r[1]) for r in rows)
    print(f"\nbench-durability ({h.settings}, commit {os.popen('git -C ' + ha.ROOT + ' rev-parse --short HEAD').read().strip()})")
    for r in rows:
        print(f"  {r[0]:<{w1}}  {r[1]:<{w2}}  {r[2]}")


if __name__ == "__main__":
    main()
