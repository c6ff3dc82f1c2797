#!/usr/bin/env python3
"""Every rendering of the values matrix applied to the real test kube-apiserver
(tests/kube) with `kubectl apply --dry-run=server --validate=strict`: the
server's own schemas, defaulting, admission and RBAC escalation checks see
each object; an unknown or misplaced field fails. Plus `helm install
--dry-run=server`, which also renders NOTES.txt.

Environment: PGDC_KUBE_ENV (an environment started by tests/kube/kube-env.sh),
HELM_BIN (else build-helm.sh --print-env), PGDC_TMP.
"""
import json
import os
import subprocess
import sys
import unittest


sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "kube"))
import helm_common as h  # noqa: E402
import lease_daemon_test as kube  # noqa: E402  (load_env, kubectl: reused)

KENV = kube.KENV


@unittest.skipUnless(KENV, "no kube environment (PGDC_KUBE_ENV)")
class ServerDryRun(unittest.TestCase):
    def apply_dry_run(self, manifest):
        r = subprocess.run(
            [KENV["KUBECTL"], "--kubeconfig", KENV["KUBECONFIG_ADMIN"], "apply", "--dry-run=server",
             "--validate=strict", "-o", "json", "-f", "-"],
            input=manifest, capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout)
        return out["items"] if out.get("kind") == "List" else [out]

    def test_every_valid_case_is_accepted_by_the_api_server(self):
        cases = h.valid_cases()
        for case in cases:
            with self.subTest(case=case):
                manifest = h.template(case, namespace=KENV["KUBE_NAMESPACE"]).stdout
                rendered = h.load_all(manifest)
                applied = self.apply_dry_run(manifest)
                self.assertEqual(sorted((o["kind"], o["metadata"]["name"]) for o in applied),
                                 sorted((o["kind"], o["metadata"]["name"]) for o in rendered))
                # The server kept what matters (nothing dropped as unknown).
                dep = next(o for o in applied if o["kind"] == "Deployment")
                pod = dep["spec"]["template"]["spec"]
                self.assertEqual(pod["securityContext"]["seccompProfile"], {"type": "RuntimeDefault"})
                if dep["spec"]["replicas"] > 1:
                    self.assertEqual(len(pod["topologySpreadConstraints"]), 2)
                    self.assertEqual(pod["topologySpreadConstraints"][0]["matchLabelKeys"], ["pod-template-hash"])

    def test_strict_validation_rejects_unknown_fields(self):
        # Proves the check above has teeth: a misplaced field is an error.
        manifest = h.template("defaults", namespace=KENV["KUBE_NAMESPACE"]).stdout.replace(
            "enableServiceLinks: false", "enableServiceLinks: false\n      bogusField: 1")
        r = subprocess.run(
            [KENV["KUBECTL"], "--kubeconfig", KENV["KUBECONFIG_ADMIN"], "apply", "--dry-run=server",
             "--validate=strict", "-f", "-"], input=manifest, capture_output=True, text=True, timeout=120)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('unknown field "spec.template.spec.bogusField"', r.stderr)

    def test_overrides_are_accepted_by_the_api_server(self):
        for sets in (["control.config.leader.namespace=" + KENV["KUBE_NAMESPACE"]],
                     ["control.updateStrategy.type=Recreate", "control.image.digest=sha256:" + "a" * 64],
                     ["control.config.listen=[::]:9090", "service.type=NodePort"]):
            with self.subTest(sets=sets):
                self.apply_dry_run(h.template("leader-label", sets, namespace=KENV["KUBE_NAMESPACE"]).stdout)

    def test_helm_install_dry_run_server_and_notes(self):
        r = h.helm("install", "notes", h.CHART, "-n", KENV["KUBE_NAMESPACE"], "--dry-run=server",
                   "-f", os.path.join(h.VALUES_DIR, "ha.yaml"), kubeconfig=KENV["KUBECONFIG_ADMIN"])
        notes = r.stdout.split("NOTES:", 1)[1]
        ns = KENV["KUBE_NAMESPACE"]
        self.assertIn(f"kubectl -n {ns} get lease pgdc-helm-ha -o jsonpath='{{.spec.holderIdentity}}", notes)
        self.assertIn(f"kubectl -n {ns} port-forward svc/notes-pgdog-control 8080:80", notes)
        self.assertIn("curl -s http://127.0.0.1:8080/api/status", notes)
        self.assertIn("Upgrades replace\nall pods at once", notes)
        self.assertIn("On a fresh install the first\nleader is Ready one lease duration", notes)
        r = h.helm("install", "notes", h.CHART, "-n", ns, "--dry-run=server",
                   "-f", os.path.join(h.VALUES_DIR, "leader-label.yaml"), kubeconfig=KENV["KUBECONFIG_ADMIN"])
        notes = r.stdout.split("NOTES:", 1)[1]
        self.assertIn(f"kubectl -n {ns} get pods -l {h.LEADER_LABEL}=true", notes)
        self.assertIn("without an outage", notes)
        r = h.helm("install", "notes", h.CHART, "-n", ns, "--dry-run=server",
                   "-f", os.path.join(h.VALUES_DIR, "ha-default.yaml"), kubeconfig=KENV["KUBECONFIG_ADMIN"])
        notes = r.stdout.split("NOTES:", 1)[1]
        self.assertIn("(3 replicas, routing: leader-label (auto))", notes)
        self.assertIn(f"kubectl -n {ns} get pods -l {h.LEADER_LABEL}=true", notes)
        r = h.helm("install", "notes", h.CHART, "-n", ns, "--dry-run=server", kubeconfig=KENV["KUBECONFIG_ADMIN"])
        self.assertIn("Leader election is off", r.stdout)
        self.assertIn("(1 replica, routing: readiness (auto))", r.stdout)


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
    from ctest_main import main  # noqa: E402
    main()
