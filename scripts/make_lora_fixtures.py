#!/usr/bin/env python3
"""LoRA adapters in GGUF for two of the synthetic models, with llama.cpp's answers, for
tests/lora.rs.

Run from the repository root after scripts/make_synthetic_models.py (the bases are its committed
models). Needs PyPI `gguf` and `llama-cpp-python`:

    python3 scripts/make_lora_fixtures.py

Each adapter is written as llama.cpp's convert_lora_to_gguf.py writes one: `general.type =
adapter`, `adapter.type = lora`, `adapter.lora.alpha` (absent: llama.cpp then scales by the user's
scale alone), the base's architecture, and per adapted weight `NAME.weight.lora_a` of ggml shape
(cols, rank) and `NAME.weight.lora_b` of (rank, rows) — for `token_embd.weight` A is (rank, n_vocab)
and B (rank, n_embd), llama.cpp's flipped layout. Values are seeded random (numpy PCG64) and
rounded to f16, so the committed F16 (and Q8_0) files and the F32 copies llama.cpp runs hold the
same numbers: llama.cpp's CPU products round activations to f16 or 8 bits for F16 or quantized
weights, so, as for the bases, the reference is llama.cpp with every tensor in F32 — the base
dequantized and the adapters converted — with an F32 KV cache.

Writes tests/fixtures/lora/:
  llama_attn.gguf  on families/llama_q4_k_m: queries, keys, values, attention outputs of both
                   layers, the output projection and the token embeddings, rank 8 (rank 4 for the
                   layer-1 values), alpha 16, F16; and a norm vector, which llama.cpp skips.
  llama_ffn.gguf   on the same base: gate, up and down projections, rank 4, no alpha, F16.
  phi3.gguf        on families/phi3_q8_0: the fused q|k|v and gate|up projections, the attention
                   output and the down projection, rank 8, alpha 8, A in Q8_0 and B in F16.
and one RUN.json per reference run: the base, the adapters with their scales, and llama.cpp's
loglikelihoods and greedy generations in tests/families.rs's format.
"""

import json
import os
import re
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import make_synthetic_models as synth  # noqa: E402

FAMILIES = os.path.join(ROOT, "tests", "fixtures", "families")
OUT = os.path.join(ROOT, "tests", "fixtures", "lora")

ADAPTERS = [
    dict(name="llama_attn", base="llama_q4_k_m", seed=101, alpha=16.0, rank=8, a_type="F16",
         targets=r"attn_(q|k|v|output)\.weight|^output\.weight|^token_embd\.weight", ranks={r"blk\.1\.attn_v": 4},
         extra_norm="blk.0.attn_norm.weight"),
    dict(name="llama_ffn", base="llama_q4_k_m", seed=102, alpha=None, rank=4, a_type="F16",
         targets=r"ffn_(gate|up|down)\.weight"),
    dict(name="phi3", base="phi3_q8_0", seed=103, alpha=8.0, rank=8, a_type="Q8_0",
         targets=r"attn_(qkv|output)\.weight|ffn_(up|down)\.weight"),
]

RUNS = [
    dict(name="llama_attn", base="llama_q4_k_m", adapters=[("llama_attn", 0.75)]),
    dict(name="llama_attn_ffn", base="llama_q4_k_m", adapters=[("llama_attn", 0.75), ("llama_ffn", 1.5)]),
    dict(name="phi3", base="phi3_q8_0", adapters=[("phi3", 1.0)]),
]


def f16(a):
    return a.astype(np.float16)


def write_adapter(spec, f32_path):
    """Writes the committed adapter and an all-F32 copy at `f32_path`."""
    import gguf
    base = gguf.GGUFReader(os.path.join(FAMILIES, spec["base"] + ".gguf"))
    arch = base.fields["general.architecture"].contents()
    rng = np.random.default_rng(spec["seed"])
    tensors = {}
    for t in base.tensors:
        if not re.search(spec["targets"], t.name):
            continue
        cols, rows = int(t.shape[0]), int(t.shape[1])
        r = next((v for p, v in spec.get("ranks", {}).items() if re.search(p, t.name)), spec["rank"])
        # Sizes that move the answers by a few nats: the delta's rows about a third of the base's.
        if t.name == "token_embd.weight":
            a = f16(rng.standard_normal((rows, r)))  # ggml (r, n_vocab): a row per token
            b = f16(rng.standard_normal((cols, r)) * 0.3 / np.sqrt(r))  # ggml (r, n_embd)
        else:
            a = f16(rng.standard_normal((r, cols)) / np.sqrt(cols))  # ggml (cols, r)
            b = f16(rng.standard_normal((rows, r)) * 0.5 / np.sqrt(r))  # ggml (r, rows)
        tensors[t.name] = (a, b)
    assert tensors, spec["name"]
    for path, committed in ((os.path.join(OUT, spec["name"] + ".gguf"), True), (f32_path, False)):
        w = gguf.GGUFWriter(path, arch)
        w.add_string("general.type", "adapter")
        w.add_string("adapter.type", "lora")
        w.add_name(spec["name"])
        if spec["alpha"] is not None:
            w.add_float32("adapter.lora.alpha", spec["alpha"])
        for name, (a, b) in tensors.items():
            if not committed:
                w.add_tensor(name + ".lora_a", a.astype(np.float32))
            elif spec["a_type"] == "Q8_0":
                q = gguf.quants.quantize(a.astype(np.float32), gguf.GGMLQuantizationType.Q8_0)
                w.add_tensor(name + ".lora_a", q, raw_shape=q.shape, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
            else:
                w.add_tensor(name + ".lora_a", a)
            w.add_tensor(name + ".lora_b", b if committed else b.astype(np.float32))
        if spec.get("extra_norm"):
            n_embd = next(int(t.shape[0]) for t in base.tensors if t.name == spec["extra_norm"])
            w.add_tensor(spec["extra_norm"], np.full(n_embd, 3.0, dtype=np.float32))
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
    if spec["a_type"] == "Q8_0":
        # The F32 copy holds what the committed Q8_0 holds.
        rewrite_dequantized(os.path.join(OUT, spec["name"] + ".gguf"), f32_path)
    return {name: (a.shape, b.shape) for name, (a, b) in tensors.items()}


def rewrite_dequantized(src, dst):
    synth.dequantize_copy(src, dst)


def main():
    log_callback = synth.quiet_llama_cpp()  # noqa: F841 (kept alive until the end)
    import llama_cpp
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        f32 = {}
        for spec in ADAPTERS:
            f32[spec["name"]] = os.path.join(tmp, spec["name"] + ".f32.gguf")
            shapes = write_adapter(spec, f32[spec["name"]])
            print(f"{spec['name']}: {len(shapes)} adapted weights, {os.path.getsize(os.path.join(OUT, spec['name'] + '.gguf'))} bytes")
        for run in RUNS:
            deq = os.path.join(tmp, run["base"] + ".dequantized.gguf")
            if not os.path.exists(deq):
                synth.dequantize_copy(os.path.join(FAMILIES, run["base"] + ".gguf"), deq)
            adapters = [(f32[a], s) for a, s in run["adapters"]]
            lls, gens = synth.answers(deq, adapters=adapters)
            base_lls, _ = synth.answers(deq, ll_only=True)
            moved = [abs(a["logprob"] - b["logprob"]) for a, b in zip(lls, base_lls)]
            fixture = {
                "base": run["base"],
                "adapters": [{"file": a + ".gguf", "scale": s} for a, s in run["adapters"]],
                "llama_cpp_python": llama_cpp.__version__,
                "reference": "llama.cpp on the F32-dequantized base with the adapters in F32, F32 KV cache, n_batch 512",
                "loglikelihood": lls,
                "generate": gens,
            }
            with open(os.path.join(OUT, run["name"] + ".json"), "w", encoding="utf-8") as f:
                json.dump(fixture, f, ensure_ascii=False, indent=1)
                f.write("\n")
            print(f"{run['name']}: the adapters move the loglikelihoods by {np.mean(moved):.3f} nats on average "
                  f"(max {np.max(moved):.3f}); generated {[len(g['ids']) for g in gens]}")


if __name__ == "__main__":
    main()
