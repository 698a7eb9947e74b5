#!/usr/bin/env bash
# Sets facespace up on a new Debian 12 machine and runs its main job:
#   1. installs the Debian packages it builds and runs with,
#   2. fetches the face model package from the npm registry, pinned and hash-checked,
#   3. builds facespace,
#   4. converts the model weights into facespace's model file,
#   5. runs the main job, `facespace experiment`, on its default input (skip with --no-run);
#      the report lands in out/demo/report.html.
# Re-running is safe: finished steps are checked and skipped.
set -euo pipefail

readonly FACE_API_VERSION="1.7.15"
readonly FACE_API_SHA256="0d77fffeef362ef9c0939cf6c567f3a2e8e177f114fa257a3270cbd2e509b031"
readonly DEMO_IMAGE="/usr/share/doc/libdlib19.1/examples/faces/bald_guys.jpg"

root=$(cd "$(dirname "$0")/.." && pwd)
cache="$root/.cache"
build="$root/build"
run_main_job=1
for argument in "$@"; do
  case "$argument" in
    --no-run) run_main_job=0 ;;
    *) echo "setup: unknown option '$argument' (known: --no-run)" >&2; exit 2 ;;
  esac
done

say() { printf '\n== %s\n' "$*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

install_packages() {
  say "Installing Debian packages"
  local packages=(
    build-essential cmake ninja-build pkg-config git ca-certificates
    libdlib-dev libdlib-data libopencv-dev libfaiss-dev libopenblas-dev libssl-dev
    libsqlite3-dev libcli11-dev nlohmann-json3-dev libspdlog-dev libfmt-dev
    libgtest-dev libgmock-dev libbenchmark-dev
    libjpeg-dev libpng-dev libgif-dev
    python3 python3-numpy python3-sklearn chromium
  )
  # Node.js may come from another packager (nodesource bundles npm in its nodejs, which
  # conflicts with Debian's npm), so Debian's are added only when node or npm is absent.
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    packages+=(nodejs npm)
  fi
  local missing=()
  for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$package")
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    echo "all ${#packages[@]} packages already installed"
    return
  fi
  as_root apt-get update -q
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q --no-install-recommends "${missing[@]}"
}

fetch_face_model_package() {
  say "Fetching @vladmandic/face-api@$FACE_API_VERSION from the npm registry"
  local tarball="$cache/vladmandic-face-api-$FACE_API_VERSION.tgz"
  mkdir -p "$cache"
  if [ ! -f "$tarball" ]; then
    (cd "$cache" && npm pack --silent "@vladmandic/face-api@$FACE_API_VERSION" >/dev/null)
  fi
  local actual
  actual=$(sha256sum "$tarball" | cut -d' ' -f1)
  if [ "$actual" != "$FACE_API_SHA256" ]; then
    rm -f "$tarball"
    echo "setup: error: $tarball: SHA-256 is $actual, expected $FACE_API_SHA256;" \
         "the package differs from the pinned one, so it was deleted and nothing was imported" >&2
    exit 1
  fi
  echo "SHA-256 verified: $actual"
  rm -rf "$cache/face-api"
  mkdir -p "$cache/face-api"
  tar -xzf "$tarball" -C "$cache/face-api" --strip-components=2 \
    package/model/face_recognition_model-weights_manifest.json \
    package/model/face_recognition_model.bin
}

install_report_packages() {
  say "Installing the report renderer's npm packages (pinned in report/package-lock.json)"
  if npm ls --prefix "$root/report" --omit=dev >/dev/null 2>&1; then
    echo "already installed in $root/report/node_modules"
    return
  fi
  npm ci --prefix "$root/report" --no-audit --no-fund
}

build_facespace() {
  say "Building facespace"
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" --parallel "$(nproc)"
}

import_model() {
  say "Importing the face recognition model"
  mkdir -p "$root/models"
  "$build/apps/facespace/facespace" model import \
    --manifest "$cache/face-api/face_recognition_model-weights_manifest.json" \
    --weights "$cache/face-api/face_recognition_model.bin" \
    --source "npm:@vladmandic/face-api@$FACE_API_VERSION sha256:$FACE_API_SHA256" \
    --out "$root/models/dlib_resnet_v1.fsmodel"
  "$build/apps/facespace/facespace" model info "$root/models/dlib_resnet_v1.fsmodel"
}

# Minimal systems drop /usr/share/doc; the photo then comes from the package archive.
demo_image() {
  if [ -f "$DEMO_IMAGE" ]; then
    echo "$DEMO_IMAGE"
    return
  fi
  local extracted="$cache/libdlib19.1${DEMO_IMAGE}"
  if [ ! -f "$extracted" ]; then
    (cd "$cache" && apt-get download -q libdlib19.1 >&2 &&
      dpkg-deb -x libdlib19.1_*.deb "$cache/libdlib19.1")
  fi
  echo "$extracted"
}

run_main() {
  local image
  image=$(demo_image)
  say "Main job: the before/after experiment on the 24 faces of $image"
  "$build/apps/facespace/facespace" experiment --photos "$image" --out "$root/out/demo"
}

install_packages
fetch_face_model_package
install_report_packages
build_facespace
import_model
if [ "$run_main_job" -eq 1 ]; then
  run_main
fi
