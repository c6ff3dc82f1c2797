#!/usr/bin/env python3
"""pgdog-control with the Kubernetes Lease plugin against a real kube-apiserver
and etcd (tests/kube/kube-env.sh), as real processes.

Safety is asserted on every run: each daemon logs when it becomes ready and
when it stops (microsecond timestamps from one machine clock); no two
readiness intervals may overlap, and epochs (Lease UID, transitions) of
successive terms strictly increase within a UID. Timings are asserted only as
generous bounds that separate "waited for expiry" from "did not"; the figures
themselves come from tests/bench/bench_kube.py.

Environment: PGDC_BIN, PGDC_KUBE_ENV (an environment started by kube-env.sh),
PGDC_TMP.
"""
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import daemon_test as d  # noqa: E402
from readiness_log import parse_ts, readiness_intervals  # noqa: E402,F401 (parse_ts: image_test)

ENV_DIR = os.environ.get("PGDC_KUBE_ENV", "")


def load_env(path):
    env = {}
    with open(os.path.join(path, "env")) as f:
        for line in f:
            m = re.match(r"^(?:export )?([A-Z0-9_]+)=(.*)$", line.strip())
            if m:
                env[m.group(1)] = m.group(2).strip("'\"")
    return env


KENV = load_env(ENV_DIR) if ENV_DIR and os.path.exists(os.path.join(ENV_DIR, "env")) else {}

# Short leases keep the suite fast: duration 4 s, interval 1 s, renew deadline 3 s.
DURATION, INTERVAL = 4, 1


def kubectl(*args, user="ADMIN", check=True, input=None):
    cmd = [KENV["KUBECTL"], "--kubeconfig", KENV[f"KUBECONFIG_{user}"], "-n", KENV["KUBE_NAMESPACE"]]
    r = subprocess.run(cmd + list(args), capture_output=True, text=True, input=input, timeout=60)
    if check and r.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)}: {r.stderr}")
    return r


def get_lease(name):
    r = kubectl("get", "lease", name, "-o", "json", check=False)
    return json.loads(r.stdout) if r.returncode == 0 else None


def config(lease, user, duration=DURATION, interval=INTERVAL, release_timeout=5, extra=""):
    return (
        'listen: "127.0.0.1:@PORT@"\n'
        "leader:\n"
        "  enabled: true\n"
        "  backend: kubernetes\n"
        f"  lease_name: {lease}\n"
        f"  namespace: {KENV['KUBE_NAMESPACE']}\n"
        f"  lease_duration_secs: {duration}\n"
        f"  lease_interval_secs: {interval}\n"
        f"  release_timeout_secs: {release_timeout}\n"
        "  options:\n"
        f"    kubeconfig: {KENV['KUBECONFIG_' + user]}\n" + extra
    )


def intervals(daemon):
    """[(start, end, epoch)] readiness intervals from a daemon's log; an open
    interval ends at the kill (killed while ready) or now (still ready)."""
    return readiness_intervals(daemon.logs(),
                               getattr(daemon, "killed_at", None) or time.time())


def check_safety(testcase, daemons):
    """No two readiness intervals overlap; epochs strictly increase per UID."""
    all_iv = []
    for i, dm in enumerate(daemons):
        all_iv += [(s, e, ep, i) for (s, e, ep) in intervals(dm)]
    all_iv.sort()
    for a, b in zip(all_iv, all_iv[1:]):
        testcase.assertLessEqual(
            a[1], b[0],
            f"split brain: replica {a[3]} ready {a[0]:.6f}-{a[1]:.6f} (epoch {a[2]}) overlaps "
            f"replica {b[3]} ready from {b[0]:.6f} (epoch {b[2]})")
    last = {}
    for s, e, ep, i in all_iv:
        uid, term = ep.rsplit("/", 1)
        if uid in last:
            testcase.assertGreater(int(term), last[uid], f"epoch did not increase: {ep}")
        last[uid] = int(term)
    return all_iv


class Sampler(threading.Thread):
    """Samples /readyz of every daemon; counts rounds where exactly one, none
    or several answered 200. A round with several 200s re-checks the earlier
    ones, so a handover between two probes is not mistaken for an overlap."""

    def __init__(self, daemons):
        super().__init__(daemon=True)
        self.daemons = daemons
        self.stop_flag = threading.Event()
        self.rounds = self.one = self.none = self.overlaps = 0

    def ready(self, dm):
        return is_ready(dm)

    def run(self):
        while not self.stop_flag.is_set():
            ready = [i for i, dm in enumerate(self.daemons) if self.ready(dm)]
            if len(ready) > 1 and len([i for i in ready[:-1] if self.ready(self.daemons[i])]) > 0:
                self.overlaps += 1
            self.rounds += 1
            self.one += len(ready) == 1
            self.none += len(ready) == 0
            time.sleep(0.02)

    def stop(self):
        self.stop_flag.set()
        self.join()


def is_ready(dm):
    if dm.proc.poll() is not None:
        return False
    try:
        return d.get(dm.port, "/readyz", timeout=2)[0] == 200
    except Exception:
        return False


def kill(dm):
    dm.killed_at = time.time()
    dm.proc.kill()
    dm.proc.wait()


def wait_one_leader(testcase, daemons, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready = [dm for dm in daemons if is_ready(dm)]
        if len(ready) == 1:
            return ready[0]
        time.sleep(0.05)
    testcase.fail("no single leader within %ss:\n%s" % (timeout, "\n".join(x.logs()[-2000:] for x in daemons)))


@unittest.skipUnless(KENV, "no kube environment (PGDC_KUBE_ENV)")
class KubernetesLease(unittest.TestCase):
    def setUp(self):
        self.lease = "t-" + uuid.uuid4().hex[:10]
        self.daemons = []

    def tearDown(self):
        for dm in self.daemons:
            dm.close()

    def start(self, user, **kw):
        dm = d.Daemon(config(self.lease, user, **kw))
        self.daemons.append(dm)
        dm.wait_listening()
        return dm

    def test_three_replicas_exactly_one_ready_at_every_sample(self):
        for u in ("ELECTOR_1", "ELECTOR_2", "ELECTOR_3"):
            self.start(u)
        wait_one_leader(self, self.daemons)
        sampler = Sampler(self.daemons)
        sampler.start()
        time.sleep(3 * INTERVAL + 1)
        sampler.stop()
        self.assertGreater(sampler.rounds, 20)
        self.assertEqual(sampler.overlaps, 0)
        self.assertEqual(sampler.one, sampler.rounds, "exactly one ready at every sample")
        check_safety(self, self.daemons)
        lease = get_lease(self.lease)
        self.assertEqual(lease["spec"]["leaseDurationSeconds"], DURATION)
        leader = json.loads(d.get(wait_one_leader(self, self.daemons).port, "/api/status")[2])
        self.assertEqual(lease["spec"]["holderIdentity"], leader["identity"])
        self.assertEqual(leader["epoch"]["scope"], lease["metadata"]["uid"])

    def test_create_race_has_one_winner(self):
        # Three daemons started at once on a Lease that does not exist yet.
        procs = [d.Daemon(config(self.lease, u)) for u in ("ELECTOR_1", "ELECTOR_2", "ELECTOR_3")]
        self.daemons += procs
        wait_one_leader(self, self.daemons)
        time.sleep(INTERVAL * 2)
        check_safety(self, self.daemons)
        self.assertEqual(sum(1 for dm in procs if is_ready(dm)), 1)
        self.assertEqual(get_lease(self.lease)["spec"]["leaseTransitions"], 1)

    def test_sigterm_hands_over_without_waiting_for_expiry(self):
        # A long lease: waiting for expiry would take 20 s; a release takes a round trip.
        a = self.start("ELECTOR_1", duration=20, interval=2)
        a.wait_status("/readyz", 200, timeout=40)  # its create acts a full duration later
        b = self.start("ELECTOR_2", duration=20, interval=2)
        time.sleep(1)  # b is watching
        t0 = time.monotonic()
        self.assertEqual(a.stop(), 0, a.logs())
        b.wait_status("/readyz", 200)
        took = time.monotonic() - t0
        self.assertLess(took, 10, "handover waited for the lease to expire")
        # SIGTERM hands the Lease to the follower (members, ABI 1.4).
        self.assertIn("handed the Lease over to", a.logs())
        check_safety(self, self.daemons)

    def test_sigkill_takeover_only_after_the_lease_duration(self):
        a = self.start("ELECTOR_1")
        a.wait_status("/readyz", 200)
        b = self.start("ELECTOR_2")
        time.sleep(INTERVAL * 2)
        t0 = time.monotonic()
        kill(a)
        b.wait_status("/readyz", 200)
        took = time.monotonic() - t0
        # The last renewal was at most one interval before the kill; the
        # follower must still wait out the duration from when it saw it.
        self.assertGreaterEqual(took, DURATION - INTERVAL - 0.1)
        check_safety(self, self.daemons)
        st = json.loads(d.get(b.port, "/api/status")[2])
        self.assertEqual(st["epoch"]["term"], 2, "a takeover increments leaseTransitions (a create starts at 1)")

    def test_forbidden_user_never_leads_and_says_how_to_fix_it(self):
        u = self.start("UNBOUND")
        time.sleep(INTERVAL * 3)
        self.assertEqual(d.get(u.port, "/readyz")[0], 503)
        logs = u.logs()
        self.assertIn("403 Forbidden", logs)
        self.assertIn("leases.coordination.k8s.io", logs)
        self.assertIn('namespace "%s"' % KENV["KUBE_NAMESPACE"], logs)
        self.assertIn("verbs: [\"get\"]", logs)
        self.assertIsNone(get_lease(self.lease))

    def test_stale_resource_version_keeps_the_leader_and_foreign_fields(self):
        a = self.start("ELECTOR_1")
        a.wait_status("/readyz", 200)
        # Someone else writes the Lease (new resourceVersion, new label):
        # the leader's fast-path PUT gets 409 and must recover with GET + PUT.
        kubectl("label", "lease", self.lease, "team=db")
        kubectl("annotate", "lease", self.lease, "note=keep-me")
        time.sleep(INTERVAL * 3)
        self.assertEqual(d.get(a.port, "/readyz")[0], 200, a.logs())
        lease = get_lease(self.lease)
        self.assertEqual(lease["metadata"]["labels"]["team"], "db")
        self.assertEqual(lease["metadata"]["annotations"]["note"], "keep-me")
        check_safety(self, self.daemons)

    def test_lease_deleted_while_held(self):
        a = self.start("ELECTOR_1")
        a.wait_status("/readyz", 200)
        b = self.start("ELECTOR_2")
        time.sleep(INTERVAL)
        uid_before = get_lease(self.lease)["metadata"]["uid"]
        kubectl("delete", "lease", self.lease)
        wait_one_leader(self, self.daemons, timeout=DURATION * 4)
        time.sleep(INTERVAL * 2)
        lease = get_lease(self.lease)
        self.assertIsNotNone(lease)
        self.assertNotEqual(lease["metadata"]["uid"], uid_before, "a new Lease (new epoch scope)")
        check_safety(self, self.daemons)

    def test_api_server_restart_while_leading(self):
        a = self.start("ELECTOR_1")
        a.wait_status("/readyz", 200)
        b = self.start("ELECTOR_2")
        time.sleep(INTERVAL)
        subprocess.run([os.path.join(HERE, "kube-env.sh"), "stop-apiserver", ENV_DIR], check=True,
                       capture_output=True, timeout=60)
        t0 = time.monotonic()
        a.wait_status("/readyz", 503)
        lost_after = time.monotonic() - t0
        # Its last successful renewal was sent before the server stopped, so
        # readiness must end within the renew deadline (+ probe slack).
        self.assertLess(lost_after, (DURATION - INTERVAL) + 0.5,
                        "the leader must stop being ready by its renew deadline")
        subprocess.run([os.path.join(HERE, "kube-env.sh"), "start-apiserver", ENV_DIR], check=True,
                       capture_output=True, timeout=180)
        wait_one_leader(self, self.daemons, timeout=60)
        time.sleep(INTERVAL * 2)
        check_safety(self, self.daemons)

    def test_events_on_becoming_leader(self):
        a = self.start("ELECTOR_1")
        a.wait_status("/readyz", 200)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            r = kubectl("get", "events", "--field-selector",
                        f"involvedObject.name={self.lease}", "-o", "json")
            items = json.loads(r.stdout)["items"]
            if any("became leader" in e.get("message", "") for e in items):
                break
            time.sleep(0.2)
        else:
            self.fail("no LeaderElection event for the lease")

    def test_leader_label_moves_with_leadership(self):
        label = "pgdog.dev/control-leader"

        def pod(name):
            kubectl("apply", "-f", "-", input=json.dumps({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": KENV["KUBE_NAMESPACE"]},
                "spec": {"containers": [{"name": "c", "image": "pgdog-control"}]}}))

        def labeled():
            r = kubectl("get", "pods", "-l", f"{label}=true", "-o", "json")
            return sorted(p["metadata"]["name"] for p in json.loads(r.stdout)["items"])

        def costs():
            # controller.kubernetes.io/pod-deletion-cost rides on the label's patch:
            # the leader's Pod is deleted last by a rollout or scale-down.
            r = kubectl("get", "pods", "-o", "json")
            return {p["metadata"]["name"]: (p["metadata"].get("annotations") or {}).get(
                "controller.kubernetes.io/pod-deletion-cost") for p in json.loads(r.stdout)["items"]
                if p["metadata"]["name"] in names}

        names = [self.lease + "-a", self.lease + "-b"]
        for n in names:
            pod(n)
        # A stale label left by an earlier leader must be removed by the new one.
        kubectl("label", "pod", names[1], f"{label}=true")

        def extra(n):
            return f"    pod_label: {label}\n    pod_name: {n}\n"

        a = d.Daemon(config(self.lease, "ADMIN", extra=extra(names[0])))
        self.daemons.append(a)
        a.wait_status("/readyz", 200)
        b = d.Daemon(config(self.lease, "ADMIN", extra=extra(names[1])))
        self.daemons.append(b)
        b.wait_listening()
        deadline = time.monotonic() + 10
        while labeled() != [names[0]] and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(labeled(), [names[0]], a.logs())
        self.assertEqual(costs(), {names[0]: "100", names[1]: None})
        self.assertEqual(a.stop(), 0)
        b.wait_status("/readyz", 200)
        deadline = time.monotonic() + 10
        while labeled() != [names[1]] and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(labeled(), [names[1]], b.logs())
        self.assertEqual(costs(), {names[0]: None, names[1]: "100"})
        check_safety(self, self.daemons)
        for n in names:
            kubectl("delete", "pod", n, "--wait=false")

    def test_narrow_rbac_is_enough_for_its_lease(self):
        self.lease = "pgdog-control"
        kubectl("delete", "lease", self.lease, "--ignore-not-found")
        a = self.start("NARROW_1")
        a.wait_status("/readyz", 200)
        self.assertEqual(a.stop(), 0, a.logs())
        self.assertIn("released lease", a.logs())
        self.assertEqual(get_lease(self.lease)["spec"]["holderIdentity"], "")


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
    from ctest_main import main  # noqa: E402
    main()
