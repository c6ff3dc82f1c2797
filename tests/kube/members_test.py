#!/usr/bin/env python3
"""The Kubernetes plugin's members (ABI 1.4) against a real kube-apiserver and
etcd (tests/kube/kube-env.sh): each replica publishes itself as its own Lease
<lease>-member-<identity>, labelled pgdog.dev/member-of=<lease>; every replica
lists them all.

Each replica is a pgdc_kube_members_driver process, which loads the plugin as
the daemon does and calls member_publish / members_list / stop through the C
ABI. The users elector-1..3 hold the pgdc-elector Role of kube-env.sh (the
elector RBAC, members included); narrow-1 holds only the narrowed election
rule, so a missing members permission shows up there.

Environment: PGDC_MEMBERS_DRIVER, PGDC_KUBE_PLUGIN, PGDC_KUBE_ENV.
"""
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
from lease_daemon_test import ENV_DIR, KENV, kubectl  # noqa: E402

DRIVER = os.environ.get("PGDC_MEMBERS_DRIVER", "")
PLUGIN = os.environ.get("PGDC_KUBE_PLUGIN", "")
# options.member_heartbeat_secs 5 (its floor; default 30): the TTL is 15 s.
TTL_SECS = 15


def wait_for(what, f, timeout):
    deadline = time.monotonic() + timeout
    while True:
        v = f()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.2)


class Driver:
    def __init__(self, lease, identity, user):
        self.identity = identity
        config = {"identity": identity, "lease_name": lease, "namespace": KENV["KUBE_NAMESPACE"],
                  "lease_duration_ms": 4000, "renew_deadline_ms": 3000, "lease_interval_ms": 1000,
                  "release_timeout_ms": 2000, "advertise_address": identity + ":8080",
                  "options": {"kubeconfig": KENV[f"KUBECONFIG_{user}"], "events": False,
                              "member_heartbeat_secs": 5}}
        self.log = tempfile.NamedTemporaryFile("w+", prefix=f"members-{identity}-", suffix=".log")
        self.proc = subprocess.Popen([DRIVER, PLUGIN, json.dumps(config)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.log, text=True, bufsize=1)
        started = self.read()
        if not started.get("started"):
            raise AssertionError(f"{identity} did not start: {started} {self.logs()}")

    def read(self, timeout=20):
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            raise AssertionError(f"{self.identity}: no answer in {timeout}s; {self.logs()}")
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"{self.identity}: driver exited; {self.logs()}")
        return json.loads(line)

    def cmd(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.read()

    def publish(self, eligible=True, version="0.1.0"):
        r = self.cmd(f"publish {1 if eligible else 0} {self.identity}:8080 {version}")
        assert r["status"] == "ok", r
        return r

    def members(self):
        r = self.cmd("list")
        assert r["status"] == "ok", r
        return {m["identity"]: m for m in r["members"]}

    def role(self):
        return self.cmd("role")

    def stop(self):
        r = self.cmd("stop")
        self.proc.wait(timeout=20)
        return r

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=20)

    def logs(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def close(self):
        if self.proc.poll() is None:
            self.kill()
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                pipe.close()
            except OSError:  # stdin of a killed driver
                pass
        self.log.close()


@unittest.skipUnless(KENV and DRIVER and PLUGIN, "no kube environment (PGDC_KUBE_ENV) or driver")
class Members(unittest.TestCase):
    def setUp(self):
        self.lease = "m-" + uuid.uuid4().hex[:10]
        self.drivers = []

    def tearDown(self):
        for d in self.drivers:
            d.close()
        kubectl("delete", "lease", "-l", f"pgdog.dev/member-of={self.lease}", "--ignore-not-found",
                check=False)
        kubectl("delete", "lease", self.lease, "--ignore-not-found", check=False)

    def start(self, identity, user):
        d = Driver(self.lease, identity, user)
        self.drivers.append(d)
        return d

    def member_lease(self, identity):
        r = kubectl("get", "lease", f"{self.lease}-member-{identity}", "-o", "json", check=False)
        return json.loads(r.stdout) if r.returncode == 0 else None

    def test_three_replicas_list_each_other_a_stopped_one_leaves_a_killed_one_goes_stale(self):
        ds = [self.start(f"pod-{c}", f"ELECTOR_{i + 1}") for i, c in enumerate("abc")]
        for i, d in enumerate(ds):
            d.publish(version=f"0.{i + 1}.0")
        ids = {"pod-a", "pod-b", "pod-c"}
        for d in ds:
            got = wait_for(f"{d.identity} to list all three",
                           lambda: (lambda m: m if set(m) == ids else None)(d.members()), 30)
            for i, c in enumerate("abc"):
                m = got[f"pod-{c}"]
                self.assertEqual(m["address"], f"pod-{c}:8080")
                self.assertEqual(m["version"], f"0.{i + 1}.0")
                self.assertEqual(m["backend"], "kubernetes test")
                self.assertTrue(m["eligible"])
                self.assertFalse(m["stale"])
                self.assertGreaterEqual(m["heartbeat_age_ms"], 0)
                self.assertLess(m["heartbeat_age_ms"], TTL_SECS * 1000)
        # The object as kubectl sees it.
        o = self.member_lease("pod-a")
        self.assertEqual(o["metadata"]["labels"]["pgdog.dev/member-of"], self.lease)
        self.assertEqual(o["spec"]["holderIdentity"], "pod-a")
        self.assertEqual(o["spec"]["leaseDurationSeconds"], TTL_SECS)
        annotation = json.loads(o["metadata"]["annotations"]["pgdog.dev/member"])
        self.assertEqual(annotation["address"], "pod-a:8080")
        # The election runs beside it: exactly one leader.
        wait_for("one leader", lambda: sum(d.role()["leading"] for d in ds) == 1, 30)
        # An eligibility change is published at once, not at the next heartbeat.
        ds[0].publish(eligible=False, version="0.1.0")
        wait_for("pod-a ineligible as pod-b sees it",
                 lambda: ds[1].members()["pod-a"]["eligible"] is False, 4)
        # A clean stop withdraws the member Lease.
        stopped = ds[2].stop()
        self.assertTrue(stopped["stopped"])
        self.assertIsNone(self.member_lease("pod-c"))
        wait_for("pod-c gone from pod-a's list", lambda: "pod-c" not in ds[0].members(), 5)
        # A SIGKILLed replica stays listed, and goes stale after its TTL.
        ds[1].kill()
        self.assertIsNotNone(self.member_lease("pod-b"))
        t0 = time.monotonic()
        stale = wait_for("pod-b stale", lambda: (lambda m: m if m["pod-b"]["stale"] else None)(
            ds[0].members()), TTL_SECS + 15)
        self.assertGreater(stale["pod-b"]["heartbeat_age_ms"], TTL_SECS * 1000)
        self.assertGreater(time.monotonic() - t0, TTL_SECS - 6, "stale well before its TTL")
        self.assertFalse(stale["pod-a"]["stale"])
        ds[0].stop()

    def test_an_ineligible_replica_never_acquires(self):
        leader = self.start("pod-l", "ELECTOR_1")
        leader.publish()
        wait_for("pod-l to lead", lambda: leader.role()["leading"], 20)
        x = self.start("pod-x", "ELECTOR_2")
        x.publish(eligible=False)
        leader.stop()  # releases: an eligible follower would take it at once
        lease = json.loads(kubectl("get", "lease", self.lease, "-o", "json").stdout)
        self.assertEqual(lease["spec"].get("holderIdentity", ""), "")
        deadline = time.monotonic() + 3 * 4  # three lease durations
        while time.monotonic() < deadline:
            self.assertFalse(x.role()["leading"], "an ineligible replica acquired")
            time.sleep(0.5)
        lease = json.loads(kubectl("get", "lease", self.lease, "-o", "json").stdout)
        self.assertEqual(lease["spec"].get("holderIdentity", ""), "")
        x.publish(eligible=True)
        wait_for("pod-x to lead once eligible", lambda: x.role()["leading"], 20)
        x.stop()

    def test_a_missing_permission_is_named(self):
        # narrow-1 may create leases and touch only the Lease "pgdog-control":
        # its member Lease is created, but neither listed nor updated.
        d = self.start("pod-n", "NARROW_1")
        d.publish()
        r = d.cmd("list")
        self.assertEqual(r["status"], "unavailable", r)
        self.assertIn("403 Forbidden", r["error"])
        self.assertIn('verbs: ["list"]', r["error"])
        wait_for("the member Lease", lambda: self.member_lease("pod-n"), 10)
        d.publish(version="0.2.0")  # an update now: forbidden
        wait_for("the update's 403 in the log",
                 lambda: "members: cannot update member lease" in d.logs(), 10)
        log = d.logs()
        self.assertIn('verbs: ["update"]', log)
        self.assertIn("the election is not affected", log)
        with open(os.path.join(ENV_DIR, "tokens", "narrow-1")) as f:
            token = f.read().strip()
        self.assertNotIn(token, r["error"] + log, "an error must never carry the token")
        d.stop()


if __name__ == "__main__":
    if not (KENV and DRIVER and PLUGIN):
        print("SKIP: no kube environment (PGDC_KUBE_ENV) or driver")
        raise SystemExit(77)
    sys.path.insert(0, os.path.join(HERE, "..", "lib"))
    from ctest_main import main  # noqa: E402  (skipped cases: exit 77, never "Passed")
    main()
