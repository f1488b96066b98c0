#!/usr/bin/env bash
# The page's threaded engine: the worker binary built for WebAssembly threads (one shared memory,
# atomics), so the CPU kernels run on rayon over several workers as they do natively. Writes
# clinicbench-worker-threads.js / _bg.wasm into the folder given (trunk's staging folder; the
# post_build hook calls this).
#
# Threads need the standard library rebuilt with atomics (`-Z build-std`, the rust-src component)
# and that flag is unstable: RUSTC_BOOTSTRAP=1 is set for this one cargo call only, on the same
# stable toolchain, and into its own target folder; every other build stays plain stable.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
out="${1:?usage: build-worker-threads.sh OUT_DIR}"
target_dir="$PWD/target/wasm-threads"
# Since Rust 1.92 (rust-lang/rust#147225) +atomics no longer implies a shared memory: the linker
# is told to make one (imported, so every worker instantiates over the same memory), as large as
# wasm32 allows (a model's weights live in it), with the TLS symbols wasm-bindgen's glue needs.
flags="-C target-feature=+atomics,+bulk-memory,+mutable-globals,+simd128"
for arg in --shared-memory --import-memory --max-memory=4294967296 \
    --export=__wasm_init_tls --export=__tls_size --export=__tls_align --export=__tls_base; do
  flags="$flags -C link-arg=$arg"
done
RUSTC_BOOTSTRAP=1 \
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="$flags" \
  cargo build --release --target wasm32-unknown-unknown --target-dir "$target_dir" \
  --bin clinicbench-worker --features web -Z build-std=panic_abort,std >&2
wasm-bindgen --target no-modules --no-typescript --out-dir "$out" --out-name clinicbench-worker-threads \
  "$target_dir/wasm32-unknown-unknown/release/clinicbench-worker.wasm"
# The engine worker's entry for the threaded build, as trunk's loader shim is for the plain one. A
# failure to instantiate (no room for the shared memory, say) is thrown where the page hears it
# (a rejected promise in a worker is not), and the page falls back to the plain engine.
printf '%s' 'importScripts("./clinicbench-worker-threads.js");wasm_bindgen({ module_or_path: "./clinicbench-worker-threads_bg.wasm" }).catch((e) => setTimeout(() => { throw e; }));' \
  > "$out/clinicbench-worker-threads_loader.js"
