"""What a daemon's log says about its readiness: the lines core/daemon/app.cpp
(watch_leadership) writes, "ready: leading with epoch <epoch>" and
"not ready: ...", each with a microsecond UTC timestamp. The client-go
reference peer (tests/ha/peer) writes the same lines.

Used by every test that checks readiness intervals for overlap (tests/kube,
tests/ha, tests/image, the benchmarks).
"""
import datetime
import re

LOG_LINE = re.compile(r"^(\S+Z) \w+ \[core\] (ready: leading with epoch (\S+)|not ready: .*)$")


def parse_ts(text):
    """Unix seconds of a log timestamp, e.g. 2026-11-25T10:00:00.123456Z (UTC)."""
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def readiness_intervals(log_text, open_end):
    """[(start, end, epoch)] from one process's log, in order. An interval
    still open at the end of the log (ready now, or killed while ready) ends
    at open_end."""
    out, start, epoch = [], None, None
    for line in log_text.splitlines():
        m = LOG_LINE.match(line)
        if not m:
            continue
        t = parse_ts(m.group(1))
        if m.group(3):
            if start is None:
                start, epoch = t, m.group(3)
        elif start is not None:
            out.append((start, t, epoch))
            start = None
    if start is not None:
        out.append((start, open_end, epoch))
    return out
