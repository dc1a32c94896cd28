#!/usr/bin/env bash
# Runs every benchmark in bench/ (or those named: npm run bench -- fedavg csv). Each prints its
# numbers and same-run ratios; none is a pass/fail test.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build --silent
shopt -s nullglob
files=(bench/*.bench.ts)
if [ $# -gt 0 ]; then
  files=()
  for name in "$@"; do files+=(bench/*"$name"*.bench.ts); done
fi
for f in "${files[@]}"; do
  echo "=== ${f}"
  node_modules/.bin/tsx "$f"
done
