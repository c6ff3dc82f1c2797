#!/bin/sh
# sdk_example_out_of_tree.sh <build dir> <source dir> <work dir> <load check tool> \
#                            <cmake> <ctest> <generator> <c++ compiler> <build type>
#
# What a third party does: install the SDK from <build dir> into a fresh
# prefix, configure sdk/examples/file-lock on its own against that prefix
# (find_package(PgDogControlSdk CONFIG), nothing else from this tree), build
# it with -Werror, run its tests (the SDK conformance suite included), then
# load the built plugin through core/plugin (pgdc_load_plugin_check).
# Leaves <work dir>/build/example-file-lock.so for the export check.
set -eu
build=$1 source=$2 work=$3 check=$4 cmake=$5 ctest=$6 generator=$7 cxx=$8 build_type=$9

rm -rf "$work"
mkdir -p "$work"

echo "== install the SDK (component sdk) into $work/prefix"
"$cmake" --install "$build" --component sdk --prefix "$work/prefix"

echo "== configure the example out of tree"
"$cmake" -S "$source/sdk/examples/file-lock" -B "$work/build" -G "$generator" \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE="$build_type" \
  -DCMAKE_PREFIX_PATH="$work/prefix" -DEXAMPLE_WERROR=ON

echo "== build"
"$cmake" --build "$work/build" -j1

echo "== its tests"
"$ctest" --test-dir "$work/build" --output-on-failure

echo "== load it through core/plugin"
lock="$work/leader.lock"
"$check" "$work/build/example-file-lock.so" \
  "{\"identity\":\"e2e\",\"lease_interval_ms\":50,\"options\":{\"lock_file\":\"$lock\"}}" \
  | tee "$work/load-check.txt"
grep -q '^plugin ".*/example-file-lock.so": example-file-lock 1.0.0 (ABI 1\.[0-9]*): ' \
  "$work/load-check.txt"
grep -q '^leadership: role=leader holder=e2e scope=[0-9a-f]* epoch=1$' "$work/load-check.txt"
echo "ok"
