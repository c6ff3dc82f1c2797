#!/usr/bin/env python3
"""The Kubernetes plugin's state store (ABI 1.3) against a real kube-apiserver
and etcd (tests/kube/kube-env.sh): state objects are ConfigMaps
<lease>-state-<key>, and resourceVersion is the compare-and-swap version.

Each operation goes through pgdc_kube_state_driver, which loads the plugin
as the daemon does and calls state_read / state_write; two driver runs are
two writers (a new leader and a deposed one). The user state-1 is bound, per
test, to a Role with the rules helm/pgdog-control/templates/rbac.yaml renders
for that test's Lease and one deployment (tests/helm/chart_render_test.py
asserts the chart renders exactly these), so "works with the chart's RBAC" is
what is checked, not "works as admin".

Environment: PGDC_STATE_DRIVER, PGDC_KUBE_PLUGIN, PGDC_KUBE_ENV.
"""
import hashlib
import json
import os
import subprocess
import sys
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
from lease_daemon_test import ENV_DIR, KENV, kubectl  # noqa: E402

DRIVER = os.environ.get("PGDC_STATE_DRIVER", "")
PLUGIN = os.environ.get("PGDC_KUBE_PLUGIN", "")
MAX_VALUE = 786432  # PGDC_STATE_MAX_VALUE


def fleet_key(deployment, kind):
    """The core's key for a deployment's state object."""
    return f"fleet-{hashlib.sha256(deployment.encode()).hexdigest()[:12]}-{kind}"


def chart_rules(lease, deployments):
    """The Role rules the chart renders for the kubernetes backend."""
    names = [f"{lease}-state-{fleet_key(d, k)}" for d in deployments for k in ("nodes", "commands")]
    return [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "resourceNames": [lease],
         "verbs": ["get", "update", "watch", "list"]},
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
         "verbs": ["get", "list", "update", "delete"]},
        {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]},
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]},
        {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": names,
         "verbs": ["get", "update"]},
    ]


@unittest.skipUnless(KENV and DRIVER and PLUGIN, "no kube environment (PGDC_KUBE_ENV) or driver")
class StateStore(unittest.TestCase):
    def setUp(self):
        self.lease = "s-" + uuid.uuid4().hex[:10]
        self.key = fleet_key("shop", "nodes")
        self.name = f"{self.lease}-state-{self.key}"
        self.role = None

    def tearDown(self):
        if self.role:
            kubectl("delete", "role,rolebinding", self.role, "--ignore-not-found", check=False)
        kubectl("delete", "configmap", "-l", f"pgdog.dev/lease={self.lease}", "--ignore-not-found",
                check=False)

    def bind_chart_role(self, deployments=("shop",)):
        """state-1 gets exactly the chart's rules for this Lease."""
        self.role = "pgdc-state-" + self.lease
        role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                "metadata": {"name": self.role}, "rules": chart_rules(self.lease, deployments)}
        binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                   "metadata": {"name": self.role},
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                               "name": self.role},
                   "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User",
                                 "name": "state-1"}]}
        kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List",
                                                      "items": [role, binding]}))
        # The authorizer sees new bindings through an informer: wait until it applies.
        deadline = time.monotonic() + 30
        while kubectl("auth", "can-i", "update", f"configmaps/{self.name}", user="STATE_1",
                      check=False).stdout.strip() != "yes":
            self.assertLess(time.monotonic(), deadline, "RBAC for state-1 not effective")
            time.sleep(0.2)

    def run_ops(self, ops, user="STATE_1", identity="writer-a"):
        config = {"identity": identity, "lease_name": self.lease,
                  "namespace": KENV["KUBE_NAMESPACE"], "lease_duration_ms": 4000,
                  "renew_deadline_ms": 3000, "lease_interval_ms": 1000,
                  "release_timeout_ms": 2000,
                  "options": {"kubeconfig": KENV[f"KUBECONFIG_{user}"], "watch": False,
                              "events": False}}
        r = subprocess.run([DRIVER, PLUGIN, json.dumps(config)], input=json.dumps(ops),
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual(len(out["results"]), len(ops))
        return out

    def op(self, op, user="STATE_1", identity="writer-a"):
        return self.run_ops([op], user, identity)["results"][0]

    def read(self, **kw):
        return self.op({"op": "read", "key": self.key}, **kw)

    def write(self, value, expected="", **kw):
        return self.op({"op": "write", "key": self.key, "value": value, "expected": expected}, **kw)

    def configmap(self):
        r = kubectl("get", "configmap", self.name, "-o", "json", check=False)
        return json.loads(r.stdout) if r.returncode == 0 else None

    # ------------------------------------------------------------------ the fence

    def test_create_if_absent_then_a_second_create_conflicts(self):
        self.bind_chart_role()
        self.assertEqual(self.read()["status"], "ok")
        self.assertFalse(self.read()["found"])
        first = self.write('{"term":1}')
        self.assertEqual(first["status"], "ok", first["error"])
        self.assertTrue(first["version"])
        second = self.write('{"term":2}', identity="writer-b")
        self.assertEqual(second["status"], "conflict", second)
        got = self.read()
        self.assertEqual((got["value"], got["version"]), ('{"term":1}', first["version"]))
        cm = self.configmap()
        self.assertEqual(cm["data"]["value"], '{"term":1}')
        self.assertEqual(cm["metadata"]["resourceVersion"], first["version"])
        self.assertEqual(cm["metadata"]["labels"], {"app.kubernetes.io/managed-by": "pgdog-control",
                                                    "pgdog.dev/lease": self.lease})
        self.assertEqual(cm["metadata"]["annotations"]["pgdog.dev/state-key"], self.key)

    def test_a_deposed_writer_is_refused_after_another_writer_wrote(self):
        self.bind_chart_role()
        v1 = self.write('{"epoch":1}', identity="old-leader")["version"]
        # The new leader reads and claims the object with its epoch...
        seen = self.read(identity="new-leader")
        self.assertEqual(seen["version"], v1)
        claim = self.write('{"epoch":2}', expected=v1, identity="new-leader")
        self.assertEqual(claim["status"], "ok", claim["error"])
        self.assertNotEqual(claim["version"], v1)
        # ... so the old leader's write against the version it saw is refused.
        stale = self.write('{"epoch":1,"more":true}', expected=v1, identity="old-leader")
        self.assertEqual(stale["status"], "conflict", stale)
        self.assertEqual(self.read()["value"], '{"epoch":2}')
        # The new leader goes on against the version it last saw.
        again = self.write('{"epoch":2,"n":2}', expected=claim["version"], identity="new-leader")
        self.assertEqual(again["status"], "ok", again["error"])

    def test_an_admin_label_edit_moves_the_version_so_the_next_cas_conflicts(self):
        self.bind_chart_role()
        v1 = self.write('{"a":1}')["version"]
        kubectl("label", "configmap", self.name, "team=db")
        self.assertEqual(self.write('{"a":2}', expected=v1)["status"], "conflict")
        now = self.read()
        self.assertEqual(now["value"], '{"a":1}', "the edit changed no data")
        self.assertNotEqual(now["version"], v1)
        after = self.write('{"a":2}', expected=now["version"])
        self.assertEqual(after["status"], "ok", after["error"])

    def test_an_admin_delete_makes_a_cas_update_conflict(self):
        self.bind_chart_role()
        v1 = self.write('{"a":1}')["version"]
        kubectl("delete", "configmap", self.name)
        cas = self.write('{"a":2}', expected=v1)
        self.assertEqual(cas["status"], "conflict", cas)
        self.assertIsNone(self.configmap(), "a CAS update never re-creates the object")
        self.assertFalse(self.read()["found"])

    # ------------------------------------------------------------------ sizes

    def test_the_largest_value_round_trips_and_a_bigger_one_is_a_config_error(self):
        self.bind_chart_role()
        big = '"' + "x" * (MAX_VALUE - 2) + '"'
        self.assertEqual(len(big.encode()), MAX_VALUE)
        out = self.run_ops([
            {"op": "write", "key": self.key, "value": big},
            {"op": "read", "key": self.key},
            {"op": "write", "key": self.key, "value": big + " ", "expected": "x"},
        ])
        w, r, too_big = out["results"]
        self.assertEqual(w["status"], "ok", w["error"])
        self.assertEqual(r["value"], big)
        self.assertEqual(too_big["status"], "config", too_big)
        self.assertIn("too large", too_big["error"])
        # Refused before any request: one create and one get, nothing else.
        self.assertEqual(sum(v for k, v in out["requests"].items() if "/configmaps/" in k), 2,
                         out["requests"])

    # ------------------------------------------------------------------ cost and RBAC

    def test_each_operation_is_one_request_counted_by_the_plugin(self):
        self.bind_chart_role()
        out = self.run_ops([
            {"op": "read", "key": self.key},
            {"op": "write", "key": self.key, "value": "{}"},
            {"op": "read", "key": self.key},
        ])
        v = out["results"][2]["version"]
        out2 = self.run_ops([{"op": "write", "key": self.key, "value": "[]", "expected": v},
                             {"op": "write", "key": self.key, "value": "[1]", "expected": v}])
        self.assertEqual([x["status"] for x in out2["results"]], ["ok", "conflict"])
        cm = {k: v for k, v in out["requests"].items() if "/configmaps/" in k}
        self.assertEqual(cm, {"get/configmaps/404": 1, "create/configmaps/201": 1,
                              "get/configmaps/200": 1})
        cm2 = {k: v for k, v in out2["requests"].items() if "/configmaps/" in k}
        self.assertEqual(cm2, {"update/configmaps/200": 1, "update/configmaps/409": 1})
        print(f"configmap requests: {cm} then {cm2}")

    def test_the_chart_grants_only_the_declared_deployments_objects(self):
        self.bind_chart_role(deployments=("shop",))
        other = fleet_key("billing", "nodes")
        r = self.op({"op": "read", "key": other})
        self.assertEqual(r["status"], "unavailable")
        self.assertIn(f'configmaps "{self.lease}-state-{other}" get forbidden', r["error"])
        commands = self.op({"op": "write", "key": fleet_key("shop", "commands"), "value": "{}"})
        self.assertEqual(commands["status"], "ok", commands["error"])

    def test_without_configmap_permissions_the_error_names_the_permission(self):
        # narrow-1 may use its lease and events, not configmaps.
        r = self.read(user="NARROW_1")
        self.assertEqual(r["status"], "unavailable")
        self.assertIn(f'configmaps "{self.name}" get forbidden in namespace '
                      f'"{KENV["KUBE_NAMESPACE"]}"', r["error"])
        self.assertIn("grant get, update on configmaps", r["error"])
        w = self.write("{}", user="NARROW_1")
        self.assertEqual(w["status"], "unavailable")
        self.assertIn("create forbidden", w["error"])
        with open(os.path.join(ENV_DIR, "tokens", "elector-1")) as f:
            token = f.read().strip()
        self.assertNotIn(token, r["error"] + w["error"], "an error must never carry the token")


if __name__ == "__main__":
    if not (KENV and DRIVER and PLUGIN):
        print("SKIP: no kube environment (PGDC_KUBE_ENV) or driver")
        raise SystemExit(77)
    unittest.main(verbosity=2)
