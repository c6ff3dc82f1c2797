#!/usr/bin/env python3
"""Leader election on a real kube-apiserver: handover, failover, API load.

  handover   SIGTERM to the leader until another replica's /readyz is 200
  switchover POST /api/web/leadership/switchover to the leader (the next
             replica as `to`) until that target's /readyz is 200
  failover   SIGKILL to the leader until another replica's /readyz is 200
  load       API requests per minute of the leader and of each idle follower,
             from the replicas' own pgdog_control_kube_api_requests_total

Prints figures for docs/benchmarks.md; asserts nothing. Starts its own
environment with tests/kube/kube-env.sh unless --env DIR names a running one.
Usage: bench_kube.py BUILD_DIR [--handovers N] [--failovers N] [--switchovers N] [--load-secs S]
                     [--duration S] [--interval S]
"""
import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
sys.path.insert(0, os.path.join(HERE, "..", "kube"))


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


def ready(d, dm):
    if dm.proc.poll() is not None:
        return False
    try:
        return d.get(dm.port, "/readyz", timeout=1)[0] == 200
    except Exception:
        return False


def call(port, method, path, token, body=None, timeout=10):
    """(status, decoded JSON body) of a web API request with a bearer token."""
    import urllib.error
    import urllib.request
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": f"Bearer {token}",
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return -1.0


def requests_total(d, dm):
    try:
        text = d.get(dm.port, "/metrics", timeout=2)[2]
    except Exception:
        return 0.0
    return sum(float(m.group(1)) for m in re.finditer(
        r'^pgdog_control_kube_api_requests_total\{[^}]*\} (\S+)$', text, re.M))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--env")
    ap.add_argument("--handovers", type=int, default=20)
    ap.add_argument("--failovers", type=int, default=5)
    ap.add_argument("--switchovers", type=int, default=50)
    ap.add_argument("--load-secs", type=int, default=120)
    ap.add_argument("--duration", type=int, default=15)
    ap.add_argument("--interval", type=float, default=5)
    a = ap.parse_args()

    os.environ.setdefault("PGDC_BIN", os.path.join(os.path.abspath(a.build), "bin", "pgdog-control"))
    tmp = tempfile.mkdtemp(prefix="pgdc-bench-kube-")
    os.environ["PGDC_TMP"] = tmp
    env_dir = a.env
    started_env = False
    if not env_dir:
        env_dir = os.path.join(tmp, "kube-env")
        subprocess.run([os.path.join(HERE, "..", "kube", "kube-env.sh"), "start", env_dir],
                       check=True, stdout=subprocess.DEVNULL)
        started_env = True
    os.environ["PGDC_KUBE_ENV"] = env_dir
    import daemon_test as d  # noqa: E402
    import lease_daemon_test as k  # noqa: E402

    lease = "bench-" + uuid.uuid4().hex[:8]
    users = ["ELECTOR_1", "ELECTOR_2", "ELECTOR_3"]
    token = "bench-admin-" + uuid.uuid4().hex
    token_file = os.path.join(tmp, "admin-token")
    with open(token_file, "w") as f:
        f.write(token + "\n")
    os.chmod(token_file, 0o600)
    web = f"api:\n  web:\n    admin_token_file: {token_file}\n"
    cfg = lambda u: k.config(lease, u, duration=a.duration, interval=a.interval, extra=web)  # noqa: E731
    replicas = {}

    def start(u):
        dm = d.Daemon(cfg(u), args=["--log-level", "warn"])
        dm.wait_listening()
        replicas[u] = dm
        return dm

    def leader():
        for u, dm in replicas.items():
            if ready(d, dm):
                return u, dm
        return None, None

    def wait_new_leader(old, limit):
        t0 = time.monotonic()
        while time.monotonic() - t0 < limit:
            for u, dm in replicas.items():
                if u != old and ready(d, dm):
                    return time.monotonic()
            time.sleep(0.001)
        raise SystemExit("no new leader within %ss" % limit)

    try:
        # A fresh install: no Lease yet. The first replica creates it and,
        # since a deletion an instant earlier would be indistinguishable,
        # acts only a lease duration after the create.
        t0 = time.monotonic()
        for u in users:
            start(u)
        while leader()[0] is None and time.monotonic() - t0 < 60:
            time.sleep(0.005)
        fresh = time.monotonic() - t0

        # API load: all three idle for load-secs.
        time.sleep(a.interval * 2)
        lu, _ = leader()
        before = {u: requests_total(d, dm) for u, dm in replicas.items()}
        time.sleep(a.load_secs)
        after = {u: requests_total(d, dm) for u, dm in replicas.items()}
        per_min = {u: (after[u] - before[u]) * 60.0 / a.load_secs for u in replicas}
        if os.environ.get("PGDC_BENCH_DEBUG"):
            print("requests before", before, "after", after, "leader", lu)
        load_leader = lu  # lu is reused by the trials below
        rss = {u: rss_mib(dm.proc.pid) for u, dm in replicas.items()}
        followers = [per_min[u] for u in replicas if u != load_leader]

        handovers = []
        for _ in range(a.handovers):
            lu, ldm = leader()
            time.sleep(a.interval * 0.5 + 0.3)  # followers are watching
            t_sig = time.monotonic()
            ldm.proc.send_signal(signal.SIGTERM)
            t_new = wait_new_leader(lu, a.duration * 3)
            handovers.append((t_new - t_sig) * 1000)
            ldm.wait_exit()
            ldm.close()
            start(lu)

        failovers = []
        for _ in range(a.failovers):
            lu, ldm = leader()
            time.sleep(a.interval + 0.5)
            t_sig = time.monotonic()
            ldm.proc.kill()
            ldm.proc.wait()
            t_new = wait_new_leader(lu, a.duration * 3)
            failovers.append((t_new - t_sig) * 1000)
            ldm.close()
            start(lu)

        switchovers, answered = [], []
        for i in range(a.switchovers):
            lu, ldm = leader()
            # Targets: the live replicas (a SIGKILLed one's member Lease
            # stays listed until its TTL).
            selves = {call(dm.port, "GET", "/api/web/members", token)[1].get("self"): dm
                      for dm in replicas.values() if dm is not ldm}
            others = sorted(selves)
            to = others[i % len(others)]
            target = selves[to]
            time.sleep(a.interval * 0.5 + 0.3)
            t0 = time.monotonic()
            st, body = call(ldm.port, "POST", "/api/web/leadership/switchover", token, {"to": to})
            t1 = time.monotonic()
            if st != 200:
                raise SystemExit(f"switchover answered {st}: {body}")
            while not ready(d, target):
                if time.monotonic() - t0 > a.duration * 3:
                    raise SystemExit("the switchover target never became ready")
                time.sleep(0.001)
            switchovers.append((time.monotonic() - t0) * 1000)
            answered.append((t1 - t0) * 1000)

        print(f"settings: lease_duration {a.duration}s, lease_interval {a.interval}s, "
              f"renew deadline {a.duration - a.interval}s; 3 replicas; kube-apiserver v1.37.2 on loopback")
        print(f"fresh install (3 replicas started, no Lease) -> first leader ready: {fresh:.2f} s "
              f"(lease duration {a.duration} s)")
        if handovers:
            print(f"graceful handover (SIGTERM -> other replica ready) over {len(handovers)}: "
                  f"p50 {statistics.median(handovers):.1f} ms, p99 {pct(handovers, 99):.1f} ms, "
                  f"max {max(handovers):.1f} ms")
        if switchovers:
            print(f"switchover (POST -> the target's /readyz 200) over {len(switchovers)}: "
                  f"p50 {statistics.median(switchovers):.1f} ms, p99 {pct(switchovers, 99):.1f} ms, "
                  f"max {max(switchovers):.1f} ms; the POST answered in p50 "
                  f"{statistics.median(answered):.1f} ms, p99 {pct(answered, 99):.1f} ms")
        if failovers:
            print(f"crash failover (SIGKILL -> other replica ready) over {len(failovers)}: "
                  f"p50 {statistics.median(failovers):.0f} ms, max {max(failovers):.0f} ms "
                  f"(lease duration {a.duration * 1000} ms)")
        print(f"API requests per minute over {a.load_secs}s: leader "
              f"{per_min[load_leader] if load_leader else 0:.1f}, "
              f"idle followers {', '.join(f'{x:.2f}' for x in followers)}")
        print(f"idle RSS after the load window: leader {rss[load_leader]:.1f} MiB, followers "
              f"{', '.join(f'{rss[u]:.1f}' for u in replicas if u != load_leader)} MiB")
    finally:
        for dm in replicas.values():
            dm.close()
        if started_env:
            subprocess.run([os.path.join(HERE, "..", "kube", "kube-env.sh"), "stop", env_dir],
                           stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    main()
