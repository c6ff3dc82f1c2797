#!/usr/bin/env python3
"""The machine API under a simulated PgDog fleet: throughput, latency, CPU, memory.

Starts the daemon (no-op plugin) with D deployments, then tests/bench/fleetload
(Go, built here and cached by source hash) simulates N PgDog nodes at PgDog's
intervals: register, metrics every 1 s, query stats / active queries / errors
every 5 s, one command long poll always open; an admin issues a command to
every deployment every few seconds, so polls deliver and nodes acknowledge.

Printed: requests per second, client-side latency per request kind (p50, p99,
max), the daemon's CPU over the measured window (cores = CPU seconds / wall
seconds, from /proc/<pid>/stat), its RSS at the end and its peak (VmHWM), and
the open connections. Goal (issue 6): 5,000 nodes with p99 < 20 ms using less
than one core. Not a test: prints figures for docs/benchmarks.md.

Usage: bench_fleet.py BUILD_DIR [--nodes N] [--seconds S] [--ramp S] [--deployments D]
"""
import argparse
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_fleetload():
    src = os.path.join(HERE, "fleetload")
    digest = hashlib.sha256()
    for name in sorted(os.listdir(src)):
        with open(os.path.join(src, name), "rb") as f:
            digest.update(name.encode() + f.read())
    cache = os.path.expanduser("~/.cache/pgdog-control/tools/fleetload-" + digest.hexdigest()[:16])
    binary = os.path.join(cache, "fleetload")
    if not os.path.exists(binary):
        os.makedirs(cache, exist_ok=True)
        subprocess.run(["go", "build", "-o", binary, "."], cwd=src, check=True)
    return binary


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def wait_ready(port, proc, timeout=30):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            sys.exit(f"daemon exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
                s.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    sys.exit("daemon not ready")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build_dir")
    ap.add_argument("--nodes", type=int, default=5000)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--ramp", type=int, default=20)
    ap.add_argument("--deployments", type=int, default=4)
    ap.add_argument("--issue-every", default="0s",
                    help="also issue a command to every deployment this often, e.g. 10s")
    ap.add_argument("--io-threads", type=int, default=None, help="http.io_threads (default: the daemon's)")
    ap.add_argument("--durable", action="store_true",
                    help="keep the registry and command log durable (state_dir in the bench's "
                         "temp dir): every registration, delivery and ack is written")
    args = ap.parse_args()

    binary = os.path.join(args.build_dir, "bin", "pgdog-control")
    loadgen = build_fleetload()
    tmp = tempfile.mkdtemp(prefix="pgdc-bench-fleet-")
    port = free_port()
    tokens = [f"bench-deployment-token-{i:02d}-0123456789" for i in range(args.deployments)]
    admin = "bench-admin-token-0123456789abcdef"
    deployments = "\n".join(
        f"    - name: deployment-{i}\n      tokens: [\"{t}\"]" for i, t in enumerate(tokens))
    cfg = os.path.join(tmp, "fleet.yaml")
    with open(cfg, "w") as f:
        f.write(f"""listen: "127.0.0.1:{port}"
{f'state_dir: {os.path.join(tmp, "state")}{chr(10)}' if args.durable else ''}log:
  level: warn
{f'http:{chr(10)}  io_threads: {args.io_threads}{chr(10)}' if args.io_threads else ''}api:
  deployments:
{deployments}
  web:
    admin_tokens: ["{admin}"]
  memory:  # 5,000 nodes' metric rings alone take 66 MB (docs/api.md#memory-bounds)
    max_bytes: 1073741824
    max_bytes_per_deployment: 1073741824
""")
    daemon = subprocess.Popen([binary, "--config", cfg], stdout=subprocess.DEVNULL,
                              stderr=open(os.path.join(tmp, "daemon.log"), "w"))
    try:
        wait_ready(port, daemon)
        load = subprocess.Popen(
            [loadgen, "-url", f"http://127.0.0.1:{port}", "-tokens", ",".join(tokens),
             "-admin-token", admin, "-nodes", str(args.nodes), "-duration", f"{args.seconds}s",
             "-ramp", f"{args.ramp}s", "-issue-every", args.issue_every],
            stdout=subprocess.PIPE, text=True,
            # The generator's own garbage collector would otherwise pause its
            # 10,000 goroutines for ~100 ms every few seconds and show up as
            # the daemon's tail latency: collect only past 4 GiB.
            env=dict(os.environ, GOGC="off", GOMEMLIMIT="4GiB"))
        time.sleep(args.ramp)
        cpu0, t0 = cpu_seconds(daemon.pid), time.monotonic()
        lcpu0 = cpu_seconds(load.pid)
        time.sleep(args.seconds - 1)
        cpu1, t1 = cpu_seconds(daemon.pid), time.monotonic()
        lcpu1 = cpu_seconds(load.pid)
        lrss = status_kib(load.pid, "VmHWM")
        out, _ = load.communicate(timeout=args.seconds + 120)
        rss, hwm = status_kib(daemon.pid, "VmRSS"), status_kib(daemon.pid, "VmHWM")
        if load.returncode != 0:
            sys.exit(f"fleetload failed with {load.returncode}")
        result = json.loads(out)
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)

    cores = (cpu1 - cpu0) / (t1 - t0)
    print(f"fleet benchmark: {args.nodes} simulated nodes in {args.deployments} deployments, "
          f"{args.seconds} s measured after a {args.ramp} s ramp, {os.cpu_count()} CPUs "
          f"(load generator on the same machine)")
    print(f"  requests/s (excluding long polls in flight): {result['requests_per_sec']:.0f}")
    print(f"  {'kind':<16}{'count':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}  errors")
    for kind in sorted(result["requests"]):
        r = result["requests"][kind]
        print(f"  {kind:<16}{r['count']:>9}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}"
              f"{r['max_ms']:>9.1f}  {r.get('errors') or ''}")
    np = result["non_poll"]
    print(f"  {'all but polls':<16}{np['count']:>9}{np['p50_ms']:>9.2f}{np['p99_ms']:>9.2f}"
          f"{np['max_ms']:>9.1f}")
    per_sec = result.get("p99_by_second_ms") or []
    if per_sec:
        worst = sorted(range(len(per_sec)), key=lambda i: -per_sec[i])[:5]
        print("  p99 per second (ms): " + " ".join(f"{v:.0f}" for v in per_sec))
        print("  worst seconds: " + ", ".join(f"t={i}s {per_sec[i]:.0f} ms" for i in worst))
    d = result["command_issue_to_ack"]
    print(f"  commands issued: {result['commands_issued']}; issue -> node ack: "
          f"p50 {d['p50_ms']:.1f} ms, p99 {d['p99_ms']:.1f} ms over {d['count']} deliveries")
    print(f"  daemon CPU: {cores:.2f} cores; RSS {rss / 1024:.1f} MiB (peak {hwm / 1024:.1f} MiB); "
          f"load generator CPU: {(lcpu1 - lcpu0) / (t1 - t0):.2f} cores "
          f"({lrss / 1024:.0f} MiB); machine load average "
          f"{os.getloadavg()[0]:.2f}")
    ok = np["p99_ms"] < 20 and cores < 1.0
    print(f"  goal (p99 < 20 ms, < 1 core): {'met' if ok else 'MISSED'}")


if __name__ == "__main__":
    main()
