#!/usr/bin/env python3
"""Three runs (ClinicBench page exports, report version 1) and the paired tests a side-by-side
report must find against the first: exact McNemar p-values by statsmodels, Holm's correction by
statsmodels' multipletests. Writes tests/fixtures/report/. Run once; the Rust tests compare.

    pip install statsmodels==0.14.* scipy numpy
    python3 scripts/make_report_fixtures.py
"""
import json
import os

import numpy as np
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "report")
rng = np.random.default_rng(20261204)

# task -> (scenario, choices, documents)
TASKS = {
    "medqa_4options": ("reasoning", ["A", "B", "C", "D"], 40),
    "pubmedqa": ("reasoning", ["yes", "no", "maybe"], 30),
    "mmlu_anatomy": ("reasoning", ["A", "B", "C", "D"], 20),
    "pharmacology_qa": ("understanding", ["A", "B", "C", "D"], 25),
}
SUMMARY = "iu_xray_summarization"
SHA = {t: format(i + 1, "x") * 64 for i, t in enumerate(list(TASKS) + [SUMMARY])}


def score_of(values):
    v = np.asarray(values, dtype=float)
    n = len(v)
    mean = float(sum(v) / n)
    se = float(np.std(v, ddof=1) / np.sqrt(n))
    return {"metric": "acc", "value": mean, "n": n, "stderr": se, "ci95": [max(0.0, mean - 1.96 * se), min(1.0, mean + 1.96 * se)]}


def run(name, accuracy, tasks, docs_of=None, sha=None, spec_hash=None):
    results, prov_tasks, samples, correct = {}, {}, [], {}
    for task, p in accuracy.items():
        if task not in tasks:
            continue
        scenario, choices, n = TASKS[task]
        n = (docs_of or {}).get(task, n)
        right = (rng.random(n) < p).astype(int)
        correct[task] = right.tolist()
        for d, r in enumerate(right):
            pred = 0 if r else 1
            samples.append({"task": task, "doc_id": d, "native_id": f"{task}-{d}", "prompt": f"Question {d}", "choices": choices,
                            "target": 0, "loglikelihoods": [-1.0 if r else -2.0, -2.0 if r else -1.0] + [-3.0] * (len(choices) - 2),
                            "pred": pred, "pred_norm": pred, "metrics": {"acc": float(r), "acc_norm": float(r)}, "truncated": False})
        acc = score_of(right)
        results[task] = {"scenario": scenario, "n": n, "skipped": 0, "unparsed": 0, "bad_rows": 0,
                         "scores": [acc, dict(acc, metric="acc_norm")]}
        prov_tasks[task] = provenance(task, (sha or {}).get(task), (spec_hash or {}).get(task), TASKS[task][2])
    return {"version": 1, "results": results, "provenance": {
        "model": {"file": f"{name}.gguf", "sha256": name[0] * 64, "name": name, "architecture": "llama"},
        "tasks": prov_tasks, "backend": "cpu", "engine_version": "0.1.0",
        "timings": {"seconds": 1.0, "prefill_tokens": 0, "prefill_tokens_per_second": None, "decode_tokens": 0,
                    "decode_tokens_per_second": None, "reused_tokens": 0},
        "host": {"os": "linux", "arch": "x86_64"}}, "samples": samples}, correct


def provenance(task, sha=None, spec_hash=None, records=0):
    return {"spec_version": 1, "spec_hash": spec_hash or "0" * 16,
            "dataset": {"importer": "x", "format": "jsonl", "files": [{"path": f"{task}.jsonl", "sha256": sha or SHA[task]}], "records": records},
            "shots": 0, "seed": 1234, "limit": None, "chat_template": False, "max_new_tokens": None, "documents": records}


def add_summary(doc, texts_equal, sha=None):
    """A generation task whose documents score rougeL 1 (answer == reference) or 0 (no word shared)."""
    rows = []
    for d, same in enumerate(texts_equal):
        target = "no acute cardiopulmonary disease"
        rows.append({"task": SUMMARY, "doc_id": d, "native_id": f"s-{d}", "prompt": "Findings", "target": target,
                     "generation": target if same else "zzz", "answer": target if same else "zzz",
                     "metrics": {"rougeL": 1.0 if same else 0.0}, "truncated": False})
    doc["samples"].extend(rows)
    v = [1.0 if s else 0.0 for s in texts_equal]
    sc = score_of(v)
    sc["metric"] = "rougeL"
    doc["results"][SUMMARY] = {"scenario": "generation", "n": len(v), "skipped": 0, "unparsed": 0, "bad_rows": 0, "scores": [sc]}
    doc["provenance"]["tasks"][SUMMARY] = provenance(SUMMARY, sha, None, len(v))


a, ca = run("alpha", {"medqa_4options": 0.45, "pubmedqa": 0.55, "mmlu_anatomy": 0.5, "pharmacology_qa": 0.4}, TASKS)
b, cb = run("beta", {"medqa_4options": 0.85, "pubmedqa": 0.6, "mmlu_anatomy": 0.55, "pharmacology_qa": 0.75}, TASKS)
# gamma: MMLU anatomy on its first 15 documents only, PubMedQA with another version of the task,
# no pharmacology QA.
c, cc = run("gamma", {"medqa_4options": 0.5, "pubmedqa": 0.5, "mmlu_anatomy": 0.8}, ["medqa_4options", "pubmedqa", "mmlu_anatomy"],
            docs_of={"mmlu_anatomy": 15}, spec_hash={"pubmedqa": "1" * 16})
add_summary(a, [i % 3 != 0 for i in range(12)])
add_summary(b, [i % 2 == 0 for i in range(12)], sha="f" * 64)  # other data: not paired

cells = []
for run_name, other in (("beta", cb), ("gamma", cc)):
    for task in TASKS:
        if task not in other or (run_name == "gamma" and task == "pubmedqa"):
            continue
        xa, xb = ca[task], other[task]
        n = min(len(xa), len(xb))
        xa, xb = xa[:n], xb[:n]
        only_a = sum(1 for p, q in zip(xa, xb) if p == 1 and q == 0)
        only_b = sum(1 for p, q in zip(xa, xb) if p == 0 and q == 1)
        both = sum(1 for p, q in zip(xa, xb) if p == 1 and q == 1)
        neither = n - only_a - only_b - both
        p = float(mcnemar([[both, only_a], [only_b, neither]], exact=True).pvalue)
        cells.append({"run": run_name, "task": task, "n": n, "a": sum(xa) / n, "b": sum(xb) / n, "delta": sum(xb) / n - sum(xa) / n,
                      "discordant": [only_a, only_b], "p_value": p})
holm = multipletests([cell["p_value"] for cell in cells], method="holm")[1]
for cell, h in zip(cells, holm):
    cell["p_holm"] = float(h)

os.makedirs(OUT, exist_ok=True)
for name, doc in (("run_a", a), ("run_b", b), ("run_c", c)):
    with open(os.path.join(OUT, f"{name}.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
with open(os.path.join(OUT, "expected.json"), "w") as f:
    json.dump({"tests": len(cells), "cells": cells,
               "not_paired": [["beta", SUMMARY, "different dataset files"], ["gamma", "pubmedqa", "different versions of the task"]]}, f, indent=1)
    f.write("\n")
print(json.dumps(cells, indent=1))
