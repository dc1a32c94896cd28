#!/usr/bin/env bash
# Installs the Debian packages the test suite needs (real servers started by the tests themselves).
# Safe to run again: packages already present are skipped. Needs root (or sudo) and Debian's apt.
# npm test runs it by itself (test/system-deps.mjs) with --quiet: silent when nothing is missing.
set -euo pipefail
quiet=false
[ "${1:-}" = "--quiet" ] && quiet=true

packages=(
  libsqlite3-0 # the real Sedna LocalController (test/conformance) links against it
  # The S3 server of the tests and benchmarks (scripts/s3-server.mjs): OpenStack Swift + s3api.
  swift swift-proxy swift-account swift-container swift-object memcached
  # Multi-edge inference: video decoding and the test streams (ffmpeg), the Kafka mock cluster (kcat).
  ffmpeg kcat
  chromium # the status page test of `sedna run --ui` (driven by playwright-core)
)

missing=()
for p in "${packages[@]}"; do
  # "install ok installed": a removed package keeps its config files and dpkg -s still knows it.
  [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  $quiet || echo "system packages present: ${packages[*]}"
  exit 0
fi
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
echo "installing the Debian packages the tests need: ${missing[*]}"
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
