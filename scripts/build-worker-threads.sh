#!/usr/bin/env bash
# The page's threaded engine: the worker binary built for WebAssembly threads (one shared memory,
# atomics), so the CPU kernels run on rayon over several workers as they do natively. Two builds:
# clinicbench-worker-threads (SIMD128) and clinicbench-worker-threads-relaxed (SIMD128 and relaxed
# SIMD, whose f32x4.relaxed_madd the browser runs as a fused multiply-add where the machine has
# one); the page picks the relaxed one where the browser validates relaxed SIMD. Writes each
# one's .js, _bg.wasm and _loader.js into the folder given (trunk's staging folder; the post_build
# hook calls this).
#
# Threads need the standard library rebuilt with atomics (`-Z build-std`, the rust-src component)
# and that flag is unstable: RUSTC_BOOTSTRAP=1 is set for this one cargo call only, on the same
# stable toolchain, and into its own target folder; every other build stays plain stable.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
out="${1:?usage: build-worker-threads.sh OUT_DIR}"
# Since Rust 1.92 (rust-lang/rust#147225) +atomics no longer implies a shared memory: the linker
# is told to make one (imported, so every worker instantiates over the same memory), as large as
# wasm32 allows (a model's weights live in it), with the TLS symbols wasm-bindgen's glue needs.
link="-C link-arg=--shared-memory -C link-arg=--import-memory -C link-arg=--max-memory=4294967296"
for symbol in __wasm_init_tls __tls_size __tls_align __tls_base; do
  link="$link -C link-arg=--export=$symbol"
done

# build NAME FEATURES: one threaded build, in its own target folder (the flags differ, so sharing
# one would rebuild everything each time).
build() {
  local name="$1" features="$2" target_dir="$PWD/target/wasm-${1#worker-}"
  RUSTC_BOOTSTRAP=1 \
  CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-C target-feature=$features $link" \
    cargo build --release --target wasm32-unknown-unknown --target-dir "$target_dir" \
    --bin clinicbench-worker --features web -Z build-std=panic_abort,std >&2
  wasm-bindgen --target no-modules --no-typescript --out-dir "$out" --out-name "clinicbench-$name" \
    "$target_dir/wasm32-unknown-unknown/release/clinicbench-worker.wasm"
  # The engine worker's entry for this build, as trunk's loader shim is for the plain one. A
  # failure to instantiate (no room for the shared memory, say) is thrown where the page hears it
  # (a rejected promise in a worker is not), and the page falls back to the plain engine.
  printf 'importScripts("./clinicbench-%s.js");wasm_bindgen({ module_or_path: "./clinicbench-%s_bg.wasm" }).catch((e) => setTimeout(() => { throw e; }));' \
    "$name" "$name" > "$out/clinicbench-${name}_loader.js"
}
base="+atomics,+bulk-memory,+mutable-globals,+simd128"
build worker-threads "$base"
build worker-threads-relaxed "$base,+relaxed-simd"
