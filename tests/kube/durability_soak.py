#!/usr/bin/env python3
"""Durability soak (issue 14): nothing accepted is lost across handovers and failovers.

  python3 tests/kube/durability_soak.py --rounds N --seed S [--build DIR] [--env DIR]
         [--nodes 20] [--period 0.5] [--duration 4 --interval 1 --renew 3]

Three pgdog-control replicas (Kubernetes Lease plugin, forward_to_leader on)
on a real kube-apiserver, through the HA harness (tests/ha/harness.py: the
environment, one Toxiproxy proxy per replica, restartable replicas with their
logs). N simulated PgDog nodes (threads) register, long-poll
GET /api/v2/commands with epoch/after_seq as docs/api.md says, "execute" each
command id once (deduplicated by id) and ack it ok, retrying 503s and
connection errors on any replica. An issuer posts a fleet-wide maintenance_on
every --period seconds through a random replica, each POST with a fresh token
in args.reason ("soak-<uuid>"), never re-sent. A killer kills the leader once
per round at a kill point (a random delay, while a POST is in flight, right
after a 201, while a fresh command is being delivered, while acks flow; each
once per 5 rounds in a seeded order) with SIGKILL and SIGTERM alternating,
and restarts it. --no-kills is the control run (no fault; must pass). A watcher follows the state
ConfigMaps (<lease>-state-*) through the API server with the admin
credentials and records every version's "writer" (scope, epoch, holder).

After each round the issuer stops, the nodes get time to settle, and the
checker requires:
  - every command answered 201 was received and acked (200) by every target
    node, i.e. every node whose registration was answered before the POST was
    sent, and the 201 body's target list contains them;
  - the leader's command list (GET /api/web/deployments/{dep}/commands) shows
    it with every such node "acknowledged";
  - no node executed a token twice (the same POST under two ids);
  - no node received a command nobody issued;
  - within one epoch scope, the writer epoch of a state ConfigMap never went
    down across the versions the watch saw (a deposed leader's write);
  - no two replicas acted as leader at once (harness.check, from the logs).
A POST with an unknown outcome (no answer, 502/504, 503 state_unavailable) is
not required, but when it shows up it is held to the at-most-once rule.

Last line on success: "N rounds, K commands, 0 lost" (K = commands answered
201). Otherwise every failure is printed (which command, node, what was
wrong), the last line says how many were lost (plus other violations) and the
exit status is 1. Exit 77: no daemon binary or no kube tools (skip in CTest).
"""
import argparse
import collections
import hashlib
import http.client
import json
import os
import random
import signal
import ssl
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(HERE, "..", "ha"))
import harness as ha  # noqa: E402

TOKEN = "soak-deploy-token-0123456789abcdef"
ADMIN = "soak-admin-token-0123456789abcdef"
DEP = "soak"
KILL_POINTS = ("delay", "post_in_flight", "after_201", "mid_delivery", "mid_ack")


def state_prefix(lease, dep=DEP):
    """Name prefix of the deployment's state ConfigMaps (the lead's contract)."""
    return f"{lease}-state-fleet-{hashlib.sha256(dep.encode()).hexdigest()[:12]}-"


def request(port, method, path, body=None, token=None, timeout=10.0):
    """(status, headers, parsed body); status 0 when no HTTP answer came back."""
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        hdr = {"Connection": "close"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            hdr["Content-Type"] = "application/json"
        if token:
            hdr["Authorization"] = f"Bearer {token}"
        c.request(method, path, body=data, headers=hdr)
        r = c.getresponse()
        raw = r.read().decode(errors="replace")
        headers = {k.lower(): v for k, v in r.getheaders()}
        c.close()
    except (OSError, http.client.HTTPException) as e:
        return 0, {}, {"error": "no_answer", "message": f"{type(e).__name__}: {e}"}
    try:
        return r.status, headers, json.loads(raw) if raw else None
    except ValueError:
        return r.status, headers, {"error": "not_json", "message": raw[:200]}


class Router:
    """Sends requests to any live replica, following 503 not_leader hints."""

    def __init__(self, h, rng):
        self.h, self.rng = h, rng
        self.lock = threading.Lock()
        self.trace_file = None

    def ports(self):
        return [r.port for r in self.h.replicas if r.alive()]

    def pick(self, prefer=None):
        ports = self.ports()
        if prefer in ports:
            return prefer
        with self.lock:
            return self.rng.choice(ports) if ports else None

    def trace(self, port, method, path, status, body):
        """One line per request in the work dir's trace file (for post-mortems)."""
        if self.trace_file is not None:
            err = body.get("error", "") if isinstance(body, dict) else ""
            with self.lock:
                self.trace_file.write(f"{ha.fmt(time.time())} {threading.current_thread().name} "
                                      f"{method} {path[:90]} -> {port} {status} {err}\n")

    def send(self, method, path, body=None, token=None, timeout=10.0, deadline=None,
             stop=None, prefer=None):
        """Retries until a definite answer (not 0/502/504/503 not_leader) or the
        deadline; returns (status, headers, body, port)."""
        port = self.pick(prefer)
        last = (0, {}, {"error": "no_replica"}, None)
        while True:
            if port is not None:
                s, hd, b = request(port, method, path, body, token, timeout)
                self.trace(port, method, path, s, b)
                last = (s, hd, b, port)
                if s not in (0, 502, 504) and not (s == 503 and isinstance(b, dict)
                                                     and b.get("error") == "not_leader"):
                    return last
                hint = b.get("leader_address", "") if isinstance(b, dict) else ""
                port = int(hint.rsplit(":", 1)[1]) if s == 503 and hint else None
            if (deadline is not None and time.monotonic() > deadline) or (stop and stop.is_set()):
                return last
            time.sleep(0.05 if port else 0.15)
            if port is None or port not in self.ports():
                port = self.pick()


class Record:
    """Everything the simulated fleet saw, shared by the threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.registered = {}           # node -> time its first registration was answered
        self.attempts = []             # issuer's POSTs (dicts)
        self.by_token = {}             # token -> attempt
        self.delivered = {}            # (node, id) -> first receive time
        self.deliveries = collections.Counter()   # (node, id) -> times received
        self.executed = collections.defaultdict(list)  # (node, token) -> [ids]
        self.id_token = {}             # id -> token (from the command's args)
        self.acked = {}                # (node, id) -> (time, first)
        self.ack_errors = {}           # (node, id) -> last non-200 ack answer
        self.strangers = []            # commands nobody issued
        self.redelivered_after_ack = 0


class Node(threading.Thread):
    def __init__(self, soak, name, home):
        super().__init__(daemon=True, name=name)
        self.soak, self.name, self.home = soak, name, home
        self.epoch, self.after = "", 0
        self.port = None
        self.seen = set()              # ids executed (a real node's dedup memory)

    def register(self):
        s = self.soak
        while not s.stop.is_set():
            st, _, b, port = s.router.send("POST", "/api/v2/register",
                                           {"node_id": self.name, "version": "soak", "host": "h"},
                                           TOKEN, stop=s.stop, prefer=self.port)
            if st in (200, 201):
                self.port = port
                with s.rec.lock:
                    s.rec.registered.setdefault(self.name, time.time())
                return True
            time.sleep(0.2)
        return False

    def ack(self, cid):
        s, rec = self.soak, self.soak.rec
        deadline = time.monotonic() + 3 * s.args.duration + 20
        while not s.stop.is_set():
            st, _, b, port = s.router.send("POST", f"/api/v2/commands/{urllib.parse.quote(cid)}/ack",
                                           {"node_id": self.name, "status": "ok"}, TOKEN,
                                           deadline=deadline, stop=s.stop, prefer=self.port)
            if st == 200:
                self.port = port
                with rec.lock:
                    rec.acked.setdefault((self.name, cid), (time.time(), b.get("first")))
                    rec.ack_errors.pop((self.name, cid), None)
                s.ev_ack.set()
                return
            with rec.lock:
                rec.ack_errors[(self.name, cid)] = f"{st} {b.get('error', '') if isinstance(b, dict) else b}"
            if st == 404 or time.monotonic() > deadline:
                return  # docs/api.md: an unknown id is dropped (the checker notices)
            time.sleep(0.2)

    def run(self):
        s, rec = self.soak, self.soak.rec
        self.port = s.router.ports()[self.home % 3] if s.router.ports() else None
        if not self.register():
            return
        while not s.stop.is_set():
            q = (f"/api/v2/commands?node_id={self.name}&after_seq={self.after}&wait_ms=4000"
                 + (f"&epoch={urllib.parse.quote(self.epoch, safe='')}" if self.epoch else ""))
            st, _, b, port = s.router.send("GET", q, token=TOKEN, timeout=20, stop=s.stop,
                                           prefer=self.port)
            if st == 404:
                self.register()
                continue
            if st != 200:
                time.sleep(0.2)
                continue
            self.port = port
            if b.get("epoch") and b["epoch"] != self.epoch:
                # A new term: the highest seq counts within the epoch it came in.
                self.epoch, self.after = b["epoch"], 0
            for c in b.get("commands", []):
                cid = c["id"]
                token = (c.get("args") or {}).get("reason", "")
                now = time.time()
                with rec.lock:
                    rec.deliveries[(self.name, cid)] += 1
                    first = (self.name, cid) not in rec.delivered
                    if first:
                        rec.delivered[(self.name, cid)] = now
                    rec.id_token.setdefault(cid, token)
                    if token not in rec.by_token:
                        rec.strangers.append((self.name, cid, token))
                    if cid not in self.seen:   # execute once per id
                        self.seen.add(cid)
                        rec.executed[(self.name, token)].append(cid)
                    elif (self.name, cid) in rec.acked:
                        rec.redelivered_after_ack += 1
                if first:
                    s.ev_delivery.set()
                if (self.name, cid) not in rec.acked:
                    self.ack(cid)
                self.after = max(self.after, int(c.get("seq", 0)))


class Soak:
    def __init__(self, h, args, out=print):
        self.h, self.args, self.out = h, args, out
        self.rng = random.Random(args.seed)
        self.router = Router(h, random.Random(args.seed + 1))
        self.rec = Record()
        self.stop = threading.Event()
        self.issuing = threading.Event()
        self.ev_post = threading.Event()
        self.ev_201 = threading.Event()
        self.ev_delivery = threading.Event()
        self.ev_ack = threading.Event()
        self.round = 0
        self.failures = []
        self.lost = 0
        self.other = collections.Counter()
        self.watcher = None

    # --- issuer ---------------------------------------------------------------------------
    def issuer(self):
        rng = random.Random(self.args.seed + 2)
        nxt = time.monotonic()
        while not self.stop.is_set():
            if not self.issuing.is_set():
                self.issuing.wait(0.2)
                nxt = time.monotonic()
                continue
            token = f"soak-{uuid.uuid4()}"
            with self.rec.lock:
                required = set(self.rec.registered)
            ports = self.router.ports()
            if not ports:
                time.sleep(0.1)
                continue
            port = rng.choice(ports)
            a = {"token": token, "round": self.round, "t_send": time.time(), "port": port,
                 "required": required}
            with self.rec.lock:
                self.rec.by_token[token] = a
            self.ev_post.set()
            st, _, b = request(port, "POST", f"/api/web/deployments/{DEP}/commands",
                               {"name": "maintenance_on", "target": "*",
                                "args": {"reason": token}}, ADMIN, timeout=15)
            self.router.trace(port, "POST", f"commands {token}", st, b)
            a.update(t_resp=time.time(), status=st,
                     error=b.get("error") if isinstance(b, dict) else str(b))
            if st == 201:
                a.update(id=b["id"], seq=b.get("seq"), epoch=b.get("epoch"),
                         targets={n["node"] for n in b.get("nodes", [])})
                self.ev_201.set()
            with self.rec.lock:
                self.rec.attempts.append(a)
            nxt += self.args.period
            time.sleep(max(0.0, nxt - time.monotonic()))

    # --- killer ---------------------------------------------------------------------------
    def kill_leader(self, point, sig):
        h = self.h
        leader = h.wait_leader(3 * self.args.duration + 6)
        if leader is None:
            self.fail(f"round {self.round}: no single leader before the kill")
            return None, "no leader"
        time.sleep(self.rng.uniform(0.5, 2.0))  # warm-up: commands in flight
        trig = {"post_in_flight": self.ev_post, "after_201": self.ev_201,
                "mid_delivery": self.ev_delivery, "mid_ack": self.ev_ack}.get(point)
        how = point
        if trig is None:
            time.sleep(self.rng.uniform(0.0, 3.0))
        else:
            trig.clear()
            if not trig.wait(8):
                how += " (trigger not seen in 8 s)"
        if not leader.ready():  # lost leadership meanwhile: kill whoever leads now
            leader = h.wait_leader(3 * self.args.duration + 6) or leader
        h.fault(leader.name, f"{signal.Signals(sig).name} at {how}")
        if sig == signal.SIGKILL:
            leader.kill()
        else:
            try:
                leader.terminate()
            except AssertionError as e:  # killed after 30 s: a failure of its own
                self.fail(f"round {self.round}: {e}")
        return leader, how

    # --- watcher --------------------------------------------------------------------------
    def start_watcher(self):
        self.watcher = StateWatcher(self.h.kube, self.h.lease, self.stop)
        self.watcher.start()

    def fail(self, text):
        self.failures.append(text)
        self.out("FAIL " + text)

    # --- a round --------------------------------------------------------------------------
    def run_round(self, i):
        a, h = self.args, self.h
        self.round = i
        # Kill points in a seeded order, each used once per 5 rounds; SIGKILL and
        # SIGTERM alternate from a seeded start, so a short run has both.
        if (i - 1) % len(KILL_POINTS) == 0:
            self.points = self.rng.sample(KILL_POINTS, len(KILL_POINTS))
        point = self.points[(i - 1) % len(KILL_POINTS)]
        sig = (signal.SIGKILL, signal.SIGTERM)[(i + a.seed) % 2]
        t0 = time.monotonic()
        self.issuing.set()
        if a.no_kills:  # the control experiment: the same round without a fault
            victim, how = None, "no kill (--no-kills)"
            time.sleep(self.rng.uniform(2.0, 5.0))
        else:
            victim, how = self.kill_leader(point, sig)
        if victim is not None:
            time.sleep(self.rng.uniform(0.0, 2.0))
            victim.start()
        leader = h.wait_leader(3 * a.duration + 6)
        if leader is None:
            self.fail(f"round {i}: no single leader within {3 * a.duration + 6}s after the kill")
        time.sleep(self.rng.uniform(0.5, 2.0))  # commands under the new leader too
        self.issuing.clear()
        time.sleep(0.6)  # the last POST answered
        settled = self.settle(i, 3 * a.duration + 10)
        lost, problems = self.check_round(i)
        self.lost += lost
        for p in problems:
            self.fail(p)
        n201 = sum(1 for x in self.rec.attempts if x["round"] == i and x["status"] == 201)
        nall = sum(1 for x in self.rec.attempts if x["round"] == i)
        self.out(f"round {i}/{a.rounds}: "
                 + (f"{signal.Signals(sig).name} of {victim.name} at " if victim else "")
                 + f"{how}; {n201}/{nall} POSTs answered 201; "
                 f"{'settled' if settled else 'NOT settled'}; lost {lost}; "
                 f"{time.monotonic() - t0:.1f}s")

    def required_pairs(self, rnd):
        with self.rec.lock:
            return [(n, x["id"]) for x in self.rec.attempts
                    if x["round"] == rnd and x["status"] == 201 for n in x["required"]]

    def settle(self, rnd, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pairs = self.required_pairs(rnd)
            with self.rec.lock:
                if all(p in self.rec.acked for p in pairs):
                    return True
            time.sleep(0.2)
        return False

    def server_view(self):
        """{id: {node: state}} from the leader's command list, or None."""
        st, _, b, port = self.router.send("GET", f"/api/web/deployments/{DEP}/commands?limit=1000",
                                          token=ADMIN, deadline=time.monotonic() + 20)
        if st != 200:
            return None, f"{st} {b}"
        return ({c["id"]: {n["node"]: n["state"] for n in c.get("nodes", [])}
                 for c in b.get("commands", [])}, None)

    def check_round(self, rnd):
        server, err = self.server_view()
        with self.rec.lock:
            rec = self.rec
            attempts = [x for x in rec.attempts if x["round"] == rnd]
            return check(attempts, rec.delivered, rec.acked, rec.ack_errors, server, err)

    def final_checks(self):
        with self.rec.lock:
            problems = check_executions(self.rec.executed, self.rec.strangers)
        self.other["executed twice"] += sum(1 for p in problems if "executed" in p)
        self.other["unissued"] += sum(1 for p in problems if "nobody issued" in p)
        if self.watcher is not None:
            w = self.watcher.problems()
            self.other["deposed writes"] += len(w)
            problems += w
        v = self.h.check()
        self.other["split brain"] += len(v)
        problems += v
        for p in problems:
            self.fail(p)


def check(attempts, delivered, acked, ack_errors, server, server_err):
    """One round's commands answered 201 -> (lost count, [failure text]). Pure:
    checker_selftest-style tests can call it on synthetic records."""
    lost, out = 0, []
    for a in attempts:
        if a["status"] != 201:
            continue
        cid = a["id"]
        miss = []
        absent = sorted(a["required"] - a.get("targets", set()))
        if absent:
            miss.append(f"target list lacks nodes registered before the POST: {', '.join(absent)}")
        for n in sorted(a["required"]):
            if (n, cid) not in delivered:
                miss.append(f"{n}: never received")
            elif (n, cid) not in acked:
                miss.append(f"{n}: received, ack not accepted ({ack_errors.get((n, cid), 'no ack answered')})")
        if server is None:
            miss.append(f"the leader's command list is unavailable ({server_err})")
        elif cid not in server:
            miss.append("not in the leader's command list")
        else:
            bad = [f"{n}={server[cid].get(n, 'absent')}" for n in sorted(a["required"])
                   if server[cid].get(n) != "acknowledged"]
            if bad:
                miss.append("leader's list shows " + ", ".join(bad[:6])
                            + (f" and {len(bad) - 6} more" if len(bad) > 6 else ""))
        if miss:
            lost += 1
            out.append(f"LOST command {cid} (seq {a.get('seq')}, epoch {a.get('epoch')}, "
                       f"{a['token']}) answered 201 in round {a['round']} at "
                       f"{ha.fmt(a['t_resp'])}: " + "; ".join(miss[:8])
                       + (f"; ... {len(miss) - 8} more" if len(miss) > 8 else ""))
    return lost, out


def check_executions(executed, strangers):
    out = []
    for (node, token), ids in sorted(executed.items()):
        if len(ids) > 1:
            out.append(f"DOUBLE execution: node {node} executed {token} under {len(ids)} ids "
                       f"{', '.join(ids)}")
    for node, cid, token in strangers:
        out.append(f"UNISSUED command: node {node} received {cid} ({token!r}), which nobody issued")
    return out


class StateWatcher(threading.Thread):
    """Watches the namespace's ConfigMaps named <lease>-state-* with the admin
    credentials and records every version's writer; a writer epoch going down
    within one scope across successive versions of an object is a deposed
    leader's write that landed."""

    def __init__(self, kube, lease, stop):
        super().__init__(daemon=True, name="state-watcher")
        self.env, self.ns, self.prefix, self.stop = kube.env, kube.namespace, f"{lease}-state-", stop
        self.ctx = None
        self.lock = threading.Lock()
        self.versions = collections.defaultdict(list)  # name -> [(rv, scope, epoch, holder)]
        self.last = {}                                  # (name, scope) -> (epoch, rv, holder)
        self.bad = []
        self.gaps = 0
        self.sizes = {}

    def conn(self, timeout):
        if self.ctx is None:
            self.ctx = ssl.create_default_context(cafile=self.env["KUBE_CA"])
        return http.client.HTTPSConnection("127.0.0.1", int(self.env["KUBE_API_PORT"]),
                                           context=self.ctx, timeout=timeout)

    def headers(self):
        return {"Authorization": f"Bearer {self.env['KUBE_ADMIN_TOKEN']}"}

    def see(self, obj, kind="MODIFIED"):
        md = obj.get("metadata", {})
        name = md.get("name", "")
        if not name.startswith(self.prefix) or kind == "DELETED":
            return
        rv = md.get("resourceVersion")
        raw = (obj.get("data") or {}).get("value", "")
        with self.lock:
            if self.versions[name] and self.versions[name][-1][0] == rv:
                return
            self.sizes[name] = len(raw)
            try:
                w = json.loads(raw)["writer"]
                scope, epoch, holder = w["scope"], int(w["epoch"]), w.get("holder", "")
            except (ValueError, KeyError, TypeError) as e:
                self.bad.append(f"STATE object {name} version {rv}: no readable writer "
                                f"({type(e).__name__}: {e}); value starts {raw[:120]!r}")
                return
            self.versions[name].append((rv, scope, epoch, holder))
            prev = self.last.get((name, scope))
            if prev and epoch < prev[0]:
                self.bad.append(f"DEPOSED write: {name} version {rv} written by {holder} epoch "
                                f"{scope}/{epoch} after version {prev[1]} by {prev[2]} epoch "
                                f"{scope}/{prev[0]}")
            if not prev or epoch >= prev[0]:
                self.last[(name, scope)] = (epoch, rv, holder)

    def relist(self):
        c = self.conn(15)
        c.request("GET", f"/api/v1/namespaces/{self.ns}/configmaps", headers=self.headers())
        r = c.getresponse()
        body = json.loads(r.read())
        c.close()
        for item in body.get("items", []):
            self.see(item)
        return body["metadata"]["resourceVersion"]

    def run(self):
        rv = None
        while not self.stop.is_set():
            try:
                if rv is None:
                    rv = self.relist()
                c = self.conn(30)
                c.request("GET", f"/api/v1/namespaces/{self.ns}/configmaps?watch=true"
                          f"&allowWatchBookmarks=true&timeoutSeconds=5&resourceVersion={rv}",
                          headers=self.headers())
                r = c.getresponse()
                while not self.stop.is_set():
                    line = r.readline()
                    if not line:
                        break
                    ev = json.loads(line)
                    obj = ev.get("object", {})
                    if ev.get("type") == "ERROR":
                        rv = None  # 410 Gone: versions may have been missed
                        with self.lock:
                            self.gaps += 1
                        break
                    rv = obj.get("metadata", {}).get("resourceVersion", rv)
                    if ev.get("type") != "BOOKMARK":
                        self.see(obj, ev.get("type"))
                c.close()
            except (OSError, http.client.HTTPException, ValueError, KeyError):
                time.sleep(0.5)  # API server restarting: watch again from rv

    def problems(self):
        with self.lock:
            return list(self.bad)

    def summary(self):
        with self.lock:
            if not self.versions:
                return "state ConfigMaps: none seen (this daemon wrote no durable state)"
            return ("state ConfigMaps: " + ", ".join(
                f"{n[len(self.prefix):]} {len(v)} versions, {len({(s, e) for _, s, e, _ in v})} "
                f"writer terms, {self.sizes.get(n, 0)} bytes" for n, v in sorted(self.versions.items()))
                + (f"; {self.gaps} watch gaps" if self.gaps else ""))


def daemon_config(replica, secret):
    replica.web_extra = f"    admin_tokens: [{ADMIN}]\n"
    replica.api_extra = (
        "  deployments:\n"
        f"    - name: {DEP}\n"
        f"      tokens: [{TOKEN}]\n"
        "  liveness:\n"
        "    evict_after_secs: 86400\n"  # no evictions: not what this soak is about
        "  commands:\n"
        "    history: 1000\n"
        "    max_wait_secs: 10\n"
        "  forward_to_leader: true\n"
        f"  forward_secret_file: {secret}\n")
    replica.top_extra = 'advertise_address: "127.0.0.1:@PORT@"\n'


def run(args, out=print):
    work = tempfile.mkdtemp(prefix="pgdc-durability-")
    out(f"durability soak: seed {args.seed}, {args.nodes} nodes, work dir {work}")
    kube = ha.KubeEnv(args.env, work)
    toxi = ha.Toxiproxy(work)
    settings = ha.Settings(args.duration, args.interval, args.renew, release_timeout=3)
    h = ha.Harness(kube, toxi, work, settings=settings, tag="d" + uuid.uuid4().hex[:6])
    secret = os.path.join(work, "forward.secret")
    with open(secret, "w") as f:
        f.write(uuid.uuid4().hex + uuid.uuid4().hex + "\n")
    os.chmod(secret, 0o600)
    for r in h.replicas:
        daemon_config(r, secret)
    soak = Soak(h, args, out)
    soak.router.trace_file = open(os.path.join(work, "requests.trace"), "w", buffering=1)
    threads = []
    try:
        soak.start_watcher()
        h.start(sample=False)
        if h.wait_leader(3 * args.duration + 6) is None:
            soak.fail("no single leader at start")
        nodes = [Node(soak, f"node-{i:03d}", i) for i in range(args.nodes)]
        for n in nodes:
            n.start()
        deadline = time.monotonic() + 60
        while len(soak.rec.registered) < args.nodes and time.monotonic() < deadline:
            time.sleep(0.1)
        out(f"{len(soak.rec.registered)}/{args.nodes} nodes registered")
        threads = nodes + [threading.Thread(target=soak.issuer, daemon=True)]
        threads[-1].start()
        t_start = time.monotonic()
        done = 0
        for i in range(1, args.rounds + 1):
            if args.minutes and time.monotonic() - t_start > args.minutes * 60:
                out(f"time budget of {args.minutes} min used up after {done} rounds")
                break
            soak.run_round(i)
            done = i
        soak.stop.set()
        for t in threads:
            t.join(15)
        soak.final_checks()
        rec = soak.rec
        st = collections.Counter(
            "201" if x["status"] == 201 else f"{x['status']} {x.get('error') or ''}".strip()
            for x in rec.attempts)
        unknown = [x for x in rec.attempts if x["status"] in (0, 502, 504) or
                   x.get("error") == "state_unavailable"]
        appeared = [x for x in unknown if any(t == x["token"] for t in rec.id_token.values())]
        refused_appeared = [x for x in rec.attempts if x["status"] not in (201, 0, 502, 504)
                            and x.get("error") != "state_unavailable"
                            and x["token"] in set(rec.id_token.values())]
        out("POST answers: " + ", ".join(f"{k}: {v}" for k, v in sorted(st.items())))
        out(f"unknown outcome: {len(unknown)} (of which {len(appeared)} appeared later); "
            f"refused but delivered anyway: {len(refused_appeared)}; re-deliveries after an ack: "
            f"{rec.redelivered_after_ack}; acks answered first=false: "
            f"{sum(1 for _, f in rec.acked.values() if f is False)}")
        out(soak.watcher.summary())
        k = sum(1 for x in rec.attempts if x["status"] == 201)
        extra = ", ".join(f"{v} {n}" for n, v in soak.other.items() if v)
        failed = bool(soak.failures)
        if failed:
            out(f"{len(soak.failures)} failure(s); logs in {work}")
        out(f"{done} rounds, {k} commands, {soak.lost} lost" + (f", {extra}" if extra else "")
            + (" (other failures above)" if failed and not soak.lost and not extra else ""))
        return 1 if failed else 0
    finally:
        soak.stop.set()
        h.close()
        toxi.close()
        kube.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--build", default=os.path.join(ha.ROOT, "build"))
    ap.add_argument("--env", default=os.environ.get("PGDC_KUBE_ENV") or None,
                    help="a running kube-env.sh directory (default: start one)")
    ap.add_argument("--nodes", type=int, default=20)
    ap.add_argument("--period", type=float, default=0.5, help="seconds between POSTs")
    ap.add_argument("--duration", type=int, default=4)
    ap.add_argument("--interval", type=float, default=1)
    ap.add_argument("--renew", type=float, default=3)
    ap.add_argument("--minutes", type=float, help="stop after this long")
    ap.add_argument("--no-kills", action="store_true",
                    help="control run: the same rounds without killing anyone (must pass)")
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    os.environ.setdefault("PGDC_BIN", os.path.join(os.path.abspath(a.build), "bin", "pgdog-control"))
    if not os.path.exists(os.environ["PGDC_BIN"]):
        print(f"skipped: no daemon at {os.environ['PGDC_BIN']}", file=sys.stderr)
        sys.exit(77)
    sys.exit(run(a))


if __name__ == "__main__":
    main()
