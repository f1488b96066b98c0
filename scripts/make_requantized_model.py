#!/usr/bin/env python3
"""The demo model (Gemma 3 270M Q4_K_M) requantized by llama.cpp into another type, with
llama.cpp's answers on that file dequantized to F32, for tests/families.rs
(`requantized_gemma3_iq4_xs`): a real model in the i-quants users download.

    python3 scripts/make_requantized_model.py [--model GEMMA_GGUF] [--type IQ4_XS] [--out target/requantized]

It dequantizes every tensor of the demo model to F32 (gguf-py), quantizes that with
`llama_cpp.llama_model_quantize` (no importance matrix: IQ4_XS and IQ4_NL need none; with 640-wide
rows llama.cpp falls back for some tensors, so IQ4_XS gives a mix of IQ4_XS, IQ4_NL, Q5_1, Q5_K and
Q8_0), dequantizes the result back to F32 and runs llama.cpp on that copy (F32 KV cache) for the
loglikelihood and greedy cases of scripts/make_synthetic_models.py. Writes OUT/gemma3_270m_<type>.gguf
and .json in the families fixture format. Needs llama-cpp-python 0.3.36, gguf and numpy; about a
minute on two cores. The files stay in target/ (240 MB): the test runs where they are present.
"""
import argparse
import json
import os
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from make_synthetic_models import DEFAULT_MODEL, FTYPE, answers, quantize, quiet_llama_cpp  # noqa: E402
from dequantize_gguf import dequantize_copy  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.environ.get("CLINICBENCH_MODEL", DEFAULT_MODEL))
    ap.add_argument("--type", default="IQ4_XS", choices=sorted(FTYPE))
    ap.add_argument("--out", default=os.path.join(ROOT, "target", "requantized"))
    a = ap.parse_args()
    import llama_cpp
    log_callback = quiet_llama_cpp()  # noqa: F841 (kept alive until the end)
    os.makedirs(a.out, exist_ok=True)
    name = f"gemma3_270m_{a.type.lower()}"
    out = os.path.join(a.out, name + ".gguf")
    with tempfile.TemporaryDirectory() as tmp:
        f32 = os.path.join(tmp, "f32.gguf")
        deq = os.path.join(tmp, "dequantized.gguf")
        dequantize_copy(a.model, f32)
        quantize(f32, out, {"name": name, "ftype": a.type})
        types = dequantize_copy(out, deq)
        ref_ll, ref_gen = answers(deq)
        q_ll, _ = answers(out, ll_only=True)
    for x, y in zip(ref_ll, q_ll):
        x["logprob_llama_cpp_quantized"] = y["logprob"]
    fixture = {
        "model": os.path.basename(out),
        "arch": "gemma3",
        "llama_cpp_python": llama_cpp.__version__,
        "reference": "llama.cpp on the F32-dequantized copy of the model, F32 KV cache, n_batch 512",
        "tensor_types": types,
        "loglikelihood": ref_ll,
        "generate": ref_gen,
    }
    with open(os.path.join(a.out, name + ".json"), "w", encoding="utf-8") as f:
        json.dump(fixture, f, ensure_ascii=False, indent=1)
        f.write("\n")
    counts = {}
    for t in types.values():
        counts[t] = counts.get(t, 0) + 1
    diffs = [abs(x["logprob"] - x["logprob_llama_cpp_quantized"]) for x in ref_ll]
    print(f"{out}: {os.path.getsize(out)} bytes, tensors by type {dict(sorted(counts.items()))}; "
          f"llama.cpp quantized vs dequantized: mean {np.mean(diffs):.4f}, max {np.max(diffs):.4f} nats")


if __name__ == "__main__":
    main()
