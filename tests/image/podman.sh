#!/usr/bin/env bash
# podman (or buildah, with PGDC_TOOL=buildah) on the image tests' own storage,
# with the settings that work on these machines: vfs storage, the runc runtime
# with the cgroupfs manager (crun fails on hybrid cgroups), events in a file.
# Everything lives under $PGDC_IMAGE_STATE/storage, so the tests never touch
# the machine's default storage or another build tree's.
set -euo pipefail
state="${PGDC_IMAGE_STATE:?set PGDC_IMAGE_STATE}"
s="$state/storage"
mkdir -p "$s/root" "$s/run" "$s/tmp"
if [[ "${PGDC_TOOL:-podman}" == buildah ]]; then
  exec buildah --root "$s/root" --runroot "$s/run" --storage-driver vfs "$@"
fi
exec podman --root "$s/root" --runroot "$s/run" --tmpdir "$s/tmp" --storage-driver vfs \
  --runtime runc --cgroup-manager cgroupfs --events-backend file "$@"
