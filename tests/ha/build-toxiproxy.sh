#!/usr/bin/env bash
# Build toxiproxy-server and toxiproxy-cli from github.com/Shopify/toxiproxy/v2
# (Go module proxy only) and cache them by version outside the source tree:
#   ${PGDC_TOOLS_CACHE:-$HOME/.cache/pgdog-control/tools}/toxiproxy-<version>/toxiproxy-{server,cli}
# The module's go.mod has no replace directives, so `go install pkg@version`
# works without a tools module. A cached pair that reports the right version is
# reused; the build is skipped.
#
# Usage: build-toxiproxy.sh [--print-env] [--force]
#   --print-env  print only TOXIPROXY_SERVER_BIN=... TOXIPROXY_CLI_BIN=... on stdout
#   --force      rebuild even when the cache holds working binaries
# Environment: PGDC_TOOLS_CACHE, PGDC_TOXIPROXY_VERSION (default below),
#              PGDC_GO_BUILD_P (go build -p, default 2).
set -euo pipefail

# shellcheck source=../lib/go-tool.sh
source "$(cd "$(dirname "$0")" && pwd)/../lib/go-tool.sh"
go_tool_init build-toxiproxy "$@"
VERSION="${PGDC_TOXIPROXY_VERSION:-v2.5.0}"
MOD=github.com/Shopify/toxiproxy/v2
dir="$cache/toxiproxy-$VERSION"
server_bin="$dir/toxiproxy-server"
cli_bin="$dir/toxiproxy-cli"


# Both binaries print "toxiproxy-<x> version <VERSION>" (the -X stamp below).
works() { # path
  local out
  [[ -x "$1" ]] || return 1
  out="$("$1" --version 2>&1)" || return 1
  [[ "$out" == *"${VERSION#v}"* ]]
}

if (( force )) || ! works "$server_bin" || ! works "$cli_bin"; then
  command -v go >/dev/null || die "go is not on PATH"
  # go install pkg@version ignores any enclosing module; keep the caller's Go
  # settings out anyway (no workspace, no toolchain download, no -mod=mod).
  export GOWORK=off GOFLAGS="-buildvcs=false" CGO_ENABLED=0
  export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
  mkdir -p "$dir"
  tmp="$(mktemp -d "$dir/.gobin.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  t0=$SECONDS
  log "go install $MOD/cmd/{server,cli}@$VERSION (CGO_ENABLED=0)"
  # Run from a neutral directory so no go.mod/go.work around the caller applies.
  (cd "$tmp" && GOBIN="$tmp" go install -p "${PGDC_GO_BUILD_P:-2}" -trimpath \
      -ldflags "-s -w -X $MOD.Version=${VERSION#v}" \
      "$MOD/cmd/server@$VERSION" "$MOD/cmd/cli@$VERSION") \
    || die "go install failed (is the Go module proxy reachable? GOPROXY=$(go env GOPROXY))"
  mv -f "$tmp/server" "$server_bin"
  mv -f "$tmp/cli" "$cli_bin"
  works "$server_bin" || die "$server_bin built but its version check failed"
  works "$cli_bin" || die "$cli_bin built but its version check failed"
  log "build time: $((SECONDS - t0))s"
else
  log "cached toxiproxy $VERSION is up to date"
fi

if (( print_env )); then
  printf 'TOXIPROXY_SERVER_BIN=%q\nTOXIPROXY_CLI_BIN=%q\n' "$server_bin" "$cli_bin"
else
  echo "toxiproxy-server: $server_bin ($("$server_bin" --version 2>&1 | head -1))"
  echo "toxiproxy-cli:    $cli_bin ($("$cli_bin" --version 2>&1 | head -1))"
fi
