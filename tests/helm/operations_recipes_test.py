#!/usr/bin/env python3
"""Runs every recipe of docs/operations.md, as written there, against one
3-replica install rolled out for real (cluster_case.py: kube-controller-manager
plus a fake kubelet running each Pod as pgdog-control), in the order an
operator might: who leads, move leadership, drain a node, rotate tokens,
recover a lost Lease, upgrade. After each, checks what the recipe promises,
and that no two replicas were ever leading at once.

The recipe's shell sees the variables docs/operations.md lists; URL is a
local port forwarded to the Service's ready endpoint (the leader), like
`kubectl port-forward svc/...`; `kubectl`, `helm` and `pgdog-control` on PATH
run the test's binaries with the cluster admin's kubeconfig.

Environment: as chart_rollout_test.py.
"""
import json
import os
import re
import stat
import subprocess
import sys
import time
import uuid

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import cluster_case as cc  # noqa: E402
import daemon_test as d  # noqa: E402
import helm_common as h  # noqa: E402
import unittest  # noqa: E402

KENV = cc.KENV
DOC = os.path.join(HERE, "..", "..", "docs", "operations.md")


def recipes():
    """{name: shell text} from the <!-- recipe: NAME --> fenced blocks."""
    with open(DOC) as f:
        text = f.read()
    found = dict(re.findall(r"<!-- recipe: ([a-z-]+) -->\n```sh\n(.*?)```", text, re.S))
    return found


class OperationsRecipes(cc.ClusterCase):
    def setUp(self):
        super().setUp()
        self.bin = os.path.join(self.workdir, "bin")
        os.makedirs(self.bin, exist_ok=True)
        cache = os.path.join(self.workdir, "kube-cache")
        self.wrapper("kubectl", f'exec {KENV["KUBECTL"]} --kubeconfig {KENV["KUBECONFIG_ADMIN"]} '
                                f'--cache-dir {cache} "$@"')
        self.wrapper("helm", f'KUBECONFIG={KENV["KUBECONFIG_ADMIN"]} exec {h.helm_bin()} "$@"')
        self.wrapper("pgdog-control", f'exec {d.BIN} "$@"')
        self.token_file = os.path.join(self.workdir, "admin-token")
        with open(self.token_file, "w") as f:
            f.write(cc.ADMIN_TOKEN + "\n")
        os.chmod(self.token_file, 0o600)

    def wrapper(self, name, body):
        path = os.path.join(self.bin, name)
        with open(path, "w") as f:
            f.write("#!/usr/bin/env bash\n" + body + "\n")
        os.chmod(path, stat.S_IRWXU)

    def run_recipe(self, name, **extra):
        script = recipes()[name]
        env = dict(os.environ, NS=self.ns, RELEASE=cc.RELEASE, CHART=h.CHART, LEASE=cc.FULLNAME,
                   URL=self.service.url, TOKEN_FILE=self.token_file,
                   PATH=self.bin + os.pathsep + os.environ["PATH"], **extra)
        env.pop("PGDOG_CONTROL_TOKEN", None)
        t0 = time.time()
        r = subprocess.run(["bash", "-euo", "pipefail", "-c", script], env=env, capture_output=True,
                           text=True, timeout=240, cwd=self.workdir)
        print(f"recipe {name}: exit {r.returncode} in {time.time() - t0:.1f} s", flush=True)
        self.assertEqual(r.returncode, 0, f"recipe {name} failed:\n{script}\nstdout:\n{r.stdout}\n"
                                          f"stderr:\n{r.stderr}")
        return r.stdout, t0

    def followers(self):
        leader = self.leader()
        return sorted(pp.name for pp in self.kubelet.all_processes()
                      if pp.daemon.proc.poll() is None and pp.name != leader and pp.ready)

    def identity_of(self, pod):
        """The replica identity of a Pod, as `pgdog-control members --json` lists it."""
        r = subprocess.run([d.BIN, "members", "--json", "--url", self.service.url, "--token-file",
                            self.token_file], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        ids = [m["identity"] for m in json.loads(r.stdout)["members"] if cc.pod_of(m["identity"]) == pod]
        self.assertEqual(len(ids), 1, r.stdout)
        return ids[0]

    def node_of(self, pod):
        return self.api.get(f"/api/v1/namespaces/{self.ns}/pods/{pod}")["spec"].get("nodeName")

    def test_every_recipe_does_what_docs_operations_md_says(self):
        self.assertEqual(set(recipes()), {"who-leads", "move-leadership", "drain-node", "rotate-tokens",
                                          "lost-lease", "upgrade"}, "the recipes this test knows")

        # Who leads: members marks the Lease's holder as leader.
        leader = self.leader()
        out, _ = self.run_recipe("who-leads")
        self.assertRegex(out, rf"(?m)^{re.escape(leader)}_\S+\s+(\*\s+)?leader\b", out)
        self.assertEqual(cc.pod_of(out.strip().splitlines()[-1]), leader)

        # Move leadership: to a chosen follower, which becomes the Service's endpoint.
        target = self.followers()[0]
        out, t0 = self.run_recipe("move-leadership", TARGET=self.identity_of(target))
        self.wait("the target to lead and be the Service's endpoint",
                  lambda: self.leader() == target and self.timeline.ready_now() == [target])
        self.assertEqual([c[2] for c in self.timeline.leadership_changes(t0, time.time())], [target])
        self.assertRegex(out, rf"(?m)^{re.escape(target)}_\S+\s+(\*\s+)?leader\b", out)

        # Drain the leader's node: one handover, to a replica on another node.
        node = self.node_of(target)
        out, t0 = self.run_recipe("drain-node")
        self.wait("3 replicas running again, one of them leading", self.rolled_out, timeout=180)
        changes = self.timeline.leadership_changes(t0, time.time())
        self.assertEqual(len(changes), 1, changes)
        self.assertNotEqual(self.node_of(self.leader()), node)

        # Rotate tokens: the new token works, then the old one is refused.
        new_token = "rotated-admin-" + uuid.uuid4().hex
        self.run_recipe("rotate-tokens", TOKEN_SECRET=cc.TOKEN_SECRET, OLD_TOKEN=cc.ADMIN_TOKEN,
                        NEW_TOKEN=new_token)

        def cli_with(token):
            return subprocess.run([d.BIN, "switchover", "--url", self.service.url, "--to", "nobody"],
                                  env=dict(os.environ, PGDOG_CONTROL_TOKEN=token), capture_output=True,
                                  text=True, timeout=30).returncode
        self.wait("the old admin token to be refused (exit 4) on the leader", lambda: cli_with(cc.ADMIN_TOKEN) == 4,
                  timeout=60)
        self.assertNotEqual(cli_with(new_token), 4, "the new token is accepted")
        with open(self.token_file, "w") as f:
            f.write(new_token + "\n")

        # Lost Lease: recreated; one leader again (the same, or one that
        # waited a lease duration), named by members.
        out, t0 = self.run_recipe("lost-lease")
        self.wait("a leader serving behind the Service", self.rolled_out)
        leader = self.leader()
        self.assertLessEqual(len(self.timeline.leadership_changes(t0, time.time())), 1)
        self.assertRegex(out, rf"(?m)^{re.escape(leader)}_\S+\s+(\*\s+)?leader\b", out)

        # Upgrade: one leadership change; every member afterwards is new.
        before = {pp.name for pp in self.kubelet.all_processes() if pp.daemon.proc.poll() is None}
        out, t0 = self.run_recipe("upgrade", VERSION="0.0.0-upgraded")
        self.wait("the rollout", self.rolled_out, timeout=180)
        self.assertEqual(len(self.timeline.leadership_changes(t0, time.time())), 1)
        running = {pp.name for pp in self.kubelet.all_processes() if pp.daemon.proc.poll() is None}
        self.assertEqual(len(running), 3)
        self.assertFalse(running & before, "every pod was replaced")

        self.check_never_two()


if __name__ == "__main__":
    unittest.main(verbosity=2)
