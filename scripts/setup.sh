#!/usr/bin/env bash
# Installs what face0 needs on a fresh Debian 12 machine with Node 20 (as root).
# Idempotent: skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
need_apt=()
for pkg in python3-torch python3-pytest python3-numpy python3-pil python3-onnx libopenblas0-pthread; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ "${FACE0_BROWSER_TESTS:-1}" = "1" ]; then
  dpkg -s chromium >/dev/null 2>&1 || need_apt+=(chromium)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: apt-get install ${need_apt[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need_apt[@]}"
fi
# onnxruntime-node's postinstall would download CUDA files; the CPU build ships in the package.
export ONNXRUNTIME_NODE_INSTALL=skip
npm ci --no-audit --no-fund
npm run build
