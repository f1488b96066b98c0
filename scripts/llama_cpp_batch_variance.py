#!/usr/bin/env python3
"""How far llama.cpp's loglikelihoods on the quantized file move with its own batch size, and how
far the exact computation is from each: the evidence behind README's "About llama.cpp on the
quantized file itself".

    python3 scripts/llama_cpp_batch_variance.py [MODEL.gguf]

Runs llama-cpp-python (0.3.36 here) on the 19 loglikelihood cases of
tests/fixtures/model/gemma3-270m-q4_k_m.json with the fixture script's own lm-eval routine, at
n_batch 512 and 1, and compares them with each other, with the committed fixture, and with the
float64 pass stored in it (our engine is within 1e-4 of that pass).
"""
import json
import os
import sys

import numpy as np
from llama_cpp import Llama

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_model_fixtures import lm_eval_loglikelihoods  # noqa: E402

FIXTURE = "tests/fixtures/model/gemma3-270m-q4_k_m.json"


def main():
    model = sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser("~/.cache/clinicbench/gemma-3-270m-q4_k_m.gguf")
    fx = json.load(open(FIXTURE, encoding="utf-8"))
    cases = [(c["original_context"], c["continuation"]) for c in fx["loglikelihood"]]
    by_batch = {}
    for n_batch in (512, 1):
        llm = Llama(model_path=model, n_ctx=2048, n_batch=n_batch, n_ubatch=n_batch, logits_all=True,
                    n_threads=2, verbose=False, seed=0)
        by_batch[n_batch] = [x["logprob"] for x in lm_eval_loglikelihoods(llm, cases)]
        del llm
    exact = [c["f64_logprob"] for c in fx["loglikelihood"]]
    fixture = [c["logprob"] for c in fx["loglikelihood"]]

    def gap(a, b):
        e = np.abs(np.array(a) - np.array(b))
        return f"mean {e.mean():.4f} nats, worst {e.max():.4f}"

    print("llama.cpp n_batch 512 vs n_batch 1:          ", gap(by_batch[512], by_batch[1]))
    print("llama.cpp n_batch 512 vs the committed fixture:", gap(by_batch[512], fixture))
    print("exact (float64 pass) vs llama.cpp n_batch 512:", gap(exact, by_batch[512]))
    print("exact (float64 pass) vs llama.cpp n_batch 1:  ", gap(exact, by_batch[1]))


if __name__ == "__main__":
    main()
