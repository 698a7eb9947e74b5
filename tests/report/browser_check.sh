#!/usr/bin/env bash
# Renders a report and opens it in headless Chromium (browser_test.mjs).
#   browser_check.sh fixture OUT_DIR   the fixture document in tests/report/fixture
#   browser_check.sh demo OUT_DIR FACESPACE_BINARY
#                                      `facespace experiment` on the default input
# Exit status: 0 pass, 1 fail, 77 skipped (Chromium, Node.js or npm packages missing).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
report_dir="${FACESPACE_REPORT_DIR:-$root/report}"
mode=${1:?usage: browser_check.sh fixture|demo OUT_DIR [FACESPACE_BINARY]}
out=${2:?usage: browser_check.sh fixture|demo OUT_DIR [FACESPACE_BINARY]}

if ! command -v node >/dev/null; then echo "SKIP: node not found"; exit 77; fi
if [ ! -d "$report_dir/node_modules/vega-lite" ]; then
  echo "SKIP: $report_dir/node_modules missing (run: npm ci --prefix $report_dir)"; exit 77
fi
if [ ! -x "${FACESPACE_CHROMIUM:-/usr/bin/chromium}" ]; then
  echo "SKIP: ${FACESPACE_CHROMIUM:-/usr/bin/chromium} not found (Debian package chromium)"; exit 77
fi

rm -rf "$out"
mkdir -p "$out"
case "$mode" in
  fixture)
    cp -r "$here/fixture/." "$out/"
    node "$report_dir/render.mjs" "$out/results.json" "$out" >/dev/null
    min_figures=8
    ;;
  demo)
    binary=${3:?demo mode needs the facespace binary}
    model="${FACESPACE_MODEL:-$root/models/dlib_resnet_v1.fsmodel}"
    if [ ! -f "$model" ]; then
      echo "SKIP: $model not found (scripts/setup.sh imports the face model)"; exit 77
    fi
    "$binary" --quiet experiment --out "$out" --bootstrap 100
    min_figures=6
    ;;
  *) echo "browser_check.sh: unknown mode '$mode' (fixture or demo)" >&2; exit 2 ;;
esac
node "$here/browser_test.mjs" "$out/report.html" "$out/screenshot.png" --min-figures "$min_figures"
