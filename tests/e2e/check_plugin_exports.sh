#!/bin/sh
# check_plugin_exports.sh <plugin.so>...
#
# A plugin must export exactly one dynamic symbol, the ABI entry point
# pgdog_control_plugin_v1 (pgdog_control_add_plugin() does this with hidden
# visibility, --exclude-libs,ALL and a version script). Anything else leaks
# the plugin's internals into the symbol namespace and can clash with the host.
# NM (environment) overrides the nm binary.
set -eu
nm_bin=${NM:-nm}
status=0
if [ "$#" -eq 0 ]; then
  echo "usage: $0 <plugin.so>..." >&2
  exit 2
fi
for plugin in "$@"; do
  if [ ! -f "$plugin" ]; then
    echo "FAIL $plugin: file not found" >&2
    status=1
    continue
  fi
  symbols=$("$nm_bin" -D --defined-only "$plugin" | awk 'NF { print $NF }' | sort | tr '\n' ' ')
  if [ "$symbols" = "pgdog_control_plugin_v1 " ]; then
    echo "ok   $plugin: exports only pgdog_control_plugin_v1"
  else
    echo "FAIL $plugin: exports [ ${symbols}]; expected exactly pgdog_control_plugin_v1" \
         "(build it with pgdog_control_add_plugin)" >&2
    status=1
  fi
done
exit $status
