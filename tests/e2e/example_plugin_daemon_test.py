#!/usr/bin/env python3
"""The out-of-tree example plugin (sdk/examples/file-lock), built against the
installed SDK by e2e.sdk_example_out_of_tree, loaded by the real daemon: two
replicas share one lock file; exactly one is ready; SIGTERM on the leader
hands leadership to the other with a higher epoch.

Environment: PGDC_BIN, PGDC_EXAMPLE_PLUGIN, PGDC_TMP.
"""
import json
import os
import signal
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import daemon_test as d  # noqa: E402

EXAMPLE = os.environ.get("PGDC_EXAMPLE_PLUGIN", "")


def config(lock):
    return (
        'listen: "127.0.0.1:@PORT@"\n'
        "leader:\n"
        "  enabled: true\n"
        f"  backend: {EXAMPLE}\n"
        "  lease_duration_secs: 2\n"
        "  lease_interval_secs: 0.1\n"
        "  release_timeout_secs: 2\n"
        "  options:\n"
        f"    lock_file: {lock}\n"
    )


@unittest.skipUnless(EXAMPLE and os.path.exists(EXAMPLE), "example plugin not built")
class ExamplePluginInTheDaemon(unittest.TestCase):
    def test_two_replicas_one_leader_and_handover_on_sigterm(self):
        lock = os.path.join(d.TMP, "example.lock")
        for p in (lock, lock + ".epoch"):
            if os.path.exists(p):
                os.remove(p)
        a = d.Daemon(config(lock))
        b = None
        try:
            a.wait_status("/readyz", 200)
            b = d.Daemon(config(lock))
            b.wait_listening()
            self.assertEqual(d.get(b.port, "/readyz")[0], 503, "the second replica must not lead")
            self.assertEqual(d.get(a.port, "/readyz")[0], 200)
            epoch_a = json.loads(d.get(a.port, "/api/status")[2])["epoch"]
            self.assertEqual(a.stop(signal.SIGTERM), 0, a.logs())
            b.wait_status("/readyz", 200)
            status = json.loads(d.get(b.port, "/api/status")[2])
            self.assertEqual(status["backend"]["name"], "example-file-lock")
            self.assertEqual(status["epoch"]["scope"], epoch_a["scope"])
            self.assertGreater(status["epoch"]["term"], epoch_a["term"])
            self.assertEqual(b.stop(signal.SIGTERM), 0, b.logs())
        finally:
            a.close()
            if b:
                b.close()


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
    from ctest_main import main  # noqa: E402
    main()
