#!/usr/bin/env python3
"""llama.cpp scoring the same multiple-choice prompts as a `clinicbench eval` run, by its best
path, for the evaluation speed comparison of issue 14:

    clinicbench eval -m MODEL --task medqa_4options --limit 100 --threads 2 --out RUN
    python3 scripts/bench_eval_llama_cpp.py MODEL RUN/samples.jsonl --threads 2

Each question's context (the lm-eval prompt, BOS first) is evaluated once; a one-token
continuation (" A", " yes") is scored from the logits of the context's last token, a longer one
token by token from there (the KV cache past the context dropped between choices). Only the
logits needed are computed (no logits_all). Loading the model is timed, as `clinicbench eval`'s
wall time includes its own. Prints one JSON line: seconds, documents per second, and how many
answers (argmax of the loglikelihoods) equal ours — llama.cpp on the quantized file rounds
activations to 8 bits, so a near tie may go the other way.
"""
import argparse
import json
import time

import llama_cpp
import numpy as np
from llama_cpp import Llama


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("samples", help="samples.jsonl of a clinicbench eval run (prompt, choices, loglikelihoods)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--n-ctx", type=int, default=4096)
    a = ap.parse_args()
    docs = [json.loads(line) for line in open(a.samples, encoding="utf-8") if line.strip()]
    start = time.perf_counter()
    llm = Llama(model_path=a.model, n_ctx=a.n_ctx, n_batch=512, n_threads=a.threads,
                n_threads_batch=a.threads, verbose=False)
    n_vocab = llm.n_vocab()

    def last_logprobs():
        ptr = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
        z = np.ctypeslib.as_array(ptr, shape=(n_vocab,)).astype(np.float64)
        m = z.max()
        return z - (m + np.log(np.exp(z - m).sum()))

    same = 0
    for d in docs:
        context = llm.tokenize(d["prompt"].encode(), add_bos=True)
        llm.reset()
        llm.eval(context)
        first = last_logprobs()
        lls = []
        for choice in d["choices"]:
            whole = llm.tokenize((d["prompt"] + " " + choice).encode(), add_bos=True)
            cont = whole[len(context):] if whole[: len(context)] == context else whole[len(context) - 1:]
            ll = float(first[cont[0]])
            if len(cont) > 1:
                llm.n_tokens = len(context)
                for prev, nxt in zip(cont, cont[1:]):
                    llm.eval([prev])
                    ll += float(last_logprobs()[nxt])
            lls.append(ll)
        same += int(np.argmax(lls) == int(np.argmax(d["loglikelihoods"])))
    seconds = time.perf_counter() - start
    print(json.dumps({"peer": f"llama.cpp (llama-cpp-python {llama_cpp.__version__})", "docs": len(docs),
                      "seconds": round(seconds, 2), "docs_per_s": round(len(docs) / seconds, 2),
                      "threads": a.threads, "answers_equal_ours": same}))


if __name__ == "__main__":
    main()
