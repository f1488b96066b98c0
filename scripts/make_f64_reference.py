#!/usr/bin/env python3
"""An independent float64 forward pass of Gemma 3 in numpy, for tests/model_reference.rs.

    python3 scripts/make_f64_reference.py MODEL.gguf tests/fixtures/model/NAME.json

Weights are dequantized by PyPI `gguf` (`gguf.quants.dequantize`) and everything after that is
float64, so this measures our forward pass without the rounding llama.cpp adds on top (its CPU
kernels quantize activations to 8 bits, keep the KV cache in f16 and tabulate GELU in f16). It
adds a `f64_logprob` to every loglikelihood case of the fixture written by make_model_fixtures.py
(same input tokens, same continuation positions).
"""
import json
import sys

import gguf
import numpy as np
from gguf.quants import dequantize


def main():
    model_path, fixture_path = sys.argv[1], sys.argv[2]
    r = gguf.GGUFReader(model_path)
    tensors = {t.name: t for t in r.tensors}
    f = {k: v for k, v in r.fields.items()}
    arch = f["general.architecture"].contents()
    assert arch == "gemma3", "this reference implements gemma3 only"
    hp = lambda k: f[f"{arch}.{k}"].contents()
    n_embd, n_layer = hp("embedding_length"), hp("block_count")
    n_head, n_kv, hd = hp("attention.head_count"), hp("attention.head_count_kv"), hp("attention.key_length")
    eps, base, window = hp("attention.layer_norm_rms_epsilon"), hp("rope.freq_base"), hp("attention.sliding_window")
    cache = {}

    def W(name):
        if name not in cache:
            t = tensors[name]
            a = dequantize(t.data, t.tensor_type).astype(np.float64)
            cache[name] = a.reshape([int(x) for x in reversed(t.shape)]) if len(t.shape) > 1 else a.reshape(-1)
        return cache[name]

    def rms(x, w):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w

    def rope(x, theta_base, pos):  # NeoX pairing: (i, i + hd/2)
        half = hd // 2
        ang = np.outer(pos, theta_base ** (-np.arange(half) * 2.0 / hd))
        c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
        x0, x1 = x[..., :half], x[..., half:]
        return np.concatenate([x0 * c - x1 * s, x0 * s + x1 * c], -1)

    def gelu(x):
        return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))

    def log_probs(toks, positions):
        n = len(toks)
        pos = np.arange(n)
        x = W("token_embd.weight")[toks] * np.sqrt(n_embd)
        for il in range(n_layer):
            p = f"blk.{il}."
            swa = il % 6 < 5
            h = rms(x, W(p + "attn_norm.weight"))
            q = (h @ W(p + "attn_q.weight").T).reshape(n, n_head, hd)
            k = (h @ W(p + "attn_k.weight").T).reshape(n, n_kv, hd)
            v = (h @ W(p + "attn_v.weight").T).reshape(n, n_kv, hd)
            q = rope(rms(q, W(p + "attn_q_norm.weight")), 10000.0 if swa else base, pos) / np.sqrt(hd)
            k = rope(rms(k, W(p + "attn_k_norm.weight")), 10000.0 if swa else base, pos)
            diff = np.subtract.outer(pos, pos)
            mask = (diff >= 0) & ((diff < window) if swa else True)
            out = np.zeros((n, n_head, hd))
            for hh in range(n_head):
                kv = hh // (n_head // n_kv)
                sc = np.where(mask, q[:, hh, :] @ k[:, kv, :].T, -np.inf)
                sc = np.exp(sc - sc.max(-1, keepdims=True))
                out[:, hh, :] = (sc / sc.sum(-1, keepdims=True)) @ v[:, kv, :]
            x = x + rms(out.reshape(n, -1) @ W(p + "attn_output.weight").T, W(p + "post_attention_norm.weight"))
            h = rms(x, W(p + "ffn_norm.weight"))
            ff = gelu(h @ W(p + "ffn_gate.weight").T) * (h @ W(p + "ffn_up.weight").T)
            x = x + rms(ff @ W(p + "ffn_down.weight").T, W(p + "post_ffw_norm.weight"))
        h = rms(x[positions], W("output_norm.weight"))
        logits = h @ W("token_embd.weight").T
        m = logits.max(-1, keepdims=True)
        return logits - m - np.log(np.exp(logits - m).sum(-1, keepdims=True))

    fx = json.load(open(fixture_path, encoding="utf-8"))
    for case in fx["loglikelihood"]:
        toks = case["input_tokens"]  # model input + the last continuation token
        n_cont = case["n_tokens"]
        inp = toks[:-1]
        first = len(inp) - n_cont
        lp = log_probs(inp, list(range(first, len(inp))))
        case["f64_logprob"] = float(sum(lp[i, toks[first + i + 1]] for i in range(n_cont)))
        print(f"{case['continuation'][:30]!r}: llama.cpp {case['logprob']:.4f}  f64 {case['f64_logprob']:.4f}")
    with open(fixture_path, "w", encoding="utf-8") as out:
        json.dump(fx, out, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
