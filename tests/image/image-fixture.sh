#!/usr/bin/env bash
# CTest fixture for the image tests.
#   setup STATE BIN PLUGIN...  build the image from these binaries with
#                              helm/image/build-image.sh into STATE/build, then
#                              load the exported OCI archive into the tests'
#                              podman storage (so the archive is what is tested)
#   cleanup STATE              remove every container and image of that
#                              storage, then the storage itself
# STATE is the build tree's tests/image directory: one per build tree.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
log() { echo "image-fixture: $*" >&2; }

[[ $# -ge 2 ]] || { sed -n '2,9p' "$0" >&2; exit 2; }
cmd="$1" state="$2"
shift 2
mkdir -p "$state"
PGDC_IMAGE_STATE="$(cd "$state" && pwd)"
export PGDC_IMAGE_STATE
pm() { "$here/podman.sh" "$@"; }

clean_storage() {
  if [[ -d "$PGDC_IMAGE_STATE/storage" ]]; then
    pm rm --all --force --time 0 >/dev/null 2>&1 || true
    PGDC_TOOL=buildah "$here/podman.sh" rm --all >/dev/null 2>&1 || true
    pm rmi --all --force >/dev/null 2>&1 || true
    rm -rf "$PGDC_IMAGE_STATE/storage"
  fi
  rm -rf "$PGDC_IMAGE_STATE/tmp"
}

case "$cmd" in
  setup)
    [[ $# -ge 2 ]] || { log "setup needs BIN and PLUGIN..."; exit 2; }
    for t in podman buildah runc; do
      command -v "$t" >/dev/null || { log "$t not found (run scripts/setup-deps.sh)"; exit 1; }
    done
    bin="$1"; shift
    plugin_args=()
    for p in "$@"; do plugin_args+=(--plugin "$p"); done
    clean_storage   # whatever an interrupted run left behind
    "$here/../../helm/image/build-image.sh" --bin "$bin" "${plugin_args[@]}" \
      --out "$PGDC_IMAGE_STATE/build" --storage "$PGDC_IMAGE_STATE/storage" --rm
    # shellcheck disable=SC1091
    source "$PGDC_IMAGE_STATE/build/image.env"
    pm load --quiet --input "$IMAGE_ARCHIVE" >&2
    pm image exists "$IMAGE_REF" || { log "$IMAGE_REF not in storage after podman load"; exit 1; }
    log "loaded $IMAGE_REF from $IMAGE_ARCHIVE"
    ;;
  cleanup)
    clean_storage
    log "removed containers, images and storage under $PGDC_IMAGE_STATE"
    ;;
  *) sed -n '2,9p' "$0" >&2; exit 2 ;;
esac
