#!/usr/bin/env bash
# Sets up lorageo on a fresh Debian 12 machine: installs the Debian packages the
# project needs (idempotent), the npm packages its tests use (from the lockfiles),
# and builds into ./build. Run from anywhere; needs root or sudo for apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

# Build: compiler, CMake, libraries (libpq for PostgreSQL storage, hiredis for the
# cluster, libwebsockets for LoRa Basics Station). Tests: PostgreSQL (the end-to-end tests run against it too), redis-server
# (the cluster test starts its own), clang (libFuzzer + sanitizers), jq,
# Node.js for the lora-packet cross-check, the mosquitto broker and clients for the MQTT
# test (the test starts its own broker on a free port), Chromium for the web map test;
# MuJS for JavaScript payload codecs; jemalloc, the server's allocator; zlib for the journal's CRC-32; curl, which the README's quick start uses; dpkg-dev
# and systemd (systemd-analyze) for the Debian package and its test; debootstrap for the
# test that installs that package into a minimal Debian and starts it (LORAGEO_TEST_INSTALL=1).
packages=(
  build-essential cmake pkg-config
  libssl-dev libjansson-dev libgsl-dev libproj-dev libjsmn-dev uthash-dev libjemalloc-dev zlib1g-dev
  libsqlite3-dev libpq-dev postgresql libhiredis-dev redis-server libuv1-dev libmicrohttpd-dev libinih-dev libmosquitto-dev
  libwebsockets-dev
  mosquitto mosquitto-clients openssl
  chromium
  clang libclang-rt-14-dev
  jq
  gnuplot-nox libcurl4-openssl-dev
  libmujs-dev
  curl dpkg-dev systemd debootstrap
)
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

# npm packages, exactly as locked (no network lookups beyond the registry).
(cd web && npm ci --no-audit --no-fund --loglevel=error)            # Leaflet for the web UI
(cd tests/crosscheck && npm ci --no-audit --no-fund --loglevel=error) # lora-packet, playwright-core, cayenne-lpp

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
echo "setup: built ./build/lorageo"
