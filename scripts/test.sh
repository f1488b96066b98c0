#!/usr/bin/env bash
# Every test: set up, fetch the real model if it is not cached, build for the host and for
# wasm32, and run the whole suite. Under CI=true a missing model or ../shared fails the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -z "${CLINICBENCH_MODEL:-}" ]; then
  CLINICBENCH_MODEL="$(bash scripts/fetch-model.sh)"
  export CLINICBENCH_MODEL
fi
cargo build --lib --target wasm32-unknown-unknown
cargo test --release --all-targets
