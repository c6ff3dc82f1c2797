#!/usr/bin/env python3
"""The machine and web APIs across three replicas with the Kubernetes Lease
plugin on a real kube-apiserver: exactly one replica serves /api/, followers
name the leader (holder and the address published on the Lease) or forward to
it, commands are fenced by the leader's epoch across a handover.

Environment: PGDC_BIN, PGDC_KUBE_ENV, PGDC_TMP (as lease_daemon_test.py).
"""
import json
import os
import sys
import threading
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import daemon_test as d  # noqa: E402
import lease_daemon_test as k  # noqa: E402
from api_test import call, wait_parked  # noqa: E402

TOKEN = "kube-prod-token-0123456789abcdef"
ADMIN = "kube-admin-token-0123456789abcdef"
USERS = ("ELECTOR_1", "ELECTOR_2", "ELECTOR_3")


def api_config(lease, user, forward):
    return k.config(lease, user) + (
        'advertise_address: "127.0.0.1:@PORT@"\n'
        "api:\n"
        "  deployments:\n"
        "    - name: prod\n"
        f"      tokens: [{TOKEN}]\n"
        "  web:\n"
        "    read_access: open\n"  # serving() reads without a token
        f"    admin_tokens: [{ADMIN}]\n"
        f"  forward_to_leader: {'true' if forward else 'false'}\n")


def serving(dm):
    """(status, epoch header, body) of GET /api/web/control on one replica."""
    s, h, b = call(dm.port, "GET", "/api/web/control", timeout=5)
    return s, h.get("X-PgDog-Control-Epoch"), b


@unittest.skipUnless(k.KENV, "no kube environment (PGDC_KUBE_ENV)")
class ApiAcrossReplicas(unittest.TestCase):
    def setUp(self):
        self.lease = "api-" + uuid.uuid4().hex[:10]
        self.daemons = []

    def tearDown(self):
        for dm in self.daemons:
            dm.close()

    def start(self, user, forward=False):
        dm = d.Daemon(api_config(self.lease, user, forward))
        self.daemons.append(dm)
        dm.wait_listening()
        return dm

    def test_only_the_leader_serves_and_followers_point_at_it(self):
        replicas = [self.start(u) for u in USERS]
        leader = k.wait_one_leader(self, replicas)
        time.sleep(2 * k.INTERVAL)  # followers have read the Lease
        lease = k.get_lease(self.lease)
        annotation = json.loads(lease["metadata"]["annotations"]["pgdog.dev/leader-address"])
        self.assertEqual(annotation, {"holder": lease["spec"]["holderIdentity"],
                                      "address": f"127.0.0.1:{leader.port}"})
        epoch = None
        for dm in replicas:
            s, h, b = serving(dm)
            if dm is leader:
                self.assertEqual(s, 200, b)
                self.assertEqual(h, f"{lease['metadata']['uid']}/{lease['spec']['leaseTransitions']}")
                epoch = h
            else:
                self.assertEqual((s, b["error"]), (503, "not_leader"), b)
                self.assertEqual(b["holder"], lease["spec"]["holderIdentity"])
                self.assertEqual(b["leader_address"], f"127.0.0.1:{leader.port}")
        self.assertIsNotNone(epoch)
        k.check_safety(self, replicas)

    def test_forwarding_followers_and_epoch_fenced_commands_across_a_handover(self):
        replicas = [self.start(u, forward=True) for u in USERS]
        leader = k.wait_one_leader(self, replicas)
        time.sleep(2 * k.INTERVAL)
        followers = [dm for dm in replicas if dm is not leader]

        # Every replica answers for the leader: PgDog sees no 503 behind a stale Service.
        for dm in followers:
            s, h, b = call(dm.port, "POST", "/api/v2/register",
                           {"node_id": f"n-{dm.port}", "version": "1", "host": "h"}, TOKEN)
            self.assertIn(s, (200, 201), b)
            self.assertTrue(h.get("X-PgDog-Control-Forwarded-By"))
        s, _, nodes = call(leader.port, "GET", "/api/web/deployments/prod/nodes")
        self.assertEqual(sorted(n["id"] for n in nodes["nodes"]),
                         sorted(f"n-{dm.port}" for dm in followers))

        s, h, cmd = call(followers[0].port, "POST", "/api/web/deployments/prod/commands",
                         {"name": "maintenance_on"}, ADMIN)
        self.assertEqual(s, 201, cmd)
        old_epoch = cmd["epoch"]
        self.assertEqual(h.get("X-PgDog-Control-Epoch"), old_epoch)

        # A node long-polls through a follower while the leader hands over:
        # the poll must end (503 from the departing leader, or an empty answer
        # under the new term), never with the old term's command re-delivered.
        node = f"n-{followers[0].port}"
        s, _, first = call(followers[0].port, "GET",
                           f"/api/v2/commands?node_id={node}&wait_ms=1000", token=TOKEN)
        self.assertEqual([c["id"] for c in first["commands"]], [cmd["id"]])
        got = {}

        def poll():
            got["r"] = call(followers[1].port, "GET",
                            f"/api/v2/commands?node_id={node}&after_seq={cmd['seq']}"
                            f"&epoch={old_epoch}&wait_ms=20000", token=TOKEN, timeout=40)

        t = threading.Thread(target=poll)
        t.start()
        wait_parked(leader.port)  # forwarded: parked on the leader
        self.assertEqual(leader.stop(), 0, leader.logs())
        t.join(45)
        self.assertFalse(t.is_alive())
        s, _, b = got["r"]
        self.assertIn(s, (200, 404, 502, 503), b)  # 404: a new leader that never saw the node
        if s == 200:
            self.assertTrue(all(c["epoch"] != old_epoch for c in b["commands"]), b)

        new_leader = k.wait_one_leader(self, followers)
        s, h, control = serving(new_leader)
        self.assertEqual(s, 200)
        uid, term = h.rsplit("/", 1)
        old_uid, old_term = old_epoch.rsplit("/", 1)
        self.assertEqual(uid, old_uid)
        self.assertGreater(int(term), int(old_term), "the new term's epoch is greater")
        # The new leader issues under its own epoch only.
        s, _, cmd2 = call(new_leader.port, "POST", "/api/web/deployments/prod/commands",
                          {"name": "maintenance_off"}, ADMIN)
        self.assertEqual(s, 201, cmd2)
        self.assertEqual(cmd2["epoch"], h)
        k.check_safety(self, replicas)


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
    from ctest_main import main  # noqa: E402
    main()
