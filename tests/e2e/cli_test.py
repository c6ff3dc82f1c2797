#!/usr/bin/env python3
"""The operator commands (`pgdog-control status | members | switchover`) end
to end: the real binary against the real daemon with the no-op plugin, a
closed port, and a small HTTP peer that answers garbage (docs/cli.md).

Environment (set by CTest): PGDC_BIN, PGDC_TMP (see daemon_test.py, whose
Daemon helper this reuses).
"""
import json
import os
import socket
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon_test import BIN, Daemon, free_port, write_config  # noqa: E402

ADMIN = "cli-admin-token-0123456789abcdef"
READ = "cli-read-token-0123456789abcdef"

# A liveness bound for one command (the daemon answers in milliseconds; a
# command that hangs fails here instead of stalling the suite).
COMMAND_TIMEOUT = 30


def cli(*args, token_env=None):
    env = dict(os.environ)
    env.pop("PGDOG_CONTROL_CONFIG", None)
    env.pop("PGDOG_CONTROL_TOKEN", None)
    if token_env is not None:
        env["PGDOG_CONTROL_TOKEN"] = token_env
    return subprocess.run([BIN] + list(args), capture_output=True, text=True,
                          timeout=COMMAND_TIMEOUT, env=env)


class AgainstTheDaemon(unittest.TestCase):
    """One daemon (no-op plugin: a single replica, always the leader)."""

    @classmethod
    def setUpClass(cls):
        cls.d = Daemon('listen: "127.0.0.1:@PORT@"\n'
                       "api:\n"
                       "  web:\n"
                       f"    admin_tokens: [{ADMIN}]\n"
                       f"    read_tokens: [{READ}]\n")
        cls.d.wait_listening()
        cls.d.wait_status("/readyz", 200)
        cls.url = f"http://127.0.0.1:{cls.d.port}"
        cls.admin_file = write_config("cli-admin.token", f"# the web admin token\n\n  {ADMIN}  \n")
        cls.read_file = write_config("cli-read.token", READ + "\n")
        cls.wrong_file = write_config("cli-wrong.token", "not-a-known-token-0123456789\n")

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.d.close()

    def identity(self):
        r = cli("status", "--json", "--url", self.url)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)["identity"]

    def test_status_text(self):
        r = cli("status", "--url", self.url)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        ident = self.identity()
        self.assertIn(f"identity:  {ident}\n", r.stdout)
        self.assertIn("role:      leader\n", r.stdout)
        self.assertIn("ready:     yes\n", r.stdout)
        self.assertRegex(r.stdout, rf"leader:    {ident}( at \S+)?\n")
        self.assertRegex(r.stdout, r"plugin:    noop \d+\.\d+\.\d+\n")
        self.assertIn("lease:     leader election off (single replica)\n", r.stdout)
        self.assertIn("state:     memory only: lost at a restart or when leadership moves\n", r.stdout)

    def test_status_json_is_the_servers_reply(self):
        r = cli("status", "--json", "--url", self.url + "/")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith("{\n  \""), "pretty-printed")
        body = json.loads(r.stdout)
        self.assertEqual(body["role"], "leader")
        self.assertEqual(body["backend"]["name"], "noop")
        self.assertTrue(body["ready"])

    def test_status_needs_no_token_but_a_given_file_must_be_readable(self):
        missing = os.path.join(os.path.dirname(self.admin_file), "no-such.token")
        r = cli("status", "--url", self.url, "--token-file", missing)
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr, f'pgdog-control status: cannot read token file "{missing}": '
                                   "No such file or directory\n")
        self.assertEqual(r.stdout, "")

    # --- members and switchover: these assertions pass once GET
    # /api/web/members and POST /api/web/leadership/switchover are served
    # (issue 15); before that the daemon answers 404 (exit 1). ----------------

    def test_members_lists_this_replica_as_the_leader(self):
        ident = self.identity()
        r = cli("members", "--url", self.url, "--token-file", self.read_file)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0].split(), ["IDENTITY", "ROLE", "ADDRESS", "VERSION", "ELIGIBLE", "HEARTBEAT"])
        self.assertEqual(lines[1].split()[:3], [ident, "*", "leader"], r.stdout)
        self.assertEqual(lines[2], "", "one member only")
        self.assertIn(f"leader: {ident}; * marks the replica that answered ({ident})", r.stdout)
        # The same through the environment variable and as JSON.
        r = cli("members", "--json", "--url", self.url, token_env=ADMIN)
        self.assertEqual(r.returncode, 0, r.stderr)
        body = json.loads(r.stdout)
        self.assertEqual(body["self"], ident)
        self.assertEqual(body["leader"], ident)
        (m,) = body["members"]
        self.assertEqual((m["identity"], m["role"], m["self"], m["eligible"], m["stale"]),
                         (ident, "leader", True, True, False))

    def test_switchover_is_refused_with_the_servers_reason(self):
        # A single replica has nobody to hand over to; the no-op plugin cannot
        # hand over at all: 501 switchover_unsupported or 409 switchover_refused.
        for args in ((), ("--to", "someone-else")):
            with self.subTest(args=args):
                r = cli("switchover", *args, "--url", self.url, "--token-file", self.admin_file)
                self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                self.assertRegex(r.stderr, r"^pgdog-control switchover: http://127\.0\.0\.1:\d+"
                                           r"/api/web/leadership/switchover: HTTP "
                                           r"(501 switchover_unsupported|409 switchover_refused|"
                                           r"404 unknown_member): \S")
                self.assertEqual(r.stdout, "")

    def test_wrong_or_weak_token_exits_4(self):
        r = cli("members", "--url", self.url, "--token-file", self.wrong_file)
        self.assertEqual(r.returncode, 4, r.stdout + r.stderr)
        self.assertIn("HTTP 401 unauthorized", r.stderr)
        self.assertIn(f'(the token from token file "{self.wrong_file}" was refused)', r.stderr)
        self.assertNotIn("not-a-known-token", r.stderr)
        r = cli("members", "--url", self.url)
        self.assertEqual(r.returncode, 4, r.stdout + r.stderr)
        self.assertIn("no token was sent", r.stderr)
        # A read token cannot switch over: 403, checked before anything moves.
        r = cli("switchover", "--url", self.url, token_env=READ)
        self.assertEqual(r.returncode, 4, r.stdout + r.stderr)
        self.assertIn("HTTP 403 forbidden", r.stderr)
        self.assertNotIn(READ, r.stderr + r.stdout)


class WithoutADaemon(unittest.TestCase):
    def test_unreachable_url_exits_3(self):
        port = free_port()  # free now: nothing listens there
        r = cli("status", "--url", f"http://127.0.0.1:{port}")
        self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
        self.assertEqual(r.stderr, f"pgdog-control status: cannot connect to http://127.0.0.1:{port}: "
                                   "Connection refused\n")
        # A name that does not resolve, and the timeout bound on a peer that never answers.
        r = cli("members", "--url", "http://no-such-host.invalid:8080", "--timeout", "5")
        self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
        self.assertTrue(r.stderr.startswith("pgdog-control members: "), r.stderr)

    def test_silent_peer_times_out_with_exit_3(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen(1)  # accepted by the kernel, never answered
            r = cli("status", "--url", f"http://127.0.0.1:{s.getsockname()[1]}", "--timeout", "0.5")
        self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
        self.assertIn("within 0.5s", r.stderr)

    def test_usage_errors_exit_2(self):
        for args, message in (
                (["status", "--bogus"], 'unknown argument "--bogus" for status (see pgdog-control status --help)'),
                (["switchover", "--to"], "--to needs a value"),
                (["members", "--to", "x"], 'unknown argument "--to" for members'),
                (["members", "--url", "https://127.0.0.1:8443"], "https is not supported"),
                (["status", "--url", "127.0.0.1:8080"], "must start with http://"),
                (["status", "--timeout", "0"], "--timeout must be a number of seconds"),
                (["--log-level", "debug", "status"], '"status" is a command: put it first')):
            with self.subTest(args=args):
                r = cli(*args)
                self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
                self.assertIn(message, r.stderr)
                self.assertEqual(r.stdout, "")

    def test_help(self):
        r = cli("--help")
        self.assertEqual(r.returncode, 0, r.stderr)
        for s in ("--config PATH", "pgdog-control status | members | switchover [--to ID]",
                  "pgdog-control members", "4 auth"):
            self.assertIn(s, r.stdout)
        for command in ("status", "members", "switchover"):
            with self.subTest(command=command):
                r = cli(command, "--help")
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn(f"Usage: pgdog-control {command}", r.stdout)
                self.assertIn("Exit status:", r.stdout)

    def test_malformed_replies_exit_3(self):
        for reply, message in ((b"SSH-2.0-OpenSSH_9.6\r\n\r\n", "malformed reply from"),
                               (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 12\r\n"
                                b"Connection: close\r\n\r\n<html>hi</h>", "HTTP 200 but the body is not JSON"),
                               (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n[]",
                                "the reply is not a status")):
            with self.subTest(reply=reply[:20]):
                with GarbagePeer(reply) as peer:
                    r = cli("status", "--url", peer.url)
                self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
                self.assertIn(message, r.stderr)
                self.assertEqual(r.stdout, "")


class GarbagePeer:
    """A TCP server on 127.0.0.1 that reads one request head and answers
    `reply` verbatim, then closes."""

    def __init__(self, reply):
        self.reply = reply
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.thread = threading.Thread(target=self.serve, daemon=True)

    def serve(self):
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
            conn.sendall(self.reply)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.sock.close()
        self.thread.join(timeout=COMMAND_TIMEOUT)


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
    from ctest_main import main  # noqa: E402
    main()
