#!/usr/bin/env bash
# Builds the page into dist/ (trunk, release) and puts the demo model beside it as
# dist/models/demo.gguf (a link to the cached file, not a copy). Prints the dist folder.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
model="$1"
trunk build --release >&2
mkdir -p dist/models
ln -sf "$(realpath "$model")" dist/models/demo.gguf
echo "$PWD/dist"
