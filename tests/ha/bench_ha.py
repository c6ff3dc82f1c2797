#!/usr/bin/env python3
"""pgdog-control vs client-go's leader elector, side by side, same harness.

For each timing set (seed: 15 s duration, 5 s interval, renew deadline 10 s;
client-go defaults: 15 s / 10 s renew deadline / 2 s retry period), runs 3
pgdog-control replicas and then 3 pgdc-clientgo-peer replicas (tests/ha/peer:
client-go v0.37.2 leaderelection, ReleaseOnCancel) on a fresh Lease, each
replica behind its own Toxiproxy proxy, and measures:

  handover   SIGTERM to the leader until another replica's /readyz is 200
  failover   SIGKILL to the leader until another replica's /readyz is 200
  stale      the leader's proxy disabled (partition): time until the leader's
             /readyz stops being 200, time until another is 200, and the
             margin between the two (how long nobody leads, > 0 means safe)
  load       Lease API requests per minute of the leader and of an idle
             follower, counted by each process's own HTTP client counter
             (pgdog_control_kube_api_requests_total / pgdc_peer_api_requests_total)
  rss        VmRSS of each replica after the idle window

The split-brain checker runs over every part; any violation is printed.
Prints one table per timing set and writes JSON (--out). Asserts nothing else.

Usage: bench_ha.py BUILD_DIR [--env DIR] [--handovers 20] [--failovers 5]
                   [--stale 3] [--load-secs 90] [--settings seed,defaults]
                   [--kinds daemon,peer] [--out FILE]
"""
import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as ha  # noqa: E402

SETTINGS = {
    "seed": ha.Settings(duration=15, interval=5, renew=10, release_timeout=5),
    "defaults": ha.Settings(duration=15, interval=2, renew=10, release_timeout=5),
}


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))] if s else float("nan")


def wait_other_ready(h, old, limit):
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        for r in h.replicas:
            if r is not old and r.ready():
                return time.monotonic(), r
        time.sleep(0.001)
    raise SystemExit(f"no new leader within {limit}s\n" + h.dump_logs())


def leader(h, limit=60):
    r = h.wait_leader(limit)
    if r is None:
        raise SystemExit("no leader\n" + h.dump_logs())
    return r


def measure(kube, toxi, work, kind, s, a):
    res = {"kind": kind}
    h = ha.Harness(kube, toxi, work, kind=kind, settings=s)
    try:
        h.start(sample=False)
        h.sampler = ha.Sampler(h, period=0.05)
        h.sampler.start()
        lead = leader(h)
        time.sleep(2 * s.interval + 1)

        # Idle load and memory.
        lead = leader(h)
        before = {r.name: r.api_requests() for r in h.replicas}
        time.sleep(a.load_secs)
        after = {r.name: r.api_requests() for r in h.replicas}
        per_min = {n: (after[n] - before[n]) * 60.0 / a.load_secs for n in after}
        res["load_leader"] = per_min[lead.name]
        fol = [per_min[r.name] for r in h.replicas if r is not lead]
        res["load_follower"] = max(fol)
        res["load_followers"] = fol
        res["rss_leader"] = lead.rss_mib()
        res["rss_followers"] = [r.rss_mib() for r in h.replicas if r is not lead]
        print(f"  {kind}: load leader {res['load_leader']:.1f}/min, followers {fol}; "
              f"RSS leader {res['rss_leader']:.1f} MiB", flush=True)

        res["handover_ms"] = []
        for _ in range(a.handovers):
            lead = leader(h)
            time.sleep(s.interval * 0.5 + 0.3)  # followers have seen a renewal
            t_sig = time.monotonic()
            lead.signal(signal.SIGTERM)
            t_new, _ = wait_other_ready(h, lead, s.duration * 3)
            res["handover_ms"].append((t_new - t_sig) * 1000)
            lead.cur.proc.wait(30)
            lead.start()
        print(f"  {kind}: handovers {[round(x) for x in res['handover_ms']]}", flush=True)

        res["failover_ms"] = []
        for _ in range(a.failovers):
            lead = leader(h)
            time.sleep(s.interval + 0.5)
            t_sig = time.monotonic()
            lead.kill()
            t_new, _ = wait_other_ready(h, lead, s.duration * 3)
            res["failover_ms"].append((t_new - t_sig) * 1000)
            lead.start()
        print(f"  {kind}: failovers {[round(x) for x in res['failover_ms']]}", flush=True)

        res["stale_ms"], res["takeover_ms"] = [], []
        for _ in range(a.stale):
            lead = leader(h)
            time.sleep(s.interval + 0.5)
            h.fault(lead.name, "partition (bench: stale leader)")
            t0 = time.monotonic()
            toxi.enable(lead.proxy, False)
            t_unready = None
            t_other = None
            while time.monotonic() - t0 < s.duration * 4 and (t_unready is None or t_other is None):
                if t_unready is None and not lead.ready():
                    t_unready = time.monotonic()
                if t_other is None and any(r.ready() for r in h.replicas if r is not lead):
                    t_other = time.monotonic()
                time.sleep(0.001)
            toxi.enable(lead.proxy, True)
            h.cleared(lead.name, "partition")
            if t_unready is None or t_other is None:
                raise SystemExit("stale-leader trial did not complete\n" + h.dump_logs())
            res["stale_ms"].append((t_unready - t0) * 1000)
            res["takeover_ms"].append((t_other - t0) * 1000)
            if not lead.alive():  # the one-shot client-go peer may exit; keep 3 replicas
                lead.start()
            time.sleep(s.interval * 2)
        print(f"  {kind}: stale {[round(x) for x in res['stale_ms']]}, takeover "
              f"{[round(x) for x in res['takeover_ms']]}", flush=True)

        leader(h)
        h.sampler.stop()
        res["violations"] = h.check()
        for v in res["violations"]:
            print("VIOLATION\n" + v)
    finally:
        h.close()
    return res


def row(name, ours, peer, fmt="{:.1f}", better="lower"):
    if ours is None or peer is None:
        return f"| {name} | {ours} | {peer} | |"
    ratio = ""
    if ours > 0 and peer > 0:
        ratio = f"{peer / ours:.1f}x" if better == "lower" else f"{ours / peer:.1f}x"
    elif ours == 0 and peer > 0:
        ratio = "inf"
    return f"| {name} | {fmt.format(ours)} | {fmt.format(peer)} | {ratio} |"


def table(sname, s, r):
    d, p = r.get("daemon"), r.get("peer")
    lines = [f"### {sname}: {s}", "",
             "| metric | pgdog-control | client-go peer | peer / ours |",
             "| --- | ---: | ---: | ---: |"]

    def g(x, key, f):
        return f(x[key]) if x and x.get(key) not in (None, []) else None

    for label, key in (("handover", "handover_ms"), ("failover", "failover_ms")):
        n = len((d or p or {}).get(key, []))
        lines.append(row(f"{label} p50 ms (n={n})", g(d, key, statistics.median),
                         g(p, key, statistics.median), "{:.0f}"))
        lines.append(row(f"{label} p99 ms", g(d, key, lambda v: pct(v, 99)),
                         g(p, key, lambda v: pct(v, 99)), "{:.0f}"))
        lines.append(row(f"{label} max ms", g(d, key, max), g(p, key, max), "{:.0f}"))
    lines.append(row("stale leader: partition -> not Ready, max ms", g(d, "stale_ms", max),
                     g(p, "stale_ms", max), "{:.0f}"))
    lines.append(row("stale leader: partition -> other Ready, min ms", g(d, "takeover_ms", min),
                     g(p, "takeover_ms", min), "{:.0f}"))
    md = (min(t - u for t, u in zip(d["takeover_ms"], d["stale_ms"])) if d else None)
    mp = (min(t - u for t, u in zip(p["takeover_ms"], p["stale_ms"])) if p else None)
    lines.append(row("stale leader: safety margin (min), ms", md, mp, "{:.0f}", better="higher"))
    lines.append(row("API requests/min, leader", g(d, "load_leader", float),
                     g(p, "load_leader", float)))
    lines.append(row("API requests/min, idle follower (max)", g(d, "load_follower", float),
                     g(p, "load_follower", float), "{:.2f}"))
    lines.append(row("idle RSS leader, MiB", g(d, "rss_leader", float), g(p, "rss_leader", float)))
    lines.append(row("idle RSS follower (max), MiB", g(d, "rss_followers", max),
                     g(p, "rss_followers", max)))
    lines.append(f"| split-brain violations | {len(d['violations']) if d else '-'} | "
                 f"{len(p['violations']) if p else '-'} | |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--env")
    ap.add_argument("--handovers", type=int, default=20)
    ap.add_argument("--failovers", type=int, default=5)
    ap.add_argument("--stale", type=int, default=3)
    ap.add_argument("--load-secs", type=int, default=90)
    ap.add_argument("--settings", default="seed,defaults")
    ap.add_argument("--kinds", default="daemon,peer")
    ap.add_argument("--out")
    a = ap.parse_args()
    # SIGTERM (e.g. from a CI timeout) tears down like Ctrl-C: no stray replicas.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    os.environ.setdefault("PGDC_BIN", os.path.join(os.path.abspath(a.build), "bin",
                                                   "pgdog-control"))
    work = tempfile.mkdtemp(prefix="pgdc-bench-ha-")
    kube = ha.KubeEnv(a.env, work)
    toxi = ha.Toxiproxy(work)
    results = {}
    load0 = os.getloadavg()
    t0 = time.monotonic()
    try:
        for sname in a.settings.split(","):
            s = SETTINGS[sname]
            results[sname] = {}
            for kind in a.kinds.split(","):
                print(f"== {sname} ({s}): {kind}", flush=True)
                results[sname][kind] = measure(kube, toxi, work, kind, s, a)
    finally:
        toxi.close()
        kube.close()
    load1 = os.getloadavg()
    cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"],
                         capture_output=True, text=True).stdout.strip()
    print()
    print(f"machine: {cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}; "
          f"load average {load0[0]:.2f} at start, {load1[0]:.2f} at end; "
          f"{(time.monotonic() - t0) / 60:.0f} min")
    print("3 replicas per implementation, each behind its own Toxiproxy proxy, on a "
          "kube-apiserver v1.37.2 + etcd on loopback; client-go peer v0.37.2, ReleaseOnCancel")
    for sname in results:
        print()
        print(table(sname, SETTINGS[sname], results[sname]))
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"settings": {k: repr(v) for k, v in SETTINGS.items()},
                       "results": results, "load": [load0, load1], "cpu": cpu}, f, indent=1)
    bad = sum(len(r.get("violations", [])) for x in results.values() for r in x.values())
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
