#!/usr/bin/env python3
"""The pgdog-control chart rendered offline: `helm lint --strict` and
`helm template` over the values matrix in tests/helm/values/, each invalid
values file refused with its message, and assertions on the rendered objects
(RBAC, probes, env, grace period, spread, PDB, security, Service, Ingress, the
rendered daemon config and its checksum). No API server needed.

Environment: HELM_BIN (else build-helm.sh --print-env), PGDC_BIN (optional:
the rendered single-replica config is checked with `pgdog-control --check`),
PGDC_TMP.
"""
import hashlib
import math
import os
import subprocess
import sys
import unittest


sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import helm_common as h  # noqa: E402

SELECTOR = {"app.kubernetes.io/name": "pgdog-control", "app.kubernetes.io/instance": h.RELEASE}
STANDARD_LABELS = ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version",
                   "app.kubernetes.io/managed-by", "app.kubernetes.io/component",
                   "app.kubernetes.io/part-of", "helm.sh/chart")


def chart_app_version():
    with open(os.path.join(h.CHART, "Chart.yaml")) as f:
        return h.load(f.read())["appVersion"]


LEASE_RULES = lambda name: [  # noqa: E731
    {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
    {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "resourceNames": [name],
     "verbs": ["get", "update", "watch", "list"]},
    # The members: one Lease per replica, named after its pod (not narrowable).
    {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
     "verbs": ["get", "list", "update", "delete"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]},
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]},
]


def STATE_RULE(lease, deployments):
    """get, update on the state ConfigMaps of each deployment (docs/kubernetes.md#state-store),
    named as the core names them: fleet-<first 12 hex of sha256(name)>-nodes / -commands."""
    names = []
    for d in deployments:
        prefix = f"{lease}-state-fleet-{hashlib.sha256(d.encode()).hexdigest()[:12]}"
        names += [f"{prefix}-nodes", f"{prefix}-commands"]
    return {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": names,
            "verbs": ["get", "update"]}


POD_RULES = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "patch"]}]


def stop_work_timeout(leader):
    """The daemon's stop_work_timeout_secs for a rendered leader config (docs/configuration.md)."""
    if "stop_work_timeout_secs" in leader:
        return leader["stop_work_timeout_secs"]
    d = leader["lease_duration_secs"]
    deadline = leader.get("renew_deadline_secs", d - max(leader["lease_interval_secs"], max(1, d / 10)))
    return min(2, (d - deadline) / 2)


def default_grace(cfg):
    """The chart's default terminationGracePeriodSeconds: the whole shutdown path."""
    leader = cfg["leader"]
    drain_ms = cfg.get("http", {}).get("drain_timeout_ms", 5000)
    return (math.ceil(leader["release_timeout_secs"] + 2 * stop_work_timeout(leader))
            + math.ceil(drain_ms / 1000) + 6)


class Matrix(unittest.TestCase):
    """Every values file: lint, render, and the properties every install has."""

    def test_lint_strict_every_valid_case(self):
        cases = h.valid_cases()
        self.assertGreaterEqual(len(cases), 6)
        for case in cases:
            with self.subTest(case=case):
                r = h.helm("lint", "--strict", h.CHART, "--kube-version", h.KUBE_VERSION,
                           *h.values_args(case), check=False)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                self.assertIn("0 chart(s) failed", r.stdout)

    def test_every_invalid_case_is_refused_with_its_message(self):
        cases = h.invalid_cases()
        self.assertGreaterEqual(len(cases), 15)
        for case, expected in cases:
            with self.subTest(case=case):
                r = h.template(case, check=False)
                self.assertNotEqual(r.returncode, 0, f"{case} rendered:\n{r.stdout[:2000]}")
                self.assertIn(expected, r.stderr)
                lint = h.helm("lint", "--strict", h.CHART, "--kube-version", h.KUBE_VERSION,
                              *h.values_args(case), check=False)
                # helm lint runs templates in lint mode, where `fail` is only
                # logged ("[INFO] Fail: ..."); schema violations fail the lint.
                if lint.returncode == 0:
                    self.assertIn("Fail: " + expected, lint.stdout + lint.stderr, f"helm lint accepted {case}")

    def test_common_properties_of_every_valid_case(self):
        for case in h.valid_cases():
            with self.subTest(case=case):
                self.check_common(case, h.render(case))

    def check_common(self, case, objs):
        kinds = sorted(o["kind"] for o in objs)
        self.assertTrue({"ConfigMap", "Deployment", "Service"} <= set(kinds), kinds)
        for o in objs:
            labels = o["metadata"].get("labels", {})
            for key in STANDARD_LABELS:
                self.assertIn(key, labels, f"{o['kind']} {o['metadata']['name']} lacks label {key}")
            self.assertEqual(labels["app.kubernetes.io/managed-by"], "Helm")
            self.assertEqual(o["metadata"]["namespace"], h.NAMESPACE)

        dep = h.one(objs, "Deployment")
        spec, pod = dep["spec"], dep["spec"]["template"]["spec"]
        tpl_labels = dep["spec"]["template"]["metadata"]["labels"]
        self.assertEqual(spec["selector"]["matchLabels"], SELECTOR)
        self.assertLessEqual(SELECTOR.items(), tpl_labels.items())
        cfg = h.daemon_config(objs)
        leader = cfg["leader"]
        replicas = spec["replicas"]
        routing = dep["metadata"]["annotations"]["pgdog.dev/routing"]
        self.assertIn(routing, ("readiness", "leader-label"))

        # Config file: mounted read-only from the ConfigMap, named by PGDOG_CONTROL_CONFIG.
        c = h.container(dep)
        env = h.env_of(c)
        mounts = {m["name"]: m for m in c["volumeMounts"]}
        self.assertTrue(mounts["config"]["readOnly"])
        self.assertEqual(env["PGDOG_CONTROL_CONFIG"]["value"], mounts["config"]["mountPath"] + "/config.yaml")
        vols = {v["name"]: v for v in pod["volumes"]}
        self.assertEqual(vols["config"]["configMap"]["name"], h.one(objs, "ConfigMap")["metadata"]["name"])
        # Downward API.
        for name, path in (("POD_NAME", "metadata.name"), ("POD_NAMESPACE", "metadata.namespace"),
                           ("POD_IP", "status.podIP"), ("POD_UID", "metadata.uid")):
            self.assertEqual(env[name]["valueFrom"], {"fieldRef": {"fieldPath": path}}, name)

        # Ports and probes.
        self.assertEqual(c["ports"], [{"name": "http", "containerPort": 8080, "protocol": "TCP"}])
        self.assertEqual(c["livenessProbe"]["httpGet"], {"path": "/healthz", "port": "http"})
        self.assertEqual(c["livenessProbe"]["periodSeconds"], 10)
        ready_path = "/readyz" if routing == "readiness" else "/healthz"
        self.assertEqual(c["readinessProbe"]["httpGet"], {"path": ready_path, "port": "http"})
        self.assertEqual(c["readinessProbe"]["periodSeconds"], 2)
        self.assertEqual(c["readinessProbe"]["failureThreshold"], 1)

        # Security: non-root 1000, read-only root, no capabilities, seccomp, no escalation.
        psc = pod["securityContext"]
        self.assertEqual((psc["runAsNonRoot"], psc["runAsUser"], psc["seccompProfile"]),
                         (True, 1000, {"type": "RuntimeDefault"}))
        for ct in pod["containers"] + pod.get("initContainers", []):
            sc = ct["securityContext"]
            self.assertIs(sc["allowPrivilegeEscalation"], False, ct["name"])
            self.assertIs(sc["readOnlyRootFilesystem"], True, ct["name"])
            self.assertIs(sc["runAsNonRoot"], True, ct["name"])
            self.assertEqual(sc["runAsUser"], 1000, ct["name"])
            self.assertEqual(sc["capabilities"], {"drop": ["ALL"]}, ct["name"])
            self.assertEqual(sc["seccompProfile"], {"type": "RuntimeDefault"}, ct["name"])

        # Grace period: the whole shutdown path (stop work, release, drain) and a margin.
        grace = pod["terminationGracePeriodSeconds"]
        self.assertGreater(grace, leader["release_timeout_secs"] + stop_work_timeout(leader) + 5,
                           "comfortably above the release and the stop-work timeout")
        self.assertEqual(grace, default_grace(cfg))

        # Spread only with several replicas; PDB only for HA with leader-label routing.
        spread = pod.get("topologySpreadConstraints")
        pdbs = h.by_kind(objs, "PodDisruptionBudget")
        if replicas > 1:
            self.assertTrue(leader["enabled"], "several replicas need leader election")
            self.assertEqual(sorted(s["topologyKey"] for s in spread),
                             ["kubernetes.io/hostname", "topology.kubernetes.io/zone"])
            for s in spread:
                self.assertEqual(s["labelSelector"]["matchLabels"], SELECTOR)
                self.assertEqual(s["maxSkew"], 1)
                self.assertEqual(s["matchLabelKeys"], ["pod-template-hash"])
            self.assertEqual(len(pdbs), 1 if routing == "leader-label" else 0)
        else:
            self.assertIsNone(spread)
            self.assertEqual(pdbs, [])
        for pdb in pdbs:
            self.assertEqual(pdb["spec"]["selector"]["matchLabels"], SELECTOR)
            self.assertEqual(pdb["spec"]["maxUnavailable"], 1)
            self.assertEqual(pdb["spec"]["unhealthyPodEvictionPolicy"], "AlwaysAllow")

        # Rollout strategy: Recreate with a state volume, else by routing.
        vols = {v["name"]: v for v in pod["volumes"]}
        mounts = {m["name"]: m for m in c["volumeMounts"]}
        if "state_dir" in cfg:
            self.assertEqual(spec["strategy"], {"type": "Recreate"}, "two pods must never share state_dir")
            self.assertEqual(replicas, 1)
            self.assertFalse(leader["enabled"])
            self.assertEqual(mounts["state"], {"name": "state", "mountPath": cfg["state_dir"]})
            self.assertIn("persistentVolumeClaim", vols["state"])
        else:
            self.assertNotIn("state", vols)
            self.assertNotIn("state", mounts)
            self.assertEqual(h.by_kind(objs, "PersistentVolumeClaim"), [])
            ru = spec["strategy"]["rollingUpdate"]
            if routing == "leader-label":
                self.assertEqual((ru["maxSurge"], ru["maxUnavailable"]), (1, 0))
            else:
                self.assertEqual((ru["maxSurge"], ru["maxUnavailable"]), (0, "100%"))

        # Service: port 80 -> the container's http port; leader label in leader-label routing.
        services = h.by_kind(objs, "Service")
        svc = [s for s in services if "pgdog.dev/metrics" not in s["metadata"]["labels"]]
        self.assertEqual(len(svc), 1, [s["metadata"]["name"] for s in services])
        svc = svc[0]
        self.assertEqual(svc["spec"]["ports"], [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}])
        want_selector = dict(SELECTOR)
        if routing == "leader-label":
            want_selector[h.LEADER_LABEL] = "true"
        self.assertEqual(svc["spec"]["selector"], want_selector)
        # With several replicas, a headless Service over all of them (followers
        # included) so that every replica's /metrics can be scraped.
        metrics = [s for s in services if "pgdog.dev/metrics" in s["metadata"]["labels"]]
        if replicas > 1:
            self.assertEqual(len(metrics), 1, case)
            m = metrics[0]["spec"]
            self.assertEqual(m["clusterIP"], "None")
            self.assertIs(m["publishNotReadyAddresses"], True)
            self.assertEqual(m["selector"], SELECTOR, "the metrics Service must select every replica")
            self.assertEqual(m["ports"], svc["spec"]["ports"])
        else:
            self.assertEqual(metrics, [], case)

        # Service account and RBAC only with leader election.
        sas, roles = h.by_kind(objs, "ServiceAccount"), h.by_kind(objs, "Role")
        if leader["enabled"]:
            self.assertEqual(len(sas), 1)
            self.assertEqual(pod["serviceAccountName"], sas[0]["metadata"]["name"])
            self.assertIs(pod["automountServiceAccountToken"], True)
        else:
            self.assertEqual(sas, [])
            self.assertEqual(roles, [])
            self.assertEqual(h.by_kind(objs, "RoleBinding"), [])
            self.assertIs(pod["automountServiceAccountToken"], False)
        for role in roles:
            rb = [b for b in h.by_kind(objs, "RoleBinding") if b["metadata"]["name"] == role["metadata"]["name"]]
            self.assertEqual(len(rb), 1)
            self.assertEqual(rb[0]["roleRef"], {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                                "name": role["metadata"]["name"]})
            self.assertEqual(rb[0]["subjects"], [{"kind": "ServiceAccount", "name": pod["serviceAccountName"],
                                                  "namespace": h.NAMESPACE}])
        self.check_tokens(cfg, pod, c)

        # The pod-label option comes with leader-label routing only.
        self.assertEqual(leader.get("options", {}).get("pod_label"),
                         h.LEADER_LABEL if routing == "leader-label" else None)


    def check_tokens(self, cfg, pod, c):
        """No token in the ConfigMap; every token file the config names is a
        Secret key the chart mounts read-only, mode 0440 (never o+r), and
        every mounted key is named by the config."""
        def walk(node, path):
            if isinstance(node, dict):
                for k, v in node.items():
                    self.assertNotIn(k, ("tokens", "admin_tokens", "read_tokens"), f"inline tokens at {path}.{k}")
                    walk(v, f"{path}.{k}")
            elif isinstance(node, list):
                for i, v in enumerate(node):
                    walk(v, f"{path}[{i}]")
        walk(cfg, "config")
        api = cfg.get("api", {})
        files = [d["token_file"] for d in api.get("deployments", [])]
        for d in api.get("deployments", []):
            self.assertEqual(set(d), {"name", "token_file"}, d)
        files += [api.get("web", {})[k] for k in ("admin_token_file", "read_token_file") if k in api.get("web", {})]
        if "forward_secret_file" in api:
            files.append(api["forward_secret_file"])
        if api.get("forward_to_leader"):
            self.assertIn("forward_secret_file", api, "forwarding without the replicas' secret")
        vols = {v["name"]: v for v in pod["volumes"]}
        mounts = {m["name"]: m for m in c["volumeMounts"]}
        if not files:
            self.assertNotIn("tokens", vols)
            self.assertNotIn("tokens", mounts)
            return
        self.assertEqual(mounts["tokens"], {"name": "tokens", "mountPath": TOKENS_DIR, "readOnly": True})
        projected = vols["tokens"]["projected"]
        self.assertEqual(projected["defaultMode"], 0o440)
        mounted = []
        for src in projected["sources"]:
            self.assertEqual(set(src), {"secret"})
            self.assertTrue(src["secret"]["name"])
            self.assertNotIn("optional", src["secret"], "a missing Secret must keep the pod from starting")
            (item,) = src["secret"]["items"]
            self.assertNotIn("mode", item)
            mounted.append(TOKENS_DIR + "/" + item["path"])
        self.assertEqual(sorted(files), sorted(mounted), "token files and mounted Secret keys differ")


TOKENS_DIR = "/etc/pgdog-control/tokens"


class Cases(unittest.TestCase):
    """What each values file is for."""

    def test_defaults(self):
        objs = h.render("defaults")
        self.assertEqual(sorted(o["kind"] for o in objs), ["ConfigMap", "Deployment", "Service"])
        cfg = h.daemon_config(objs)
        # Exactly the leader settings users know, nothing else.
        self.assertEqual(cfg["leader"], {
            "enabled": False, "backend": "kubernetes", "lease_name": "pgdog-control",
            "lease_duration_secs": 15, "lease_interval_secs": 5, "release_timeout_secs": 5})
        self.assertEqual(cfg, {"listen": "0.0.0.0:8080", "leader": cfg["leader"],
                               "log": {"level": "info", "format": "text"}})
        dep = h.one(objs, "Deployment")
        self.assertEqual(dep["spec"]["replicas"], 1)
        self.assertEqual(h.container(dep)["image"], "ghcr.io/pgdogdev/pgdog-control:" + chart_app_version())
        # 5 s release + 2 x 2 s stop work + 5 s drain + 6 s.
        self.assertEqual(dep["spec"]["template"]["spec"]["terminationGracePeriodSeconds"], 20)
        self.assertEqual(dep["metadata"]["annotations"]["pgdog.dev/routing"], "readiness",
                         "a single replica keeps readiness routing")

    def test_rendered_configs_pass_the_daemons_check(self):
        binary = os.environ.get("PGDC_BIN", "")
        if not os.path.exists(binary):
            self.skipTest("PGDC_BIN not set")
        for i, sets in enumerate(([], ['json:control.config.listen="[::]:9090"',
                                       "control.config.leader.lease_duration_secs=2147483647",
                                       "json:control.config.leader.lease_interval_secs=0.25",
                                       "json:control.config.leader.renew_deadline_secs=1.5",
                                       "control.config.http.max_body_bytes=67108864",
                                       "control.config.log.format=json"],
                                      ['json:control.config.api={"web":{"read_access":"token"},"liveness":'
                                       '{"stale_after_secs":10,"evict_after_secs":120},'
                                       '"commands":{"max_wait_secs":20},"forward_to_leader":true}',
                                       'json:control.api.deployments=[{"name":"shop","existingSecret":"s"},'
                                       '{"name":"billing","existingSecret":"s","key":"billing"}]',
                                       "control.api.adminTokens.existingSecret=admin",
                                       "control.api.readTokens.existingSecret=read",
                                       "control.api.forwardSecret.existingSecret=forward"],
                                      ["control.persistence.enabled=true"])):
            with self.subTest(sets=sets):
                # The token files the config names, as the Secret volume would
                # hold them, under a scratch directory instead of the mount.
                tokens_dir = os.path.join(h.TMP, f"check-tokens-{i}")
                os.makedirs(tokens_dir, exist_ok=True)
                for n, name in enumerate(("deployment-shop", "deployment-billing", "web-admin", "web-read",
                                          "forward-secret")):
                    with open(os.path.join(tokens_dir, name), "w") as f:
                        if name == "forward-secret":  # one line, as the Secret holds it
                            f.write("the-replicas-forward-secret-0123456789\n")
                        else:
                            f.write(f"# rendered-config check\n{name}-token-0123456789abcdef{n}\n")
                    os.chmod(os.path.join(tokens_dir, name), 0o440)
                path = os.path.join(h.TMP, f"check-config-{i}.yaml")
                with open(path, "w") as f:
                    text = h.one(h.render("defaults", sets), "ConfigMap")["data"]["config.yaml"]
                    # state_dir, like the tokens, under the scratch directory.
                    text = text.replace("/var/lib/pgdog-control/state", os.path.join(h.TMP, f"check-state-{i}"))
                    f.write(text.replace(TOKENS_DIR + "/", tokens_dir + "/"))
                env = dict(os.environ, PGDOG_CONTROL_CONFIG=path, POD_NAME="pgdog-control-0",
                           POD_NAMESPACE=h.NAMESPACE)
                r = subprocess.run([binary, "--check"], capture_output=True, text=True, timeout=30, env=env)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                self.assertIn(f"configuration OK ({path})", r.stdout)
                self.assertNotIn("readable by every user", r.stderr)

    def test_api_tokens_come_from_secrets(self):
        objs = h.render("api")
        cfg = h.daemon_config(objs)
        self.assertEqual(cfg["api"], {
            "deployments": [{"name": "shop", "token_file": TOKENS_DIR + "/deployment-shop"},
                            {"name": "billing", "token_file": TOKENS_DIR + "/deployment-billing"}],
            "web": {"read_access": "token", "admin_token_file": TOKENS_DIR + "/web-admin",
                    "read_token_file": TOKENS_DIR + "/web-read"},
            "liveness": {"stale_after_secs": 10, "evict_after_secs": 120},
            "forward_to_leader": True,
            "forward_secret_file": TOKENS_DIR + "/forward-secret"})
        dep = h.one(objs, "Deployment")
        volumes = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}
        self.assertEqual(volumes["tokens"]["projected"], {"defaultMode": 0o440, "sources": [
            {"secret": {"name": "pgdog-shop-tokens", "items": [{"key": "tokens", "path": "deployment-shop"}]}},
            {"secret": {"name": "pgdog-control-tokens", "items": [{"key": "billing", "path": "deployment-billing"}]}},
            {"secret": {"name": "pgdog-control-tokens", "items": [{"key": "admin", "path": "web-admin"}]}},
            {"secret": {"name": "pgdog-control-tokens", "items": [{"key": "read", "path": "web-read"}]}},
            {"secret": {"name": "pgdog-control-forward", "items": [{"key": "secret", "path": "forward-secret"}]}}]})
        mounts = {m["name"]: m for m in h.container(dep)["volumeMounts"]}
        self.assertEqual(mounts["tokens"], {"name": "tokens", "mountPath": TOKENS_DIR, "readOnly": True})
        # Without a token source nothing is mounted.
        plain = h.one(h.render("defaults"), "Deployment")
        self.assertNotIn("tokens", [v["name"] for v in plain["spec"]["template"]["spec"]["volumes"]])

    def test_no_token_reaches_a_configmap(self):
        # Every way a token could be put into the values: each is refused, and
        # no rendering that succeeds holds it.
        token = "never-in-a-configmap-0123456789abcdef"
        attempts = [
            ['json:control.config.api={"deployments":[{"name":"shop","tokens":["%s"]}]}' % token],
            ['json:control.config.api={"web":{"admin_tokens":["%s"]}}' % token],
            ['json:control.config.api={"web":{"read_tokens":["%s"]}}' % token],
        ]
        for sets in attempts:
            with self.subTest(sets=sets):
                r = h.template("defaults", sets, check=False)
                self.assertNotEqual(r.returncode, 0)
                self.assertIn("the chart never writes a token into the ConfigMap", r.stderr)
                self.assertNotIn(token, r.stdout)
        for case in h.valid_cases():
            with self.subTest(case=case):
                for cm in h.by_kind(h.render(case), "ConfigMap"):
                    text = str(cm["data"])
                    self.assertNotRegex(text, r"\b(admin_|read_)?tokens:", case)

    def test_token_secret_keys_default_to_tokens(self):
        objs = h.render("defaults", ['json:control.api.deployments=[{"name":"a.b_c-1","existingSecret":"s"}]',
                                     "control.api.readTokens.existingSecret=r",
                                     "control.api.readTokens.key="])
        sources = h.one(objs, "Deployment")["spec"]["template"]["spec"]["volumes"]
        (vol,) = [v for v in sources if v["name"] == "tokens"]
        self.assertEqual([s["secret"]["items"][0] for s in vol["projected"]["sources"]],
                         [{"key": "tokens", "path": "deployment-a.b_c-1"}, {"key": "tokens", "path": "web-read"}])

    def test_routing_defaults_to_leader_label_with_several_replicas(self):
        # control.routing left at auto: three replicas electing through the
        # kubernetes plugin get leader-label routing and a rollout that keeps
        # a Ready leader.
        objs = h.render("ha-default")
        dep = h.one(objs, "Deployment")
        self.assertEqual(dep["metadata"]["annotations"]["pgdog.dev/routing"], "leader-label")
        self.assertEqual(dep["spec"]["strategy"], {"type": "RollingUpdate",
                                                   "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}})
        self.assertEqual(h.container(dep)["readinessProbe"]["httpGet"]["path"], "/healthz")
        svc = [s for s in h.by_kind(objs, "Service") if "pgdog.dev/metrics" not in s["metadata"]["labels"]]
        self.assertEqual(svc[0]["spec"]["selector"], dict(SELECTOR, **{h.LEADER_LABEL: "true"}))
        self.assertEqual(h.daemon_config(objs)["leader"]["options"], {"pod_label": h.LEADER_LABEL})
        # The labeler's (and the pod-deletion-cost annotation's) permission: patch pods.
        self.assertEqual(h.one(objs, "Role")["rules"], LEASE_RULES("pgdog-control") + POD_RULES)
        self.assertEqual(len(h.by_kind(objs, "PodDisruptionBudget")), 1)
        self.assertEqual(dep["spec"]["template"]["spec"]["terminationGracePeriodSeconds"], 20)
        # The same with two replicas (chart_dry_run_test checks the NOTES).
        two = h.render("ha-default", ["control.replicas=2"])
        self.assertEqual(h.one(two, "Deployment")["metadata"]["annotations"]["pgdog.dev/routing"], "leader-label")

    def test_routing_default_keeps_readiness_for_one_replica_or_a_third_party_plugin(self):
        for case, sets in (("defaults", []),
                           ("defaults", ["control.config.leader.enabled=true"]),
                           ("ha-default", ["control.replicas=1"]),
                           ("third-party-plugin", [])):
            with self.subTest(case=case, sets=sets):
                objs = h.render(case, sets)
                dep = h.one(objs, "Deployment")
                self.assertEqual(dep["metadata"]["annotations"]["pgdog.dev/routing"], "readiness")
                self.assertEqual(dep["spec"]["strategy"]["rollingUpdate"], {"maxSurge": 0, "maxUnavailable": "100%"})
                self.assertNotIn("pod_label", h.daemon_config(objs)["leader"].get("options", {}))
                for role in h.by_kind(objs, "Role"):
                    self.assertNotIn(POD_RULES[0], role["rules"])

    def test_routing_explicit_choice_overrides_auto(self):
        # readiness with three replicas (ha.yaml), leader-label with one.
        dep = h.one(h.render("ha"), "Deployment")
        self.assertEqual(dep["metadata"]["annotations"]["pgdog.dev/routing"], "readiness")
        self.assertEqual(dep["spec"]["strategy"]["rollingUpdate"], {"maxSurge": 0, "maxUnavailable": "100%"})
        self.assertEqual(h.container(dep)["readinessProbe"]["httpGet"]["path"], "/readyz")
        objs = h.render("ha-default", ["control.replicas=1", "control.routing=leader-label"])
        dep = h.one(objs, "Deployment")
        self.assertEqual(dep["metadata"]["annotations"]["pgdog.dev/routing"], "leader-label")
        self.assertEqual(dep["spec"]["strategy"]["rollingUpdate"], {"maxSurge": 1, "maxUnavailable": 0})
        self.assertEqual(h.daemon_config(objs)["leader"]["options"], {"pod_label": h.LEADER_LABEL})
        # A third-party plugin that implements pod_label opts in explicitly.
        objs = h.render("third-party-plugin", ["control.routing=leader-label"])
        self.assertEqual(h.one(objs, "Deployment")["metadata"]["annotations"]["pgdog.dev/routing"], "leader-label")
        self.assertIn(POD_RULES[0], h.one(objs, "Role")["rules"])

    def test_ha_readiness_routing(self):
        objs = h.render("ha")
        cfg = h.daemon_config(objs)
        self.assertEqual(cfg["leader"], {
            "enabled": True, "backend": "kubernetes", "lease_name": "pgdc-helm-ha",
            "lease_duration_secs": 15, "lease_interval_secs": 5, "release_timeout_secs": 5})
        self.assertEqual(h.one(objs, "Role")["rules"], LEASE_RULES("pgdc-helm-ha"))
        self.assertEqual(h.by_kind(objs, "PodDisruptionBudget"), [],
                         "only the leader is Ready in readiness routing: a budget would block draining it")
        dep = h.one(objs, "Deployment")
        self.assertEqual(dep["spec"]["replicas"], 3)
        spread = {s["topologyKey"]: s["whenUnsatisfiable"] for s in dep["spec"]["template"]["spec"]["topologySpreadConstraints"]}
        self.assertEqual(spread, {"topology.kubernetes.io/zone": "ScheduleAnyway",
                                  "kubernetes.io/hostname": "DoNotSchedule"})

    def test_leader_label_routing(self):
        objs = h.render("leader-label")
        cfg = h.daemon_config(objs)
        self.assertEqual(cfg["leader"], {
            "enabled": True, "backend": "kubernetes", "lease_name": "pgdog-control",
            "lease_duration_secs": 6, "lease_interval_secs": 1, "release_timeout_secs": 3,
            "options": {"pod_label": h.LEADER_LABEL, "watch_timeout_secs": 60}})
        self.assertEqual(h.one(objs, "Role")["rules"], LEASE_RULES("pgdog-control") + POD_RULES)
        self.assertEqual(len(h.by_kind(objs, "PodDisruptionBudget")), 1)
        # 3 s release + 2 x 0.5 s stop work + 5 s drain + 6 s.
        self.assertEqual(h.one(objs, "Deployment")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"], 15)

    def test_service_monitor_scrapes_every_replica(self):
        objs = h.render("ha", ["metrics.serviceMonitor.enabled=true",
                               "metrics.serviceMonitor.labels.release=prom"])
        sm = h.one(objs, "ServiceMonitor")
        self.assertEqual(sm["apiVersion"], "monitoring.coreos.com/v1")
        self.assertEqual(sm["metadata"]["labels"]["release"], "prom")
        metrics = [s for s in h.by_kind(objs, "Service") if "pgdog.dev/metrics" in s["metadata"]["labels"]]
        self.assertEqual(len(metrics), 1)
        # It selects the metrics Service (every replica), not the leader-only one.
        labels = metrics[0]["metadata"]["labels"]
        for k, v in sm["spec"]["selector"]["matchLabels"].items():
            self.assertEqual(labels.get(k), v, k)
        self.assertEqual(sm["spec"]["endpoints"], [{"port": "http", "path": "/metrics",
                                                    "interval": "30s", "scrapeTimeout": "10s"}])
        self.assertEqual(sm["spec"]["namespaceSelector"], {"matchNames": [h.NAMESPACE]})
        # A single replica gets none unless asked, and the ServiceMonitor brings it.
        self.assertEqual(h.by_kind(h.render("defaults"), "ServiceMonitor"), [])
        single = h.render("defaults", ["metrics.serviceMonitor.enabled=true"])
        self.assertEqual(len(h.by_kind(single, "Service")), 2)
        off = h.render("ha", ["metrics.service.enabled=false"])
        self.assertEqual(len(h.by_kind(off, "Service")), 1)

    def test_third_party_plugin_from_an_init_container(self):
        objs = h.render("third-party-plugin")
        cfg = h.daemon_config(objs)
        self.assertEqual(cfg["leader"]["backend"], "/opt/pgdog-control/plugins/etcd.so")
        self.assertEqual(cfg["leader"]["options"], {"endpoints": ["http://etcd.db.svc:2379"]})
        pod = h.one(objs, "Deployment")["spec"]["template"]["spec"]
        (init,) = pod["initContainers"]
        self.assertEqual(init["image"], "registry.example.com/pgdog-control-etcd:1.0.0")
        self.assertEqual(init["command"], ["cp", "-R", "/usr/lib/pgdog-control/plugins/.", "/opt/pgdog-control/plugins"])
        self.assertEqual(init["volumeMounts"], [{"name": "plugins", "mountPath": "/opt/pgdog-control/plugins"}])
        vols = {v["name"]: v for v in pod["volumes"]}
        self.assertIn("emptyDir", vols["plugins"])
        mounts = {m["name"]: m for m in h.container(h.one(objs, "Deployment"))["volumeMounts"]}
        self.assertEqual(mounts["plugins"], {"name": "plugins", "mountPath": "/opt/pgdog-control/plugins", "readOnly": True})
        # No Lease permissions for a backend that does not use Leases; only the extra rules.
        self.assertEqual(h.one(objs, "Role")["rules"], [
            {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["etcd-client-cert"], "verbs": ["get"]}])

    def test_persistence_single_replica(self):
        objs = h.render("persistence")
        (pvc,) = h.by_kind(objs, "PersistentVolumeClaim")
        self.assertEqual(pvc["metadata"]["name"], "pgdog-control-state")
        self.assertEqual(pvc["spec"], {"accessModes": ["ReadWriteOnce"], "storageClassName": "fast-ssd",
                                       "resources": {"requests": {"storage": "5Gi"}}})
        self.assertEqual(h.daemon_config(objs)["state_dir"], "/var/lib/pgdog-control/state")
        dep = h.one(objs, "Deployment")
        self.assertEqual(dep["spec"]["strategy"], {"type": "Recreate"})
        mounts = {m["name"]: m for m in h.container(dep)["volumeMounts"]}
        self.assertEqual(mounts["state"], {"name": "state", "mountPath": "/var/lib/pgdog-control/state"})
        vols = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}
        self.assertEqual(vols["state"], {"name": "state",
                                         "persistentVolumeClaim": {"claimName": "pgdog-control-state"}})

    def test_persistence_defaults_and_existing_claim(self):
        # The defaults: 1Gi, ReadWriteOnce, no storageClassName (the cluster's default class).
        objs = h.render("defaults", ["control.persistence.enabled=true"])
        (pvc,) = h.by_kind(objs, "PersistentVolumeClaim")
        self.assertEqual(pvc["spec"], {"accessModes": ["ReadWriteOnce"],
                                       "resources": {"requests": {"storage": "1Gi"}}})
        # An existing claim is mounted, and the chart makes none.
        objs = h.render("persistence-existing-claim")
        self.assertEqual(h.by_kind(objs, "PersistentVolumeClaim"), [])
        vols = {v["name"]: v for v in h.one(objs, "Deployment")["spec"]["template"]["spec"]["volumes"]}
        self.assertEqual(vols["state"]["persistentVolumeClaim"], {"claimName": "pgdog-control-state-prod"})
        self.assertEqual(h.daemon_config(objs)["state_dir"], "/var/lib/pgdog-control/state")
        # An explicit Recreate strategy is accepted as it is.
        dep = h.one(h.render("persistence", ["control.updateStrategy.type=Recreate"]), "Deployment")
        self.assertEqual(dep["spec"]["strategy"], {"type": "Recreate"})
        # Off: no claim, no state_dir, no volume (test_defaults checks the rest).
        self.assertNotIn("state_dir", h.daemon_config(h.render("defaults")))

    def test_third_party_plugin_from_a_volume(self):
        objs = h.render("third-party-volume")
        self.assertEqual(h.daemon_config(objs)["leader"]["backend"], "/plugins/consul.so")
        pod = h.one(objs, "Deployment")["spec"]["template"]["spec"]
        self.assertNotIn("initContainers", pod)
        vols = {v["name"]: v for v in pod["volumes"]}
        self.assertEqual(vols["plugins"]["persistentVolumeClaim"], {"claimName": "pgdog-control-plugins", "readOnly": True})
        self.assertEqual(h.by_kind(objs, "Role"), [])
        self.assertEqual(len(h.by_kind(objs, "ServiceAccount")), 1)

    def test_ingress(self):
        objs = h.render("ingress")
        ing = h.one(objs, "Ingress")
        self.assertEqual(ing["spec"]["ingressClassName"], "nginx")
        self.assertEqual(ing["spec"]["tls"], [{"secretName": "control-example-com-tls", "hosts": ["control.example.com"]}])
        (rule,) = ing["spec"]["rules"]
        self.assertEqual(rule["host"], "control.example.com")
        self.assertEqual(rule["http"]["paths"], [{"path": "/", "pathType": "Prefix", "backend": {
            "service": {"name": "pgdog-control", "port": {"name": "http"}}}}])
        dep = h.one(objs, "Deployment")
        self.assertEqual(h.container(dep)["image"], "ghcr.io/pgdogdev/pgdog-control:0.1.1")
        self.assertEqual(dep["metadata"]["labels"]["app.kubernetes.io/version"], "0.1.1")
        pod = dep["spec"]["template"]
        self.assertEqual(pod["metadata"]["annotations"]["prometheus.io/scrape"], "true")
        self.assertEqual(pod["spec"]["nodeSelector"], {"kubernetes.io/os": "linux"})
        self.assertEqual(pod["spec"]["tolerations"][0]["key"], "dedicated")
        self.assertEqual(h.container(dep)["resources"]["limits"], {"memory": "128Mi"})
        self.assertEqual(h.one(objs, "Service")["metadata"]["annotations"], {"example.com/owner": "db-team"})
        for case in ("defaults", "ha", "ha-default", "leader-label"):
            self.assertEqual(h.by_kind(h.render(case), "Ingress"), [], case)


class Overrides(unittest.TestCase):
    """Values given with --set, beyond the files."""

    def checksum(self, sets=()):
        dep = h.one(h.render("defaults", sets), "Deployment")
        return dep["spec"]["template"]["metadata"]["annotations"]["checksum/config"]

    def test_config_checksum_follows_the_config_only(self):
        base = self.checksum()
        self.assertRegex(base, r"^[0-9a-f]{64}$")
        self.assertEqual(self.checksum(), base, "stable across renders")
        self.assertNotEqual(self.checksum(["control.config.log.level=debug"]), base)
        self.assertNotEqual(self.checksum(["control.config.leader.lease_duration_secs=20"]), base)
        self.assertEqual(self.checksum(["control.podAnnotations.a=b", "control.image.tag=9.9.9"]), base,
                         "values outside the config must not roll the pods through the checksum")

    def test_config_checksum_is_the_sha256_of_the_rendered_config(self):
        objs = h.render("leader-label")
        text = h.one(objs, "ConfigMap")["data"]["config.yaml"]
        body = "\n".join(l for l in text.splitlines() if not l.startswith("#")).strip("\n")
        ann = h.one(objs, "Deployment")["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
        self.assertEqual(ann, hashlib.sha256(body.encode()).hexdigest())

    def test_grace_period_follows_release_stop_work_and_drain_or_is_set(self):
        pod = lambda sets: h.one(h.render("defaults", sets), "Deployment")["spec"]["template"]["spec"]  # noqa: E731
        # ceil(12.5 + 2 x 2) + 7 + 6
        self.assertEqual(pod(["json:control.config.leader.release_timeout_secs=12.5",
                              "control.config.http.drain_timeout_ms=7000"])["terminationGracePeriodSeconds"], 17 + 7 + 6)
        # An explicit stop-work timeout: ceil(5 + 2 x 1.2) + 5 + 6
        self.assertEqual(pod(["json:control.config.leader.stop_work_timeout_secs=1.2"])["terminationGracePeriodSeconds"],
                         8 + 5 + 6)
        self.assertEqual(pod(["control.terminationGracePeriodSeconds=60"])["terminationGracePeriodSeconds"], 60)
        # A set value must exceed release + stop work (5 + 2): 8 passes, 7 does not.
        self.assertEqual(pod(["control.terminationGracePeriodSeconds=8"])["terminationGracePeriodSeconds"], 8)
        r = h.template("defaults", ["control.terminationGracePeriodSeconds=7"], check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("must be greater than control.config.leader.release_timeout_secs + stop_work_timeout_secs "
                      "(5 + 2 = 7)", r.stderr)

    def test_optional_leader_keys_are_rendered_only_when_set(self):
        cfg = h.daemon_config(h.render("ha", ["control.config.leader.renew_deadline_secs=9",
                                              "json:control.config.leader.lease_interval_secs=2.5"]))
        self.assertEqual(cfg["leader"]["renew_deadline_secs"], 9)
        self.assertEqual(cfg["leader"]["lease_interval_secs"], 2.5)
        self.assertNotIn("namespace", cfg["leader"])
        self.assertNotIn("identity", cfg["leader"])

    def test_lease_in_another_namespace_gets_its_own_role(self):
        objs = h.render("leader-label", ["control.config.leader.namespace=leases"])
        roles = {r["metadata"]["namespace"]: r for r in h.by_kind(objs, "Role")}
        self.assertEqual(roles["leases"]["rules"], LEASE_RULES("pgdog-control"))
        self.assertEqual(roles[h.NAMESPACE]["rules"], POD_RULES)
        for rb in h.by_kind(objs, "RoleBinding"):
            self.assertEqual(rb["subjects"][0]["namespace"], h.NAMESPACE)
        self.assertEqual(h.daemon_config(objs)["leader"]["namespace"], "leases")

    def test_state_store_rules_name_each_deployments_objects(self):
        objs = h.render("api")
        rules = h.one(objs, "Role")["rules"]
        # (api.yaml runs three replicas: leader-label routing by default, so pods too.)
        self.assertEqual(rules, LEASE_RULES("pgdog-control") + [STATE_RULE("pgdog-control", ["shop", "billing"])]
                         + POD_RULES)
        # Literal names, so a change of the naming scheme on either side fails here.
        self.assertEqual(rules[-2]["resourceNames"][:2], ["pgdog-control-state-fleet-8d9001d32c6a-nodes",
                                                          "pgdog-control-state-fleet-8d9001d32c6a-commands"])
        # Without deployments there is no get/update rule at all: an empty
        # resourceNames would grant every ConfigMap in the namespace.
        self.assertEqual(h.one(h.render("ha"), "Role")["rules"], LEASE_RULES("pgdc-helm-ha"))
        for rule in h.one(h.render("ha"), "Role")["rules"]:
            if rule["resources"] == ["configmaps"]:
                self.assertEqual(rule["verbs"], ["create"])

    def test_lease_name_defaults_to_the_full_name(self):
        objs = h.render("ha", ["control.config.leader.lease_name="], release="billing")
        self.assertEqual(h.daemon_config(objs)["leader"]["lease_name"], "billing-pgdog-control")
        self.assertEqual(h.one(objs, "Role")["rules"][1]["resourceNames"], ["billing-pgdog-control"])

    def test_listen_port_sets_the_container_port(self):
        objs = h.render("defaults", ["control.config.listen=0.0.0.0:9090"])
        c = h.container(h.one(objs, "Deployment"))
        self.assertEqual(c["ports"][0]["containerPort"], 9090)
        self.assertEqual(h.one(objs, "Service")["spec"]["ports"][0]["targetPort"], "http")

    def test_explicit_strategy_spread_and_digest(self):
        objs = h.render("ha", ["control.updateStrategy.type=Recreate",
                               "control.topologySpread.enabled=false",
                               "control.image.digest=sha256:" + "a" * 64])
        dep = h.one(objs, "Deployment")
        self.assertEqual(dep["spec"]["strategy"], {"type": "Recreate"})
        self.assertNotIn("topologySpreadConstraints", dep["spec"]["template"]["spec"])
        self.assertEqual(h.container(dep)["image"], "ghcr.io/pgdogdev/pgdog-control@sha256:" + "a" * 64)

    def test_every_value_is_documented_in_docs_helm_md(self):
        with open(os.path.join(h.CHART, "values.yaml")) as f:
            values = h.load(f.read())
        with open(os.path.join(h.ROOT, "docs", "helm.md")) as f:
            doc = f.read()
        # Sections are documented key by key; other maps as a whole.
        sections = {"control", "control.config", "control.config.leader", "control.config.log",
                    "control.plugins", "control.plugins.initContainer", "control.image",
                    "control.topologySpread", "control.persistence", "control.api", "control.api.adminTokens",
                    "control.api.readTokens", "control.api.forwardSecret", "serviceAccount",
                    "rbac", "service", "metrics", "metrics.service", "metrics.serviceMonitor",
                    "ingress",
                    "podDisruptionBudget"}
        missing = []

        def walk(prefix, node):
            for key, value in node.items():
                path = f"{prefix}.{key}" if prefix else key
                if path in sections:
                    walk(path, value)
                elif f"`{path}`" not in doc:
                    missing.append(path)

        walk("", values)
        self.assertEqual(missing, [], "values missing from docs/helm.md")

    def test_yaml_through_helm_matches_pyyaml(self):
        # The fallback used when PyYAML is missing gives the same objects.
        text = h.template("leader-label").stdout
        via_helm = h._load_all_with_helm(text)
        via_helm = [d for d in via_helm if d]
        if h._pyyaml is None:
            self.skipTest("PyYAML not installed: the helm route is the only one")
        self.assertEqual(via_helm, [d for d in h._pyyaml.safe_load_all(text) if d])


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
    from ctest_main import main  # noqa: E402
    main()
