#!/bin/sh
# sdk_example_out_of_tree.sh <source dir> <work dir> <load check tool> <cmake> <ctest> \
#                            <generator> <c++ compiler> <c compiler> <build type>
#
# What a third party does, with nothing from this tree but sdk/ and the
# examples: configure the SDK on its own (cmake -S sdk: no Boost, no
# yaml-cpp, no daemon), build its header checks, install it into a fresh
# prefix; then configure each example on its own against that prefix
# (find_package(PgDogControlSdk 1 CONFIG)), build it with -Werror, run its
# tests (file-lock: the SDK conformance suite among them), load the built
# plugin through core/plugin (pgdc_load_plugin_check), and install it into
# a daemon prefix's default plugin_dir.
# Leaves <work dir>/build/example-file-lock.so for the export check.
set -eu
source=$1 work=$2 check=$3 cmake=$4 ctest=$5 generator=$6 cxx=$7 cc=$8 build_type=$9

rm -rf "$work"
mkdir -p "$work"

echo "== configure, check and install the SDK on its own into $work/prefix"
# GTest hidden from the SDK (this machine has it): installing the SDK must
# not need it. The file-lock example finds it itself for its tests.
"$cmake" -S "$source/sdk" -B "$work/sdk-build" -G "$generator" \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_C_COMPILER="$cc" -DPGDC_SDK_WERROR=ON \
  -DCMAKE_DISABLE_FIND_PACKAGE_GTest=ON
"$cmake" --build "$work/sdk-build" -j1
"$cmake" --install "$work/sdk-build" --prefix "$work/prefix"

echo "== the package version is the plugin ABI version (plus an SDK revision)"
abi=$(sed -n 's/^#define PGDC_ABI_\(MAJOR\|MINOR\) \([0-9]*\).*/\2/p' \
  "$source/sdk/include/pgdog_control/plugin.h" | paste -sd. -)
version_file=$(find "$work/prefix" -name PgDogControlSdkConfigVersion.cmake)
grep -q "set(PACKAGE_VERSION \"$abi\.[0-9]*\")" "$version_file"
grep -q "set(PgDogControlSdk_ABI_VERSION \"$abi\")" "$(dirname "$version_file")/PgDogControlSdkConfig.cmake"

echo "== configure file-lock out of tree"
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

echo "== the C example (C11, plugin.h only): configure, build, load, install"
"$cmake" -S "$source/sdk/examples/fixed-leader-c" -B "$work/build-c" -G "$generator" \
  -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE="$build_type" \
  -DCMAKE_PREFIX_PATH="$work/prefix" -DEXAMPLE_WERROR=ON
"$cmake" --build "$work/build-c" -j1
"$check" "$work/build-c/example-fixed-leader.so" \
  '{"identity":"e2e","options":{"leader":"e2e"}}' | tee "$work/load-check-c.txt"
grep -q '^leadership: role=leader holder=e2e scope=fixed:e2e epoch=1$' "$work/load-check-c.txt"
"$cmake" --install "$work/build-c" --prefix "$work/daemon-prefix"
test -f "$work/daemon-prefix/lib/pgdog-control/plugins/example-fixed-leader.so"
echo "ok"
