"""unittest's main() for the Python tests CTest runs.

CTest knows one outcome per test program. A plain unittest.main() exits 0
when cases were skipped (no kube environment, a tool not built), so CTest
would report "Passed" for checks that never ran. This main() exits:
  0  every case ran and passed;
  1  a case failed or errored, or no case ran at all (a broken filter);
  77 nothing failed but some cases were skipped: each test registers
     SKIP_RETURN_CODE 77, so CTest reports it "Skipped", and the reasons are
     printed at the end of its output.
"""
import sys
import unittest

SKIP_RETURN_CODE = 77


def main(argv=None):
    program = unittest.main(argv=argv, exit=False, verbosity=2)
    result = program.result
    if not result.wasSuccessful():
        sys.exit(1)
    if result.testsRun == 0:
        print("no test case ran", file=sys.stderr)
        sys.exit(1)
    if result.skipped:
        print(f"\n{len(result.skipped)} of {result.testsRun} case(s) skipped, so CTest reports "
              "this test skipped:", file=sys.stderr)
        for case, reason in result.skipped:
            print(f"  {case.id()}: {reason}", file=sys.stderr)
        sys.exit(SKIP_RETURN_CODE)
    sys.exit(0)
