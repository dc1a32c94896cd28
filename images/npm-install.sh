#!/bin/sh
# The install stage of the sedna-sdk base images (images/Dockerfile.*): installs a worker project's
# runtime dependencies in /app exactly as a user's `npm install sedna-sdk <backend>` would, then
# removes what a Linux container never loads. Nothing of the install stage but /app reaches an image.
#
#   npm-install.sh <sedna-sdk spec> [<package spec>...]
#
# The sedna-sdk spec is a registry spec (sedna-sdk@0.1.0) or a packed tarball copied into
# /app/packages (./packages/sedna-sdk-0.1.0.tgz, what CI builds from).
set -eu
cd /app
if [ ! -f package.json ]; then
  printf '{\n  "name": "sedna-worker",\n  "private": true,\n  "type": "module"\n}\n' >package.json
fi
# The backends are optional peers of sedna-sdk: npm never installs those by itself, so a worker
# project names the ones it uses as its own dependencies (they land in package.json here).
npm_config_update_notifier=false npm install --omit=dev --ignore-scripts --no-audit --no-fund --save-exact "$@"
rm -f packages/README.md
rmdir packages 2>/dev/null || true

# onnxruntime-node ships its native library for every OS and CPU (~290 MB): keep linux/<this arch>.
arch=$(node -p process.arch)
for os_dir in node_modules/onnxruntime-node/bin/napi-v*/*; do
  [ -d "$os_dir" ] || continue
  if [ "${os_dir##*/}" = linux ]; then
    for arch_dir in "$os_dir"/*; do [ "${arch_dir##*/}" = "$arch" ] || rm -rf "$arch_dir"; done
  else
    rm -rf "$os_dir"
  fi
done
# Source maps are never read at run time (TensorFlow.js alone ships ~200 MB of them).
find node_modules -type f -name '*.map' -delete

# The tree is complete: every dependency of every installed package is there.
npm ls --omit=dev --all >/dev/null
