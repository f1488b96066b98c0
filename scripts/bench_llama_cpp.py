#!/usr/bin/env python3
"""llama.cpp's prefill and decode speed on a model, for comparison with `clinicbench bench`.

    python3 scripts/bench_llama_cpp.py MODEL.gguf --threads 2 --prompt-tokens 512 --gen-tokens 128

Uses llama-cpp-python (llama.cpp built from source by pip). Prints one JSON line with the same
field names as `clinicbench bench`. The prompt is the same clinical text, tokenized by llama.cpp.
"""
import argparse
import json
import time

import llama_cpp
import numpy as np
from llama_cpp import Llama

TEXT = ("A 67-year-old man with type 2 diabetes presents with chest pain radiating to the left arm. "
        "Blood pressure 150/95 mmHg, HbA1c 8.1%, troponin elevated. ")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prompt-tokens", type=int, default=512)
    ap.add_argument("--gen-tokens", type=int, default=128)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    llm = Llama(model_path=a.model, n_ctx=a.prompt_tokens + a.gen_tokens + 8, n_batch=512,
                n_threads=a.threads, n_threads_batch=a.threads, verbose=False)
    prompt = llm.tokenize((TEXT * (1 + a.prompt_tokens // 20)).encode(), add_bos=True)[: a.prompt_tokens]
    n_vocab = llm.n_vocab()

    def last_argmax():
        # The logits of the last evaluated token, read straight from llama.cpp's buffer.
        ptr = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
        return int(np.argmax(np.ctypeslib.as_array(ptr, shape=(n_vocab,))))

    best_p, best_d = 0.0, 0.0
    for _ in range(a.repeat):
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(prompt)
        tp = time.perf_counter() - t0
        tok = last_argmax()
        t1 = time.perf_counter()
        for _ in range(a.gen_tokens):
            llm.eval([tok])
            tok = last_argmax()
        td = time.perf_counter() - t1
        best_p = max(best_p, len(prompt) / tp)
        best_d = max(best_d, a.gen_tokens / td)
    print(json.dumps({"engine": "llama.cpp", "llama_cpp_python": __import__("llama_cpp").__version__,
                      "threads": a.threads, "prompt_tokens": len(prompt), "gen_tokens": a.gen_tokens,
                      "prefill_tok_s": best_p, "decode_tok_s": best_d}))


if __name__ == "__main__":
    main()
