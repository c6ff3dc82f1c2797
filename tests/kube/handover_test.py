#!/usr/bin/env python3
"""Switchover (ABI 1.4 transfer) of the Kubernetes plugin against a real
kube-apiserver and etcd (tests/kube/kube-env.sh).

pgdc_kube_handover_driver loads the plugin as the daemon does, runs three
instances in one process (one clock for every report), and asks the leader
to transfer to the next instance, round after round. Checked: every
transfer succeeds, the target (and nobody else) takes over, epochs strictly
increase, and no two instances' leader intervals (LEADER report until the
next FOLLOWER report or valid_until) overlap. The driver prints the handover
latency (transfer called -> the target reports LEADER): p50/p99, figures
only (PGDC_HANDOVER_ROUNDS sets the rounds; 50 for a benchmark).

Also recorded: what this API server does with spec.preferredHolder (the
plugin reads the annotation pgdog.dev/preferred-holder when the server drops
the field, as it does while the CoordinatedLeaderElection gate is off).

Environment: PGDC_HANDOVER_DRIVER, PGDC_KUBE_PLUGIN, PGDC_KUBE_ENV.
"""
import json
import os
import subprocess
import sys
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
from lease_daemon_test import KENV, get_lease, kubectl  # noqa: E402

DRIVER = os.environ.get("PGDC_HANDOVER_DRIVER", "")
PLUGIN = os.environ.get("PGDC_KUBE_PLUGIN", "")
ROUNDS = int(os.environ.get("PGDC_HANDOVER_ROUNDS", "8"))


class HandoverTest(unittest.TestCase):
    def setUp(self):
        self.lease = "h-" + uuid.uuid4().hex[:10]

    def tearDown(self):
        kubectl("delete", "lease", self.lease, "--ignore-not-found", check=False)

    def run_driver(self, replicas, rounds):
        config = {"identity": "pod", "lease_name": self.lease,
                  "namespace": KENV["KUBE_NAMESPACE"], "lease_duration_ms": 4000,
                  "renew_deadline_ms": 3000, "lease_interval_ms": 1000,
                  "release_timeout_ms": 2000,
                  "options": {"kubeconfig": KENV["KUBECONFIG_ELECTOR_1"], "watch": True,
                              "events": False}}
        r = subprocess.run([DRIVER, PLUGIN, json.dumps(config), str(replicas), str(rounds)],
                           capture_output=True, text=True, timeout=600)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr[-4000:])
        return json.loads(r.stdout), r.stderr

    def test_api_server_drops_the_preferred_holder_spec_field(self):
        # What the plugin relies on: a server with the gate off keeps the
        # annotation and drops spec.preferredHolder (and spec.strategy).
        lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                 "metadata": {"name": self.lease,
                              "annotations": {"pgdog.dev/preferred-holder": "pod-1"}},
                 "spec": {"holderIdentity": "", "preferredHolder": "pod-1",
                          "strategy": "OldestEmulationVersion"}}
        kubectl("create", "-f", "-", input=json.dumps(lease))
        got = get_lease(self.lease)
        print(f"\nAPI server stored spec {json.dumps(got['spec'])}", file=sys.stderr)
        self.assertNotIn("preferredHolder", got["spec"])
        self.assertEqual(got["metadata"]["annotations"]["pgdog.dev/preferred-holder"], "pod-1")

    def test_transfer_moves_leadership_to_the_target_and_never_to_two(self):
        out, logs = self.run_driver(3, ROUNDS)
        self.assertEqual(out["violations"], [], logs[-4000:])
        self.assertEqual(out["refusals"], {"from_follower": "conflict", "to_self": "conflict"})
        self.assertEqual(len(out["rounds"]), ROUNDS)
        epochs = []
        for row in out["rounds"]:
            self.assertEqual(row["status"], "ok", row)
            self.assertEqual(row["new_leader"], row["to"], row)
            epochs.append(row["epoch"])
        self.assertEqual(epochs, sorted(set(epochs)), "epochs strictly increase")
        print(f"\nhandover latency over {ROUNDS} rounds (transfer -> target LEADER): "
              f"p50 {out['p50_ms']:.1f} ms, p99 {out['p99_ms']:.1f} ms, "
              f"max {out['max_ms']:.1f} ms", file=sys.stderr)
        # The instances stopped with a release: no preference lingers.
        lease = get_lease(self.lease)
        annotations = lease["metadata"].get("annotations", {})
        self.assertNotIn("pgdog.dev/preferred-holder", annotations)

    def test_two_replicas_hand_back_and_forth(self):
        out, logs = self.run_driver(2, 4)
        self.assertEqual(out["violations"], [], logs[-4000:])
        self.assertEqual([r["new_leader"] for r in out["rounds"]],
                         [r["to"] for r in out["rounds"]])


if __name__ == "__main__":
    if not (KENV and DRIVER and PLUGIN):
        print("SKIP: no kube environment (PGDC_KUBE_ENV) or driver")
        raise SystemExit(77)
    unittest.main(verbosity=2)
