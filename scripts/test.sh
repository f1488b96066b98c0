#!/usr/bin/env bash
# Every test: set up, fetch the real model if it is not cached, build and run the whole suite,
# then build the page (the library for wasm32 inside it) and test it in headless Chromium. Under
# CI=true a missing model or ../shared fails the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
# Where the time goes, in the log: seconds since the start after each stage.
mark() { echo "[test.sh] ${SECONDS} s: $1" >&2; }
bash scripts/setup.sh
bash scripts/setup-browser.sh
mark "setup"
export PATH="$HOME/.cargo/bin:$PATH"
# Mesa's Vulkan loader (lavapipe, for the GPU kernel tests) complains on every start without one.
if [ -z "${XDG_RUNTIME_DIR:-}" ]; then XDG_RUNTIME_DIR="$(mktemp -d)"; export XDG_RUNTIME_DIR; fi
if [ -z "${CLINICBENCH_MODEL:-}" ]; then
  CLINICBENCH_MODEL="$(bash scripts/fetch-model.sh)"
  export CLINICBENCH_MODEL
fi
# The real model requantized to IQ4_XS by llama.cpp, with llama.cpp's answers, for
# tests/families.rs (requantized_gemma3_iq4_xs), where llama-cpp-python is installed (the test
# says it skipped otherwise): 240 MB and a minute and a half to make, so it is kept in the cache
# beside the demo model under a key of what makes it (the scripts, llama-cpp-python's version,
# the model's SHA-256), and target/requantized links to it: a fresh clone reuses it, a changed
# script or model makes a new one (and the old one is removed).
if python3 -c 'import llama_cpp, gguf' 2>/dev/null && ! [ -f target/requantized/gemma3_270m_iq4_xs.json ]; then
  cache="${CLINICBENCH_CACHE:-$HOME/.cache/clinicbench}"
  key="$( (sha256sum scripts/make_requantized_model.py scripts/make_synthetic_models.py scripts/dequantize_gguf.py \
    | cut -d' ' -f1; python3 -c 'import llama_cpp; print(llama_cpp.__version__)'; sha256sum "$CLINICBENCH_MODEL" | cut -d' ' -f1) \
    | sha256sum | cut -c1-16)"
  requantized="$cache/requantized-$key"
  if ! [ -f "$requantized/gemma3_270m_iq4_xs.json" ]; then
    rm -rf "$cache"/requantized-*
    python3 scripts/make_requantized_model.py --model "$CLINICBENCH_MODEL" --out "$requantized.partial"
    mv "$requantized.partial" "$requantized"
  fi
  mkdir -p target
  rm -rf target/requantized
  ln -s "$requantized" target/requantized
  mark "the requantized model"
fi
cargo test --release --all-targets
mark "cargo test"
# The Kubernetes manifest against the Job schema, offline (kubectl --dry-run needs a live API
# server); the Slurm script and the manifest's command run in tests/shards.rs.
python3 -c 'import kubernetes_validate' 2>/dev/null || python3 -m pip install --quiet kubernetes-validate==1.37.0
python3 -m kubernetes_validate --strict -k 1.33.0 deploy/kubernetes/indexed-job.yaml
mark "the Kubernetes manifest"
dist="$(bash scripts/build-page.sh "$CLINICBENCH_MODEL")"
cargo build --release --bin clinicbench
mark "the page build"
# The HTML report of `clinicbench report`, opened from disk: no request, no console error.
node tests/browser/report_html.test.mjs target/release/clinicbench tests/fixtures/report target/screenshots
node tests/browser/page.test.mjs "$dist" "$CLINICBENCH_MODEL" tests/fixtures/families/llama_q4_k_m.gguf \
  target/screenshots ../shared/datasets target/release/clinicbench
mark "the page test"
# A LoRA adapter in the page: applied over the model, named in the card and the report, the same
# loglikelihoods as the CLI with --lora-scaled; a model given as an adapter refused.
node tests/browser/lora.test.mjs "$dist" tests/fixtures/families/llama_q4_k_m.gguf tests/fixtures/lora/llama_attn.gguf \
  tests/fixtures/families/qwen2_q5_k_m.gguf target/release/clinicbench
# A split model in the page: its parts picked together load as the unsplit file answers; a
# missing part is named, a part of another model refused.
node tests/browser/split.test.mjs "$dist" tests/fixtures/split tests/fixtures/families/llama_q4_k_m.gguf target/release/clinicbench
# The threaded engine: every core when cross-origin isolated, 1, 2 and 3 threads identical and
# equal to the CLI, one thread and why when not isolated, a dying thread worker reported.
node tests/browser/threads.test.mjs "$dist" tests/fixtures/families/llama_q4_k_m.gguf target/release/clinicbench
mark "the LoRA, split and threads tests"
# Clinician review in the page: build, rate by keyboard in both modes, resume, export, agreement
# equal to `clinicbench review stats`, blinding, hostile output as text.
node tests/browser/review.test.mjs "$dist" target/release/clinicbench tests/fixtures/families/llama_q4_k_m.gguf \
  tests/fixtures/families/qwen2_q5_k_m.gguf target/screenshots
# The service worker: offline after one visit, cross-origin isolation on a plain static server,
# a newer build offered and not swapped in; plain http:// says what is missing.
node tests/browser/offline.test.mjs "$dist" tests/fixtures/families/llama_q4_k_m.gguf
mark "the review and offline tests"
# A model the size of a 4B-parameter Q4 model loads onto WebGPU in the browser (random weights,
# written once into target/ by scripts/make_large_model.py with PyPI gguf).
large=target/large_q4k.gguf
if ! [ -f "$large" ]; then
  python3 -c 'import gguf' 2>/dev/null || python3 -m pip install --quiet gguf==0.19.0
  python3 scripts/make_large_model.py "$large.partial" && mv "$large.partial" "$large"
fi
node tests/browser/large_model.test.mjs "$dist" "$(realpath "$large")"
mark "the large model test"
# The benchmark build still works: its Speed section measures our engine and wllama on the demo
# model (the figures are printed, not judged: speed is not a test).
bench_dist="$(bash scripts/build-bench-page.sh "$CLINICBENCH_MODEL")"
node tests/browser/bench.mjs "$bench_dist" "$(realpath "$CLINICBENCH_MODEL")" cpu
mark "the bench page"
# The GPU measurement script runs to the end here, on lavapipe (what it runs on a lent card in
# one call, ../shared/DEVICE.md): the Gemma 3 270M shape written by scripts/make_shape_models.py,
# both kernel paths, every line a measurement and not an error. A 4-token prompt: on lavapipe
# each token of this shape takes about 4 s.
python3 -c 'import gguf, numpy' 2>/dev/null || python3 -m pip install --quiet gguf==0.19.0
bash scripts/gpu-bench.sh --quick --prompt-tokens 4 --models target/shapes --out target/gpu-bench-quick.jsonl
python3 - target/gpu-bench-quick.jsonl <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 2 and all("decode_tok_s" in r and r["dispatches_per_token"] > 0 for r in rows), rows
print("ok   scripts/gpu-bench.sh --quick ran to the end on", rows[0]["backend"])
PY
mark "the GPU measurement script, and the end"
