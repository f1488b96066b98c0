#!/usr/bin/env bash
# What the browser test needs: Debian's Chromium and playwright-core (npm, pinned by
# tests/browser/package-lock.json). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! [ -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get install -y chromium || { $SUDO apt-get update && $SUDO apt-get install -y chromium; }
fi
if ! [ -d tests/browser/node_modules/playwright-core ] || ! [ -d tests/browser/node_modules/@wllama/wllama ]; then
  (cd tests/browser && npm ci --no-audit --no-fund)
fi
