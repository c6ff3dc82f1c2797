#!/usr/bin/env bash
# Build kube-apiserver, kube-controller-manager (the rollout tests), kubectl and
# etcd from Go modules (tests/kube/tools),
# cached by version outside the source tree:
#   ${PGDC_TOOLS_CACHE:-$HOME/.cache/pgdog-control/tools}/<name>-<version>/<name>
# A cached binary that exists and answers its version check is reused.
#
# Usage: build-tools.sh [--print-env] [--force]
#   --print-env  print only shell assignments KUBE_APISERVER_BIN=..., ETCD_BIN=...,
#                KUBECTL_BIN=..., KUBE_CONTROLLER_MANAGER_BIN=... on stdout (messages go to stderr)
#   --force      rebuild even when the cache holds working binaries
# Environment: PGDC_TOOLS_CACHE, PGDC_GO_BUILD_P (go build -p, default 2).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../lib/go-tool.sh
source "$here/../lib/go-tool.sh"
go_tool_init build-tools "$@"
tools_dir="$here/tools"


# Versions come from the tools module's go.mod (the tool block pins them).
req_version() { go_mod_require_version "$tools_dir/go.mod" "$1"; }
K8S_VERSION="$(req_version k8s.io/kubernetes)"
ETCD_VERSION="$(req_version go.etcd.io/etcd/server/v3)"
[[ -n "$K8S_VERSION" ]] || die "k8s.io/kubernetes not required in $tools_dir/go.mod"
[[ -n "$ETCD_VERSION" ]] || die "go.etcd.io/etcd/server/v3 not required in $tools_dir/go.mod"
[[ "$K8S_VERSION" =~ ^v([0-9]+)\.([0-9]+)\.[0-9]+$ ]] || die "unexpected k8s version $K8S_VERSION"
K8S_MAJOR="${BASH_REMATCH[1]}"
K8S_MINOR="${BASH_REMATCH[2]}"

apiserver_bin="$cache/kube-apiserver-$K8S_VERSION/kube-apiserver"
kcm_bin="$cache/kube-controller-manager-$K8S_VERSION/kube-controller-manager"
kubectl_bin="$cache/kubectl-$K8S_VERSION/kubectl"
etcd_bin="$cache/etcd-$ETCD_VERSION/etcd"

path_of() {
  case "$1" in
    kube-apiserver) echo "$apiserver_bin" ;;
    kube-controller-manager) echo "$kcm_bin" ;;
    kubectl) echo "$kubectl_bin" ;;
    etcd) echo "$etcd_bin" ;;
  esac
}

# A binary is usable when it runs and reports the expected version.
works() { # name path
  local out
  [[ -x "$2" ]] || return 1
  case "$1" in
    kube-apiserver|kube-controller-manager)
                    out="$("$2" --version 2>&1)" || return 1
                    [[ "$out" == *"$K8S_VERSION"* ]] ;;
    kubectl)        out="$("$2" version --client 2>&1)" || return 1
                    [[ "$out" == *"$K8S_VERSION"* ]] ;;
    etcd)           out="$("$2" --version 2>&1)" || return 1
                    [[ "$out" == *"${ETCD_VERSION#v}"* ]] ;;
  esac
}

need=()
for name in kube-apiserver kube-controller-manager kubectl etcd; do
  if (( force )) || ! works "$name" "$(path_of "$name")"; then need+=("$name"); fi
done

if (( ${#need[@]} > 0 )); then
  command -v go >/dev/null || die "go is not on PATH (needed to build ${need[*]})"
  # Isolate from the caller's Go settings that would change the module:
  # -mod=readonly so a GOFLAGS=-mod=mod in the environment cannot rewrite
  # go.mod/go.sum during a build; no workspace; no toolchain download.
  export GOWORK=off GOFLAGS="-mod=readonly -buildvcs=false" CGO_ENABLED=0
  export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
  cd "$tools_dir"

  # etcd must be the version k8s.io/kubernetes itself requires.
  k8s_gomod="$(go list -m -f '{{.GoMod}}' k8s.io/kubernetes)" || die "cannot resolve k8s.io/kubernetes (is the Go module proxy reachable? GOPROXY=$(go env GOPROXY))"
  k8s_etcd="$(awk '$1=="go.etcd.io/etcd/server/v3" {print $2; exit}' "$k8s_gomod")"
  [[ "$k8s_etcd" == "$ETCD_VERSION" ]] || die "go.mod pins etcd $ETCD_VERSION but k8s.io/kubernetes@$K8S_VERSION requires $k8s_etcd"
  ./gen-replaces.sh --check >&2 || die "replace directives are stale; run tests/kube/tools/gen-replaces.sh"

  p="${PGDC_GO_BUILD_P:-2}"
  cv="k8s.io/component-base/version"
  gv="k8s.io/client-go/pkg/version"
  stamp="-X $cv.gitVersion=$K8S_VERSION -X $cv.gitMajor=$K8S_MAJOR -X $cv.gitMinor=$K8S_MINOR"
  stamp+=" -X $gv.gitVersion=$K8S_VERSION -X $gv.gitMajor=$K8S_MAJOR -X $gv.gitMinor=$K8S_MINOR"

  log "building ${need[*]} (k8s $K8S_VERSION, etcd $ETCD_VERSION) with go build -p $p, CGO_ENABLED=0; a cold build takes many minutes"
  t0=$SECONDS
  for name in "${need[@]}"; do
    case "$name" in
      kube-apiserver) pkg=k8s.io/kubernetes/cmd/kube-apiserver; out="$apiserver_bin"; ldflags="-s -w $stamp" ;;
      kube-controller-manager) pkg=k8s.io/kubernetes/cmd/kube-controller-manager; out="$kcm_bin"; ldflags="-s -w $stamp" ;;
      kubectl)        pkg=k8s.io/kubernetes/cmd/kubectl;        out="$kubectl_bin";   ldflags="-s -w $stamp" ;;
      etcd)           pkg=go.etcd.io/etcd/server/v3;            out="$etcd_bin";      ldflags="-s -w" ;;
    esac
    mkdir -p "$(dirname "$out")"
    tmp="$out.tmp.$$"
    t1=$SECONDS
    log "  go build $pkg -> $out"
    if ! go build -p "$p" -trimpath -ldflags "$ldflags" -o "$tmp" "$pkg"; then
      rm -f "$tmp"; die "go build $pkg failed"
    fi
    mv -f "$tmp" "$out"
    works "$name" "$out" || die "$out was built but its version check failed"
    log "  built $name in $((SECONDS - t1))s"
  done
  log "build time: $((SECONDS - t0))s for ${need[*]}"
else
  log "cached binaries are up to date (k8s $K8S_VERSION, etcd $ETCD_VERSION)"
fi

if (( print_env )); then
  printf 'KUBE_APISERVER_BIN=%q\nETCD_BIN=%q\nKUBECTL_BIN=%q\nKUBE_CONTROLLER_MANAGER_BIN=%q\n' \
    "$apiserver_bin" "$etcd_bin" "$kubectl_bin" "$kcm_bin"
else
  echo "kube-apiserver: $apiserver_bin ($("$apiserver_bin" --version 2>&1 | head -1))"
  echo "kube-controller-manager: $kcm_bin ($("$kcm_bin" --version 2>&1 | head -1))"
  echo "etcd:           $etcd_bin ($("$etcd_bin" --version 2>&1 | head -1))"
  echo "kubectl:        $kubectl_bin ($("$kubectl_bin" version --client 2>&1 | head -1))"
fi
