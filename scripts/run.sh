#!/usr/bin/env bash
# Main job: set up, fetch the demo model if it is not cached, and answer a few demo questions.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
model="${CLINICBENCH_MODEL:-$(bash scripts/fetch-model.sh)}"
cargo build --release --bin clinicbench
./target/release/clinicbench inspect --model "$model"
./target/release/clinicbench demo --model "$model"
