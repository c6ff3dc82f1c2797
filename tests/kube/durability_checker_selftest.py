#!/usr/bin/env python3
"""The durability soak's checker (durability_soak.py) on synthetic records, no
processes: it must be able to fail, and say which command, node and what."""
import json
import os
import sys
import threading
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
import durability_soak as ds  # noqa: E402


def attempt(cid, required, targets=None, status=201):
    return {"token": f"soak-{cid}", "round": 1, "t_send": 1.0, "t_resp": 1.1, "status": status,
            "id": cid, "seq": 1, "epoch": "u/1", "required": set(required),
            "targets": set(required if targets is None else targets)}


class Check(unittest.TestCase):
    def test_everything_delivered_and_acked_passes(self):
        a = [attempt("1-a", ["n1", "n2"])]
        got = {("n1", "1-a"): 1.2, ("n2", "1-a"): 1.3}
        server = {"1-a": {"n1": "acknowledged", "n2": "acknowledged"}}
        self.assertEqual(ds.check(a, got, got, {}, server, None), (0, []))

    def test_a_node_that_never_received_it_is_a_loss_naming_both(self):
        a = [attempt("1-a", ["n1", "n2"])]
        got = {("n1", "1-a"): 1.2}
        server = {"1-a": {"n1": "acknowledged", "n2": "pending"}}
        lost, out = ds.check(a, got, got, {}, server, None)
        self.assertEqual(lost, 1)
        self.assertIn("LOST command 1-a", out[0])
        self.assertIn("n2: never received", out[0])
        self.assertIn("n2=pending", out[0])

    def test_an_ack_refused_is_a_loss_with_the_answer(self):
        a = [attempt("1-a", ["n1"])]
        lost, out = ds.check(a, {("n1", "1-a"): 1.2}, {}, {("n1", "1-a"): "404 not_found"},
                             {"1-a": {"n1": "delivered"}}, None)
        self.assertEqual(lost, 1)
        self.assertIn("n1: received, ack not accepted (404 not_found)", out[0])

    def test_missing_from_the_leaders_list_or_targets(self):
        a = [attempt("1-a", ["n1", "n2"], targets=["n1"])]
        got = {("n1", "1-a"): 1.2, ("n2", "1-a"): 1.2}
        lost, out = ds.check(a, got, got, {}, {}, None)
        self.assertEqual(lost, 1)
        self.assertIn("target list lacks nodes registered before the POST: n2", out[0])
        self.assertIn("not in the leader's command list", out[0])

    def test_refused_and_unknown_posts_are_not_required(self):
        a = [attempt("x", ["n1"], status=503), attempt("y", ["n1"], status=0)]
        self.assertEqual(ds.check(a, {}, {}, {}, {}, None), (0, []))

    def test_double_execution_and_unissued(self):
        out = ds.check_executions({("n1", "soak-t"): ["1-a", "7-b"], ("n2", "soak-t"): ["1-a"]},
                                  [("n3", "9-z", "other")])
        self.assertEqual(len(out), 2)
        self.assertIn("node n1 executed soak-t under 2 ids 1-a, 7-b", out[0])
        self.assertIn("n3 received 9-z", out[1])


def cm(name, rv, epoch, scope="s1", holder="r1"):
    return {"metadata": {"name": name, "resourceVersion": str(rv)},
            "data": {"value": json.dumps({"writer": {"scope": scope, "epoch": epoch,
                                                     "holder": holder}, "nodes": []})}}


class Watcher(unittest.TestCase):
    def watcher(self):
        kube = type("K", (), {"env": {}, "namespace": "ns"})()
        return ds.StateWatcher(kube, "L", threading.Event())

    def test_epochs_going_up_pass_and_a_decrease_fails(self):
        w = self.watcher()
        name = ds.state_prefix("L") + "commands"
        for rv, ep in ((1, 3), (2, 3), (3, 5), (3, 5)):  # a repeated version is seen once
            w.see(cm(name, rv, ep))
        w.see(cm("other-configmap", 9, 1))
        w.see(cm(name, 10, 1, scope="s2"))  # a new scope (Lease re-created) starts afresh
        self.assertEqual(w.problems(), [])
        self.assertIn("commands 4 versions, 3 writer terms", w.summary())
        w.see(cm(name, 4, 4, holder="r2"))
        p = w.problems()
        self.assertEqual(len(p), 1)
        self.assertIn(f"DEPOSED write: {name} version 4 written by r2 epoch s1/4 after version 3 "
                      "by r1 epoch s1/5", p[0])

    def test_a_value_without_writer_fails(self):
        w = self.watcher()
        w.see({"metadata": {"name": ds.state_prefix("L") + "nodes", "resourceVersion": "1"},
               "data": {"value": "{}"}})
        self.assertEqual(len(w.problems()), 1)
        self.assertIn("no readable writer", w.problems()[0])


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(HERE, "..", "lib"))
    from ctest_main import main  # noqa: E402
    main()
