#!/usr/bin/env python3
"""Token rotation without a restart: a running daemon re-reads its token files
(every 5 s) and takes a rotated token. The files are laid out as the kubelet
lays out a Secret volume (`<key>` -> `..data/<key>`, `..data` -> a timestamped
directory, swapped atomically on update), and rotated the way the chart's
docs say: add the new token as a second line, then remove the old one.

Environment (set by CTest): PGDC_BIN, PGDC_SCRIPTED_PLUGIN, PGDC_TMP (see
daemon_test.py, whose Daemon helper this reuses).
"""
import os
import re
import shutil
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon_test import TMP, Daemon  # noqa: E402
from api_test import call  # noqa: E402

OLD = "shop-old-token-0123456789abcdef"
NEW = "shop-new-token-0123456789abcdef"
ADMIN_OLD = "admin-old-token-0123456789abcdef"
ADMIN_NEW = "admin-new-token-0123456789abcdef"
# The daemon's reload period (5 s) plus a margin for a loaded 2-core machine:
# a liveness bound; the measured delay is printed.
RELOAD_BOUND = 12.0


class SecretVolume:
    """A directory laid out like a kubelet Secret volume."""

    def __init__(self, name):
        self.dir = os.path.join(TMP, name)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir, mode=0o700)
        self.generation = 0

    def path(self, key):
        return os.path.join(self.dir, key)

    def write(self, data):
        """Publishes {key: text} as the kubelet's atomic writer does."""
        self.generation += 1
        new = f"..{self.generation:04d}"
        os.mkdir(os.path.join(self.dir, new))
        for key, text in data.items():
            p = os.path.join(self.dir, new, key)
            with open(p, "w") as f:
                f.write(text)
            os.chmod(p, 0o440)
        old = os.readlink(os.path.join(self.dir, "..data")) if self.generation > 1 else None
        tmp = os.path.join(self.dir, "..data_tmp")
        os.symlink(new, tmp)
        os.replace(tmp, os.path.join(self.dir, "..data"))
        for key in data:
            link = os.path.join(self.dir, key)
            if not os.path.islink(link):
                os.symlink(os.path.join("..data", key), link)
        if old:
            shutil.rmtree(os.path.join(self.dir, old))


def config(volume):
    return (
        'listen: "127.0.0.1:@PORT@"\n'
        "api:\n"
        "  deployments:\n"
        "    - name: shop\n"
        f"      token_file: {volume.path('shop')}\n"
        "  web:\n"
        "    read_access: token\n"
        f"    admin_token_file: {volume.path('admin')}\n"
    )


def machine_status(port, token):
    s, _, _ = call(port, "POST", "/api/v2/register",
                   {"node_id": "n-1", "version": "0.1.30", "host": "10.0.0.7"}, token)
    return s


def web_status(port, token):
    return call(port, "GET", "/api/web/deployments", token=token)[0]


def reloads(port):
    _, _, text = call(port, "GET", "/metrics")
    out = {}
    for result in ("ok", "error"):
        m = re.search(r'^pgdog_control_token_reloads_total\{result="%s"\} (\S+)$' % result, text, re.M)
        out[result] = float(m.group(1)) if m else None
    return out


class Rotation(unittest.TestCase):
    def setUp(self):
        self.volume = SecretVolume(f"secret-{os.getpid()}-{self._testMethodName}")
        self.volume.write({"shop": OLD + "\n", "admin": ADMIN_OLD + "\n"})
        self.d = Daemon(config(self.volume))
        self.addCleanup(self.d.close)
        self.d.wait_status("/readyz", 200)

    def wait_for(self, what, predicate):
        start = time.monotonic()
        while time.monotonic() - start < RELOAD_BOUND:
            if predicate():
                took = time.monotonic() - start
                print(f"  {what}: {took:.2f} s", file=sys.stderr)
                return took
            time.sleep(0.1)
        self.fail(f"{what}: not within {RELOAD_BOUND} s\n{self.d.logs()}")

    def test_a_rotated_token_is_taken_without_a_restart(self):
        port = self.d.port
        pid = self.d.proc.pid
        self.assertIn(machine_status(port, OLD), (200, 201))
        self.assertEqual(machine_status(port, NEW), 401)
        self.assertEqual(web_status(port, ADMIN_OLD), 200)
        self.assertEqual(reloads(port), {"ok": 0, "error": 0})

        # 1. The new token beside the old one: both work.
        self.volume.write({"shop": f"{OLD}\n{NEW}\n", "admin": ADMIN_OLD + "\n"})
        self.wait_for("new token accepted", lambda: machine_status(port, NEW) != 401)
        self.assertIn(machine_status(port, OLD), (200, 201))
        # 3. The old one removed (and the admin token rotated at once).
        self.volume.write({"shop": NEW + "\n", "admin": ADMIN_NEW + "\n"})
        self.wait_for("old token refused", lambda: machine_status(port, OLD) == 401)
        self.assertIn(machine_status(port, NEW), (200, 201))
        self.assertEqual(web_status(port, ADMIN_NEW), 200)
        self.assertEqual(web_status(port, ADMIN_OLD), 401)

        self.assertEqual(self.d.proc.pid, pid)
        self.assertIsNone(self.d.proc.poll(), "no restart")
        self.assertEqual(reloads(port), {"ok": 2, "error": 0})
        logs = self.d.logs()
        self.assertRegex(logs, r"tokens reloaded: api\.deployments\[0\]\.token_file \(shop\): "
                               r"\+1 token \[[0-9a-f]{12}\]")
        self.assertRegex(logs, r"api\.web\.admin_token_file: \+1 token \[[0-9a-f]{12}\], "
                               r"-1 token \[[0-9a-f]{12}\]")
        for token in (OLD, NEW, ADMIN_OLD, ADMIN_NEW):
            self.assertNotIn(token, logs)

    def test_a_broken_rotation_keeps_the_tokens_in_use(self):
        port = self.d.port
        self.volume.write({"shop": "too-short\n", "admin": ADMIN_OLD + "\n"})
        self.wait_for("reload error counted", lambda: reloads(port)["error"] == 1)
        self.assertIn(machine_status(port, OLD), (200, 201), "the old token still works")
        logs = self.d.logs()
        self.assertIn("token files changed but cannot be loaded, the tokens in use are kept: "
                      "api.deployments[0].token_file: ", logs)
        self.assertNotIn("too-short", logs)
        # Fixed: taken.
        self.volume.write({"shop": NEW + "\n", "admin": ADMIN_OLD + "\n"})
        self.wait_for("fixed token accepted", lambda: machine_status(port, NEW) != 401)
        self.assertEqual(machine_status(port, OLD), 401)
        self.assertEqual(reloads(port), {"ok": 1, "error": 1})
        self.assertEqual(self.d.stop(), 0)


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
    from ctest_main import main  # noqa: E402
    main()
