#!/usr/bin/env python3
"""A GGUF file the size of a 4B-parameter model at Q4_K, for the page's loading measurement
(README, "The page"): does a model that size load onto WebGPU in the browser, and how much
WebAssembly memory does the worker hold meanwhile?

The shapes are Qwen3-4B's decoder (36 layers, 2560 wide, 32 query and 8 KV heads of 128,
feed-forward 9728) under the `llama` architecture, every matrix Q4_K filled with seeded random
bytes (the values are meaningless: this file is for loading, not for answers), and the small
byte-level BPE tokenizer of tests/fixtures/families/llama_q4_k_m.gguf. About 2.0 GB.

    python3 scripts/make_large_model.py OUT.gguf      (needs PyPI gguf 0.19 and numpy)
"""
import sys

import gguf
import numpy as np

SOURCE = "tests/fixtures/families/llama_q4_k_m.gguf"
N_EMBD, N_FF, N_LAYER, N_HEAD, N_HEAD_KV, HEAD_DIM = 2560, 9728, 36, 32, 8, 128
Q4_K_BLOCK = (256, 144)  # elements, bytes


def main(out):
    src = gguf.GGUFReader(SOURCE)
    field = lambda k: src.fields[k]
    tokens = [bytes(field("tokenizer.ggml.tokens").parts[i]).decode() for i in field("tokenizer.ggml.tokens").data]
    types = [int(field("tokenizer.ggml.token_type").parts[i][0]) for i in field("tokenizer.ggml.token_type").data]
    merges = [bytes(field("tokenizer.ggml.merges").parts[i]).decode() for i in field("tokenizer.ggml.merges").data]
    n_vocab = len(tokens)

    w = gguf.GGUFWriter(out, "llama")
    w.add_name("large-q4_k (random weights, for loading only)")
    w.add_context_length(4096)
    w.add_embedding_length(N_EMBD)
    w.add_block_count(N_LAYER)
    w.add_feed_forward_length(N_FF)
    w.add_head_count(N_HEAD)
    w.add_head_count_kv(N_HEAD_KV)
    w.add_key_length(HEAD_DIM)
    w.add_value_length(HEAD_DIM)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_rope_freq_base(1e6)
    w.add_rope_dimension_count(HEAD_DIM)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(bytes(field("tokenizer.ggml.pre").parts[-1]).decode())
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(int(field("tokenizer.ggml.bos_token_id").parts[-1][0]))
    w.add_eos_token_id(int(field("tokenizer.ggml.eos_token_id").parts[-1][0]))
    w.add_add_bos_token(True)

    rng = np.random.default_rng(4)

    def q4k(name, rows, cols):
        n, b = Q4_K_BLOCK
        data = rng.integers(0, 256, size=(rows, cols // n * b), dtype=np.uint8)
        # Scales as small positive halves, so a pass over the file stays finite.
        blocks = data.reshape(rows, cols // n, b)
        blocks[:, :, 0:4] = np.frombuffer(np.array([2e-3, 1e-3], dtype=np.float16).tobytes(), dtype=np.uint8)
        w.add_tensor(name, data, raw_dtype=gguf.GGMLQuantizationType.Q4_K)  # shape in bytes

    ones = np.ones(N_EMBD, dtype=np.float32)
    q4k("token_embd.weight", n_vocab, N_EMBD)
    for l in range(N_LAYER):
        p = f"blk.{l}."
        w.add_tensor(p + "attn_norm.weight", ones)
        q4k(p + "attn_q.weight", N_HEAD * HEAD_DIM, N_EMBD)
        q4k(p + "attn_k.weight", N_HEAD_KV * HEAD_DIM, N_EMBD)
        q4k(p + "attn_v.weight", N_HEAD_KV * HEAD_DIM, N_EMBD)
        q4k(p + "attn_output.weight", N_EMBD, N_HEAD * HEAD_DIM)
        w.add_tensor(p + "ffn_norm.weight", ones)
        q4k(p + "ffn_gate.weight", N_FF, N_EMBD)
        q4k(p + "ffn_up.weight", N_FF, N_EMBD)
        q4k(p + "ffn_down.weight", N_EMBD, N_FF)
    w.add_tensor("output_norm.weight", ones)
    q4k("output.weight", n_vocab, N_EMBD)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main(sys.argv[1])
