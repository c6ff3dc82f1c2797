#!/usr/bin/env python3
"""The split-brain checker must be able to fail: synthetic timelines with and
without violations (no processes, no environment; runs in well under a second).
The real-process negative control is scenarios_test.HA.test_checker_catches_a_real_split_brain.
"""
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as ha  # noqa: E402

T = 1_800_000_000.0


class Checker(unittest.TestCase):
    def test_clean_handover_chain_passes(self):
        ivs = [(T, T + 5, "u/0", "r1"), (T + 5, T + 9, "u/1", "r2"),
               (T + 9.2, T + 20, "u/2", "r3")]
        self.assertEqual(ha.check_intervals(ivs), [])

    def test_overlap_is_reported_with_the_timeline(self):
        tl = ha.Timeline()
        tl.add("r1", "FAULT partition", T + 4)
        ivs = [(T, T + 5, "u/0", "r1"), (T + 4.5, T + 9, "u/1", "r2")]
        v = ha.check_intervals(ivs, tl)
        self.assertEqual(len(v), 1)
        self.assertIn("split brain: r1", v[0])
        self.assertIn("by 500.0 ms", v[0])
        self.assertIn("r1: FAULT partition", v[0])
        self.assertIn("r2 acting", v[0])

    def test_overlap_hidden_behind_a_short_interval_is_found(self):
        # r1's long interval covers r2's and r3's; r3 must not escape because
        # r2 ended before it started.
        ivs = [(T, T + 10, "u/0", "r1"), (T + 1, T + 2, "u/1", "r2"), (T + 3, T + 4, "u/2", "r3")]
        self.assertEqual(len(ha.check_intervals(ivs)), 2)

    def test_one_microsecond_overlap_counts(self):
        ivs = [(T, T + 5.000001, "u/0", "r1"), (T + 5, T + 9, "u/1", "r2")]
        self.assertEqual(len(ha.check_intervals(ivs)), 1)

    def test_epoch_that_does_not_increase_is_reported(self):
        ivs = [(T, T + 5, "u/3", "r1"), (T + 6, T + 9, "u/3", "r2")]
        v = ha.check_intervals(ivs)
        self.assertEqual(len(v), 1)
        self.assertIn("epoch did not increase", v[0])
        ivs = [(T, T + 5, "u/3", "r1"), (T + 6, T + 9, "u/2", "r2")]
        self.assertEqual(len(ha.check_intervals(ivs)), 1)

    def test_a_resumed_term_is_not_a_new_term_but_only_for_the_same_replica(self):
        # r1's renewal reached its core after the deadline: the term resumed
        # (the same epoch, the same replica) after a gap. Not a violation.
        ivs = [(T, T + 5, "u/3", "r1"), (T + 5.5, T + 9, "u/3", "r1")]
        self.assertEqual(ha.check_intervals(ivs), [])
        # Another replica under that epoch is, and so is a lower epoch.
        ivs = [(T, T + 5, "u/3", "r1"), (T + 5.5, T + 9, "u/3", "r1"), (T + 10, T + 12, "u/3", "r2")]
        self.assertEqual(len(ha.check_intervals(ivs)), 1)
        ivs = [(T, T + 5, "u/3", "r1"), (T + 6, T + 9, "u/2", "r1")]
        self.assertEqual(len(ha.check_intervals(ivs)), 1)

    def test_new_lease_uid_and_unknown_epochs_are_not_compared(self):
        ivs = [(T, T + 5, "u/3", "r1"), (T + 6, T + 9, "v/0", "r2"),
               (T + 10, T + 11, "unknown/0", "r3"), (T + 12, T + 13, "v/1", "r1")]
        self.assertEqual(ha.check_intervals(ivs), [])

    def test_log_parsing_cuts_at_sigstop_and_closes_at_kill(self):
        with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False) as f:
            f.write("2026-11-25T10:00:00.000000Z info [core] ready: leading with epoch u/0\n"
                    "2026-11-25T10:00:10.000000Z info [core] not ready: role follower, "
                    "holder \"\"\n"
                    "2026-11-25T10:00:20.000000Z info [core] ready: leading with epoch u/2\n")
        inc = ha.Incarnation(None, f.name, 0)
        t0 = ha.parse_ts("2026-11-25T10:00:00.000000Z")
        inc.frozen = [(t0 + 4, t0 + 8)]
        inc.killed_at = t0 + 25
        self.assertEqual(inc.intervals(), [(t0, t0 + 4, "u/0"), (t0 + 20, t0 + 25, "u/2")])
        os.unlink(f.name)


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
    from ctest_main import main  # noqa: E402
    main()
