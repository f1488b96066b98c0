#!/usr/bin/env bash
# The GPU path measured in one call, on a machine with a GPU and nothing else (../shared/DEVICE.md):
# writes random-weight models of three real shapes (scripts/make_shape_models.py), runs
# `clinicbench bench --backend wgpu` on each with the default kernels and with
# --portable-kernels (what a browser runs), then the PyTorch peer on the same shapes
# (scripts/torch_peer.py), and prints one JSON line a run and a table of ratios at the end.
#
#   scripts/gpu-bench.sh [--quick] [--binary PATH]... [--out FILE] [--models DIR] [--no-peer]
#                        [--shapes "A B"] [--prompt-tokens N] [--gen-tokens N]
#
#   --binary PATH  a clinicbench release binary; give two to measure a build before and after a
#                  change in the same call (default: .dev/clinicbench, else target/release/clinicbench)
#   --quick        the Gemma 3 270M shape, a few tokens, no peer: what CI runs on lavapipe
#   --out FILE     where the JSON lines go as well (default: gpu-bench.jsonl in the current folder)
#   --models DIR   where the models are written, or found from an earlier call (default: /tmp/clinicbench-shapes)
#   --no-peer      skip PyTorch
#   --shapes, --prompt-tokens, --gen-tokens  override the run's shapes and lengths
#                  (full: all three shapes, 512 and 128; quick: gemma3-270m, 8 and 2)
#
# On the lent machine it first installs the Vulkan loader brought in .gl/ and the PyPI gguf wheel
# brought in .whl/ (DEVICE.md); elsewhere it uses what is installed.
set -uo pipefail
cd "$(dirname "$0")/.."
quick=0; peer=1; out=gpu-bench.jsonl; models=/tmp/clinicbench-shapes; binaries=()
want_shapes=""; want_prompt=""; want_gen=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1; peer=0 ;;
    --no-peer) peer=0 ;;
    --binary) binaries+=("$2"); shift ;;
    --out) out="$2"; shift ;;
    --models) models="$2"; shift ;;
    --shapes) want_shapes="$2"; shift ;;
    --prompt-tokens) want_prompt="$2"; shift ;;
    --gen-tokens) want_gen="$2"; shift ;;
    -h|--help) sed -n 2,22p "$0"; exit 0 ;;
    *) echo "gpu-bench: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ ${#binaries[@]} -eq 0 ]; then
  if [ -x .dev/clinicbench ]; then binaries=(.dev/clinicbench); else binaries=(target/release/clinicbench); fi
fi
for b in "${binaries[@]}"; do
  [ -x "$b" ] || { echo "gpu-bench: no executable binary at $b (cargo build --release --bin clinicbench)" >&2; exit 2; }
done

# The lent machine: the Vulkan loader from .gl/ (NVIDIA's ICD is there already) and gguf from .whl/.
if ls .gl/*.deb >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  for f in .gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
  icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  [ -f "$icd" ] && export VK_DRIVER_FILES="$icd"
fi
if ls .whl/*.whl >/dev/null 2>&1 && ! python3 -c 'import gguf' 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
# Mesa's loader complains on every start without one.
if [ -z "${XDG_RUNTIME_DIR:-}" ]; then XDG_RUNTIME_DIR="$(mktemp -d)"; export XDG_RUNTIME_DIR; fi

if [ $quick = 1 ]; then
  shapes=(gemma3-270m); prompt=8; gen=2; ctx=64; limit=300
else
  shapes=(gemma3-270m llama-1b qwen3-4b); prompt=512; gen=128; ctx=1024; limit=150
fi
[ -n "$want_shapes" ] && read -r -a shapes <<<"$want_shapes"
[ -n "$want_prompt" ] && prompt=$want_prompt
[ -n "$want_gen" ] && gen=$want_gen
ctx=$(( prompt + gen + 16 > ctx ? prompt + gen + 16 : ctx ))
: >"$out"
missing=()
for s in "${shapes[@]}"; do [ -f "$models/$s-q4_k_m.gguf" ] || missing+=("$s"); done
if [ ${#missing[@]} -gt 0 ]; then
  python3 scripts/make_shape_models.py "$models" "${missing[@]}" >/dev/null || { echo "gpu-bench: could not write the models" >&2; exit 1; }
fi

# One JSON line: the bench's last stdout line with what was run beside it, or the error.
emit() { # shape kernels binary json-or-empty error-text
  python3 - "$@" <<'EOF' | tee -a "$out"
import json, sys
shape, kernels, binary, line, err = sys.argv[1:6]
try:
    d = json.loads(line)
except ValueError:
    d = {"error": (err.strip().splitlines() or ["no output"])[-1]}
print(json.dumps({"shape": shape, "kernels": kernels, "binary": binary, **d}))
EOF
}

for b in "${binaries[@]}"; do
  for s in "${shapes[@]}"; do
    for kernels in default portable; do
      flag=(); [ $kernels = portable ] && flag=(--portable-kernels)
      err=$(mktemp)
      line=$(timeout "$limit" "$b" bench --model "$models/$s-q4_k_m.gguf" --backend wgpu "${flag[@]}" \
               --prompt-tokens $prompt --gen-tokens $gen --ctx-size $ctx 2>"$err" | tail -n 1)
      emit "$s" "$kernels" "$b" "$line" "$(cat "$err")"
      rm -f "$err"
    done
  done
done

if [ $peer = 1 ]; then
  if python3 -c 'import torch, transformers' 2>/dev/null; then
    timeout 240 python3 scripts/torch_peer.py --prompt-tokens $prompt --gen-tokens $gen "${shapes[@]}" | tee -a "$out"
  else
    echo '{"peer": "pytorch", "error": "torch or transformers is not installed here"}' | tee -a "$out"
  fi
fi

# The table: each run beside the bandwidth it measured and the peer on the same shape.
python3 - "$out" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
peer = {r["shape"]: r for r in rows if r.get("peer") and "decode_tok_s" in r}
print(f"{'shape':<12} {'kernels':<9} {'binary':<28} {'decode':>8} {'prefill':>9} {'disp':>5} {'GB/s':>7} {'roofline':>8} {'vs torch':>8}")
for r in rows:
    if r.get("peer"):
        continue
    if "decode_tok_s" not in r:
        print(f"{r['shape']:<12} {r['kernels']:<9} {r['binary'][-28:]:<28} error: {r.get('error')}")
        continue
    p = peer.get(r["shape"])
    ratio = f"{r['decode_tok_s'] / p['decode_tok_s']:.2f}x" if p else "-"
    print(f"{r['shape']:<12} {r['kernels']:<9} {r['binary'][-28:]:<28} {r['decode_tok_s']:8.1f} {r['prefill_tok_s']:9.1f} "
          f"{r.get('dispatches_per_token', 0):5d} {r.get('bandwidth_gb_s', 0):7.1f} {r.get('roofline_fraction', 0):8.3f} {ratio:>8}")
for s, p in peer.items():
    print(f"{s:<12} {'pytorch':<9} {p.get('device', '')[-28:]:<28} {p['decode_tok_s']:8.1f} {p['prefill_tok_s']:9.1f}")
EOF
