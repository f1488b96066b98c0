#!/usr/bin/env bash
# Installs what the project needs and is missing on this machine. Sourced by run.sh and test.sh.
# Safe to run again: every step checks first.
set -euo pipefail
if ! command -v cargo >/dev/null; then
  echo "setup: cargo not found; install Rust with rustup first" >&2; exit 2
fi
# The library also builds for the browser.
if ! rustup target list --installed 2>/dev/null | grep -q '^wasm32-unknown-unknown$'; then
  rustup target add wasm32-unknown-unknown
fi
