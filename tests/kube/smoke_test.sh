#!/usr/bin/env bash
# Smoke test of the test Kubernetes API server: start an environment in a temp
# dir, check RBAC, leases, version and an API-server restart, stop it.
# Exits non-zero on any failure. Ends with "N passed, N failed".
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"

passed=0
failed=0
ok()   { passed=$((passed + 1)); echo "PASS: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
check() { # description command...
  local d="$1"; shift
  if "$@"; then ok "$d"; else fail "$d"; fi
}

# Build (or find in the cache) before the clock starts.
eval "$("$here/build-tools.sh" --print-env)"
export KUBE_APISERVER_BIN ETCD_BIN KUBECTL_BIN
want_version="$("$KUBE_APISERVER_BIN" --version | awk '{print $2}')"

dir="$(mktemp -d "${TMPDIR:-/tmp}/pgdc-kube-smoke.XXXXXX")"
cleanup() {
  local rc=$?
  "$here/kube-env.sh" stop "$dir" >/dev/null 2>&1 || true
  if (( rc == 0 )); then rm -rf "$dir"; else echo "smoke_test: left $dir for inspection (logs/)"; fi
}
trap cleanup EXIT

t0=$(date +%s%3N)
"$here/kube-env.sh" start "$dir"
t1=$(date +%s%3N)
awk -v a="$t0" -v b="$t1" -v r="$(cat "$dir/start-to-ready-ms")" \
  'BEGIN {printf "smoke_test: start-to-ready %.1fs (kube-env start total %.1fs)\n", r/1000, (b-a)/1000}'

eval "$("$here/kube-env.sh" env "$dir")"
k() { # user args...
  local u="$1"; shift
  "$KUBECTL" --kubeconfig "$dir/kubeconfig-$u" --request-timeout=10s "$@"
}
lease() { # name holder [resourceVersion]
  printf 'apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata:\n  name: %s\n  namespace: %s\n' "$1" "$KUBE_NAMESPACE"
  if [[ -n "${3:-}" ]]; then printf '  resourceVersion: "%s"\n' "$3"; fi
  printf 'spec:\n  holderIdentity: %s\n  leaseDurationSeconds: 15\n' "$2"
}
create_lease() { lease "$2" "$3" | k "$1" create -f - >/dev/null; }          # user name holder
replace_lease() { lease "$2" "$3" "$4" | k "$1" replace -f - >/dev/null; }   # user name holder rv
# Output is captured before matching: `cmd | grep -q` can fail under pipefail
# when grep exits early and cmd gets SIGPIPE.
lists_smoke() { local o; o="$(k elector-1 get leases -o name)" && grep -qx lease.coordination.k8s.io/smoke <<<"$o"; }
client_version_ok() { local o; o="$("$KUBECTL" version --client)" && grep -qF "Client Version: $want_version" <<<"$o"; }
bad_token_401() {
  [[ "$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$KUBE_CA" -H 'Authorization: Bearer nope' "$KUBE_API_URL/api")" == 401 ]]
}
all_stopped() { local o; o="$("$here/kube-env.sh" status "$dir")" && ! grep -q running <<<"$o"; }
forbidden() { # user args... : the command fails with Forbidden
  local u="$1" out; shift
  if out="$(k "$u" "$@" 2>&1)"; then echo "  unexpectedly allowed: $out"; return 1; fi
  [[ "$out" == *Forbidden* || "$out" == *forbidden* ]] || { echo "  not a Forbidden error: $out"; return 1; }
}
holder_is() { # user name expected
  [[ "$(k "$1" get lease "$2" -o 'jsonpath={.spec.holderIdentity}')" == "$3" ]]
}

# Version: stamped, not v0.0.0.
server_version="$(curl -fsS --cacert "$KUBE_CA" -H "Authorization: Bearer $KUBE_ADMIN_TOKEN" "$KUBE_API_URL/version" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["gitVersion"])')"  || server_version="<no answer>"
echo "server version: $server_version"
check "server reports $want_version" [ "$server_version" = "$want_version" ]
is_v137() { [[ "$server_version" == v1.37.* ]]; }
check "server version is v1.37.x" is_v137
check "kubectl client reports $want_version" client_version_ok

# elector-1: create, get, update.
check "elector-1 creates a Lease" create_lease elector-1 smoke elector-1
check "elector-1 gets the Lease" holder_is elector-1 smoke elector-1
rv="$(k elector-1 get lease smoke -o 'jsonpath={.metadata.resourceVersion}')"
check "elector-1 updates the Lease (PUT with resourceVersion)" replace_lease elector-1 smoke elector-2 "$rv"
check "the update is visible" holder_is elector-2 smoke elector-2
stale_out="$(lease smoke elector-3 "$rv" | k elector-3 replace -f - 2>&1 || true)"
check "a stale resourceVersion gets a Conflict" grep -q -i 'conflict\|modified' <<<"$stale_out"
check "elector-1 lists Leases" lists_smoke
check "elector-1 creates a member-like Lease" create_lease elector-1 smoke-member elector-1
check "elector-1 deletes it (member Leases need delete)" k elector-1 delete lease smoke-member

# unbound: authenticated but no binding.
check "unbound gets Forbidden on get" forbidden unbound get lease smoke
check "unbound gets Forbidden on create" forbidden unbound create -f <(lease other unbound)
check "a bad token is Unauthorized (401)" bad_token_401

# narrow-1: only the lease named pgdog-control.
check "narrow-1 creates lease pgdog-control" create_lease narrow-1 pgdog-control narrow-1
check "narrow-1 gets lease pgdog-control" holder_is narrow-1 pgdog-control narrow-1
check "narrow-1 gets Forbidden on another lease" forbidden narrow-1 get lease smoke

# API server stopped and restarted: same URL, CA and tokens; data kept in etcd.
t2=$(date +%s%3N)
"$here/kube-env.sh" restart-apiserver "$dir"
t3=$(date +%s%3N)
awk -v a="$t2" -v b="$t3" 'BEGIN {printf "smoke_test: restart-apiserver %.1fs\n", (b-a)/1000}'
check "after restart-apiserver elector-1 still reads the Lease" holder_is elector-1 smoke elector-2
check "after restart-apiserver the CA still verifies" curl -fsS -o /dev/null --cacert "$KUBE_CA" -H "Authorization: Bearer $KUBE_ADMIN_TOKEN" "$KUBE_API_URL/readyz"

"$here/kube-env.sh" stop "$dir"
check "stop ends both processes" all_stopped
check "stop is safe to repeat" "$here/kube-env.sh" stop "$dir"

echo "$passed passed, $failed failed"
(( failed == 0 ))
