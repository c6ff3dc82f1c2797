#!/usr/bin/env python3
"""`helm upgrade` of a 3-replica install, rolled out by the REAL Deployment,
ReplicaSet and EndpointSlice controllers (kube-controller-manager against the
test kube-apiserver), each Pod run as a real pgdog-control process by a fake
scheduler + kubelet (rollout_cluster.py) with the chart's own config and
ServiceAccount.

What is asserted (behaviour, not timing):
- the chart's defaults for control.replicas: 3 give a rollout that keeps the
  leader's Pod until last (pod-deletion-cost), whose SIGTERM hands over to an
  updated replica: exactly ONE leadership change per rollout;
- never two leaders: no two replicas' readiness intervals overlap;
- afterwards: 3 updated Pods, one leader, the Service's EndpointSlice has
  exactly that Pod as its one ready endpoint.

What is measured and printed (docs/benchmarks.md, "Rolling upgrade"):
leadership changes per rollout, and how long the Service had no ready
endpoint (from the EndpointSlice watch), per rollout.

Environment: PGDC_BIN, PGDC_KUBE_ENV, HELM_BIN, PGDC_TMP,
KUBE_CONTROLLER_MANAGER_BIN (else from tests/kube/build-tools.sh),
PGDC_ROLLOUT_ROUNDS (rollouts per run, default 2).
"""
import os
import sys
import time
import unittest

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "kube"))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import cluster_case as cc  # noqa: E402
import helm_common as h  # noqa: E402

KENV = cc.KENV
ROUNDS = int(os.environ.get("PGDC_ROLLOUT_ROUNDS", "2"))


class Rollout(cc.ClusterCase):
    def test_helm_upgrade_moves_leadership_once_and_never_to_two(self):
        figures = []
        for round_no in range(1, ROUNDS + 1):
            t0 = time.time()
            h.helm("upgrade", cc.RELEASE, h.CHART, "-n", self.ns, "--reuse-values", "--set",
                   f"control.podAnnotations.rollout=r{round_no}", kubeconfig=KENV["KUBECONFIG_ADMIN"])
            self.wait(f"rollout {round_no}", self.rolled_out, timeout=180)
            time.sleep(1.0)  # late watch events of the last step
            t1 = time.time()
            changes = self.timeline.leadership_changes(t0, t1)
            gaps = self.timeline.no_endpoint_gaps(t0, t1)
            no_endpoint = sum(e - s for s, e in gaps)
            figures.append((len(changes), no_endpoint, max((e - s for s, e in gaps), default=0.0), t1 - t0))
            print(f"rollout {round_no}: {len(changes)} leadership change(s) "
                  f"{[(c[1], c[2]) for c in changes]}, no ready endpoint for "
                  f"{no_endpoint * 1000:.0f} ms in {len(gaps)} gap(s), took {t1 - t0:.1f} s", flush=True)
            self.assertEqual(len(changes), 1, f"rollout {round_no}: leadership changes {changes}")
            pods = self.api.get(f"/api/v1/namespaces/{self.ns}/pods")["items"]
            hashes = {p["metadata"]["labels"].get("pod-template-hash") for p in pods}
            self.assertEqual(len(hashes), 1, "all pods of the new ReplicaSet")
            self.assertEqual(self.timeline.ready_now(), [changes[0][2]],
                             "the Service's one ready endpoint is the new leader's Pod")

        self.check_never_two()
        n = len(figures)
        print(f"rollouts: {n}; leadership changes per rollout: "
              f"{sum(f[0] for f in figures) / n:.2f}; no ready endpoint per rollout: mean "
              f"{sum(f[1] for f in figures) / n * 1000:.0f} ms, max "
              f"{max(f[1] for f in figures) * 1000:.0f} ms; rollout took mean "
              f"{sum(f[3] for f in figures) / n:.1f} s", flush=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
