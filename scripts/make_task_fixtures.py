#!/usr/bin/env python3
"""lm-evaluation-harness prompts scored by llama.cpp, for tests/task_parity.rs.

    pip download --no-deps lm-eval==0.4.13 -d /tmp/lmeval && unzip /tmp/lmeval/*.whl -d /tmp/lmeval/w
    python3 scripts/make_task_fixtures.py /tmp/lmeval/w ../shared/datasets MODEL.gguf MODEL-f32.gguf \
        tests/fixtures/tasks/gemma3-270m-q4_k_m.json

For the first 100 documents of medqa_4options, pubmedqa and mmlu_clinical_knowledge, zero-shot:
the prompt is built by lm-eval 0.4.13's own code (`preprocess_medqa.doc_to_text`,
`preprocess_pubmedqa.doc_to_text`, MMLU's YAML description and Jinja `doc_to_text` rendered as
lm-eval renders it, keep_trailing_newline=True), each choice is the continuation " " + choice, and
llama.cpp (llama-cpp-python) gives the loglikelihoods, both on the quantized file and on its
dequantized F32 copy with an f32 KV cache (scripts/dequantize_gguf.py), the like-for-like
reference for our engine. Only SHA-256 digests of the prompts and numbers are written: no dataset
text is committed.
"""
import csv
import hashlib
import importlib.util
import json
import os
import sys

import jinja2
import numpy as np
import yaml
from llama_cpp import Llama

N_DOCS = 100


def load_module(path):
    spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def log_softmax(row):
    row = row.astype(np.float64)
    m = row.max()
    return row - m - np.log(np.exp(row - m).sum())


def prompts(lmeval, data_root):
    out = {}
    medqa = load_module(os.path.join(lmeval, "lm_eval/tasks/medqa/preprocess_medqa.py"))
    rows = [json.loads(l) for l in open(os.path.join(data_root, "MedQA/questions/US/4_options/phrases_no_exclude_test.jsonl"))]
    docs = []
    for r in rows[:N_DOCS]:
        o = r["options"]
        doc = {"sent1": r["question"], "ending0": o["A"], "ending1": o["B"], "ending2": o["C"], "ending3": o["D"]}
        docs.append((medqa.doc_to_text(doc), ["A", "B", "C", "D"], "ABCD".index(r["answer_idx"])))
    out["medqa_4options"] = docs

    pubmedqa = load_module(os.path.join(lmeval, "lm_eval/tasks/pubmedqa/preprocess_pubmedqa.py"))
    data = json.load(open(os.path.join(data_root, "PubMedQA/data/ori_pqal.json")))
    truth = json.load(open(os.path.join(data_root, "PubMedQA/data/test_ground_truth.json")))
    docs = []
    for pmid, label in list(truth.items())[:N_DOCS]:
        docs.append((pubmedqa.doc_to_text(data[pmid]), ["yes", "no", "maybe"], ["yes", "no", "maybe"].index(label)))
    out["pubmedqa"] = docs

    mmlu_dir = os.path.join(lmeval, "lm_eval/tasks/mmlu/default")
    template = yaml.safe_load(open(os.path.join(mmlu_dir, "_default_template_yaml")))
    task = yaml.safe_load(open(os.path.join(mmlu_dir, "mmlu_clinical_knowledge.yaml")))
    env = jinja2.Environment(loader=jinja2.BaseLoader, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    to_text = env.from_string(template["doc_to_text"])
    description = env.from_string(task["description"])
    docs = []
    for r in list(csv.reader(open(os.path.join(data_root, "MMLU/data/test/clinical_knowledge_test.csv"), newline="")))[:N_DOCS]:
        doc = {"question": r[0], "choices": r[1:5], "answer": "ABCD".index(r[5])}
        docs.append((description.render(**doc) + to_text.render(**doc), template["doc_to_choice"], doc["answer"]))
    out["mmlu_clinical_knowledge"] = docs
    return out


def score(model_path, f32_kv, tasks):
    kw = dict(type_k=0, type_v=0) if f32_kv else {}
    llm = Llama(model_path=model_path, n_ctx=4096, n_batch=512, logits_all=True, n_threads=2, verbose=False, **kw)
    tok = lambda s: llm.tokenize(s.encode("utf-8"), add_bos=True, special=False)
    n_vocab = llm.n_vocab()
    out = {}
    for name, docs in tasks.items():
        rows = []
        for context, choices, gold in docs:
            # lm-eval's _encode_pair; the prompts end in "Answer:" (no trailing whitespace).
            assert context == context.rstrip()
            ctx = tok(context)
            llm.reset()
            llm.eval(ctx)
            last = log_softmax(np.array(llm.scores[len(ctx) - 1, :n_vocab], dtype=np.float32))
            lls = []
            for c in choices:
                whole = tok(context + " " + c)
                cont = whole[len(ctx):]
                if len(cont) == 1 and whole[: len(ctx)] == ctx:
                    lls.append(float(last[cont[0]]))
                else:  # the general case: score the whole continuation
                    llm.reset()
                    llm.eval(ctx + cont[:-1])
                    sc = np.array(llm.scores[: len(ctx) + len(cont) - 1, :n_vocab], dtype=np.float32)
                    lls.append(float(sum(log_softmax(sc[len(ctx) - 1 + k])[t] for k, t in enumerate(cont))))
            rows.append(lls)
        out[name] = rows
    del llm
    return out


def main():
    lmeval, data_root, model, model_f32, out_path = sys.argv[1:6]
    tasks = prompts(lmeval, data_root)
    quantized = score(model, False, tasks)
    f32 = score(model_f32, True, tasks)
    fixture = {"lm_eval": "0.4.13", "llama_cpp_python": __import__("llama_cpp").__version__, "tasks": {}}
    for name, docs in tasks.items():
        fixture["tasks"][name] = [
            {
                "prompt_sha256": hashlib.sha256(p.encode("utf-8")).hexdigest(),
                "gold": gold,
                "loglikelihoods": q,
                "loglikelihoods_f32_weights": f,
            }
            for (p, _, gold), q, f in zip(docs, quantized[name], f32[name])
        ]
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    with open(out_path, "w") as f:
        json.dump(fixture, f, indent=1)
    for name in tasks:
        rows = fixture["tasks"][name]
        acc = lambda key: np.mean([int(np.argmax(r[key]) == r["gold"]) for r in rows])
        print(f"{name}: acc quantized {acc('loglikelihoods'):.3f}, f32 weights {acc('loglikelihoods_f32_weights'):.3f}")


if __name__ == "__main__":
    main()
