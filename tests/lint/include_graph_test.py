#!/usr/bin/env python3
"""The core's include graph must agree with its CMake dependency graph.

core/CMakeLists.txt builds one static library per area (pgdc_core_area(<area>
DEPS ...)). A file of area A that includes "B/..." uses area B, so pgdc_B must
be among A's declared DEPS: otherwise A compiles only because some other
dependency happens to bring B's headers along, and the layering the
CMakeLists describes is not the one the code has. This test fails, naming the
file and the include, for every undeclared use, and for a dependency cycle.

Run: python3 tests/lint/include_graph_test.py [repo root]
"""
import os
import re
import sys
import unittest

ROOT = sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("-") else \
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
CORE = os.path.join(ROOT, "core")


def declared_deps():
    """{area: set(areas)} from the pgdc_core_area calls and core/<area>/CMakeLists.txt."""
    deps = {}
    with open(os.path.join(CORE, "CMakeLists.txt")) as f:
        text = f.read()
    for m in re.finditer(r"pgdc_core_area\(\s*(\w+)(.*?)\)\s*$", text, re.S | re.M):
        area, rest = m.group(1), m.group(2)
        deps[area] = set(re.findall(r"\bpgdc_(\w+)", rest))
    # Areas with a CMakeLists of their own (the dashboard): their
    # target_link_libraries of pgdc_<area>.
    for area in os.listdir(CORE):
        sub = os.path.join(CORE, area, "CMakeLists.txt")
        if area in deps or not os.path.exists(sub):
            continue
        with open(sub) as f:
            sub_text = f.read()
        found = set()
        for m in re.finditer(r"target_link_libraries\(\s*pgdc_%s\b(.*?)\)" % area, sub_text, re.S):
            found |= set(re.findall(r"\bpgdc_(\w+)", m.group(1)))
        deps[area] = found - {area}
    return deps


def includes(area):
    """[(file, line number, used area)] for every "<area>/..." include."""
    out = []
    base = os.path.join(CORE, area)
    for dirpath, dirnames, files in os.walk(base):
        dirnames[:] = [d for d in dirnames if d not in ("web", "node_modules")]
        for name in files:
            if not name.endswith((".h", ".hpp", ".cpp")):
                continue
            path = os.path.join(dirpath, name)
            with open(path, errors="replace") as f:
                for n, line in enumerate(f, 1):
                    m = re.match(r'\s*#\s*include\s+"([a-z_]+)/', line)
                    if m:
                        out.append((os.path.relpath(path, ROOT), n, m.group(1)))
    return out


class IncludeGraph(unittest.TestCase):
    def test_every_include_of_another_area_is_a_declared_dependency(self):
        deps = declared_deps()
        self.assertIn("leadership", deps, "could not read core/CMakeLists.txt")
        problems = []
        for area in sorted(deps):
            for path, n, used in includes(area):
                if used == area or used not in deps:
                    continue  # itself, or not a core area (e.g. a generated header dir)
                if used not in deps[area]:
                    problems.append(f"{path}:{n}: area \"{area}\" includes \"{used}/...\" but "
                                    f"core/CMakeLists.txt does not list pgdc_{used} in its DEPS")
        self.assertEqual(problems, [], "\n" + "\n".join(problems))

    def test_the_declared_graph_has_no_cycle(self):
        deps = declared_deps()
        state = {}

        def visit(a, stack):
            if state.get(a) == "done":
                return None
            if state.get(a) == "active":
                return stack[stack.index(a):] + [a]
            state[a] = "active"
            for b in sorted(deps.get(a, ())):
                if b in deps:
                    cycle = visit(b, stack + [a])
                    if cycle:
                        return cycle
            state[a] = "done"
            return None

        for a in sorted(deps):
            cycle = visit(a, [])
            self.assertIsNone(cycle, f"dependency cycle: {' -> '.join(cycle or [])}")


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
    from ctest_main import main  # noqa: E402
    main(argv=[sys.argv[0]] + [a for a in sys.argv[1:] if a.startswith("-")])
