#!/usr/bin/env bash
# Installs what the project needs and is missing on this machine. Sourced by run.sh and test.sh.
# Safe to run again: every step checks first.
set -euo pipefail
if ! command -v cargo >/dev/null; then
  echo "setup: cargo not found; install Rust with rustup first" >&2; exit 2
fi
export PATH="$HOME/.cargo/bin:$PATH"
# The library and the page build for the browser.
if ! rustup target list --installed 2>/dev/null | grep -q '^wasm32-unknown-unknown$'; then
  rustup target add wasm32-unknown-unknown
fi
# The page's threaded engine rebuilds the standard library with WebAssembly atomics
# (scripts/build-worker-threads.sh): it needs the standard library's source.
if ! rustup component list --installed 2>/dev/null | grep -q '^rust-src'; then
  rustup component add rust-src
fi
# Native wgpu without a GPU: Mesa's lavapipe (Vulkan on the CPU) runs the WGSL kernels in the
# tests, and the Vulkan loader finds it.
if ! [ -f /usr/share/vulkan/icd.d/lvp_icd.x86_64.json ] && ! ls /usr/share/vulkan/icd.d/lvp_icd.*.json >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get install -y mesa-vulkan-drivers libvulkan1 || { $SUDO apt-get update && $SUDO apt-get install -y mesa-vulkan-drivers libvulkan1; }
fi
# The page's build tools: trunk 0.21.x (0.22 needs a newer rustc) and the wasm-bindgen-cli that
# matches the wasm-bindgen in Cargo.lock.
if ! trunk --version 2>/dev/null | grep -q '^trunk 0\.21\.'; then
  cargo install trunk --version 0.21.14 --locked
fi
if ! wasm-bindgen --version 2>/dev/null | grep -q ' 0\.2\.130$'; then
  # Not --locked: its lock file pins a webpki-roots release that crates.io no longer serves.
  cargo install wasm-bindgen-cli --version 0.2.130
fi
