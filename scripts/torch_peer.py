#!/usr/bin/env python3
"""The native peer for scripts/gpu-bench.sh: the same shapes as scripts/make_shape_models.py in
Hugging Face `transformers` on PyTorch, random bf16 weights made on the device from a config (no
file is read or dequantized), greedy decode with a static KV cache. Prints one JSON line a shape:
prefill and decode tokens per second, measured as `clinicbench bench` measures them (a prompt of
random token ids, then one token at a time).

    python3 scripts/torch_peer.py [--device cuda] [--prompt-tokens 512] [--gen-tokens 128]
                                  [--compile] [SHAPE ...]

`--compile` runs the decode step through torch.compile ("reduce-overhead": CUDA graphs), the
fastest way transformers documents for a static cache; it costs a minute of compiling a shape.
"""
import argparse
import json
import sys
import time

import torch
import transformers

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from make_shape_models import SHAPES  # noqa: E402


def config(shape):
    s = SHAPES[shape]
    common = dict(
        vocab_size=s["n_vocab"], hidden_size=s["n_embd"], intermediate_size=s["n_ff"],
        num_hidden_layers=s["n_layer"], num_attention_heads=s["n_head"],
        num_key_value_heads=s["n_head_kv"], head_dim=s["head_dim"], rms_norm_eps=s["eps"],
        rope_theta=s["rope_base"], tie_word_embeddings=True, max_position_embeddings=8192,
        torch_dtype="bfloat16",
    )
    if s["arch"] == "gemma3":
        return transformers.Gemma3TextConfig(
            sliding_window=s["sliding_window"], rope_local_base_freq=s["rope_base_swa"],
            sliding_window_pattern=s["swa_pattern"], query_pre_attn_scalar=s["head_dim"], **common)
    if s["arch"] == "qwen3":
        return transformers.Qwen3Config(**common)
    return transformers.LlamaConfig(**common)


def model_for(shape, device):
    cfg = config(shape)
    cls = {"gemma3": transformers.Gemma3ForCausalLM, "qwen3": transformers.Qwen3ForCausalLM,
           "llama": transformers.LlamaForCausalLM}[SHAPES[shape]["arch"]]
    torch.manual_seed(0)
    with torch.device(device):
        model = cls(cfg).to(torch.bfloat16)
    return model.eval()


def sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


@torch.inference_mode()
def measure(shape, device, prompt_tokens, gen_tokens, compile_):
    model = model_for(shape, device)
    n_vocab = SHAPES[shape]["n_vocab"]
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(3, n_vocab, (1, prompt_tokens), generator=g).to(device)
    total = prompt_tokens + gen_tokens + 1
    cache = transformers.StaticCache(config=model.config, max_batch_size=1, max_cache_len=total,
                                     device=device, dtype=torch.bfloat16)
    step = model.forward
    if compile_:
        step = torch.compile(model.forward, mode="reduce-overhead", fullgraph=True)

    def decode(n, start):
        token = ids[:, -1:]
        for i in range(n):
            pos = torch.tensor([start + i], device=device)
            logits = step(input_ids=token, past_key_values=cache, cache_position=pos, use_cache=True).logits
            token = logits[:, -1:].argmax(-1)
        return token

    def prefill():
        pos = torch.arange(prompt_tokens, device=device)
        return model(input_ids=ids, past_key_values=cache, cache_position=pos, use_cache=True).logits[:, -1:].argmax(-1)

    # Warm-up (kernels chosen, graphs captured), then the timed passes on a fresh cache.
    prefill()
    decode(min(gen_tokens, 8), prompt_tokens)
    sync(device)
    cache.reset()
    t0 = time.perf_counter()
    prefill()
    sync(device)
    t1 = time.perf_counter()
    decode(gen_tokens, prompt_tokens)
    sync(device)
    t2 = time.perf_counter()
    name = torch.cuda.get_device_name() if device.startswith("cuda") else "cpu"
    return {
        "peer": "pytorch", "shape": shape, "device": name, "torch": torch.__version__,
        "transformers": transformers.__version__, "compiled": compile_, "dtype": "bfloat16",
        "prompt_tokens": prompt_tokens, "gen_tokens": gen_tokens,
        "prefill_tok_s": prompt_tokens / (t1 - t0), "decode_tok_s": gen_tokens / (t2 - t1),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("shapes", nargs="*", default=list(SHAPES))
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--prompt-tokens", type=int, default=512)
    ap.add_argument("--gen-tokens", type=int, default=128)
    ap.add_argument("--compile", action="store_true")
    a = ap.parse_args()
    for shape in a.shapes:
        if shape not in SHAPES:
            ap.error(f"unknown shape {shape!r}; known: {', '.join(SHAPES)}")
    for shape in a.shapes:
        try:
            line = measure(shape, a.device, a.prompt_tokens, a.gen_tokens, a.compile)
        except Exception as e:  # one shape failing must not lose the others' figures
            line = {"peer": "pytorch", "shape": shape, "error": f"{type(e).__name__}: {e}"}
        print(json.dumps(line), flush=True)
        if a.device.startswith("cuda"):
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
