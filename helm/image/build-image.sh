#!/usr/bin/env bash
# Builds the pgdog-control OCI image daemonless with buildah (FROM scratch,
# distroless: no shell, no package manager) and exports it as an OCI archive.
#
# Usage: build-image.sh [options]
#   --build-dir DIR    CMake build tree holding the binaries (default: build)
#   --bin FILE         the daemon (default: DIR/bin/pgdog-control)
#   --plugin FILE      a plugin to ship; repeatable (default: noop.so and
#                      kubernetes.so from DIR/lib/pgdog-control/plugins)
#   --out DIR          output directory (default: DIR/image)
#   --storage DIR      buildah storage, driver vfs (default: OUT/storage)
#   --repository NAME  image name (default: ghcr.io/pgdogdev/pgdog-control,
#                      the Helm chart's control.image.repository)
#   --tag TAG          image tag (default: the daemon's version, which is the
#                      chart's appVersion, its default tag)
#   --rm               remove the image from the storage after exporting it
#                      (the archive is then the only copy)
# Environment: PGDC_IMAGE_SOURCE (label org.opencontainers.image.source),
#   PGDC_IMAGE_LICENSES (label org.opencontainers.image.licenses, an SPDX
#   expression; default NOASSERTION), SOURCE_DATE_EPOCH (image and file
#   timestamps; default: the time of the last git commit, else 0).
#
# Output in OUT:
#   pgdog-control-<version>.oci.tar  the image (oci-archive, gzip layer)
#   manifest.tsv                     every file of the image and where it came
#                                    from (also in the image at
#                                    /usr/share/doc/pgdog-control/image-manifest.tsv)
#   image.env                        IMAGE_REF, IMAGE_ARCHIVE, sizes (shell)
#   context/                         the staged build context (rootfs/ + Containerfile)
# Needs: buildah, binutils (strip, readelf), dpkg, python3, gzip.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
src="$(cd "$here/../.." && pwd)"

log() { echo "build-image: $*" >&2; }
die() { echo "build-image: ERROR: $*" >&2; exit 1; }

build_dir=build bin="" out="" storage="" repository=ghcr.io/pgdogdev/pgdog-control tag="" rm_after=0
plugins=()
while (($#)); do
  case "$1" in
    --build-dir) build_dir="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;
    --plugin) plugins+=("$2"); shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --storage) storage="$2"; shift 2 ;;
    --repository) repository="$2"; shift 2 ;;
    --tag) tag="$2"; shift 2 ;;
    --rm) rm_after=1; shift ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done

bin="${bin:-$build_dir/bin/pgdog-control}"
if ((${#plugins[@]} == 0)); then
  plugins=("$build_dir/lib/pgdog-control/plugins/noop.so" "$build_dir/lib/pgdog-control/plugins/kubernetes.so")
fi
out="${out:-$build_dir/image}"
storage="${storage:-$out/storage}"
for f in "$bin" "${plugins[@]}"; do
  [[ -f "$f" ]] || die "missing $f (build it first: cmake --build $build_dir --target pgdog-control pgdc_plugin_noop pgdc_plugin_kubernetes)"
done
for t in buildah strip readelf dpkg-query python3 gzip; do
  command -v "$t" >/dev/null || die "$t not found (run scripts/setup-deps.sh)"
done

mkdir -p "$out" "$storage"
out="$(cd "$out" && pwd)"
storage="$(cd "$storage" && pwd)"
exec 9>"$out/.lock"
flock 9

version_line="$("$bin" --version)" || die "$bin --version failed"
version="$(awk '{print $2}' <<<"$version_line")"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+ ]] || die "cannot read the version from: $version_line"
tag="${tag:-$version}"
ref="$repository:$tag"

# Provenance: read-only git queries (no index refresh: GIT_OPTIONAL_LOCKS=0).
revision=unknown
commit_time=0
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
  revision="$(git -C "$src" rev-parse HEAD 2>/dev/null || echo unknown)"
  commit_time="$(git -C "$src" log -1 --format=%ct 2>/dev/null || echo 0)"
  if [[ -n "$(GIT_OPTIONAL_LOCKS=0 git -C "$src" status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
    revision="$revision-dirty"
  fi
fi
epoch="${SOURCE_DATE_EPOCH:-$commit_time}"
created="$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)"

ctx="$out/context"
root="$ctx/rootfs"
rm -rf "$ctx"
mkdir -p "$root"

# --- staging ------------------------------------------------------------------
declare -A origin=()   # image path -> "package<TAB>version"

pkg_version() { dpkg-query -W -f='${Version}' "$1"; }

# The path under which dpkg installed a file that ldd reports as $1 (on a
# merged-/usr host /lib/x.so and /usr/lib/x.so are the same file, dpkg knows
# only one of them). Prints "package path".
dpkg_owner() {
  local p="$1" c cands=("$1")
  case "$p" in
    /usr/lib/*) cands+=("${p#/usr}") ;;
    /lib/* | /lib64/*) cands+=("/usr$p") ;;
  esac
  for c in "${cands[@]}"; do
    local line
    line="$(dpkg-query -S "$c" 2>/dev/null | grep -v '^diversion ' | awk -v p="$c" '{ s = $0; sub(/: .*/, "", s); q = substr($0, length(s) + 3); if (q == p) { print s; exit } }')" || true
    if [[ -n "$line" ]]; then
      echo "${line%%:*} $c"   # drop the :arch qualifier
      return 0
    fi
  done
  return 1
}

# Copies a file of a Debian package into the image at the path the package
# installs it; a symlink is kept as a symlink and its target staged too.
stage_pkg_path() {
  local p="$1" owner pkg path
  [[ -n "${origin[$p]:-}" ]] && return 0   # staged already (e.g. the CA bundle)
  owner="$(dpkg_owner "$p")" || die "no Debian package owns $p (dpkg -S); cannot record its origin"
  pkg="${owner%% *}"
  path="${owner#* }"
  [[ -n "${origin[$path]:-}" ]] && return 0
  origin[$path]="$pkg	$(pkg_version "$pkg")"
  mkdir -p "$root$(dirname "$path")"
  if [[ -L "$path" ]]; then
    local target
    target="$(readlink "$path")"
    ln -sfn "$target" "$root$path"
    [[ "$target" == /* ]] || target="$(dirname "$path")/$target"
    stage_pkg_path "$target"
  else
    cp -p "$path" "$root$path"
    chmod u-s,g-s "$root$path"
  fi
  stage_copyright "$pkg"
}

# Debian's license terms travel with the binaries: /usr/share/doc/<pkg>/copyright
# (a doc directory that is a symlink to another package's is followed).
stage_copyright() {
  local pkg="$1" f="/usr/share/doc/$1/copyright" dst="/usr/share/doc/$1/copyright"
  [[ -n "${origin[$dst]:-}" ]] && return 0
  [[ -f "$f" ]] || die "$f missing (package $pkg)"
  mkdir -p "$root/usr/share/doc/$pkg"
  cp -L "$f" "$root$dst"
  chmod 0644 "$root$dst"
  origin[$dst]="$pkg	$(pkg_version "$pkg")"
}

own() { # image path
  origin[$1]="pgdog-control	$version"
}

# Our own files, stripped (the build tree keeps the debug info).
mkdir -p "$root/usr/bin" "$root/usr/lib/pgdog-control/plugins"
strip --strip-unneeded -o "$root/usr/bin/pgdog-control" "$bin"
chmod 0755 "$root/usr/bin/pgdog-control"
own /usr/bin/pgdog-control
for p in "${plugins[@]}"; do
  name="$(basename "$p")"
  strip --strip-unneeded -o "$root/usr/lib/pgdog-control/plugins/$name" "$p"
  chmod 0755 "$root/usr/lib/pgdog-control/plugins/$name"
  own "/usr/lib/pgdog-control/plugins/$name"
done

# The shared-library closure of the daemon and every plugin, as ldd resolves
# it on this machine (the same Debian release the binaries were built on),
# plus the dynamic loader named in PT_INTERP.
libs=()
for f in "$bin" "${plugins[@]}"; do
  ldd_out="$(ldd "$f")" || die "ldd $f failed"
  if grep -q 'not found' <<<"$ldd_out"; then
    die "unresolved libraries for $f:"$'\n'"$(grep 'not found' <<<"$ldd_out")"
  fi
  while read -r lib; do libs+=("$lib"); done < <(awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' <<<"$ldd_out")
  interp="$(readelf -l "$f" | sed -n 's/.*\[Requesting program interpreter: \(.*\)\]/\1/p')"
  [[ -n "$interp" ]] && libs+=("$interp")
done
mapfile -t libs < <(printf '%s\n' "${libs[@]}" | sort -u)
for lib in "${libs[@]}"; do stage_pkg_path "$lib"; done

# CA certificates: the bundle update-ca-certificates generates from the
# ca-certificates package (not a file dpkg lists). OpenSSL finds it through
# SSL_CERT_FILE (Containerfile).
mkdir -p "$root/etc/ssl/certs"
cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
chmod 0644 "$root/etc/ssl/certs/ca-certificates.crt"
origin[/etc/ssl/certs/ca-certificates.crt]="ca-certificates	$(pkg_version ca-certificates)"
stage_copyright ca-certificates

# Users, groups, name service: root and the unprivileged user the chart runs as.
mkdir -p "$root/etc"
cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
pgdog-control:x:1000:1000:pgdog-control:/nonexistent:/sbin/nologin
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
pgdog-control:x:1000:
EOF
# Without this file glibc asks DNS before /etc/hosts.
cat >"$root/etc/nsswitch.conf" <<'EOF'
passwd: files
group: files
hosts: files dns
EOF
chmod 0644 "$root/etc/passwd" "$root/etc/group" "$root/etc/nsswitch.conf"
own /etc/passwd; own /etc/group; own /etc/nsswitch.conf

# Every ELF file's needs are met inside the image: PT_INTERP and DT_NEEDED.
for f in $(find "$root" -type f | sort); do
  [[ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" == '177ELF' ]] || continue
  interp="$(readelf -l "$f" 2>/dev/null | sed -n 's/.*\[Requesting program interpreter: \(.*\)\]/\1/p')"
  if [[ -n "$interp" && ! -e "$root$interp" && ! -L "$root$interp" ]]; then
    die "${f#"$root"}: loader $interp not in the image"
  fi
  for n in $(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    if [[ ! -e "$root/lib/x86_64-linux-gnu/$n" && ! -L "$root/lib/x86_64-linux-gnu/$n" &&
          ! -e "$root/usr/lib/x86_64-linux-gnu/$n" && ! -L "$root/usr/lib/x86_64-linux-gnu/$n" ]]; then
      die "${f#"$root"} needs $n, which is not in the image"
    fi
  done
done

# --- manifest -----------------------------------------------------------------
manifest_path=/usr/share/doc/pgdog-control/image-manifest.tsv
mkdir -p "$root$(dirname "$manifest_path")"
own "$manifest_path"
: >"$root$manifest_path"
{
  printf '# pgdog-control %s image %s: every file, with the Debian package it came from\n' "$version" "$ref"
  printf 'path\ttype\tmode\tsize\tsha256\tlink_target\tpackage\tversion\n'
  while IFS= read -r -d '' f; do
    p="/${f#./}"
    src_info="${origin[$p]:-}"
    [[ -n "$src_info" ]] || die "no recorded origin for $p"
    if [[ -L "$root$p" ]]; then
      printf '%s\tsymlink\t-\t-\t-\t%s\t%s\n' "$p" "$(readlink "$root$p")" "$src_info"
    elif [[ "$p" == "$manifest_path" ]]; then
      printf '%s\tfile\t0644\t-\t-\t-\t%s\n' "$p" "$src_info"
    else
      printf '%s\tfile\t%s\t%s\t%s\t-\t%s\n' "$p" "$(stat -c %04a "$root$p")" "$(stat -c %s "$root$p")" \
        "$(sha256sum "$root$p" | cut -d' ' -f1)" "$src_info"
    fi
  done < <(cd "$root" && find . \( -type f -o -type l \) -print0 | LC_ALL=C sort -z)
} >"$out/manifest.tsv"
cp "$out/manifest.tsv" "$root$manifest_path"
chmod 0644 "$root$manifest_path"
find "$root" -type d -exec chmod 0755 {} +
cp "$here/Containerfile" "$ctx/Containerfile"

# --- build --------------------------------------------------------------------
B=(buildah --root "$storage/root" --runroot "$storage/run" --storage-driver vfs)
log "building $ref from $bin (revision $revision)"
t0=$(date +%s%N)
"${B[@]}" build --quiet --format oci --isolation chroot --pull-never \
  --timestamp "$epoch" \
  --build-arg "VERSION=$version" \
  --build-arg "REVISION=$revision" \
  --build-arg "CREATED=$created" \
  --build-arg "SOURCE=${PGDC_IMAGE_SOURCE:-https://github.com/pgdogdev/pgdog-control}" \
  --build-arg "LICENSES=${PGDC_IMAGE_LICENSES:-NOASSERTION}" \
  -f "$ctx/Containerfile" -t "$ref" "$ctx" >"$out/image-id"
image_id="$(tail -n 1 "$out/image-id")"
"${B[@]}" rmi --prune >/dev/null 2>&1 || true   # earlier builds of this tag

archive="$out/pgdog-control-$tag.oci.tar"
rm -f "$archive"
"${B[@]}" push --quiet "$ref" "oci-archive:$archive:$ref" >&2
if ((rm_after)); then "${B[@]}" rmi "$ref" >/dev/null; fi
t1=$(date +%s%N)

# --- sizes --------------------------------------------------------------------
# The layer blob in the archive is the gzip-compressed layer tar a registry
# stores and a node pulls; its decompressed size is the layer tar.
read -r layer_gz layer_tar files <<<"$(python3 - "$archive" <<'PY'
import gzip, json, sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    def blob(d):
        return t.extractfile("blobs/sha256/" + d.split(":", 1)[1]).read()
    index = json.loads(t.extractfile("index.json").read())
    manifest = json.loads(blob(index["manifests"][0]["digest"]))
    gz = tar = files = 0
    for layer in manifest["layers"]:
        data = blob(layer["digest"])
        gz += len(data)
        raw = gzip.decompress(data)
        tar += len(raw)
        import io
        with tarfile.open(fileobj=io.BytesIO(raw)) as lt:
            files += sum(1 for m in lt.getmembers() if not m.isdir())
    print(gz, tar, files)
PY
)"
mib() { awk -v b="$1" 'BEGIN {printf "%.1f MiB", b / 1048576}'; }
goal=$((30 * 1000 * 1000))
verdict="within the goal of <= 30 MB compressed"
((layer_gz <= goal)) || verdict="OVER the goal of <= 30 MB compressed"
{
  printf 'IMAGE_REF=%q\n' "$ref"
  printf 'IMAGE_ID=%q\n' "$image_id"
  printf 'IMAGE_VERSION=%q\n' "$version"
  printf 'IMAGE_REVISION=%q\n' "$revision"
  printf 'IMAGE_ARCHIVE=%q\n' "$archive"
  printf 'IMAGE_MANIFEST=%q\n' "$out/manifest.tsv"
  printf 'IMAGE_LAYER_GZ_BYTES=%s\n' "$layer_gz"
  printf 'IMAGE_LAYER_TAR_BYTES=%s\n' "$layer_tar"
  printf 'IMAGE_FILES=%s\n' "$files"
} >"$out/image.env"

echo "image:    $ref  ($image_id)"
echo "archive:  $archive  ($(stat -c %s "$archive") bytes)"
echo "manifest: $out/manifest.tsv  ($files files and links from $(cut -f7 "$out/manifest.tsv" | tail -n +3 | sort -u | wc -l) packages)"
echo "size:     $(mib "$layer_gz") compressed (gzip layer, $layer_gz bytes), $(mib "$layer_tar") uncompressed ($layer_tar bytes): $verdict"
awk -v a="$t0" -v b="$t1" 'BEGIN {printf "time:     %.1f s (buildah build + export)\n", (b - a) / 1e9}'
