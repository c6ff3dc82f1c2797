#!/usr/bin/env bash
# Build helm from the Go module proxy, cached by version outside the source tree:
#   ${PGDC_TOOLS_CACHE:-$HOME/.cache/pgdog-control/tools}/helm-<version>/helm
# A cached binary that runs and reports the expected version is reused.
#
# Usage: build-helm.sh [--print-env] [--force]
#   --print-env  print only the shell assignment HELM_BIN=... on stdout
#                (messages go to stderr)
#   --force      rebuild even when the cache holds a working binary
# Environment: PGDC_HELM_VERSION (default v3.22.0), PGDC_TOOLS_CACHE,
#              PGDC_GO_BUILD_P (go build -p, default 2).
#
# helm.sh/helm/v3 has no replace directives, so `go install pkg@version` builds
# it as released. The version ldflags are the ones helm's own Makefile sets:
# without them `helm version` says v3.x-dev-ish defaults and .Capabilities
# assumes Kubernetes v1.20; the Kubernetes version stamped here is derived
# from the client-go the release requires (v0.37.x -> 1.37), as helm does.
set -euo pipefail

# shellcheck source=../lib/go-tool.sh
source "$(cd "$(dirname "$0")" && pwd)/../lib/go-tool.sh"
go_tool_init build-helm "$@"
VERSION="${PGDC_HELM_VERSION:-v3.22.0}"
bin="$cache/helm-$VERSION/helm"


[[ "$VERSION" =~ ^v3\.[0-9]+\.[0-9]+$ ]] || die "PGDC_HELM_VERSION must look like v3.N.P, got $VERSION"

works() {
  local out
  [[ -x "$bin" ]] || return 1
  out="$("$bin" version --template '{{.Version}}' 2>/dev/null)" || return 1
  [[ "$out" == "$VERSION" ]]
}

mkdir -p "$cache"
# One build at a time per cache (parallel CTest runs, several build trees).
exec 8>"$cache/.helm-$VERSION.lock"
flock 8

if (( force )) || ! works; then
  command -v go >/dev/null || die "go is not on PATH (needed to build helm $VERSION)"
  export GOWORK=off GOFLAGS="-buildvcs=false" CGO_ENABLED=0
  export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
  # Outside any module: go install pkg@version must not see a go.mod.
  cd "$cache"

  gomod="$(go mod download -json "helm.sh/helm/v3@$VERSION" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("GoMod") or ""); e=d.get("Error"); sys.exit(1 if e else 0)')" \
    || die "cannot download helm.sh/helm/v3@$VERSION (is the Go module proxy reachable? GOPROXY=$(go env GOPROXY))"
  client_go="$(awk '$1=="k8s.io/client-go" {print $2; exit}' "$gomod")"
  [[ "$client_go" =~ ^v0\.([0-9]+)\.[0-9]+ ]] || die "cannot find k8s.io/client-go in $gomod"
  k8s_minor="${BASH_REMATCH[1]}"

  p="${PGDC_GO_BUILD_P:-2}"
  ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$VERSION"
  ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  ldflags+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$k8s_minor"
  ldflags+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$k8s_minor"

  tmp="$cache/helm-$VERSION.tmp.$$"
  rm -rf "$tmp"; mkdir -p "$tmp"
  trap 'rm -rf "$tmp"' EXIT
  log "building helm $VERSION (Kubernetes 1.$k8s_minor client libraries) with go install -p $p, CGO_ENABLED=0; a cold build takes a few minutes"
  t0=$SECONDS
  GOBIN="$tmp" go install -p "$p" -trimpath -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$VERSION" \
    || die "go install helm.sh/helm/v3/cmd/helm@$VERSION failed"
  mkdir -p "$(dirname "$bin")"
  mv -f "$tmp/helm" "$bin"
  works || die "$bin was built but does not report version $VERSION"
  log "built $bin in $((SECONDS - t0))s"
else
  log "cached helm $VERSION is up to date ($bin)"
fi

if (( print_env )); then
  printf 'HELM_BIN=%q\n' "$bin"
else
  echo "helm: $bin ($("$bin" version --short 2>&1))"
fi
