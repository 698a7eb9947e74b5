#!/usr/bin/env bash
# Builds facespace if needed and runs every test. Run scripts/setup.sh once first.
# Tests that need ../shared/data read FACESPACE_TEST_DATA (default: ../shared/data)
# and are skipped, with a message, when it is absent.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$root/build" --parallel "$(nproc)"
cd "$root/build"
ctest --output-on-failure --parallel "$(nproc)" "$@"
