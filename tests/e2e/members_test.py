#!/usr/bin/env python3
"""Members and switchover end to end (docs/api.md, "Members and switchover"):
the real daemon with the noop plugin (members_list, no transfer) and with the
scripted plugin as a follower (neither).

Environment (set by CTest): PGDC_BIN, PGDC_SCRIPTED_PLUGIN, PGDC_TMP (see
daemon_test.py). The multi-replica switchover runs on Kubernetes (tests/kube).
"""
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from api_test import ADMIN, PROD, READ, api_config, call  # noqa: E402
from daemon_test import SCRIPTED, Daemon, scripted_config  # noqa: E402

SCRIPTED_MEMBERS = os.environ.get("PGDC_SCRIPTED_MEMBERS_PLUGIN", "")

SWITCHOVER = "/api/web/leadership/switchover"


def version():
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                           "CMakeLists.txt")) as f:
        return re.search(r"project\(\s*[\w-]+\s+VERSION\s+([0-9.]+)", f.read()).group(1)


def sample(port, series):
    _, _, text = call(port, "GET", "/metrics")
    for line in str(text).splitlines():
        if line.startswith(series + " "):
            return float(line.split()[1])
    raise AssertionError(f"no {series} in /metrics:\n{text}")


class Noop(unittest.TestCase):
    """One replica, the noop plugin: it lists itself and offers no transfer."""

    @classmethod
    def setUpClass(cls):
        # Reads need a token here (the default), so the 401/403 cases are real.
        cls.d = Daemon(api_config().replace("    read_access: open\n", ""))
        cls.d.wait_listening()
        cls.d.wait_status("/readyz", 200)
        cls.port = cls.d.port

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.d.close()

    def c(self, *args, **kwargs):
        return call(self.port, *args, **kwargs)

    def test_members_lists_this_replica_as_the_leader(self):
        s, _, b = self.c("GET", "/api/web/members", token=READ)
        self.assertEqual(s, 200, b)
        _, _, control = self.c("GET", "/api/web/control", token=READ)
        me = control["identity"]
        self.assertEqual(b["self"], me)
        self.assertEqual(b["leader"], me)
        self.assertIs(b["members_supported"], True)
        self.assertIs(b["switchover_supported"], False)
        self.assertEqual(len(b["members"]), 1, b)
        m = b["members"][0]
        self.assertEqual(m["identity"], me)
        self.assertEqual(m["role"], "leader")
        self.assertEqual(m["version"], version())
        self.assertRegex(m["backend"], r"^noop \d+\.\d+\.\d+")
        self.assertIs(m["eligible"], True)
        self.assertIs(m["stale"], False)
        self.assertIs(m["self"], True)
        self.assertEqual(m["heartbeat_age_ms"], 0)
        self.assertIn("address", m)
        self.assertEqual(sample(self.port, 'pgdog_control_members{state="eligible"}'), 1)
        self.assertEqual(sample(self.port, 'pgdog_control_members{state="stale"}'), 0)

    def test_members_auth(self):
        s, h, b = self.c("GET", "/api/web/members")
        self.assertEqual((s, b["error"]), (401, "unauthorized"), b)
        self.assertEqual(h.get("WWW-Authenticate"), "Bearer")
        self.assertEqual(self.c("GET", "/api/web/members", token=PROD)[0], 403)
        self.assertEqual(self.c("GET", "/api/web/members", token=ADMIN)[0], 200)

    def test_switchover_without_transfer_is_501(self):
        before = sample(self.port, 'pgdog_control_switchovers_total{result="refused"}')
        for body in ({}, {"to": "someone"}, ""):
            s, _, b = self.c("POST", SWITCHOVER, body, ADMIN)
            self.assertEqual((s, b["error"]), (501, "switchover_unsupported"), b)
            self.assertIn("transfer", b["message"])
        # Answered before the service is asked: not counted as a switchover.
        self.assertEqual(sample(self.port, 'pgdog_control_switchovers_total{result="refused"}'),
                         before)
        self.assertEqual(self.c("GET", "/api/web/members", token=READ)[0], 200)  # still leads

    def test_switchover_auth(self):
        s, h, b = self.c("POST", SWITCHOVER, {})
        self.assertEqual((s, b["error"]), (401, "unauthorized"), b)
        self.assertEqual(self.c("POST", SWITCHOVER, {}, READ)[0], 403)
        self.assertEqual(self.c("POST", SWITCHOVER, {}, PROD)[0], 403)

    def test_switchover_malformed_bodies_are_400(self):
        for body in ("{", "[]", '{"to": 5}', '{"to": ""}', '{"to": "a", "force": true}', "null"):
            s, _, b = self.c("POST", SWITCHOVER, body, ADMIN)
            self.assertEqual((s, b["error"]), (400, "bad_request"), (body, b))
        s, _, b = self.c("POST", SWITCHOVER, '{"to": "' + "x" * 100000 + '"}', ADMIN)
        self.assertEqual(s, 413, b)

    def test_only_post(self):
        self.assertEqual(self.c("GET", SWITCHOVER, token=ADMIN)[0], 405)
        self.assertEqual(self.c("POST", "/api/web/members", {}, ADMIN)[0], 405)


@unittest.skipUnless(SCRIPTED and os.path.exists(SCRIPTED), "scripted plugin not built")
class Follower(unittest.TestCase):
    def test_a_follower_lists_members_and_refuses_switchover_as_the_gate_does(self):
        text = scripted_config({"lead": False}, interval=2).replace(
            'listen: "127.0.0.1:@PORT@"\n', "")
        d = Daemon(api_config().replace("http:\n", text + "http:\n", 1))
        try:
            d.wait_listening()
            d.wait_status("/readyz", 503)
            s, _, b = call(d.port, "GET", "/api/web/members")
            self.assertEqual(s, 200, b)  # not leader-gated
            self.assertIs(b["members_supported"], False)
            self.assertIs(b["switchover_supported"], False)
            self.assertEqual([m["identity"] for m in b["members"]], [b["self"]])
            self.assertEqual(b["members"][0]["role"], "follower")
            s, h, b = call(d.port, "POST", SWITCHOVER, {}, ADMIN)
            self.assertEqual((s, b["error"]), (503, "not_leader"), b)
            self.assertEqual(h.get("Retry-After"), "2")
            self.assertEqual(d.stop(), 0)
            self.assertNotIn(ADMIN, d.logs())
        finally:
            d.close()


def members_daemon(options, release_timeout=5):
    """A leading daemon over scripted-members.so, reads open, with `options`."""
    text = scripted_config(options, release_timeout=release_timeout).replace(
        'listen: "127.0.0.1:@PORT@"\n', "").replace(SCRIPTED, SCRIPTED_MEMBERS)
    d = Daemon(api_config().replace("http:\n", text + "http:\n", 1))
    d.wait_listening()
    d.wait_status("/readyz", 200)
    return d


OTHERS = [
    {"identity": "old", "address": "10.0.0.2:8080", "version": "0.0.9", "heartbeat_age_ms": 10},
    {"identity": "new", "address": "10.0.0.3:8080", "version": "9.0.0", "heartbeat_age_ms": 900},
    {"identity": "off", "version": "9.9.9", "eligible": False},
    {"identity": "gone", "version": "9.9.9", "stale": True, "heartbeat_age_ms": 99999},
]


@unittest.skipUnless(SCRIPTED_MEMBERS and os.path.exists(SCRIPTED_MEMBERS),
                     "scripted-members plugin not built")
class Handover(unittest.TestCase):
    """The real plugin path (PluginInstance, ABI 1.4) with a plugin that lists
    members and hands over: the HTTP switchover and the SIGTERM handover."""

    def test_members_and_a_switchover_to_the_newest_eligible_member(self):
        d = members_daemon({"members": OTHERS})
        try:
            s, _, b = call(d.port, "GET", "/api/web/members")
            self.assertEqual(s, 200, b)
            me = b["self"]
            self.assertEqual(b["leader"], me)
            self.assertIs(b["switchover_supported"], True)
            self.assertEqual([m["identity"] for m in b["members"]],
                             sorted(["old", "new", "off", "gone", me]))
            roles = {m["identity"]: m["role"] for m in b["members"]}
            self.assertEqual(roles[me], "leader")
            self.assertEqual(roles["new"], "follower")
            self.assertEqual(sample(d.port, 'pgdog_control_members{state="eligible"}'), 3)
            self.assertEqual(sample(d.port, 'pgdog_control_members{state="ineligible"}'), 1)
            self.assertEqual(sample(d.port, 'pgdog_control_members{state="stale"}'), 1)
            for body, status, code in (({"to": "nobody"}, 404, "unknown_member"),
                                       ({"to": me}, 409, "switchover_refused"),
                                       ({"to": "off"}, 409, "switchover_refused"),
                                       ({"to": "gone"}, 409, "switchover_refused")):
                s, _, b = call(d.port, "POST", SWITCHOVER, body, ADMIN)
                self.assertEqual((s, b["error"]), (status, code), (body, b))
            self.assertEqual(sample(d.port, 'pgdog_control_switchovers_total{result="refused"}'), 4)
            self.assertNotIn("scripted: transfer", d.logs())
            s, h, b = call(d.port, "POST", SWITCHOVER, {}, ADMIN)
            self.assertEqual(s, 200, b)
            self.assertEqual(b, {"from": me, "to": "new", "epoch": "scripted/1"})
            self.assertEqual(h.get("X-PgDog-Control-Epoch"), "scripted/1")
            d.wait_status("/readyz", 503)
            self.assertIn("scripted: transfer to=new", d.logs())
            self.assertRegex(d.logs(), r'switchover to the automatic target asked by an admin '
                                       r'token from 127\.0\.0\.1:\d+: handed over from')
            self.assertEqual(sample(d.port, 'pgdog_control_switchovers_total{result="ok"}'), 1)
            s, _, b = call(d.port, "POST", SWITCHOVER, {}, ADMIN)  # a follower now
            self.assertEqual((s, b["error"]), (503, "not_leader"), b)
            self.assertEqual(d.stop(), 0)
            # Not leading at shutdown: no handover, the usual stop.
            self.assertNotIn("shutdown: handed", d.logs())
            self.assertNotIn(ADMIN, d.logs())
        finally:
            d.close()

    def test_a_failed_transfer_is_503_and_a_refused_one_409(self):
        for fails, status, code in (("unavailable", 503, "switchover_failed"),
                                    ("conflict", 409, "switchover_refused")):
            d = members_daemon({"members": OTHERS, "transfer_fails": fails})
            try:
                s, _, b = call(d.port, "POST", SWITCHOVER, {"to": "old"}, ADMIN)
                self.assertEqual((s, b["error"]), (status, code), b)
                self.assertEqual(call(d.port, "GET", "/readyz")[0], 200)  # still leads
            finally:
                d.close()

    def test_sigterm_hands_over_to_a_newer_replica(self):
        d = members_daemon({"members": OTHERS})
        try:
            self.assertEqual(d.stop(), 0)
            logs = d.logs()
            self.assertIn("scripted: publish eligible=0", logs)
            self.assertIn("scripted: transfer to=new", logs)
            self.assertIn("scripted: stop release=0", logs)
            self.assertIn('shutdown: handed the leadership over to "new" (a newer version)', logs)
            # Not eligible was published before the handover.
            self.assertLess(logs.index("scripted: publish eligible=0"),
                            logs.index("scripted: transfer to=new"))
        finally:
            d.close()

    def test_sigterm_falls_back_to_the_release(self):
        for options, why in (({"members": OTHERS, "transfer_fails": "unavailable"}, "timed out"),
                             ({"members": [OTHERS[2], OTHERS[3]]}, "no eligible")):
            d = members_daemon(options)
            try:
                self.assertEqual(d.stop(), 0)
                logs = d.logs()
                self.assertIn("scripted: stop release=1", logs)
                self.assertRegex(logs, "shutdown: no handover \\(.*" + why)
                self.assertIn("released the leadership instead", logs)
            finally:
                d.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
