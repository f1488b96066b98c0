#!/usr/bin/env bash
# The page's batched product (prefill, documents generated together) alone in V8, SIMD128 against
# relaxed SIMD: builds scripts/wasm-matmul twice (the page's two target-feature sets, no threads)
# and times both under Node, one core, alternating. Prints one JSON line a format and build.
#   scripts/bench-wasm-matmul.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
args=()
for build in simd128:+simd128 relaxed:+simd128,+relaxed-simd; do
  name="${build%%:*}" features="${build#*:}"
  CARGO_TARGET_DIR="$PWD/target/wasm-matmul-$name" RUSTFLAGS="-C target-feature=$features" \
    cargo build --release --quiet --target wasm32-unknown-unknown --manifest-path scripts/wasm-matmul/Cargo.toml >&2
  args+=("$name=$PWD/target/wasm-matmul-$name/wasm32-unknown-unknown/release/wasm_matmul.wasm")
done
# Node 20's V8 has relaxed SIMD behind this flag (Chromium has it on).
node --experimental-wasm-relaxed-simd scripts/wasm-matmul/run.mjs "${args[@]}"
