#!/bin/sh
# Runs every fuzz target of a PGDC_FUZZ build for a bounded time, starting from
# its committed seed corpus (tests/fuzz/corpus/<target>/, read only: new inputs
# go to a scratch directory). Fails on the first crash, leak or timeout.
#   run_fuzzers.sh <build-fuzz dir> [seconds per target, default 20]
set -eu
build=$1
seconds=${2:-20}
here=$(cd "$(dirname "$0")" && pwd)
for target in register metrics upload ack issue switchover queries admission; do
  bin="$build/bin/pgdc_fuzz_$target"
  work="$build/fuzz-work/$target"
  rm -rf "$work"
  mkdir -p "$work"
  echo "fuzz: $target for ${seconds}s"
  # -timeout: one input taking over 10 s is a finding (a hang).
  if ! "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
      -print_final_stats=1 -artifact_prefix="$work/" "$work" "$here/corpus/$target" \
      >"$work.log" 2>&1; then
    tail -n 60 "$work.log"
    echo "fuzz: $target FAILED (artifacts in $work)" >&2
    exit 1
  fi
  grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb" "$work.log" | tr '\n' ' '
  echo
done
echo "fuzz: all targets ran ${seconds}s without a finding"
