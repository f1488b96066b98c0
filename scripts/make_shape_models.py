#!/usr/bin/env python3
"""Random-weight GGUF models of real shapes, in the Q4_K_M mixes llama.cpp makes, for measuring
speed where no real model can travel (scripts/gpu-bench.sh): speed does not depend on the values.

    python3 scripts/make_shape_models.py OUT_DIR [SHAPE ...]    (needs PyPI gguf and numpy)

Shapes (default: all three):
  gemma3-270m   Gemma 3 270M: 18 layers, 640 wide, 4 query heads and 1 KV head of 256,
                feed-forward 2048, vocabulary 262144, tied embeddings, q/k norms, post-norms,
                a 512-token sliding window on five layers of six.
  llama-1b      Llama 3.2 1B: 16 layers, 2048 wide, 32 query and 8 KV heads of 64,
                feed-forward 8192, vocabulary 128256, tied embeddings.
  qwen3-4b      Qwen3 4B: 36 layers, 2560 wide, 32 query and 8 KV heads of 128,
                feed-forward 9728, vocabulary 151936, tied embeddings, q/k norms.

Block types follow llama.cpp's Q4_K_M choice (llama_tensor_get_type): Q4_K everywhere but
attn_v and ffn_down, which are Q6_K on the layers `use_more_bits` picks (the first and last
eighth, and every third between), and the tied embedding table, which is the output layer and
Q6_K; rows whose width is not a multiple of 256 fall back to Q5_0 (for Q4_K) and Q8_0 (for Q6_K),
as they do for Gemma 3 270M (the real file's types are exactly these). The tokenizer is a
SentencePiece vocabulary of the shape's size with byte tokens, so every command runs.

Tensors stream to the file one at a time: the 4B shape (2.5 GB) needs little memory.
"""
import os
import sys

import gguf
import numpy as np

Q = gguf.GGMLQuantizationType

SHAPES = {
    "gemma3-270m": dict(arch="gemma3", n_layer=18, n_embd=640, n_head=4, n_head_kv=1, head_dim=256,
                        n_ff=2048, n_vocab=262144, qk_norm=True, post_norms=True, rope_base=1e6,
                        rope_base_swa=1e4, sliding_window=512, swa_pattern=6, eps=1e-6),
    "llama-1b": dict(arch="llama", n_layer=16, n_embd=2048, n_head=32, n_head_kv=8, head_dim=64,
                     n_ff=8192, n_vocab=128256, rope_base=5e5, eps=1e-5),
    "qwen3-4b": dict(arch="qwen3", n_layer=36, n_embd=2560, n_head=32, n_head_kv=8, head_dim=128,
                     n_ff=9728, n_vocab=151936, qk_norm=True, rope_base=1e6, eps=1e-6),
}

# Bytes a block, elements a block, and where its f16 scales sit (random bits there would be inf
# or NaN; they are set to small halves so a forward pass stays finite).
BLOCKS = {
    Q.Q4_K: (144, 256, (0, 2)),
    Q.Q6_K: (210, 256, (208,)),
    Q.Q5_0: (22, 32, (0,)),
    Q.Q8_0: (34, 32, (0,)),
}
FALLBACK = {Q.Q4_K: Q.Q5_0, Q.Q6_K: Q.Q8_0}


def use_more_bits(i, n):
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def q4_k_m_type(name, layer, n_layer, cols):
    """llama.cpp's Q4_K_M type for a matrix, with its fallback for rows not of whole 256-blocks."""
    if name == "token_embd.weight":
        ty = Q.Q6_K  # tied: it is the output layer
    elif name.endswith(("attn_v.weight", "ffn_down.weight")) and use_more_bits(layer, n_layer):
        ty = Q.Q6_K
    else:
        ty = Q.Q4_K
    if cols % 256 != 0:
        ty = FALLBACK[ty]
    return ty


def tensors(s):
    """(name, rows, cols or None for a norm vector) in file order."""
    d, hd = s["n_embd"], s["head_dim"]
    qd, kd = s["n_head"] * hd, s["n_head_kv"] * hd
    yield "token_embd.weight", s["n_vocab"], d
    for i in range(s["n_layer"]):
        p = f"blk.{i}."
        yield p + "attn_norm.weight", d, None
        yield p + "attn_q.weight", qd, d
        yield p + "attn_k.weight", kd, d
        yield p + "attn_v.weight", kd, d
        if s.get("qk_norm"):
            yield p + "attn_q_norm.weight", hd, None
            yield p + "attn_k_norm.weight", hd, None
        yield p + "attn_output.weight", d, qd
        if s.get("post_norms"):
            yield p + "post_attention_norm.weight", d, None
        yield p + "ffn_norm.weight", d, None
        yield p + "ffn_gate.weight", s["n_ff"], d
        yield p + "ffn_up.weight", s["n_ff"], d
        yield p + "ffn_down.weight", d, s["n_ff"]
        if s.get("post_norms"):
            yield p + "post_ffw_norm.weight", d, None
    yield "output_norm.weight", d, None


def layer_of(name):
    return int(name.split(".")[1]) if name.startswith("blk.") else 0


def write(path, shape):
    s = SHAPES[shape]
    arch = s["arch"]
    w = gguf.GGUFWriter(path, arch)
    w.add_name(f"{shape} (random weights, Q4_K_M mix, for speed only)")
    w.add_uint32(f"{arch}.context_length", 8192)
    w.add_uint32(f"{arch}.embedding_length", s["n_embd"])
    w.add_uint32(f"{arch}.block_count", s["n_layer"])
    w.add_uint32(f"{arch}.feed_forward_length", s["n_ff"])
    w.add_uint32(f"{arch}.attention.head_count", s["n_head"])
    w.add_uint32(f"{arch}.attention.head_count_kv", s["n_head_kv"])
    w.add_uint32(f"{arch}.attention.key_length", s["head_dim"])
    w.add_uint32(f"{arch}.attention.value_length", s["head_dim"])
    w.add_uint32(f"{arch}.rope.dimension_count", s["head_dim"])
    w.add_float32(f"{arch}.attention.layer_norm_rms_epsilon", s["eps"])
    w.add_float32(f"{arch}.rope.freq_base", s["rope_base"])
    if "sliding_window" in s:
        w.add_uint32(f"{arch}.attention.sliding_window", s["sliding_window"])
        w.add_float32(f"{arch}.rope.freq_base_swa", s["rope_base_swa"])
        w.add_uint32(f"{arch}.attention.sliding_window_pattern", s["swa_pattern"])
    # A SentencePiece vocabulary of the shape's size: control tokens, the 256 byte tokens, pieces.
    n = s["n_vocab"]
    pieces = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    pieces += [f"\u2581t{i}" for i in range(n - len(pieces))]
    types = [2, 3, 3] + [6] * 256 + [1] * (n - 259)
    w.add_tokenizer_model("llama")
    w.add_token_list(pieces)
    w.add_token_scores([0.0] * n)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_add_bos_token(True)

    rng = np.random.default_rng(7)
    plan = []
    for name, rows, cols in tensors(s):
        if cols is None:
            w.add_tensor_info(name, (rows,), np.dtype(np.float32), rows * 4)
            plan.append((name, rows, None, None))
        else:
            ty = q4_k_m_type(name, layer_of(name), s["n_layer"], cols)
            block_bytes, block_elems, _ = BLOCKS[ty]
            nbytes = rows * cols // block_elems * block_bytes
            # raw_shape for a quantized type is in bytes, rows last (as gguf's writer stores it).
            w.add_tensor_info(name, (rows, cols // block_elems * block_bytes), np.dtype(np.uint8), nbytes, raw_dtype=ty)
            plan.append((name, rows, cols, ty))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    scale = np.frombuffer(np.array([2e-3], dtype=np.float16).tobytes(), dtype=np.uint8)
    for name, rows, cols, ty in plan:
        if ty is None:
            w.write_tensor_data(np.ones(rows, dtype=np.float32))
            continue
        block_bytes, block_elems, halves = BLOCKS[ty]
        blocks = rng.integers(0, 256, size=(rows * cols // block_elems, block_bytes), dtype=np.uint8)
        for at in halves:
            blocks[:, at:at + 2] = scale
        w.write_tensor_data(blocks.reshape(rows, -1))
    w.close()


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    out, shapes = argv[0], argv[1:] or list(SHAPES)
    unknown = [x for x in shapes if x not in SHAPES]
    if unknown:
        print(f"make_shape_models: unknown shape {unknown[0]!r}; known: {', '.join(SHAPES)}", file=sys.stderr)
        return 2
    os.makedirs(out, exist_ok=True)
    for shape in shapes:
        path = os.path.join(out, f"{shape}-q4_k_m.gguf")
        write(path, shape)
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
