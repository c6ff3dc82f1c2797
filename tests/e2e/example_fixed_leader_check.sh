#!/bin/sh
# example_fixed_leader_check.sh <pgdog-control> <example-fixed-leader.so> <work dir>
#
# The SDK's C example through `pgdog-control --check`: leader.enabled: true
# makes leader.backend count, the daemon loads the .so, validates it and
# calls create() then destroy() without start(). A good configuration passes;
# a typo in leader.options fails with exit 2 and the plugin's message naming
# the key.
set -eu
bin=$1 plugin=$2 work=$3
rm -rf "$work"
mkdir -p "$work"

config() {  # config <file> <options map>
  cat > "$1" <<YAML
listen: "127.0.0.1:0"
leader:
  enabled: true
  identity: replica-b
  backend: $plugin
  options: $2
YAML
}

config "$work/good.yaml" '{leader: replica-a, leader_address: "10.0.0.5:8080"}'
out=$("$bin" --check --config "$work/good.yaml")
echo "$out"
echo "$out" | grep -q "^pgdog-control: configuration OK ($work/good.yaml): plugin example-fixed-leader 1.0.0 ($plugin); leader election on"

config "$work/typo.yaml" '{leader: replica-a, leader_adress: "10.0.0.5:8080"}'
status=0
err=$("$bin" --check --config "$work/typo.yaml" 2>&1) || status=$?
echo "$err"
test "$status" -eq 2
echo "$err" | grep -q '(example-fixed-leader 1.0.0): create failed: config error: example-fixed-leader: options.leader_adress: unknown option; known options: leader, leader_address$'
echo "ok"
