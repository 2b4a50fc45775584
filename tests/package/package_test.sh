#!/usr/bin/env bash
# The Debian package end to end (issue 18): scripts/package.sh builds skald_<version>_amd64.deb
# from BUILD_DIR; it is checked (name, files, scripts), installed with apt into a fresh Debian
# root (a copy of a debootstrap root cached outside the repo), where `skald --version` and
# `skald definition validate` run (chroot), the `skald` user exists and owns the config's
# group, and a purge removes it; `systemd-analyze verify` checks the packaged unit.
#
#   tests/package/package_test.sh BUILD_DIR
#
# SKALD_DEBIAN_ROOT_CACHE: where the debootstrap root is kept between runs (default
# /var/cache/skald-test/bookworm; made by debootstrap from deb.debian.org the first time,
# 2-3 min; the packages apt fetched for the install are kept there too).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$1" && pwd)
cache=${SKALD_DEBIAN_ROOT_CACHE:-/var/cache/skald-test/bookworm}
mirror=http://deb.debian.org/debian

fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "== $* ($(( SECONDS - start )) s)"; }
start=$SECONDS
[ "$(id -u)" = 0 ] || fail "needs root (chroot, debootstrap)"
for tool in debootstrap dpkg-deb systemd-analyze cpack; do
  command -v "$tool" >/dev/null || fail "$tool not found: run scripts/install-deps.sh"
done

work=$(mktemp -d /tmp/skald-package-XXXXXX)
trap 'rm -rf "$work"' EXIT

step "package"
SKALD_PACKAGE_NO_BUILD=1 SKALD_BUILD_DIR=$build "$repo/scripts/package.sh" "$work/dist" >/dev/null
expected_version=$("$build/coordinator/skald" --version)
version=$(echo "$expected_version" | awk '{print $2}')
deb=$work/dist/skald_${version}_amd64.deb
[ -f "$deb" ] || fail "no $deb: $(ls "$work/dist")"
contents=$(dpkg-deb -c "$deb")
for path in ./usr/bin/skald ./lib/systemd/system/skald.service ./etc/skald/skald.conf \
  ./usr/share/doc/skald/operations.md ./usr/share/doc/skald/examples/order-saga.json; do
  grep -q " $path\$" <<<"$contents" || fail "$path missing from the package"
done
dpkg-deb -f "$deb" Depends | grep -q libgrpc || fail "Depends lacks the gRPC library"
dpkg-deb --ctrl-tarfile "$deb" | tar -t | grep -q '^./postinst$' || fail "no postinst"

step "fresh Debian root"
if [ ! -d "$cache" ]; then
  mkdir -p "$(dirname "$cache")"
  rm -rf "$cache.tmp"
  debootstrap --variant=minbase bookworm "$cache.tmp" "$mirror" >/dev/null
  mv "$cache.tmp" "$cache"
fi
root=$work/root
cp -a "$cache" "$root"
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp "$deb" "$root/tmp/"
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }
if [ -z "$(ls "$root/var/lib/apt/lists/" 2>/dev/null | grep _Packages)" ]; then
  in_root apt-get update -qq
fi

step "apt install"
in_root apt-get install -y -qq --no-install-recommends "/tmp/$(basename "$deb")" >"$work/apt.log" 2>&1 ||
  { cat "$work/apt.log"; fail "apt-get install failed"; }
# What apt fetched (the package's dependencies) is kept for the next run, and the lists.
cp -n "$root"/var/cache/apt/archives/*.deb "$cache/var/cache/apt/archives/" 2>/dev/null || true
[ -n "$(ls "$cache/var/lib/apt/lists/" | grep _Packages)" ] ||
  cp -a "$root/var/lib/apt/lists/." "$cache/var/lib/apt/lists/"

step "run in the root"
got=$(in_root skald --version)
[ "$got" = "$expected_version" ] || fail "skald --version in the root: '$got', expected '$expected_version'"
echo "$got"
in_root skald definition validate /usr/share/doc/skald/examples/order-saga.json ||
  fail "skald definition validate failed in the root"
echo '{"name": "broken", "version": 1, "steps": []}' >"$root/tmp/broken.json"
if in_root skald definition validate /tmp/broken.json >/dev/null 2>&1; then
  fail "skald definition validate accepted a definition without steps"
fi
in_root id skald >/dev/null || fail "no skald user after install"
mode=$(in_root stat -c '%U:%G %a' /etc/skald/skald.conf)
[ "$mode" = "root:skald 640" ] || fail "skald.conf is $mode, expected root:skald 640"

step "systemd-analyze verify"
# On this machine (the minimal root has no systemd), the unit exactly as packaged except
# that ExecStart names the packaged binary where it was unpacked.
mkdir -p "$work/unpacked" "$work/units"
dpkg-deb -x "$deb" "$work/unpacked"
sed "s|/usr/bin/skald|$work/unpacked/usr/bin/skald|" \
  "$work/unpacked/lib/systemd/system/skald.service" >"$work/units/skald.service"
systemd-analyze verify "$work/units/skald.service" >"$work/verify.log" 2>&1 || {
  cat "$work/verify.log"
  fail "systemd-analyze verify refused skald.service"
}
if grep -i "skald.service" "$work/verify.log"; then fail "systemd-analyze verify warned"; fi
# How hardened: systemd's own exposure score (lower is safer; 10 is unprotected).
systemd-analyze security --offline=yes "$work/units/skald.service" 2>/dev/null | tail -1 || true

step "purge"
in_root apt-get purge -y -qq skald >/dev/null 2>&1 || fail "apt-get purge failed"
in_root id skald >/dev/null 2>&1 && fail "the skald user outlived a purge"
step "package test passed"
