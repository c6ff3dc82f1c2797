#!/usr/bin/env python3
"""The machine API (/api/v2) and web API (/api/web) end to end: the real daemon
with two deployments, simulated PgDog nodes over real sockets.

Environment (set by CTest): PGDC_BIN, PGDC_SCRIPTED_PLUGIN, PGDC_TMP (see
daemon_test.py, whose Daemon helper this reuses).
"""
import json
import os
import re
import signal
import socket
import sys
import threading
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon_test import (SCRIPTED, TMP, Daemon, free_port, scripted_config,  # noqa: E402
                         write_config, run)

PROD = "prod-token-0123456789abcdef"
PROD2 = "prod-second-token-0123456789"
STAGING = "staging-token-0123456789abcdef"
ADMIN = "admin-token-0123456789abcdef"
READ = "read-token-0123456789abcdef"


def staging_token_file():
    """The staging deployment's token file, replaced atomically: a daemon
    starting meanwhile (tests run several) must never read it half-written."""
    path = write_config("staging.tokens.tmp", f"# staging\n\n{STAGING}\n")
    os.replace(path, path[:-len(".tmp")])
    return path[:-len(".tmp")]


def api_config(extra=""):
    token_file = staging_token_file()
    return (
        'listen: "127.0.0.1:@PORT@"\n'
        "http:\n"
        "  max_body_bytes: 65536\n"
        "api:\n"
        "  deployments:\n"
        "    - name: prod\n"
        f"      tokens: [{PROD}, {PROD2}]\n"
        "    - name: staging\n"
        f"      token_file: {token_file}\n"
        "  web:\n"
        # Most cases read without a token; WebReads checks the default.
        "    read_access: open\n"
        f"    admin_tokens: [{ADMIN}]\n"
        f"    read_tokens: [{READ}]\n"
        "  telemetry:\n"
        "    max_nodes_per_deployment: 4\n"
        "    max_entries_per_upload: 10\n"
        "  commands:\n"
        "    max_wait_secs: 20\n" + extra
    )


def call(port, method, path, body=None, token=None, timeout=10.0, headers=None):
    """Returns (status, headers, parsed JSON or text) without raising on HTTP errors."""
    data = None
    if body is not None:
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        data = data.encode() if isinstance(data, str) else data
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                 headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            status, headers, raw = r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        status, headers, raw = e.code, dict(e.headers), e.read().decode()
    try:
        return status, headers, json.loads(raw) if raw else None
    except ValueError:
        return status, headers, raw


def parked_polls(port):
    """The daemon's pgdog_control_fleet_command_polls_parked gauge."""
    _, _, text = call(port, "GET", "/metrics")
    for line in str(text).splitlines():
        if line.startswith("pgdog_control_fleet_command_polls_parked "):
            return int(float(line.split()[1]))
    raise AssertionError("no parked polls gauge in /metrics:\n" + str(text))


def wait_parked(port, at_least=1, timeout=10.0):
    """Waits until at least `at_least` command polls are parked on the daemon
    at `port` (instead of sleeping and hoping the poll got there)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if parked_polls(port) >= at_least:
            return
        time.sleep(0.01)
    raise AssertionError(f"fewer than {at_least} command poll(s) parked after {timeout}s")


def metrics(node, clients=1):
    return {"node_id": node, "clients": clients, "servers": 2, "pools": 1, "qps": 12.5,
            "tps": 3.25, "cpu": 7.5, "memory_bytes": 123456789}


class Fleet(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(api_config())
        cls.d.wait_listening()
        cls.d.wait_status("/readyz", 200)
        cls.port = cls.d.port

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.d.close()

    def c(self, *args, **kwargs):
        return call(self.port, *args, **kwargs)

    def register(self, node, token=PROD):
        s, h, b = self.c("POST", "/api/v2/register",
                         {"node_id": node, "version": "0.1.30", "host": "10.0.0.7"}, token)
        self.assertIn(s, (200, 201), b)
        return s, h, b

    def test_1_register_telemetry_and_views(self):
        s, h, b = self.register("rt-1")
        self.assertEqual(b["deployment"], "prod")
        self.assertTrue(h.get("X-PgDog-Control-Epoch"), h)
        self.assertEqual(self.register("rt-1")[0], 200)  # idempotent
        self.register("rt-1", STAGING)                  # token file; another deployment
        self.assertEqual(self.c("POST", "/api/v2/metrics", metrics("rt-1", 7), PROD)[0], 204)
        s, _, b = self.c("POST", "/api/v2/query_stats",
                         {"node_id": "rt-1", "query_stats": [{"query": "select 1", "calls": 9}]},
                         PROD2)
        self.assertEqual(s, 204, b)
        self.assertEqual(self.c("POST", "/api/v2/errors",
                                {"node_id": "rt-1", "errors": [{"message": "boom"}]}, PROD)[0], 204)
        s, _, node = self.c("GET", "/api/web/deployments/prod/nodes/rt-1")
        self.assertEqual(s, 200, node)
        self.assertEqual(node["status"], "live")
        self.assertEqual(node["latest"]["clients"], 7)
        self.assertEqual(node["latest"]["qps"], 12.5)
        self.assertEqual(node["query_stats"], [{"query": "select 1", "calls": 9}])
        self.assertEqual(node["errors"][0]["message"], "boom")
        s, _, series = self.c("GET", "/api/web/deployments/prod/nodes/rt-1/series")
        self.assertEqual(len(series["points"]), 1)
        s, _, deps = self.c("GET", "/api/web/deployments")
        by_name = {d["name"]: d for d in deps["deployments"]}
        self.assertGreaterEqual(by_name["prod"]["nodes"]["total"], 1)
        self.assertEqual(by_name["staging"]["nodes"]["total"], 1)
        s, _, control = self.c("GET", "/api/web/control")
        self.assertEqual((s, control["role"], control["ready"]), (200, "leader", True))
        s, _, kinds = self.c("GET", "/api/web/commands/kinds")
        self.assertEqual({k["name"] for k in kinds["kinds"]},
                         {"reload_configuration", "reload_schema", "maintenance_on",
                          "maintenance_off"})

    def test_2_command_long_poll_and_ack(self):
        self.register("cmd-1")
        self.register("cmd-2")
        got = {}

        def long_poll():
            got["resp"] = self.c("GET", "/api/v2/commands?node_id=cmd-1&after_seq=0&wait_ms=15000",
                                 token=PROD, timeout=30)

        t = threading.Thread(target=long_poll)
        t.start()
        wait_parked(self.port)
        s, h, cmd = self.c("POST", "/api/web/deployments/prod/commands",
                           {"name": "reload_configuration", "target": "*"}, ADMIN)
        self.assertEqual(s, 201, cmd)
        self.assertEqual(cmd["epoch"], h["X-PgDog-Control-Epoch"])
        t.join(30)
        self.assertFalse(t.is_alive(), "the long poll was not answered")
        s, _, polled = got["resp"]
        self.assertEqual(s, 200, polled)
        ids = [c["id"] for c in polled["commands"]]
        self.assertIn(cmd["id"], ids)
        mine = next(c for c in polled["commands"] if c["id"] == cmd["id"])
        self.assertEqual((mine["name"], mine["epoch"]), ("reload_configuration", cmd["epoch"]))
        ack = f"/api/v2/commands/{cmd['id']}/ack"
        s, _, b = self.c("POST", ack, {"node_id": "cmd-1", "status": "ok", "message": "done"}, PROD)
        self.assertEqual((s, b["state"], b["first"]), (200, "acknowledged", True))
        s, _, again = self.c("POST", ack, {"node_id": "cmd-1", "status": "error"}, PROD)
        self.assertEqual((s, again["state"], again["first"]), (200, "acknowledged", False))
        # cmd-2 has not acked: re-delivered on every poll (at least once).
        for _ in range(2):
            s, _, p2 = self.c("GET", "/api/v2/commands?node_id=cmd-2&wait_ms=0", token=PROD)
            self.assertIn(cmd["id"], [c["id"] for c in p2["commands"]])
        self.c("POST", ack, {"node_id": "cmd-2", "status": "error", "message": "disk"}, PROD)
        # The staging token knows nothing of prod's command.
        self.assertEqual(self.c("POST", ack, {"node_id": "cmd-2", "status": "ok"}, STAGING)[0], 404)
        s, _, listing = self.c("GET", "/api/web/deployments/prod/commands")
        entry = next(c for c in listing["commands"] if c["id"] == cmd["id"])
        states = {n["node"]: n["state"] for n in entry["nodes"]}
        self.assertEqual(states["cmd-1"], "acknowledged")
        self.assertEqual(states["cmd-2"], "failed")
        # An empty poll times out with an empty list.
        s, _, empty = self.c("GET", "/api/v2/commands?node_id=cmd-1&after_seq=0&wait_ms=200",
                             token=PROD)
        self.assertEqual((s, empty["commands"]), (200, []))

    def test_3_errors(self):
        self.register("err-1")
        s, h, b = self.c("POST", "/api/v2/register", {"node_id": "x", "version": "", "host": ""})
        self.assertEqual((s, b["error"]), (401, "unauthorized"))
        self.assertEqual(h.get("WWW-Authenticate"), "Bearer")
        self.assertEqual(self.c("POST", "/api/v2/register", {}, "not-a-token-0123456789")[0], 401)
        self.assertEqual(self.c("POST", "/api/v2/register", {}, ADMIN)[0], 401)
        s, _, b = self.c("POST", "/api/v2/metrics", "{oops", PROD)
        self.assertEqual((s, b["error"]), (400, "bad_request"))
        self.assertIn("malformed JSON", b["message"])
        s, _, b = self.c("POST", "/api/v2/metrics", dict(metrics("err-1"), clients=-5), PROD)
        self.assertEqual(s, 400)
        self.assertIn("clients", b["message"])
        s, _, b = self.c("POST", "/api/v2/metrics", metrics("never-registered"), PROD)
        self.assertEqual(s, 404)
        self.assertIn("register", b["message"])
        s, _, b = self.c("POST", "/api/v2/errors",
                         {"node_id": "err-1", "errors": [{"message": "m"}] * 11}, PROD)
        self.assertEqual((s, b["error"]), (413, "payload_too_large"))
        s, _, b = self.c("POST", "/api/v2/errors", "x" * 70000, PROD)  # over http.max_body_bytes
        self.assertEqual(s, 413)
        # Web: writes need the admin token.
        body = {"name": "reload_schema"}
        self.assertEqual(self.c("POST", "/api/web/deployments/prod/commands", body)[0], 401)
        self.assertEqual(self.c("POST", "/api/web/deployments/prod/commands", body, READ)[0], 403)
        self.assertEqual(self.c("POST", "/api/web/deployments/prod/commands", body, PROD)[0], 403)
        self.assertEqual(self.c("POST", "/api/web/deployments/nope/commands", body, ADMIN)[0], 404)
        s, _, b = self.c("POST", "/api/web/deployments/prod/commands", {"name": "format_disk"},
                         ADMIN)
        self.assertEqual(s, 400)
        self.assertIn("reload_schema", b["message"])
        self.assertEqual(self.c("POST", "/api/web/deployments/prod/commands",
                                {"name": "reload_schema", "target": "ghost"}, ADMIN)[0], 404)
        self.assertEqual(self.c("GET", "/api/web/deployments/prod/nodes/ghost")[0], 404)
        self.assertEqual(self.c("GET", "/api/v2/nothing-here", token=PROD)[0], 404)

    def test_4_node_cap_is_409(self):
        for n in ("cap-a", "cap-b", "cap-c", "cap-d"):
            s, _, b = call(self.port, "POST", "/api/v2/register",
                           {"node_id": n, "version": "1", "host": "h"}, STAGING)
        self.assertEqual((s, b["error"]), (409, "conflict"))

    def test_5_status_and_metrics_stay_ungated(self):
        self.assertEqual(self.c("GET", "/api/status")[0], 200)
        s, _, text = self.c("GET", "/metrics")
        self.assertIn('pgdog_control_fleet_nodes{deployment="prod",status="live"}', text)
        self.assertIn("pgdog_control_fleet_commands_issued_total", text)


class Restart(unittest.TestCase):
    def test_a_node_polling_across_a_restart_gets_the_new_commands(self):
        # A single replica keeps no state across a restart (issue 14), so
        # command numbers start at 1 again. Before: the epoch was "noop/1"
        # again too, and a node polling with its last epoch and after_seq (as
        # docs/api.md tells it to) never received the new commands.
        config = api_config()
        seen = []
        for start in range(2):
            d = Daemon(config)
            try:
                d.wait_status("/readyz", 200)
                reg = {"node_id": "restart-1", "version": "1", "host": "h"}
                self.assertIn(call(d.port, "POST", "/api/v2/register", reg, PROD)[0], (200, 201))
                s, _, cmd = call(d.port, "POST", "/api/web/deployments/prod/commands",
                                 {"name": "reload_configuration"}, ADMIN)
                self.assertEqual((s, cmd["seq"]), (201, 1), cmd)
                query = "node_id=restart-1&wait_ms=0"
                if seen:
                    query += f"&epoch={seen[-1]['epoch']}&after_seq={seen[-1]['seq']}"
                s, _, polled = call(d.port, "GET", f"/api/v2/commands?{query}", token=PROD)
                self.assertEqual(s, 200, polled)
                self.assertEqual([c["id"] for c in polled["commands"]], [cmd["id"]],
                                 f"start {start}: the new command was withheld")
                seen.append({"epoch": polled["epoch"], "seq": polled["commands"][-1]["seq"]})
                self.assertEqual(d.stop(), 0)
            finally:
                d.close()
        self.assertNotEqual(seen[0]["epoch"], seen[1]["epoch"], "each start is a new term")


class History(unittest.TestCase):
    def test_a_command_trimmed_while_pending_is_shown_not_silent(self):
        d = Daemon(api_config().replace("  commands:\n", "  commands:\n    history: 2\n"))
        try:
            d.wait_status("/readyz", 200)
            reg = {"node_id": "slow-1", "version": "1", "host": "h"}
            self.assertIn(call(d.port, "POST", "/api/v2/register", reg, PROD)[0], (200, 201))
            ids = []
            for _ in range(3):  # slow-1 never acknowledges
                s, _, cmd = call(d.port, "POST", "/api/web/deployments/prod/commands",
                                 {"name": "reload_configuration"}, ADMIN)
                self.assertEqual(s, 201, cmd)
                ids.append(cmd["id"])
            s, _, listing = call(d.port, "GET", "/api/web/deployments/prod/commands", token=READ)
            self.assertEqual(s, 200, listing)
            self.assertEqual([c["id"] for c in listing["commands"]], ids[:0:-1])
            trimmed = listing["trimmed_pending"]
            self.assertEqual(trimmed["total"], 1, trimmed)
            self.assertEqual((trimmed["recent"][0]["id"], trimmed["recent"][0]["open_nodes"]),
                             (ids[0], 1))
        finally:
            d.close()


class WebReads(unittest.TestCase):
    def test_reads_need_a_token_by_default(self):
        d = Daemon(api_config().replace("    read_access: open\n", ""))
        try:
            d.wait_status("/readyz", 200)
            s, h, b = call(d.port, "GET", "/api/web/deployments")
            self.assertEqual((s, b["error"]), (401, "unauthorized"), b)
            self.assertEqual(h.get("WWW-Authenticate"), "Bearer")
            self.assertEqual(call(d.port, "GET", "/api/web/control")[0], 401)
            self.assertEqual(call(d.port, "GET", "/api/web/deployments", token=READ)[0], 200)
            self.assertEqual(call(d.port, "GET", "/api/web/deployments", token=ADMIN)[0], 200)
            self.assertEqual(call(d.port, "GET", "/api/web/deployments", token=PROD)[0], 403)
            # A token needs no Host check.
            self.assertEqual(call(d.port, "GET", "/api/web/deployments", token=READ,
                                  headers={"Host": "rebound.example"})[0], 200)
        finally:
            d.close()

    def test_open_reads_only_under_an_allowed_host(self):
        # What a DNS-rebinding page sends: its own name in Host.
        d = Daemon(api_config().replace(
            "    read_access: open\n",
            "    read_access: open\n    allowed_hosts: [Control.Example]\n"))
        try:
            d.wait_status("/readyz", 200)
            for host in ("rebound.example", f"rebound.example:{d.port}", "localhost.example"):
                s, _, b = call(d.port, "GET", "/api/web/deployments", headers={"Host": host})
                self.assertEqual((s, b["error"]), (403, "host_not_allowed"), (host, b))
                self.assertIn("api.web.allowed_hosts", b["message"])
            for host in ("localhost", f"localhost:{d.port}", f"127.0.0.1:{d.port}",
                         "control.example", f"CONTROL.example:{d.port}"):
                s, _, b = call(d.port, "GET", "/api/web/deployments", headers={"Host": host})
                self.assertEqual(s, 200, (host, b))
            # Writes never open up.
            s, _, _ = call(d.port, "POST", "/api/web/deployments/prod/commands",
                           {"name": "reload_schema"}, headers={"Host": "localhost"})
            self.assertEqual(s, 401)
        finally:
            d.close()

    def test_open_reads_beyond_loopback_warn_at_startup(self):
        d = Daemon(api_config().replace('listen: "127.0.0.1:@PORT@"', 'listen: "0.0.0.0:@PORT@"'))
        try:
            d.wait_status("/readyz", 200)
            self.assertRegex(d.logs(), r"api\.web\.read_access.*`open` while listening on "
                                       r"\"0\.0\.0\.0\": anyone who can reach the port reads "
                                       r"fleet data")
        finally:
            d.close()


class Leadership(unittest.TestCase):
    @unittest.skipUnless(SCRIPTED and os.path.exists(SCRIPTED), "scripted plugin not built")
    def test_follower_answers_503_with_retry_after(self):
        text = scripted_config({"lead": False}, interval=2).replace(
            'listen: "127.0.0.1:@PORT@"\n', "")
        d = Daemon(api_config().replace("http:\n", text + "http:\n", 1))
        try:
            d.wait_listening()
            d.wait_status("/readyz", 503)
            for method, path, token in (("GET", "/api/v2/commands?node_id=a", PROD),
                                        ("POST", "/api/v2/register", PROD),
                                        ("GET", "/api/web/deployments", None),
                                        ("POST", "/api/web/deployments/prod/commands", ADMIN)):
                s, h, b = call(d.port, method, path, {} if method == "POST" else None, token)
                self.assertEqual(s, 503, (path, b))
                self.assertEqual(b["error"], "not_leader")
                self.assertIn("holder", b)
                self.assertIn("leader_address", b)
                self.assertEqual(h.get("Retry-After"), "2")
            self.assertEqual(call(d.port, "GET", "/api/status")[0], 200)
            self.assertEqual(d.stop(), 0)
        finally:
            d.close()

    def test_shutdown_answers_parked_polls(self):
        d = Daemon(api_config())
        try:
            d.wait_listening()
            d.wait_status("/readyz", 200)
            call(d.port, "POST", "/api/v2/register", {"node_id": "n", "version": "1", "host": "h"},
                 PROD)
            got = {}

            def poll():
                got["r"] = call(d.port, "GET", "/api/v2/commands?node_id=n&wait_ms=20000",
                                token=PROD, timeout=30)

            t = threading.Thread(target=poll)
            t.start()
            wait_parked(d.port)
            start = time.monotonic()
            d.proc.send_signal(signal.SIGTERM)
            t.join(30)
            self.assertFalse(t.is_alive())
            self.assertEqual(got["r"][0], 503, got["r"])
            self.assertEqual(d.wait_exit(), 0)
            # Well before the 20 s wait: the poll did not hold the drain up.
            self.assertLess(time.monotonic() - start, 15, d.logs())
        finally:
            d.close()

    def test_bad_token_file_is_a_startup_error_without_the_token(self):
        text = api_config().replace("token_file: ", "token_file: /nonexistent")
        r = run(["--check", "--config", write_config("badtok.yaml", text.replace("@PORT@", "0"))])
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("cannot read token file", r.stderr)
        self.assertNotIn(PROD, r.stderr + r.stdout)



def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def read_reply(sock, timeout=10.0):
    """The raw bytes of one response (headers and JSON body), or what came."""
    sock.settimeout(timeout)
    reply = b""
    try:
        while not reply.endswith(b"}\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
    except OSError:
        pass
    return reply


def keepalive_get(sock, path):
    """GET on an open keep-alive connection; the body, framed by Content-Length."""
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError("connection closed: " + data.decode(errors="replace"))
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    length = int(re.search(rb"(?im)^content-length: *(\d+)", head).group(1))
    while len(body) < length:
        body += sock.recv(65536)
    return body


class HostileClients(unittest.TestCase):
    """What a client without a token can make the daemon hold (issue 13)."""

    def test_unauthenticated_bodies_are_never_buffered(self):
        # Before: 150 token-less connections each sending a 1 MiB body grew
        # the RSS by 141 MiB. Now the token is checked from the head and the
        # body is never read.
        d = Daemon(api_config().replace("max_body_bytes: 65536", "max_body_bytes: 1048576"))
        socks = []
        try:
            d.wait_listening()
            d.wait_status("/readyz", 200)
            before = rss_kib(d.proc.pid)
            body = b"x" * (1 << 20)
            head = (b"POST /api/v2/metrics HTTP/1.1\r\nHost: x\r\n"
                    b"Content-Type: application/json\r\nContent-Length: 1048576\r\n\r\n")
            for _ in range(150):
                s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
                s.sendall(head)
                socks.append(s)

            def push(s):
                try:
                    s.sendall(body)
                except OSError:
                    pass  # the server closed after its 401: expected

            pushers = [threading.Thread(target=push, args=(s,)) for s in socks]
            for t in pushers:
                t.start()
            replies = [read_reply(s) for s in socks]
            for t in pushers:
                t.join(30)
            grown_mib = (rss_kib(d.proc.pid) - before) / 1024
            print(f"150 token-less 1 MiB bodies: RSS grew {grown_mib:.1f} MiB", file=sys.stderr)
            for r in replies:
                self.assertTrue(r.startswith(b"HTTP/1.1 401 "), r[:200])
            self.assertLess(grown_mib, 20, "the daemon buffered unauthenticated bodies")
            self.assertEqual(call(d.port, "GET", "/healthz")[0], 200)
        finally:
            for s in socks:
                s.close()
            d.stop()
            d.close()

    def test_connections_beyond_the_cap_are_refused_counted_and_logged(self):
        d = Daemon(api_config().replace("http:\n", "http:\n  max_connections: 5\n"))
        held = []
        try:
            d.wait_listening()
            d.wait_status("/readyz", 200)
            held = [socket.create_connection(("127.0.0.1", d.port), timeout=5) for _ in range(4)]
            # A fifth, kept alive, asks until all five are registered: the cap.
            probe = socket.create_connection(("127.0.0.1", d.port), timeout=5)
            held.append(probe)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if re.search(rb"(?m)^pgdog_control_http_connections 5$",
                             keepalive_get(probe, "/metrics")):
                    break
                time.sleep(0.01)
            extra = socket.create_connection(("127.0.0.1", d.port), timeout=5)
            extra.settimeout(5)
            self.assertEqual(extra.recv(100), b"", "the sixth connection was not closed")
            extra.close()
            held.pop().close()
            text = ""
            while time.monotonic() < deadline:
                try:
                    _, _, text = call(d.port, "GET", "/metrics")
                    if "refused_total 0" not in str(text):
                        break
                except OSError:
                    pass  # the freed slot is not free yet
                time.sleep(0.01)
            self.assertRegex(str(text), r"(?m)^pgdog_control_http_connections_refused_total [1-9]")
            self.assertIn("connection limit http.max_connections (5) reached", d.logs())
        finally:
            for s in held:
                s.close()
            d.stop()
            d.close()

    def test_one_deployment_token_cannot_pin_more_than_its_budget(self):
        # Before: nothing bounded a deployment's telemetry but nodes x uploads
        # x max_upload_bytes (100 nodes pinned +77 MB). Now the fleet store
        # refuses what would exceed api.memory, with 429 naming the limit.
        budget = 4 << 20
        d = Daemon(api_config("  memory:\n"
                              f"    max_bytes_per_deployment: {budget}\n"
                              f"    max_bytes: {2 * budget}\n")
                   .replace("max_body_bytes: 65536", "max_body_bytes: 1048576")
                   .replace("max_nodes_per_deployment: 4", "max_nodes_per_deployment: 10000")
                   .replace("max_entries_per_upload: 10", "max_entries_per_upload: 1000"))
        try:
            d.wait_status("/readyz", 200)
            before = rss_kib(d.proc.pid)
            entry = {"query": "SELECT " + "x" * 3900, "calls": 1, "total_ms": 1.0, "rows": 1}
            big = {"query_stats": [entry] * 60}  # about 240 KB, under max_upload_bytes
            stored = refused = 0
            last = None
            for i in range(100):
                node = f"pin-{i}"
                s, _, b = call(d.port, "POST", "/api/v2/register",
                               {"node_id": node, "version": "1", "host": "h"}, PROD)
                if s == 429:
                    refused += 1
                    last = b
                    continue
                self.assertEqual(s, 201, b)
                for kind in ("query_stats", "active_queries", "errors"):
                    if kind == "active_queries":
                        body = {"active_queries": [{"query": entry["query"], "age_ms": 1,
                                                    "user": "u", "database": "d",
                                                    "state": "active"}] * 60}
                    elif kind == "errors":
                        body = {"errors": [{"message": "e" * 3900, "count": 1}] * 60}
                    else:
                        body = big
                    s, _, b = call(d.port, "POST", f"/api/v2/{kind}", {"node_id": node, **body},
                                   PROD)
                    if s == 429:
                        refused += 1
                        last = b
                    else:
                        self.assertEqual(s, 204, b)
                        stored += 1
            grown_mib = (rss_kib(d.proc.pid) - before) / 1024
            print(f"100 nodes x 3 uploads of ~240 KB against a 4 MiB budget: {stored} stored, "
                  f"{refused} refused (429), RSS grew {grown_mib:.1f} MiB", file=sys.stderr)
            self.assertGreater(refused, 0)
            self.assertEqual(last["error"], "over_budget", last)
            self.assertIn("api.memory.max_bytes_per_deployment: 4194304 bytes", last["message"])
            self.assertLess(grown_mib, 24, "telemetry beyond the budget was kept")
            _, _, text = call(d.port, "GET", "/metrics")
            m = re.search(r'(?m)^pgdog_control_fleet_memory_bytes\{deployment="prod"\} (\S+)$',
                          str(text))
            self.assertIsNotNone(m, "no usage gauge")
            self.assertLessEqual(float(m.group(1)), budget)
            self.assertRegex(str(text), r'(?m)^pgdog_control_fleet_memory_budget_bytes'
                                        r'\{scope="deployment"\} 4194304$')
            # Another deployment keeps its own budget.
            s, _, b = call(d.port, "POST", "/api/v2/register",
                           {"node_id": "other", "version": "1", "host": "h"}, STAGING)
            self.assertEqual(s, 201, b)
        finally:
            d.stop()
            d.close()


def forward_secret_file():
    """The replicas' shared secret for leader proofs (api.forward_secret_file)."""
    path = write_config("forward.secret.tmp", "replicas-shared-forward-secret-0123456789\n")
    os.chmod(path, 0o600)
    os.replace(path, path[:-len(".tmp")])
    return path[:-len(".tmp")]


def replica_config(options, extra_api="", identity=None):
    """api_config() on the scripted plugin, advertising its own loopback address;
    every replica holds the forward secret."""
    extra_api += f"  forward_secret_file: {forward_secret_file()}\n"
    text = scripted_config(options, interval=2).replace('listen: "127.0.0.1:@PORT@"\n', "")
    if identity:
        text = text.replace("  enabled: true\n", f"  enabled: true\n  identity: {identity}\n")
    text += 'advertise_address: "127.0.0.1:@PORT@"\n'
    return api_config(extra_api).replace("http:\n", text + "http:\n", 1)


@unittest.skipUnless(SCRIPTED and os.path.exists(SCRIPTED), "scripted plugin not built")
class ForwardToLeader(unittest.TestCase):
    """api.forward_to_leader: a follower proxies /api/ requests to the leader's
    advertised address, which its backend reports (holder_address)."""

    def test_follower_forwards_to_the_leader(self):
        leader = Daemon(replica_config({"lead": True}, identity="leader-a"))
        follower = None
        try:
            leader.wait_status("/readyz", 200)
            follower = Daemon(replica_config(
                {"lead": False, "follow_holder": "leader-a",
                 "follow_address": f"127.0.0.1:{leader.port}"},
                "  forward_to_leader: true\n", identity="follower-b"))
            follower.wait_listening()
            follower.wait_status("/readyz", 503)
            _, _, status = call(follower.port, "GET", "/api/status")
            self.assertEqual((status["identity"], status["holder"], status["holder_address"]),
                             ("follower-b", "leader-a", f"127.0.0.1:{leader.port}"),
                             "/api/status is the follower's own, never forwarded")

            s, h, b = call(follower.port, "POST", "/api/v2/register",
                           {"node_id": "via-follower", "version": "1", "host": "h"}, PROD)
            self.assertIn(s, (200, 201), b)
            self.assertEqual(h.get("X-PgDog-Control-Forwarded-By"), "follower-b")
            self.assertEqual(h.get("X-PgDog-Control-Epoch"), "scripted/1")
            s, _, nodes = call(leader.port, "GET", "/api/web/deployments/prod/nodes")
            self.assertIn("via-follower", [n["id"] for n in nodes["nodes"]],
                          "the registration landed on the leader")

            # Authentication comes first, on the replica that receives the
            # request: one without a valid token is refused there, before its
            # body is read, and never forwarded.
            s, h, b = call(follower.port, "POST", "/api/v2/register",
                           {"node_id": "x", "version": "1", "host": "h"}, "wrong-token-0123456789")
            self.assertEqual((s, b["error"]), (401, "unauthorized"))
            self.assertIsNone(h.get("X-PgDog-Control-Forwarded-By"))

            # A long poll through the follower receives a command issued on the leader.
            got = {}

            def poll():
                got["r"] = call(follower.port, "GET",
                                "/api/v2/commands?node_id=via-follower&wait_ms=15000",
                                token=PROD, timeout=30)

            t = threading.Thread(target=poll)
            t.start()
            wait_parked(leader.port)  # forwarded: parked on the leader
            s, _, cmd = call(leader.port, "POST", "/api/web/deployments/prod/commands",
                             {"name": "reload_schema"}, ADMIN)
            self.assertEqual(s, 201, cmd)
            t.join(30)
            self.assertFalse(t.is_alive())
            s, _, polled = got["r"]
            self.assertEqual(s, 200, polled)
            self.assertEqual([c["id"] for c in polled["commands"]], [cmd["id"]])

            # The leader gone: the follower says so instead of hanging.
            self.assertEqual(leader.stop(), 0)
            s, _, b = call(follower.port, "GET", "/api/web/deployments")
            self.assertEqual((s, b["error"]), (502, "leader_unreachable"), b)
            self.assertIn(f"127.0.0.1:{leader.port}", b["message"])
            self.assertEqual(follower.stop(), 0)
        finally:
            leader.close()
            if follower:
                follower.close()

    def test_a_request_is_forwarded_at_most_once(self):
        # Two followers that each believe the other leads (a stale view during
        # a failover): the request must come back as 503, not bounce forever.
        port_a = free_port()
        b = Daemon(replica_config({"lead": False, "follow_holder": "a",
                                   "follow_address": f"127.0.0.1:{port_a}"},
                                  "  forward_to_leader: true\n", identity="b"))
        a = None
        try:
            a = Daemon(replica_config({"lead": False, "follow_holder": "b",
                                       "follow_address": f"127.0.0.1:{b.port}"},
                                      "  forward_to_leader: true\n",
                                      identity="a").replace("@PORT@", str(port_a)))
            a.port = port_a
            a.wait_listening()
            b.wait_listening()
            s, h, body = call(a.port, "GET", "/api/web/deployments")
            self.assertEqual((s, body["error"]), (503, "not_leader"), body)
            self.assertIn('"b" at 127.0.0.1:', body["message"], "b refused to prove it leads")
            self.assertEqual(h.get("Retry-After"), "1")

        finally:
            b.close()
            if a:
                a.close()

    def test_a_planted_leader_address_never_receives_a_token(self):
        # Anyone allowed to update the leadership record can name their own
        # listener as the leader's address. Before: it received the request
        # with "Authorization: Bearer <admin token>" and its reply reached the
        # client. Now it gets a nonce, and the client a 502.
        received = []
        planted = socket.socket()
        planted.bind(("127.0.0.1", 0))
        planted.listen(8)
        port = planted.getsockname()[1]

        def serve():
            while True:
                try:
                    conn, _ = planted.accept()
                except OSError:
                    return
                conn.settimeout(5)
                data = b""
                try:
                    while b"\r\n\r\n" not in data:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                    received.append(data)
                    body = b'{"identity":"leader-a","address":"127.0.0.1:%d","proof":"00"}' % port
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                 b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
                    more = conn.recv(65536)  # a forwarded request would arrive here
                    if more:
                        received.append(more)
                except OSError:
                    pass
                conn.close()

        server = threading.Thread(target=serve, daemon=True)
        server.start()
        follower = Daemon(replica_config({"lead": False, "follow_holder": "leader-a",
                                          "follow_address": f"127.0.0.1:{port}"},
                                         "  forward_to_leader: true\n", identity="follower-b"))
        try:
            follower.wait_listening()
            s, _, b = call(follower.port, "POST", "/api/web/deployments/prod/commands",
                           {"name": "reload_schema"}, ADMIN)
            self.assertEqual((s, b["error"]), (502, "leader_unverified"), b)
            self.assertIn("does not match the replicas' forward secret", b["message"])
            self.assertTrue(received, "the follower asked the planted address for a proof")
            everything = b"".join(received)
            self.assertNotIn(ADMIN.encode(), everything)
            self.assertNotIn(b"authorization", everything.lower())
            self.assertTrue(everything.startswith(b"GET /api/internal/leader-proof?nonce="),
                            everything[:200])
            self.assertIn("not forwarding to 127.0.0.1:", follower.logs())
        finally:
            planted.close()
            follower.close()


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
    from ctest_main import main  # noqa: E402
    main()
