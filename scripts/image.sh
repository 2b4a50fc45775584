#!/usr/bin/env bash
# Builds an OCI image of the coordinator from the Debian package, with buildah, pulling
# nothing from a registry: a Debian 12 root made by debootstrap (from the Debian archive;
# cached between runs), the package installed into it with apt, then `buildah from scratch`
# with that root as its only layer.
#
#   scripts/image.sh [OUT_DIR]     (default: dist/)
#
# Leaves the image in local storage as localhost/skald:<version> (and :latest) and writes
# OUT_DIR/skald_<version>.oci.tar (an oci-archive, for `podman load` / `skopeo copy`).
# The image runs `skald` as the `skald` user; its default command is
#   serve --config /etc/skald/skald.conf --listen 0.0.0.0:7700 --http-listen 0.0.0.0:7780
# (deploy/ passes --db and the rest; docs/operations.md).
# SKALD_BUILD_DIR and SKALD_PACKAGE_NO_BUILD as for scripts/package.sh; SKALD_DEBIAN_ROOT_CACHE as for
# tests/package/package_test.sh.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "${1:-$repo/dist}" && cd "${1:-$repo/dist}" && pwd)
cache=${SKALD_DEBIAN_ROOT_CACHE:-/var/cache/skald-test/bookworm}
[ "$(id -u)" = 0 ] || { echo "image.sh: needs root (debootstrap, chroot)" >&2; exit 1; }
command -v buildah >/dev/null || { echo "image.sh: buildah not found: scripts/install-deps.sh" >&2; exit 1; }

work=$(mktemp -d /tmp/skald-image-XXXXXX)
container=
cleanup() {
  [ -n "$container" ] && buildah rm "$container" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

deb=$("$repo/scripts/package.sh" "$work/dist" | tail -1)
version=$(basename "$deb" | sed -E 's/^skald_(.*)_amd64\.deb$/\1/')

if [ ! -d "$cache" ]; then
  mkdir -p "$(dirname "$cache")"
  rm -rf "$cache.tmp"
  debootstrap --variant=minbase bookworm "$cache.tmp" http://deb.debian.org/debian >/dev/null
  mv "$cache.tmp" "$cache"
fi
root=$work/root
cp -a "$cache" "$root"
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp "$deb" "$root/tmp/"
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }
[ -n "$(ls "$root/var/lib/apt/lists/" | grep _Packages)" ] || in_root apt-get update -qq
in_root apt-get install -y -qq --no-install-recommends "/tmp/$(basename "$deb")" >"$work/apt.log" 2>&1 ||
  { cat "$work/apt.log" >&2; exit 1; }
# What an image does not need: apt's caches and lists, the package file, the host's resolver.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root/tmp/"*.deb
: >"$root/etc/resolv.conf"

container=$(buildah from scratch)
tar -C "$root" -cf "$work/root.tar" .
buildah add "$container" "$work/root.tar" / >/dev/null
buildah config \
  --user skald:skald \
  --workingdir / \
  --entrypoint '["/usr/bin/skald"]' \
  --cmd 'serve --config /etc/skald/skald.conf --listen 0.0.0.0:7700 --http-listen 0.0.0.0:7780' \
  --port 7700 --port 7780 \
  --label org.opencontainers.image.title=skald \
  --label org.opencontainers.image.version="$version" \
  --label org.opencontainers.image.description="Skald saga coordinator" \
  "$container"
buildah commit --quiet --format oci "$container" "localhost/skald:$version" >/dev/null
buildah tag "localhost/skald:$version" localhost/skald:latest
rm -f "$out/skald_${version}.oci.tar"
buildah push --quiet "localhost/skald:$version" "oci-archive:$out/skald_${version}.oci.tar:skald:$version" >/dev/null
echo "localhost/skald:$version"
echo "$out/skald_${version}.oci.tar"
