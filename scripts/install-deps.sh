#!/usr/bin/env bash
# Installs every Debian 12 package Skald needs to build, test and run its demo.
# Idempotent: packages already present are skipped by apt.
set -euo pipefail

packages=(
  build-essential cmake pkg-config ninja-build
  # Repeat builds (CI's machine keeps ~/.ccache between runs) compile only what changed.
  ccache
  # lld links the binaries about four times faster than ld.bfd (picked up by CMakeLists.txt).
  lld
  libpqxx-dev libpq-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  nlohmann-json3-dev libgtest-dev libgmock-dev
  libcli11-dev libspdlog-dev libabsl-dev uuid-dev
  postgresql postgresql-contrib
  python3-jsonschema curl
  # The coordinator's HTTP port (metrics, health, JSON API, dashboard) and its webhooks;
  # libssl-dev for HTTPS webhooks and their HMAC signatures.
  libcpp-httplib-dev libssl-dev
  # The standard gRPC health and reflection protos, for the tests' clients of those services.
  grpc-proto
  # The TLS tests make throwaway CAs and certificates with the openssl command.
  openssl
  # The dashboard's end-to-end test drives a real headless browser.
  chromium chromium-driver python3-selenium
  # Fuzzing (libFuzzer) and the sanitizer build of the unit tests; llvm-14 for
  # llvm-symbolizer, which turns sanitizer reports into file:line stacks.
  clang-14 libclang-rt-14-dev llvm-14
  # The Go participant SDK (participant-sdk/go, scripts/test-go.sh), built offline in GOPATH
  # mode against these sources in /usr/share/gocode. golang-github-golang-protobuf-1-5-dev
  # replaces the 1.3 package grpc-go pulls in: grpc 1.33's codec goes through
  # github.com/golang/protobuf, and 1.3 cannot marshal the APIv2 messages protoc-gen-go makes.
  golang-go golang-google-grpc-dev golang-google-protobuf-dev golang-github-golang-protobuf-1-5-dev
  protoc-gen-go protoc-gen-go-grpc golang-github-jackc-pgx-v4-dev
  # PostgreSQL failover (tests/fault/ha_*): a monitor, a primary and a synchronous standby.
  postgresql-15-auto-failover pg-auto-failover-cli
  # The package's test installs it into a fresh Debian root; the image is built from it
  # with buildah, and run with podman where containers can run (tests/package).
  debootstrap buildah podman
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
