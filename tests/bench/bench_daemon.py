#!/usr/bin/env python3
"""Benchmarks the daemon with the no-op plugin and prints figures.

  startup   exec until /readyz answers 200 (N runs: median, p90, max)
  memory    idle RSS after 2 s
  readyz    wrk on loopback: requests per second and latency p50/p99

Not a test: it prints numbers for docs/benchmarks.md and never fails on them.
Usage: bench_daemon.py BUILD_DIR [--runs N] [--seconds S]
"""
import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def readyz_ok(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
            s.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def start(binary, tmp):
    port = free_port()
    cfg = os.path.join(tmp, f"bench-{port}.yaml")
    with open(cfg, "w") as f:
        f.write(f'listen: "127.0.0.1:{port}"\nlog:\n  level: warn\n')
    t0 = time.monotonic()
    proc = subprocess.Popen([binary, "--config", cfg], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    while not readyz_ok(port):
        if proc.poll() is not None:
            sys.exit(f"daemon exited with {proc.returncode}")
        if time.monotonic() - t0 > 30:
            proc.kill()
            sys.exit("daemon not ready after 30 s")
        time.sleep(0.0005)
    return proc, port, (time.monotonic() - t0) * 1000.0


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--seconds", type=int, default=10)
    a = ap.parse_args()
    binary = os.path.join(a.build, "bin", "pgdog-control")
    tmp = tempfile.mkdtemp(prefix="pgdc-bench-")

    startups = []
    for _ in range(a.runs):
        proc, _, ms = start(binary, tmp)
        startups.append(ms)
        proc.terminate()
        proc.wait()
    print(f"startup exec->/readyz 200 over {a.runs} runs: median {statistics.median(startups):.1f} ms, "
          f"p90 {pct(startups, 90):.1f} ms, max {max(startups):.1f} ms")

    proc, port, _ = start(binary, tmp)
    time.sleep(2)
    print(f"idle RSS after 2 s: {rss_kib(proc.pid) / 1024:.1f} MiB")

    if shutil.which("wrk"):
        out = subprocess.run(["wrk", "-t1", "-c16", f"-d{a.seconds}s", "--latency",
                              f"http://127.0.0.1:{port}/readyz"],
                             capture_output=True, text=True).stdout
        rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
        p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
        p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
        non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
        print(f"/readyz under wrk (1 thread, 16 connections, {a.seconds} s, keep-alive): "
              f"{rps.group(1) if rps else '?'} req/s, p50 {p50.group(1) if p50 else '?'}, "
              f"p99 {p99.group(1) if p99 else '?'}, non-2xx {non2xx.group(1) if non2xx else 0}")
        print(f"RSS after load: {rss_kib(proc.pid) / 1024:.1f} MiB")
    else:
        print("wrk not installed: skipped the /readyz load test")
    proc.terminate()
    proc.wait()
    print(f"machine: {os.cpu_count()} cores; {os.uname().release}")


if __name__ == "__main__":
    main()
