#!/bin/sh
# Checks a Prometheus exposition with `promtool check metrics` (format and
# lint). Fails on any problem.
#
# Usage: promtool_check.sh <url-or-file> [promtool]
#   url-or-file  http(s)://host:port/metrics, a file path, or "-" for stdin
#   promtool     the promtool binary (default: promtool on PATH)
#
# Exit status: 0 clean, 1 problems found or scrape failed, 2 usage, 77 skipped
# (promtool missing; ctest's SKIP_RETURN_CODE).
set -eu

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: $0 <url-or-file> [promtool]" >&2
  exit 2
fi
source=$1
promtool=${2:-promtool}

if ! command -v "$promtool" >/dev/null 2>&1; then
  echo "SKIP: $promtool not found" >&2
  exit 77
fi

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

case $source in
  http://* | https://*)
    if command -v curl >/dev/null 2>&1; then
      if ! curl --silent --show-error --fail --max-time 10 -o "$tmp" "$source"; then
        echo "FAIL: cannot scrape $source" >&2
        exit 1
      fi
    elif command -v wget >/dev/null 2>&1; then
      if ! wget -q -T 10 -O "$tmp" "$source"; then
        echo "FAIL: cannot scrape $source" >&2
        exit 1
      fi
    else
      echo "FAIL: neither curl nor wget is available to scrape $source" >&2
      exit 1
    fi
    ;;
  -) cat >"$tmp" ;;
  *)
    if [ ! -r "$source" ]; then
      echo "FAIL: cannot read $source" >&2
      exit 1
    fi
    cp "$source" "$tmp"
    ;;
esac

if [ ! -s "$tmp" ]; then
  echo "FAIL: empty exposition from $source" >&2
  exit 1
fi

# promtool prints lint problems and exits non-zero (3) when there are any.
if ! out=$("$promtool" check metrics <"$tmp" 2>&1); then
  echo "FAIL: promtool check metrics found problems in $source:" >&2
  echo "$out" >&2
  exit 1
fi
if [ -n "$out" ]; then  # belt and braces: any output is a problem
  echo "FAIL: promtool check metrics reported:" >&2
  echo "$out" >&2
  exit 1
fi
echo "OK: $source passes promtool check metrics ($(grep -c -v '^#' "$tmp") samples)"
