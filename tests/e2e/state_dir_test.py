#!/usr/bin/env python3
"""A single replica with state_dir: the node registry and the command log
survive a SIGKILL and a restart (and a SIGTERM), seqs and ids continue, a node
that polls with its old epoch gets its open commands again, a second process
cannot share the directory, and a damaged state file keeps the replica from
serving instead of being read as empty.

Environment: PGDC_BIN, PGDC_TMP (as daemon_test.py).
"""
import json
import os
import shutil
import signal
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
import daemon_test as d  # noqa: E402
from api_test import call  # noqa: E402

TOKEN = "state-dir-node-token-0123456789"
ADMIN = "state-dir-admin-token-0123456789"


def config(state_dir):
    return ('listen: "127.0.0.1:@PORT@"\n'
            f"state_dir: {state_dir}\n"
            "api:\n"
            "  deployments:\n"
            "    - name: prod\n"
            f"      tokens: [{TOKEN}]\n"
            "  web:\n"
            "    read_access: open\n"
            f"    admin_tokens: [{ADMIN}]\n")


class StateDir(unittest.TestCase):
    def setUp(self):
        self.dir = os.path.join(d.TMP, f"state-{self._testMethodName}")
        shutil.rmtree(self.dir, ignore_errors=True)
        self.daemons = []

    def tearDown(self):
        for dm in self.daemons:
            dm.close()

    def start(self):
        dm = d.Daemon(config(self.dir))
        self.daemons.append(dm)
        dm.wait_status("/readyz", 200)
        return dm

    def register(self, dm, node):
        s, _, b = call(dm.port, "POST", "/api/v2/register",
                       {"node_id": node, "version": "1", "host": "h"}, token=TOKEN)
        self.assertIn(s, (200, 201), b)
        return b["epoch"]

    def issue(self, dm, name="reload_configuration"):
        s, _, b = call(dm.port, "POST", "/api/web/deployments/prod/commands",
                       {"name": name, "target": "*"}, token=ADMIN)
        self.assertEqual(s, 201, b)
        return b

    def poll(self, dm, node, epoch="", after=0):
        q = f"/api/v2/commands?node_id={node}&wait_ms=0&after_seq={after}"
        if epoch:
            q += "&epoch=" + epoch.replace("/", "%2F")
        s, _, b = call(dm.port, "GET", q, token=TOKEN)
        self.assertEqual(s, 200, b)
        return b

    def commands(self, dm):
        s, _, b = call(dm.port, "GET", "/api/web/deployments/prod/commands")
        self.assertEqual(s, 200, b)
        return {c["id"]: c for c in b["commands"]}

    def test_state_survives_sigkill_and_sigterm(self):
        a = self.start()
        epoch = self.register(a, "n1")
        self.register(a, "n2")
        first = self.issue(a)
        polled = self.poll(a, "n1", epoch)
        self.assertEqual([c["id"] for c in polled["commands"]], [first["id"]])
        s, _, b = call(a.port, "POST", f"/api/v2/commands/{first['id']}/ack",
                       {"node_id": "n1", "status": "ok", "message": "reloaded"}, token=TOKEN)
        self.assertEqual(s, 200, b)
        a.stop(signal.SIGKILL)

        b_ = self.start()
        st = json.loads(d.get(b_.port, "/api/status")[2])["state"]
        self.assertTrue(st["durable"], st)
        nodes = call(b_.port, "GET", "/api/web/deployments/prod/nodes")[2]
        self.assertEqual(sorted(n["id"] for n in nodes["nodes"]), ["n1", "n2"])
        cmd = self.commands(b_)[first["id"]]
        states = {n["node"]: (n["state"], (n["result"] or {}).get("message")) for n in cmd["nodes"]}
        self.assertEqual(states, {"n1": ("acknowledged", "reloaded"), "n2": ("pending", None)})
        # n2 polls with the epoch and seq it knew: the restart is visible (a new
        # epoch), so after_seq is not trusted and it gets its open command.
        polled = self.poll(b_, "n2", epoch, after=first["seq"])
        self.assertNotEqual(polled["epoch"], epoch)
        self.assertEqual([c["id"] for c in polled["commands"]], [first["id"]])
        self.assertEqual(self.poll(b_, "n1", epoch)["commands"], [], "an acked command came back")
        second = self.issue(b_, "reload_schema")
        self.assertEqual(second["seq"], first["seq"] + 1)
        self.assertEqual(b_.stop(signal.SIGTERM), 0)

        c = self.start()
        self.assertEqual(set(self.commands(c)), {first["id"], second["id"]})
        s, _, b = call(c.port, "POST", f"/api/v2/commands/{second['id']}/ack",
                       {"node_id": "n2", "status": "ok"}, token=TOKEN)
        self.assertEqual(s, 200, b)
        self.assertTrue(b["first"])

    def test_a_second_process_cannot_share_the_directory(self):
        a = self.start()
        b = d.Daemon(config(self.dir))
        self.daemons.append(b)
        self.assertEqual(b.wait_exit(), 2)
        self.assertIn("in use by another pgdog-control", b.logs())
        self.assertEqual(d.get(a.port, "/readyz")[0], 200)

    def test_a_damaged_state_file_is_an_error_not_an_empty_state(self):
        a = self.start()
        self.register(a, "n1")
        self.assertEqual(a.stop(signal.SIGTERM), 0)
        files = [f for f in os.listdir(self.dir) if f.endswith("-nodes.state")]
        self.assertEqual(len(files), 1, os.listdir(self.dir))
        path = os.path.join(self.dir, files[0])
        with open(path, "r+b") as f:
            f.seek(-3, os.SEEK_END)
            f.write(b"XYZ")
        b = d.Daemon(config(self.dir))
        self.daemons.append(b)
        b.wait_listening()
        st = b.wait_status("/api/status", 200)
        b.wait_status("/readyz", 503)
        deadline = d.time.monotonic() + 10
        while d.time.monotonic() < deadline:
            state = json.loads(d.get(b.port, "/api/status")[2])["state"]
            if state["last_error"]:
                break
            d.time.sleep(0.05)
        self.assertIn(files[0], state["last_error"], st)
        self.assertEqual(d.get(b.port, "/readyz")[0], 503, "served on a damaged state")
        s, _, body = call(b.port, "POST", "/api/v2/register",
                          {"node_id": "n9", "version": "1", "host": "h"}, token=TOKEN)
        self.assertEqual(s, 503, body)


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(HERE, "..", "lib"))
    from ctest_main import main  # noqa: E402
    main()
