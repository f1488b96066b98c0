#!/usr/bin/env bash
# The page's speed beside its peer: builds the benchmark build (scripts/build-bench-page.sh) and
# runs its Speed section in headless Chromium on MODEL (default: the demo model), our engine and
# wllama on the same file in the same browser. Prints one JSON line with both and the ratios.
#   scripts/bench-page.sh [MODEL.gguf] [cpu|webgpu]
set -euo pipefail
cd "$(dirname "$0")/.."
model="${1:-$(bash scripts/fetch-model.sh)}"
dist="$(bash scripts/build-bench-page.sh "$model")"
node tests/browser/bench.mjs "$dist" "$(realpath "$model")" "${2:-cpu}"
