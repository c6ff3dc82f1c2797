#!/usr/bin/env bash
# Build pgdc-clientgo-peer (tests/ha/peer: client-go's leader elector as a
# reference peer) with CGO_ENABLED=0 and cache it outside the source tree:
#   ${PGDC_TOOLS_CACHE:-$HOME/.cache/pgdog-control/tools}/pgdc-clientgo-peer-<client-go version>-<src hash>/pgdc-clientgo-peer
# <src hash> is the first 12 hex digits of the sha256 of main.go, go.mod and
# go.sum, so any edit gives a new cache entry. A cached binary that runs and
# reports that version is reused; the build is skipped. Prints the path.
#
# Usage: build-peer.sh [--print-env] [--force]
#   --print-env  print only PGDC_CLIENTGO_PEER_BIN=... on stdout
#   --force      rebuild even when the cache holds a working binary
# Environment: PGDC_TOOLS_CACHE, PGDC_GO_BUILD_P (go build -p, default 2).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../lib/go-tool.sh
source "$here/../lib/go-tool.sh"
go_tool_init build-peer "$@"
src="$here/peer"


CLIENT_GO="$(go_mod_require_version "$src/go.mod" k8s.io/client-go)"
[[ -n "$CLIENT_GO" ]] || die "k8s.io/client-go not required in $src/go.mod"
HASH="$(cat "$src/main.go" "$src/go.mod" "$src/go.sum" | sha256sum | cut -c1-12)"
bin="$cache/pgdc-clientgo-peer-$CLIENT_GO-$HASH/pgdc-clientgo-peer"

works() {
  local out
  [[ -x "$bin" ]] || return 1
  out="$("$bin" --version 2>&1)" || return 1
  [[ "$out" == "pgdc-clientgo-peer $HASH client-go $CLIENT_GO" ]]
}

if (( force )) || ! works; then
  command -v go >/dev/null || die "go is not on PATH"
  # Same isolation as tests/kube/build-tools.sh: go.mod/go.sum are never
  # rewritten, no workspace, no toolchain download.
  export GOWORK=off GOFLAGS="-mod=readonly -buildvcs=false" CGO_ENABLED=0
  export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
  mkdir -p "$(dirname "$bin")"
  tmp="$bin.tmp.$$"
  t0=$SECONDS
  log "go build ./ (client-go $CLIENT_GO, source $HASH) -> $bin"
  if ! (cd "$src" && go build -p "${PGDC_GO_BUILD_P:-2}" -trimpath \
          -ldflags "-s -w -X main.version=$HASH -X main.clientGoVersion=$CLIENT_GO" -o "$tmp" .); then
    rm -f "$tmp"; die "go build failed (is the Go module proxy reachable? GOPROXY=$(go env GOPROXY))"
  fi
  mv -f "$tmp" "$bin"
  works || die "$bin was built but its version check failed"
  log "build time: $((SECONDS - t0))s"
else
  log "cached pgdc-clientgo-peer is up to date (client-go $CLIENT_GO, source $HASH)"
fi

if (( print_env )); then
  printf 'PGDC_CLIENTGO_PEER_BIN=%q\n' "$bin"
else
  echo "$bin"
fi
