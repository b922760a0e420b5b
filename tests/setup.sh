#!/usr/bin/env bash
# Installs what building and testing edgeinfer needs on a fresh Debian machine:
# Debian packages (compilers, Emscripten, SIMDe, ONNX/torch for test data,
# Chromium for browser tests) and the npm packages of package.json.
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(gcc make clang-14 libclang-rt-14-dev valgrind libsimde-dev emscripten
  python3 python3-numpy python3-onnx python3-torch python3-torchvision python3-sklearn
  dataset-fashion-mnist chromium gzip)
# Node and npm: the machine's own when present (it may bundle npm), Debian's otherwise.
command -v node >/dev/null || APT_PACKAGES+=(nodejs)
command -v npm >/dev/null || APT_PACKAGES+=(npm)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# onnxruntime's install script would download from the internet; the CPU binary ships in the package.
if [ ! -d node_modules/onnxruntime-node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --ignore-scripts --no-audit --no-fund
fi
