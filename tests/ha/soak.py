#!/usr/bin/env python3
"""Long randomized HA mode: rounds of random faults, one checker over all of it.

  python3 tests/ha/soak.py --rounds 500 --seed 1 [--build build] [--env DIR] [--minutes M]
                           [--duration 4 --interval 1 --renew 3] [--no-faketime]

Each round picks a fault (weights below) and a random target and hold time
(0.3 to 2 lease durations), injects it, clears it, restarts any replica it
killed, and then requires a single leader within `live` seconds (liveness).
Safety is checked every 10 rounds and at the end over the whole run: no two
acting intervals overlap, epochs strictly increase (harness.check_intervals),
and the sampler never saw two replicas answer 200 at once. Replica r3 runs
under libfaketime (wall clock only) so that wall-clock jumps are in the mix.

Prints one line per round and a summary: rounds, faults injected by kind,
overlaps (must be 0), liveness failures, leaderless time. Exit 1 on any
violation or liveness failure. The same run() is used by the short CTest
variant (scenarios_test.HA.test_randomized_mix_short).
"""
import argparse
import collections
import os
import random
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as ha  # noqa: E402


def _leader_or_any(h, rng):
    ready = [r for r in h.replicas if r.alive() and r.ready()]
    return ready[0] if ready else rng.choice([r for r in h.replicas if r.alive()] or h.replicas)


def _follower(h, rng):
    f = [r for r in h.replicas if r.alive() and not r.ready()]
    return rng.choice(f) if f else rng.choice(h.replicas)


# Each fault: (weight, name, inject(h, rng, target) -> clear callable). The
# target is the leader ("L") or a follower ("F") or everyone ("*").
def f_partition(h, rng, r):
    h.toxi.enable(r.proxy, False)
    return lambda: h.toxi.enable(r.proxy, True)


def f_hung(h, rng, r):
    h.toxi.toxic(r.proxy, "timeout", "upstream", timeout=0)
    h.toxi.toxic(r.proxy, "timeout", "downstream", timeout=0)
    return lambda: h.toxi.clear(r.proxy)


def f_reset(h, rng, r):
    h.toxi.toxic(r.proxy, "reset_peer", "upstream", timeout=rng.choice([0, 200]))
    return lambda: h.toxi.clear(r.proxy)


def f_latency(h, rng, r):
    ms = rng.choice([50, 300, 1500, 4000])
    h.toxi.toxic(r.proxy, "latency", "downstream", latency=ms, jitter=ms // 4)
    return lambda: h.toxi.clear(r.proxy)


def f_bandwidth(h, rng, r):
    h.toxi.toxic(r.proxy, "bandwidth", "downstream", rate=rng.choice([1, 4, 32]))  # KB/s
    return lambda: h.toxi.clear(r.proxy)


def f_sigstop(h, rng, r):
    r.signal(signal.SIGSTOP)
    return lambda: r.signal(signal.SIGCONT)


def f_sigkill(h, rng, r):
    r.kill()
    return lambda: None  # restarted after the round


def f_sigterm(h, rng, r):
    r.terminate()
    return lambda: None


def f_sigterm_partitioned(h, rng, r):
    h.toxi.enable(r.proxy, False)
    r.terminate()
    return lambda: h.toxi.enable(r.proxy, True)


def f_delete_lease(h, rng, r):
    h.kube.kubectl("delete", "lease", h.lease, "--ignore-not-found")
    return lambda: None


def f_api_restart(h, rng, r):
    h.kube.stop_apiserver()
    return h.kube.start_apiserver


def f_clock_jump(h, rng, r):
    fake = [x for x in h.replicas if x.faketime and x.alive()]
    if not fake:
        return lambda: None
    x = fake[0]
    x.set_clock(rng.choice(["+3600", "-60", "+86400", "+7"]))
    return lambda: x.set_clock("+0")


FAULTS = [
    (3, "partition", "L", f_partition),
    (1, "partition", "F", f_partition),
    (2, "hung requests", "L", f_hung),
    (1, "reset_peer", "L", f_reset),
    (2, "latency", "L", f_latency),
    (1, "latency", "*", f_latency),
    (1, "bandwidth", "L", f_bandwidth),
    (2, "SIGSTOP", "L", f_sigstop),
    (2, "SIGKILL", "L", f_sigkill),
    (3, "SIGTERM", "L", f_sigterm),
    (1, "SIGTERM", "F", f_sigterm),
    (1, "SIGTERM while partitioned", "L", f_sigterm_partitioned),
    (1, "Lease deleted", "*", f_delete_lease),
    (1, "API server restart", "*", f_api_restart),
    (1, "wall-clock jump", "*", f_clock_jump),
]


def run(h, rounds, seed, live, api_restarts=True, check_every=10, out=print, minutes=None):
    """Runs `rounds` random faults on harness h (started here). Returns a dict
    with rounds, faults (Counter), violations (list of text), liveness_failures,
    leaderless_s and elapsed_s. minutes: stop early after this long (the
    summary then says how many rounds ran)."""
    rng = random.Random(seed)
    faults = [f for f in FAULTS if api_restarts or f[1] != "API server restart"]
    if not any(r.faketime for r in h.replicas):
        faults = [f for f in faults if f[1] != "wall-clock jump"]
    weights = [f[0] for f in faults]
    counts = collections.Counter()
    violations, liveness_failures = [], 0
    d = h.settings.duration
    h.start()
    t_start = time.monotonic()
    if h.wait_leader(live) is None:
        liveness_failures += 1
    done = 0
    for i in range(1, rounds + 1):
        if minutes is not None and time.monotonic() - t_start > minutes * 60:
            out(f"soak: time budget of {minutes} min used up after {done} rounds")
            break
        done = i
        _, name, who, inject = rng.choices(faults, weights)[0]
        if who == "L":
            target = _leader_or_any(h, rng)
        elif who == "F":
            target = _follower(h, rng)
        else:
            target = rng.choice(h.replicas)
        if who == "*" and name in ("latency",):
            targets = list(h.replicas)
        else:
            targets = [target]
        hold = rng.uniform(0.3, 2.0) * d
        label = f"{name} on {'everyone' if who == '*' else target.name}"
        h.fault("*" if who == "*" else target.name, label)
        clears = [inject(h, rng, t) for t in targets]
        time.sleep(hold)
        for c in clears:
            c()
        h.cleared("*" if who == "*" else target.name, label)
        for r in h.replicas:
            if not r.alive():
                r.start()
        counts[name] += 1
        t0 = time.monotonic()
        leader = h.wait_leader(live + (30 if name == "API server restart" else 0))
        if leader is None:
            liveness_failures += 1
            h.timeline.add("*", "LIVENESS FAILURE: no single leader")
            out(f"round {i}: LIVENESS FAILURE after {label}\n" + h.dump_logs(1500))
        out(f"round {i}/{rounds}: {label}, held {hold:.1f}s; leader "
            f"{leader.name if leader else 'NONE'} {time.monotonic() - t0:.2f}s after clearing")
        if i % check_every == 0:
            v = h.check()
            if len(v) > len(violations):
                for text in v[len(violations):]:
                    out("VIOLATION\n" + text)
                violations = v
    elapsed = time.monotonic() - t_start
    h.sampler.stop()
    violations = h.check()
    s = h.sampler
    leaderless = elapsed * s.none / max(1, s.rounds)
    rounds = done
    result = {"rounds": rounds, "faults": counts, "violations": violations,
              "liveness_failures": liveness_failures, "leaderless_s": leaderless,
              "elapsed_s": elapsed, "samples": s.rounds, "sampler_overlaps": len(s.overlaps),
              "intervals": len(h.intervals())}
    out(f"soak: {rounds} rounds in {elapsed:.0f}s (seed {seed}, {h.settings}); faults: "
        + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    out(f"soak: leadership intervals {result['intervals']}, overlaps {len(violations)} "
        f"(sampler {len(s.overlaps)} over {s.rounds} sample rounds), liveness failures "
        f"{liveness_failures}, leaderless {leaderless:.0f}s of {elapsed:.0f}s "
        f"({100.0 * s.none / max(1, s.rounds):.1f}% of samples); leader-only action "
        f"sampled: {'yes' if h.control_api else 'no (/readyz only)'}")
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=50)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--build", default=os.path.join(ha.ROOT, "build"))
    ap.add_argument("--env", help="a running kube-env.sh directory (default: start one)")
    ap.add_argument("--duration", type=int, default=4)
    ap.add_argument("--interval", type=float, default=1)
    ap.add_argument("--renew", type=float, default=3)
    ap.add_argument("--no-faketime", action="store_true")
    ap.add_argument("--no-api-restarts", action="store_true")
    ap.add_argument("--minutes", type=float, help="stop after this long (default: no limit)")
    a = ap.parse_args()
    # SIGTERM (e.g. from a CI timeout) tears down like Ctrl-C: no stray replicas.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    os.environ.setdefault("PGDC_BIN", os.path.join(os.path.abspath(a.build), "bin",
                                                   "pgdog-control"))
    work = tempfile.mkdtemp(prefix="pgdc-ha-soak-")
    print(f"soak: seed {a.seed}, work dir {work}")
    kube = ha.KubeEnv(a.env, work)
    toxi = ha.Toxiproxy(work)
    s = ha.Settings(a.duration, a.interval, a.renew, release_timeout=3)
    fake = (None if a.no_faketime or not os.path.exists(ha.FAKETIME_LIB)
            else {2: {"spec": "+0", "monotonic": False}})
    h = ha.Harness(kube, toxi, work, settings=s, faketime=fake)
    try:
        res = run(h, a.rounds, a.seed, live=3 * a.duration + 6,
                  api_restarts=not a.no_api_restarts, minutes=a.minutes)
    finally:
        h.close()
        toxi.close()
        kube.close()
    sys.exit(1 if res["violations"] or res["liveness_failures"] else 0)


if __name__ == "__main__":
    main()
