"""HA fault-injection harness: real processes, real faults, one checker.

Pieces (each usable alone; scenarios_test.py, soak.py and bench_ha.py use them):

  KubeEnv     a tests/kube/kube-env.sh environment (real etcd + kube-apiserver),
              started here or reused (PGDC_KUBE_ENV); stop/start the API server.
  Toxiproxy   toxiproxy-server on a free loopback port and one TCP proxy per
              replica in front of the API server (latency, timeout, reset_peer,
              bandwidth toxics; disable = full partition).
  Replica     one slot of the fleet (pgdog-control with the Kubernetes plugin,
              or the client-go reference peer), restartable; every incarnation
              keeps its own log and its process events (SIGSTOP/SIGCONT/KILL).
              Each replica reaches the API only through its own proxy: its
              kubeconfig is the elector's with the server's port swapped (the
              serving certificate names 127.0.0.1, which still matches).
  Sampler     probes /readyz and the leader-only action GET /api/web/control
              (when the daemon serves it) of every replica continuously;
              records each replica's ready spans as seen from outside and
              every round where two answered 200.
  Timeline    fault events (begin/end, replica, what) for violation reports.
  check()     the split-brain checker: no two leadership intervals overlap,
              epochs strictly increase; see check_intervals() for the rules.

Clocks: every timestamp the checker compares is this machine's wall clock
(CLOCK_REALTIME, microseconds): the daemons' and peers' log lines and the
harness's own events. Replicas run under libfaketime have a fake wall clock,
so their logs are not used; their intervals come from the Sampler (see
Replica.faketime).
"""
import datetime
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from readiness_log import parse_ts, readiness_intervals  # noqa: E402,F401 (parse_ts: users)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
KUBE_ENV_SH = os.path.join(ROOT, "tests", "kube", "kube-env.sh")
FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"


def now():
    return time.time()


def log(msg):
    print(f"[ha {datetime.datetime.utcnow().strftime('%H:%M:%S.%f')[:-3]}] {msg}", flush=True)


def free_port():
    """A free loopback port below the ephemeral range (20000-32767), so a
    proxy that is disabled and enabled again gets its port back."""
    while True:
        p = random.randint(20000, 32767)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", p))
                return p
            except OSError:
                continue


def http_get(port, path, timeout=1.0):
    """(status, headers, body); status 0 when no HTTP answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode(errors="replace")
    except Exception:
        return 0, {}, ""


def tool(script, var):
    """Path of a cached Go tool (builds it on first use)."""
    out = subprocess.run([os.path.join(ROOT, script), "--print-env"], check=True,
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        k, _, v = line.partition("=")
        if k == var:
            return v.strip("'\"")
    raise RuntimeError(f"{script} did not print {var}")


# --- Kubernetes environment ---------------------------------------------------------------


class KubeEnv:
    def __init__(self, path=None, workdir=None):
        self.started = False
        if not path:
            path = os.path.join(workdir or tempfile.mkdtemp(prefix="pgdc-ha-"), "kube-env")
            subprocess.run([KUBE_ENV_SH, "start", path], check=True, stdout=subprocess.DEVNULL)
            self.started = True
        self.dir = path
        self.env = {}
        with open(os.path.join(path, "env")) as f:
            for line in f:
                m = re.match(r"^(?:export )?([A-Z0-9_]+)=(.*)$", line.strip())
                if m:
                    self.env[m.group(1)] = m.group(2).strip("'\"")
        self.namespace = self.env["KUBE_NAMESPACE"]
        self.api_port = int(self.env["KUBE_API_PORT"])

    def kubectl(self, *args, check=True):
        cmd = [self.env["KUBECTL"], "--kubeconfig", self.env["KUBECONFIG_ADMIN"], "-n",
               self.namespace] + list(args)
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: {r.stderr}")
        return r

    def get_lease(self, name):
        r = self.kubectl("get", "lease", name, "-o", "json", check=False)
        return json.loads(r.stdout) if r.returncode == 0 else None

    def _sh(self, cmd, timeout):
        subprocess.run([KUBE_ENV_SH, cmd, self.dir], check=True, capture_output=True,
                       timeout=timeout)

    def stop_apiserver(self):
        self._sh("stop-apiserver", 60)

    def start_apiserver(self):
        self._sh("start-apiserver", 240)

    def proxied_kubeconfig(self, user, port, path):
        """The user's kubeconfig with the server moved to 127.0.0.1:port."""
        with open(self.env["KUBECONFIG_" + user]) as f:
            text = f.read()
        text = text.replace(f"https://127.0.0.1:{self.api_port}", f"https://127.0.0.1:{port}")
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o600)
        return path

    def close(self):
        if self.started:
            subprocess.run([KUBE_ENV_SH, "stop", self.dir], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)


# --- Toxiproxy ------------------------------------------------------------------------------


class Toxiproxy:
    def __init__(self, workdir):
        self.bin = os.environ.get("TOXIPROXY_SERVER_BIN") or tool(
            "tests/ha/build-toxiproxy.sh", "TOXIPROXY_SERVER_BIN")
        self.port = free_port()
        self.log = open(os.path.join(workdir, "toxiproxy.log"), "w")
        self.proc = subprocess.Popen([self.bin, "-host", "127.0.0.1", "-port", str(self.port)],
                                     stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("toxiproxy-server exited; see " + self.log.name)
            if http_get(self.port, "/version")[0] == 200:
                return
            time.sleep(0.05)
        raise RuntimeError("toxiproxy-server did not answer")

    def api(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data,
                                     method=method, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            text = r.read().decode()
            return json.loads(text) if text.strip() else None

    def create(self, name, upstream_port):
        """A proxy 127.0.0.1:<free port> -> 127.0.0.1:upstream_port; returns the port."""
        for _ in range(5):
            port = free_port()
            try:
                self.api("POST", "/proxies", {"name": name, "listen": f"127.0.0.1:{port}",
                                              "upstream": f"127.0.0.1:{upstream_port}",
                                              "enabled": True})
                return port
            except urllib.error.HTTPError:
                continue
        raise RuntimeError("cannot create proxy " + name)

    def enable(self, name, on=True):
        self.api("POST", f"/proxies/{name}", {"enabled": on})

    def toxic(self, name, kind, stream="downstream", **attributes):
        tname = f"{kind}_{stream}_{uuid.uuid4().hex[:6]}"
        self.api("POST", f"/proxies/{name}/toxics", {"name": tname, "type": kind,
                                                     "stream": stream, "toxicity": 1.0,
                                                     "attributes": attributes})
        return tname

    def clear(self, name):
        """Removes every toxic from the proxy and enables it."""
        for t in self.api("GET", f"/proxies/{name}/toxics") or []:
            self.api("DELETE", f"/proxies/{name}/toxics/{t['name']}")
        self.enable(name, True)

    def stats(self, name):
        return self.api("GET", f"/proxies/{name}")

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


# --- replicas -------------------------------------------------------------------------------

# The readiness log lines and their timestamps: tests/lib/readiness_log.py.

class Settings:
    """Lease timings in seconds. renew defaults to duration - interval (the
    daemon's default); for the peer, interval is client-go's retry period."""

    def __init__(self, duration=4, interval=1, renew=None, release_timeout=5):
        self.duration, self.interval = duration, interval
        self.renew = renew if renew is not None else duration - interval
        self.release_timeout = release_timeout

    def __repr__(self):
        return f"duration {self.duration}s, interval {self.interval}s, renew deadline {self.renew}s"


class Incarnation:
    """One process of a replica slot: its log and what was done to it."""

    def __init__(self, proc, log_path, port):
        self.proc, self.log_path, self.port = proc, log_path, port
        self.started_at = now()
        self.identity = ""      # leader.identity of this process
        self.killed_at = None   # SIGKILL (or exit found by the harness)
        self.frozen = []        # [(SIGSTOP time, SIGCONT time or None)]

    def logs(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def intervals(self):
        """[(start, end, epoch)] from the log; an interval still open ends at
        the kill, at the exit, or now. An interval that spans a SIGSTOP whose
        "not ready" line came only after SIGCONT is cut at the SIGSTOP: a
        frozen process does nothing, and after SIGCONT readiness is computed
        from the steady clock (already past the deadline), so the late log
        line is not the end of acting. The Sampler checks the resumed part."""
        out = [list(iv) for iv in readiness_intervals(self.logs(), self.killed_at or now())]
        for iv in out:
            for s, c in self.frozen:
                if iv[0] <= s < iv[1] and (c is None or iv[1] > c):
                    iv[1] = s
        return [tuple(iv) for iv in out]


class Replica:
    """A slot of the fleet: kind "daemon" (pgdog-control) or "peer" (client-go)."""

    def __init__(self, h, index, kind, settings, faketime=None):
        self.h, self.index, self.kind, self.settings = h, index, kind, settings
        self.name = f"r{index + 1}"
        self.user = f"ELECTOR_{index + 1}"
        self.proxy = f"{h.tag}-{self.name}"
        self.proxy_port = h.toxi.create(self.proxy, h.kube.api_port)
        self.kubeconfig = h.kube.proxied_kubeconfig(
            self.user, self.proxy_port, os.path.join(h.workdir, f"kubeconfig-{self.proxy}"))
        # faketime: None, or a dict with "spec" (initial FAKETIME text) and
        # "monotonic" (True: fake CLOCK_MONOTONIC too). The spec is a file the
        # harness rewrites to jump the clock at run time.
        self.faketime = faketime
        self.faketime_file = os.path.join(h.workdir, f"faketime-{self.proxy}")
        self.incarnations = []
        self.count = 0
        self.lease = h.lease  # one Lease for the fleet (a test may misconfigure one)
        # Set by a test before start(): extra environment (LD_PRELOAD shims,
        # failpoints) and extra lines under leader: in the daemon's config.
        self.env = {}
        self.leader_extra = ""
        # Extra daemon configuration (tests/kube/durability_soak.py): lines
        # under api.web: (four spaces), lines under api: (two spaces), and
        # top-level keys; "@PORT@" in any of them is this incarnation's port.
        self.web_extra = ""
        self.api_extra = ""
        self.top_extra = ""

    @property
    def cur(self):
        return self.incarnations[-1] if self.incarnations else None

    @property
    def port(self):
        return self.cur.port

    def alive(self):
        return self.cur is not None and self.cur.proc.poll() is None

    def start(self):
        self.count += 1
        port = free_port()
        log_path = os.path.join(self.h.workdir, f"{self.proxy}-{self.count}.log")
        ident = f"{self.name}_{uuid.uuid4().hex[:8]}"
        s = self.settings
        env = dict(os.environ)
        env.pop("PGDOG_CONTROL_CONFIG", None)
        if self.kind == "daemon":
            cfg = os.path.join(self.h.workdir, f"{self.proxy}-{self.count}.yaml")
            with open(cfg, "w") as f:
                f.write((
                    f'listen: "127.0.0.1:{port}"\n'
                    "leader:\n"
                    "  enabled: true\n"
                    "  backend: kubernetes\n"
                    f"  identity: {ident}\n"
                    f"  lease_name: {self.lease}\n"
                    f"  namespace: {self.h.kube.namespace}\n"
                    f"  lease_duration_secs: {s.duration}\n"
                    f"  lease_interval_secs: {s.interval}\n"
                    f"  renew_deadline_secs: {s.renew}\n"
                    f"  release_timeout_secs: {s.release_timeout}\n" + self.leader_extra +
                    "  options:\n"
                    f"    kubeconfig: {self.kubeconfig}\n"
                    "    events: false\n"
                    # The sampler's leader-only action reads without a token.
                    "api:\n  web:\n    read_access: open\n" + self.web_extra + self.api_extra
                    + self.top_extra).replace("@PORT@", str(port)))
            argv = [self.h.daemon_bin, "--config", cfg]
        else:
            argv = [self.h.peer_bin, "--kubeconfig", self.kubeconfig, "--namespace",
                    self.h.kube.namespace, "--lease-name", self.lease, "--identity", ident,
                    "--lease-duration", f"{s.duration}s", "--renew-deadline", f"{s.renew}s",
                    "--retry-period", f"{s.interval}s", "--listen", f"127.0.0.1:{port}",
                    "--recontend"]
        if self.faketime:
            with open(self.faketime_file, "w") as f:
                f.write(self.faketime.get("spec", "+0") + "\n")
            env.update({"LD_PRELOAD": FAKETIME_LIB, "FAKETIME_TIMESTAMP_FILE": self.faketime_file,
                        "FAKETIME_NO_CACHE": "1",
                        "DONT_FAKE_MONOTONIC": "0" if self.faketime.get("monotonic") else "1"})
        env.update(self.env)
        logf = open(log_path, "w")
        proc = subprocess.Popen(argv, stdout=logf, stderr=logf, env=env)
        logf.close()
        inc = Incarnation(proc, log_path, port)
        inc.identity = ident
        self.incarnations.append(inc)
        self.h.timeline.add(self.name, f"start ({self.kind}, pid {proc.pid})")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"{self.name} exited at start ({proc.returncode}):\n"
                                     + inc.logs()[-3000:])
            if http_get(port, "/readyz", timeout=0.5)[0] in (200, 503):
                return self
            time.sleep(0.02)
        raise AssertionError(f"{self.name} never listened:\n" + inc.logs()[-3000:])

    def set_clock(self, spec):
        """Rewrites the faketime spec (e.g. "+3600", "+0 x1.2"); applies at once
        (FAKETIME_NO_CACHE)."""
        with open(self.faketime_file + ".tmp", "w") as f:
            f.write(spec + "\n")
        os.replace(self.faketime_file + ".tmp", self.faketime_file)
        self.h.timeline.add(self.name, f"clock set to FAKETIME {spec!r}")

    def signal(self, sig):
        inc = self.cur
        if inc.proc.poll() is not None:
            return
        t = now()
        inc.proc.send_signal(sig)
        if sig == signal.SIGSTOP:
            inc.frozen.append((t, None))
        elif sig == signal.SIGCONT and inc.frozen and inc.frozen[-1][1] is None:
            inc.frozen[-1] = (inc.frozen[-1][0], t)
        elif sig == signal.SIGKILL:
            inc.killed_at = t
        self.h.timeline.add(self.name, signal.Signals(sig).name, t)

    def kill(self):
        self.signal(signal.SIGKILL)
        self.cur.proc.wait()

    def terminate(self, timeout=30):
        """SIGTERM and wait for the exit; returns the exit code."""
        self.signal(signal.SIGTERM)
        try:
            return self.cur.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{self.name} ignored SIGTERM for {timeout}s")

    def ready(self):
        if not self.alive():
            return False
        return http_get(self.port, "/readyz", timeout=1.0)[0] == 200

    def acting(self):
        """The leader-only action: GET /api/web/control runs under the
        leadership guard on the leader (200 + X-PgDog-Control-Epoch) and is 503
        on a follower. The request says it was already forwarded, so a follower
        with api.forward_to_leader never proxies it to the leader. Returns the
        epoch when acting, else None; h.control_api turns False (the sampler
        then uses /readyz only) when this build has no such route (404) or it
        needs credentials (401/403: the replicas' config says read_access:
        open, so the scenarios assert this never happens with this build)."""
        if self.kind != "daemon" or self.h.control_api is False or not self.alive():
            return None
        try:
            req = urllib.request.Request(
                f"http://127.0.0.1:{self.port}/api/web/control",
                headers={"X-PgDog-Control-Forwarded-By": "ha-harness"})
            with urllib.request.urlopen(req, timeout=1.0) as r:
                hdr = {k.lower(): v for k, v in r.headers.items()}
                if r.status == 200 and "x-pgdog-control-forwarded-by" not in hdr:
                    self.h.control_api = True
                    return hdr.get("x-pgdog-control-epoch", "?")
        except urllib.error.HTTPError as e:
            if e.code == 503 and self.h.control_api is None:
                self.h.control_api = True  # the route exists: a follower's not_leader
            elif e.code in (401, 403, 404) and self.h.control_api is None:
                self.h.control_api = False
        except Exception:
            pass
        return None

    def metrics(self):
        return http_get(self.port, "/metrics", timeout=2.0)[2] if self.alive() else ""

    def api_requests(self):
        """Lease API requests this process made (its own counter)."""
        text = self.metrics()
        pat = (r'^pgdog_control_kube_api_requests_total\{[^}]*\} (\S+)$' if self.kind == "daemon"
               else r'^pgdc_peer_api_requests_total\{[^}]*\} (\S+)$')
        return sum(float(m.group(1)) for m in re.finditer(pat, text, re.M))

    def rss_mib(self):
        try:
            with open(f"/proc/{self.cur.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024.0
        except OSError:
            pass
        return float("nan")

    def intervals(self):
        if self.faketime:
            return []  # fake wall clock in its log; the Sampler covers it
        out = []
        for inc in self.incarnations:
            if inc.proc.poll() is not None and inc.killed_at is None:
                # Exited by itself (SIGTERM): a still-open interval ends at the exit.
                inc.killed_at = inc.killed_at or now()
            out += inc.intervals()
        return out

    def stop(self):
        for inc in self.incarnations:
            if inc.proc.poll() is None:
                try:
                    inc.proc.send_signal(signal.SIGCONT)
                    inc.proc.kill()
                    inc.proc.wait(10)
                except Exception:
                    pass


# --- timeline, sampler ------------------------------------------------------------------------


class Timeline:
    """Harness events: (time, who, what). Faults are begin/end pairs."""

    def __init__(self):
        self.events = []
        self.lock = threading.Lock()

    def add(self, who, what, t=None):
        with self.lock:
            self.events.append((t or now(), who, what))

    def around(self, t, window):
        with self.lock:
            return [e for e in self.events if abs(e[0] - t) <= window]


class Sampler(threading.Thread):
    """Probes every replica's /readyz (and the leader-only action when the
    daemon serves it) in rounds. A replica answering 200 is "acting". If a
    round sees two or more acting, the earlier ones are probed again: still
    200 after the later one said 200 means both were acting at once (a
    handover between two probes cannot look like that, since a new term takes
    a full round trip to the API server)."""

    def __init__(self, h, period=0.02):
        super().__init__(daemon=True)
        self.h, self.period = h, period
        self.stop_flag = threading.Event()
        self.rounds = self.none = self.one = 0
        self.overlaps = []  # [first time, [names], last time, rounds]
        self.spans = {}     # name -> [[first 200 time, last 200 time]]
        self.lock = threading.Lock()

    def probe(self, r):
        """Acting = /readyz 200 or the leader-only action answered 200."""
        try:
            acting = r.acting() is not None
            return r.ready() or acting
        except Exception:
            return False

    def run(self):
        while not self.stop_flag.is_set():
            reps = list(self.h.replicas)
            seen = []
            for r in reps:
                t = now()
                if self.probe(r):
                    seen.append((r, t))
            if len(seen) > 1:
                again = [r for r, _ in seen[:-1] if self.probe(r)]
                if again:
                    t = now()
                    names = [r.name for r in again] + [seen[-1][0].name]
                    with self.lock:
                        # One entry per burst: rounds less than 1 s apart extend it.
                        if self.overlaps and t - self.overlaps[-1][2] < 1.0:
                            self.overlaps[-1][2] = t
                            self.overlaps[-1][3] += 1
                        else:
                            self.overlaps.append([t, names, t, 1])
                            self.h.timeline.add("sampler", f"OVERLAP: {names} all answered 200",
                                                t)
            with self.lock:
                self.rounds += 1
                self.none += not seen
                self.one += len(seen) == 1
                for r, t in seen:
                    sp = self.spans.setdefault(r.name, [])
                    if sp and t - sp[-1][1] < 0.5:
                        sp[-1][1] = t
                    else:
                        sp.append([t, t])
            self.stop_flag.wait(self.period)

    def stop(self):
        self.stop_flag.set()
        self.join()


# --- the checker ------------------------------------------------------------------------------


def check_intervals(intervals, timeline=None, window=5.0):
    """intervals: [(start, end, epoch, replica)] of acting as leader.

    Rules (each violation is returned as a text block with the timeline around it):
      1. no two intervals of different replicas overlap (end == start is fine);
      2. ordered by start, epochs strictly increase within one epoch scope
         (Lease UID): "<uid>/<transitions>"; "unknown/0" (the peer when its
         epoch GET failed) is skipped. A new UID (Lease deleted) starts afresh.
         The same replica acting again under the very epoch of its previous
         interval is one term resumed (a renewal that reached the core after
         its deadline; plugin.h, the leadership contract), not a new term.
    """
    violations = []
    ivs = sorted(intervals)
    latest = None  # interval with the greatest end so far
    for iv in ivs:
        if latest is not None and iv[0] < latest[1] and iv[3] != latest[3]:
            violations.append(("overlap", iv[0], f"split brain: {latest[3]} acting "
                               f"{fmt(latest[0])}..{fmt(latest[1])} (epoch {latest[2]}) overlaps "
                               f"{iv[3]} acting from {fmt(iv[0])} (epoch {iv[2]}) by "
                               f"{(latest[1] - iv[0]) * 1000:.1f} ms"))
        if latest is None or iv[1] > latest[1]:
            latest = iv
    last = {}
    for s, e, ep, who in ivs:
        if not ep or ep.startswith("unknown/"):
            continue
        scope, _, term = ep.rpartition("/")
        term = int(term)
        resumed = scope in last and term == last[scope][0] and who == last[scope][1]
        if scope in last and term <= last[scope][0] and not resumed:
            violations.append(("epoch", s, f"epoch did not increase: {who} from {fmt(s)} with "
                               f"{ep} after {last[scope][1]} with {scope}/{last[scope][0]}"))
        last[scope] = (term, who)
    out = []
    for kind, t, text in violations:
        out.append(text + "\n" + render(ivs, timeline, t, window))
    return out


def fmt(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%H:%M:%S.%f")


def render(ivs, timeline, t, window):
    lines = [f"  timeline around {fmt(t)} (+-{window:.0f} s):"]
    rows = [(s, f"{who} acting {fmt(s)}..{fmt(e)} epoch {ep}") for s, e, ep, who in ivs
            if e >= t - window and s <= t + window]
    if timeline is not None:
        rows += [(et, f"{who}: {what} at {fmt(et)}") for et, who, what in
                 timeline.around(t, window)]
    for _, text in sorted(rows):
        lines.append("    " + text)
    return "\n".join(lines)


# --- the harness ----------------------------------------------------------------------------


class Harness:
    """N replicas on one Lease, each behind its own proxy, plus a Sampler.

    Use as a context manager; close() stops everything it started."""

    def __init__(self, kube, toxi, workdir, kind="daemon", n=3, settings=None, faketime=None,
                 tag=None):
        self.kube, self.toxi, self.workdir = kube, toxi, workdir
        self.kind = kind
        self.settings = settings or Settings()
        self.tag = tag or "h" + uuid.uuid4().hex[:6]
        self.lease = "ha-" + self.tag
        self.timeline = Timeline()
        # GET /api/web/control usable as the leader-only action: None = not
        # probed yet, True = answers, False = this build has no such route.
        self.control_api = None
        self.daemon_bin = os.environ.get("PGDC_BIN", os.path.join(ROOT, "build", "bin",
                                                                  "pgdog-control"))
        self.peer_bin = (os.environ.get("PGDC_CLIENTGO_PEER_BIN") or
                         tool("tests/ha/build-peer.sh", "PGDC_CLIENTGO_PEER_BIN")
                         if kind == "peer" else None)
        faketime = faketime or {}
        self.replicas = [Replica(self, i, kind, self.settings, faketime.get(i)) for i in range(n)]
        self.sampler = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def start(self, sample=True):
        for r in self.replicas:
            r.start()
        if sample:
            self.sampler = Sampler(self)
            self.sampler.start()
        return self

    def leaders(self):
        return [r for r in self.replicas if r.ready()]

    def wait_leader(self, timeout, exclude=()):
        """The single ready replica (not in exclude) within timeout, else None."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready = [r for r in self.replicas if r.ready()]
            if len(ready) == 1 and ready[0] not in exclude:
                return ready[0]
            time.sleep(0.01)
        return None

    def wait_no_leader(self, timeout, among=None):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not any(r.ready() for r in (among or self.replicas)):
                return True
            time.sleep(0.01)
        return False

    def fault(self, who, what):
        self.timeline.add(who, "FAULT " + what)

    def cleared(self, who, what):
        self.timeline.add(who, "cleared " + what)

    def intervals(self):
        """Acting intervals of every replica: from its log, or for a replica
        with a fake clock from the Sampler's spans (no epoch)."""
        out = []
        for r in self.replicas:
            out += [(s, e, ep, r.name) for s, e, ep in r.intervals()]
            if r.faketime and self.sampler is not None:
                with self.sampler.lock:
                    out += [(s, e, "", r.name) for s, e in self.sampler.spans.get(r.name, [])]
        return out

    def check(self):
        """All violations (text) from the logs and the Sampler; [] if safe."""
        v = check_intervals(self.intervals(), self.timeline)
        if self.sampler is not None:
            with self.sampler.lock:
                for t, names, last, n in self.sampler.overlaps:
                    v.append(f"split brain seen by the sampler at {fmt(t)}: {names} "
                             f"({n} sample rounds until {fmt(last)})\n"
                             + render(sorted(self.intervals()), self.timeline, t, 5.0))
        return v

    def dump_logs(self, tail=4000):
        out = []
        for r in self.replicas:
            for i, inc in enumerate(r.incarnations):
                out.append(f"----- {r.name} #{i + 1} ({inc.log_path}) -----\n"
                           + inc.logs()[-tail:])
        return "\n".join(out)

    def close(self):
        if self.sampler is not None and self.sampler.is_alive():
            self.sampler.stop()
        for r in self.replicas:
            r.stop()
            try:
                self.toxi.api("DELETE", f"/proxies/{r.proxy}")
            except Exception:
                pass
