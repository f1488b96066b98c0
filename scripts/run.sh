#!/usr/bin/env bash
# Main job: set up, fetch the demo model if it is not cached, build the page and serve it on
# localhost (the demo model is served beside it as the default choice).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
model="${CLINICBENCH_MODEL:-$(bash scripts/fetch-model.sh)}"
cargo build --release --bin clinicbench
./target/release/clinicbench inspect --model "$model"
dist="$(bash scripts/build-page.sh "$model")"
port="${PORT:-8080}"
echo "ClinicBench Web: http://localhost:$port/  (Ctrl-C stops it)"
exec python3 scripts/serve.py "$dist" "$port"
