#!/usr/bin/env python3
"""lm-evaluation-harness prompts for small samples written in a dataset's published format, for
tests/tasks.rs (datasets absent from ../shared/datasets, such as MedMCQA's dev.json).

    pip download --no-deps lm-eval==0.4.13 -d /tmp/lmeval && unzip /tmp/lmeval/*.whl -d /tmp/lmeval/w
    python3 scripts/make_prompt_fixtures.py /tmp/lmeval/w tests/fixtures/tasks

MedMCQA: the original release's JSON lines have `cop` 1-based; lm-eval reads the Hugging Face
copy, whose `cop` is 0-based, so each row is converted that way before lm-eval's own
`utils_medmcqa.doc_to_text` renders it and `doc_to_target: cop` gives the gold index.
"""
import importlib.util
import json
import os
import sys


def load_module(path):
    spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main():
    lmeval, out_dir = sys.argv[1], sys.argv[2]
    medmcqa = load_module(os.path.join(lmeval, "lm_eval/tasks/medmcqa/utils_medmcqa.py"))
    rows = []
    with open(os.path.join(out_dir, "medmcqa_sample.jsonl"), encoding="utf-8") as f:
        for line in f:
            doc = json.loads(line)
            doc["cop"] -= 1  # the Hugging Face copy's convention
            rows.append({"prompt": medmcqa.doc_to_text(doc), "gold": doc["cop"]})
    with open(os.path.join(out_dir, "lm_eval_prompts.json"), "w", encoding="utf-8") as f:
        json.dump({"lm_eval": "0.4.13", "medmcqa": rows}, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
