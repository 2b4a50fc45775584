#!/usr/bin/env bash
# The OCI image (scripts/image.sh) from BUILD_DIR's binary, built offline with buildah; its
# configuration checked (user, entrypoint, command, ports) and the oci-archive written.
# Where podman can run containers, `skald --version` and `skald definition validate` run in
# the image; where it cannot (e.g. a sandbox refusing the runtime's setrlimit or cgroups),
# the test says so plainly and checks the build alone.
#
#   tests/package/image_test.sh BUILD_DIR
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$1" && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root (debootstrap, chroot, buildah)"
command -v buildah >/dev/null || fail "buildah not found: run scripts/install-deps.sh"

work=$(mktemp -d /tmp/skald-image-test-XXXXXX)
trap 'rm -rf "$work"' EXIT
start=$SECONDS
SKALD_PACKAGE_NO_BUILD=1 SKALD_BUILD_DIR=$build "$repo/scripts/image.sh" "$work/out" >"$work/image.out"
image=$(sed -n 1p "$work/image.out")
archive=$(sed -n 2p "$work/image.out")
version=$("$build/coordinator/skald" --version | awk '{print $2}')
[ "$image" = "localhost/skald:$version" ] || fail "image named '$image'"
[ -s "$archive" ] || fail "no oci-archive at $archive"
echo "built $image in $(( SECONDS - start )) s; archive $(du -h "$archive" | cut -f1)"

buildah inspect --type image "$image" >"$work/inspect.json"
python3 - "$work/inspect.json" <<'PY' || fail "image configuration"
import json, sys
config = json.load(open(sys.argv[1]))["OCIv1"]["config"]
problems = []
if config.get("User") != "skald:skald": problems.append("user %r" % config.get("User"))
if config.get("Entrypoint") != ["/usr/bin/skald"]: problems.append("entrypoint %r" % config.get("Entrypoint"))
cmd = config.get("Cmd") or []
if cmd[:3] != ["serve", "--config", "/etc/skald/skald.conf"]: problems.append("cmd %r" % cmd)
ports = {p.split("/")[0] for p in config.get("ExposedPorts") or {}}
if ports != {"7700", "7780"}: problems.append("ports %r" % sorted(ports))
for p in problems: print("image " + p, file=sys.stderr)
sys.exit(1 if problems else 0)
PY

if podman run --rm --network none "$image" --version >"$work/run.log" 2>&1; then
  [ "$(cat "$work/run.log")" = "$("$build/coordinator/skald" --version)" ] ||
    fail "skald --version in the image: $(cat "$work/run.log")"
  podman run --rm --network none --entrypoint /usr/bin/skald "$image" \
    definition validate /usr/share/doc/skald/examples/order-saga.json ||
    fail "definition validate in the image"
  echo "ran skald in the image with podman"
else
  echo "NOTE: podman cannot run containers on this machine ($(tail -1 "$work/run.log"));"
  echo "      the image's build and configuration were checked, not a run."
fi
buildah rmi "$image" "localhost/skald:latest" >/dev/null 2>&1 || true
echo "image test passed in $(( SECONDS - start )) s"
