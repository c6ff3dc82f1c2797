"""Shared helpers for the Helm chart tests (tests/helm/*_test.py).

- helm: the binary built by build-helm.sh (cached by version), run with its
  own cache/config/data directories so the user's helm setup never leaks in.
- YAML: PyYAML when installed; otherwise helm itself converts YAML to JSON
  (a throw-away chart whose template is `fromYaml | toJson`), so no package
  has to be installed. PGDC_HELM_YAML=helm forces that route (to test it).
- The values matrix: tests/helm/values/<case>.yaml; files named invalid-*.yaml
  start with a line `# expect: <substring of the error message>`.

Environment: HELM_BIN (else build-helm.sh --print-env), PGDC_TMP (scratch).
"""
import functools
import json
import os
import re
import shlex
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
CHART = os.path.join(ROOT, "helm", "pgdog-control")
VALUES_DIR = os.path.join(HERE, "values")
# The test API server's version (tests/kube). Without release ldflags helm
# would assume 1.20 for .Capabilities; build-helm.sh stamps them, and the
# tests pass it explicitly anyway.
KUBE_VERSION = "1.37.2"
RELEASE = "pgdog-control"
NAMESPACE = "pgdc-test"
LEADER_LABEL = "pgdog.dev/control-leader"

TMP = os.environ.get("PGDC_TMP") or tempfile.mkdtemp(prefix="pgdc-helm-")
os.makedirs(TMP, exist_ok=True)


@functools.lru_cache(maxsize=None)
def helm_bin():
    if os.environ.get("HELM_BIN"):
        return os.environ["HELM_BIN"]
    r = subprocess.run([os.path.join(HERE, "build-helm.sh"), "--print-env"], capture_output=True,
                       text=True, timeout=3600)
    if r.returncode != 0:
        raise RuntimeError("build-helm.sh failed:\n" + r.stderr)
    for line in r.stdout.splitlines():
        if line.startswith("HELM_BIN="):
            return shlex.split(line[len("HELM_BIN="):])[0]
    raise RuntimeError("build-helm.sh printed no HELM_BIN:\n" + r.stdout)


def helm_env(extra=None):
    home = os.path.join(TMP, "helm-home")
    env = dict(os.environ)
    env.update({
        "HELM_CACHE_HOME": os.path.join(home, "cache"),
        "HELM_CONFIG_HOME": os.path.join(home, "config"),
        "HELM_DATA_HOME": os.path.join(home, "data"),
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    })
    env.pop("KUBECONFIG", None)
    if extra:
        env.update(extra)
    return env


def helm(*args, check=True, kubeconfig=None, timeout=120):
    cmd = [helm_bin()] + list(args)
    if kubeconfig:
        cmd += ["--kubeconfig", kubeconfig]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=helm_env())
    if check and r.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed ({r.returncode}):\n{r.stderr}")
    return r


def values_args(case=None, sets=()):
    args = []
    if case:
        args += ["-f", os.path.join(VALUES_DIR, case + ".yaml")]
    for s in sets:
        # "json:key=value" passes a JSON value (--set-json): --set turns 2.5 into a string.
        args += ["--set-json", s[5:]] if s.startswith("json:") else ["--set", s]
    return args


def template(case=None, sets=(), release=RELEASE, namespace=NAMESPACE, check=True):
    """`helm template` of the chart; returns the CompletedProcess."""
    return helm("template", release, CHART, "--namespace", namespace, "--kube-version",
                KUBE_VERSION, *values_args(case, sets), check=check)


def render(case=None, sets=(), release=RELEASE, namespace=NAMESPACE):
    """The chart's objects (list of dicts) for a values case."""
    return load_all(template(case, sets, release, namespace).stdout)


def valid_cases():
    return sorted(f[:-5] for f in os.listdir(VALUES_DIR)
                  if f.endswith(".yaml") and not f.startswith("invalid-"))


def invalid_cases():
    """[(case, expected message substring)]"""
    out = []
    for f in sorted(os.listdir(VALUES_DIR)):
        if f.startswith("invalid-") and f.endswith(".yaml"):
            with open(os.path.join(VALUES_DIR, f)) as fh:
                first = fh.readline()
            m = re.match(r"^# expect: (.+)$", first.rstrip("\n"))
            if not m:
                raise AssertionError(f"{f}: the first line must be '# expect: <message substring>'")
            out.append((f[:-5], m.group(1)))
    return out


# --- YAML -------------------------------------------------------------------

try:
    import yaml as _pyyaml  # noqa: F401
except ImportError:  # pragma: no cover - depends on the machine
    _pyyaml = None

_YAML2JSON_TEMPLATE = """{{- $docs := list -}}
{{- range $doc := regexSplit "(?m)^---[ \\t]*$" .Values.text -1 -}}
{{- $obj := fromYaml $doc -}}
{{- if hasKey $obj "Error" }}{{ fail (printf "YAML error: %s" (get $obj "Error")) }}{{ end -}}
{{- $docs = append $docs $obj -}}
{{- end -}}
{{ dict "docs" $docs | toJson }}
"""


@functools.lru_cache(maxsize=None)
def _yaml2json_chart():
    d = os.path.join(TMP, "yaml2json")
    os.makedirs(os.path.join(d, "templates"), exist_ok=True)
    with open(os.path.join(d, "Chart.yaml"), "w") as f:
        f.write("apiVersion: v2\nname: yaml2json\nversion: 0.0.0\n")
    with open(os.path.join(d, "templates", "docs.json"), "w") as f:
        f.write(_YAML2JSON_TEMPLATE)
    return d


def _load_all_with_helm(text):
    fd, path = tempfile.mkstemp(dir=TMP, suffix=".yaml")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    try:
        r = helm("template", "y", _yaml2json_chart(), "--set-file", f"text={path}")
    finally:
        os.unlink(path)
    body = "\n".join(l for l in r.stdout.splitlines() if l.strip() != "---" and not l.startswith("# Source:"))
    return json.loads(body)["docs"]


def load_all(text):
    """Every non-empty document of a multi-document YAML text."""
    if _pyyaml is not None and os.environ.get("PGDC_HELM_YAML") != "helm":
        docs = list(_pyyaml.safe_load_all(text))
    else:
        docs = _load_all_with_helm(text)
    return [d for d in docs if d]


def load(text):
    docs = load_all(text)
    if len(docs) != 1:
        raise AssertionError(f"expected one YAML document, got {len(docs)}")
    return docs[0]


# --- object access -------------------------------------------------------------


def by_kind(objs, kind):
    return [o for o in objs if o.get("kind") == kind]


def one(objs, kind):
    found = by_kind(objs, kind)
    if len(found) != 1:
        raise AssertionError(f"expected exactly one {kind}, got {len(found)}")
    return found[0]


def daemon_config(objs):
    """The daemon's config file from the chart's ConfigMap, parsed."""
    return load(one(objs, "ConfigMap")["data"]["config.yaml"])


def container(deployment, name="pgdog-control"):
    for c in deployment["spec"]["template"]["spec"]["containers"]:
        if c["name"] == name:
            return c
    raise AssertionError(f"no container {name}")


def env_of(c):
    return {e["name"]: e for e in c.get("env", [])}
