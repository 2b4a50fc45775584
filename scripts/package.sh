#!/usr/bin/env bash
# Builds the Debian package skald_<version>_amd64.deb with CPack (cmake/Packaging.cmake):
# the `skald` binary (migrations compiled in), the hardened systemd unit skald.service, the
# config /etc/skald/skald.conf, a `skald` system user made at install, the docs.
#
#   scripts/package.sh [OUT_DIR]      (default: dist/)
#
# SKALD_BUILD_DIR: an existing build folder to package from (default: build-package/, a
# build of the binary alone; ccache makes it quick after any other build).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "${1:-$repo/dist}" && cd "${1:-$repo/dist}" && pwd)
build=${SKALD_BUILD_DIR:-$repo/build-package}

if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DSKALD_BUILD_TESTS=OFF -DSKALD_BUILD_BENCH=OFF -DSKALD_BUILD_EXAMPLES=OFF >/dev/null
fi
# SKALD_PACKAGE_NO_BUILD=1: package the binary as built (the tests do, so that they never
# relink `skald` under other tests running it).
if [ "${SKALD_PACKAGE_NO_BUILD:-0}" != 1 ]; then
  nice cmake --build "$build" -j"${SKALD_JOBS:-2}" --target skald
fi
[ -x "$build/coordinator/skald" ] || { echo "package.sh: no $build/coordinator/skald" >&2; exit 1; }
(cd "$build" && cpack -G DEB -B "$out/_cpack" >/dev/null)
mv "$out"/_cpack/skald_*_amd64.deb "$out"/
rm -rf "$out/_cpack"
ls "$out"/skald_*_amd64.deb
