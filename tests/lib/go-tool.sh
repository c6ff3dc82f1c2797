# Shared by the scripts that build a test tool from the Go module proxy and
# cache it by version outside the source tree (tests/kube/build-tools.sh,
# tests/helm/build-helm.sh, tests/ha/build-peer.sh, tests/ha/build-toxiproxy.sh).
# Source it, then call go_tool_init with the script's name and arguments:
#
#   source "$(dirname "$0")/../lib/go-tool.sh"
#   go_tool_init build-peer "$@"
#
# go_tool_init sets:
#   cache      ${PGDC_TOOLS_CACHE:-$HOME/.cache/pgdog-control/tools}
#   print_env  1 with --print-env (print only shell assignments on stdout)
#   force      1 with --force (rebuild even when the cache holds a working tool)
# and handles -h/--help (prints the script's header comment) and unknown
# arguments (exit 2). log and die write "<name>: ..." to stderr.

go_tool_init() {
  GO_TOOL_NAME="$1"
  shift
  cache="${PGDC_TOOLS_CACHE:-$HOME/.cache/pgdog-control/tools}"
  print_env=0
  force=0
  local arg
  for arg in "$@"; do
    case "$arg" in
      --print-env) print_env=1 ;;
      --force) force=1 ;;
      -h|--help) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
      *) echo "$GO_TOOL_NAME: unknown argument: $arg" >&2; exit 2 ;;
    esac
  done
}

log() { echo "$GO_TOOL_NAME: $*" >&2; }
die() { echo "$GO_TOOL_NAME: ERROR: $*" >&2; exit 1; }

# The version a go.mod requires of a module ("" if none), from a require line
# or a require block.
go_mod_require_version() { # go.mod module
  awk -v m="$2" '{sub(/^require[ \t]+/, "")} $1==m && $2 ~ /^v[0-9]/ {print $2; exit}' "$1"
}
