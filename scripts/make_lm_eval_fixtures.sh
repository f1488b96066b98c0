#!/usr/bin/env bash
# What lm-evaluation-harness 0.4.13 itself writes, for the tests that read its files and check
# ours key for key: its `dummy` model on two local `dataset_path: json` tasks over invented
# documents (no benchmark data is committed) — medqa_4options in MedQA's JSONL layout with the
# prompt of our spec, and a generation task. Writes tests/fixtures/lm_eval/. CI does not run it.
#
#   python3 -m venv /tmp/lmeval && /tmp/lmeval/bin/pip install lm-eval==0.4.13   # no torch needed
#   LM_EVAL=/tmp/lmeval/bin/lm_eval scripts/make_lm_eval_fixtures.sh
set -euo pipefail
cd "$(dirname "$0")/.."
lm_eval="${LM_EVAL:-lm_eval}"
out=tests/fixtures/lm_eval
work="$(mktemp -d)"
mkdir -p "$out"
# Invented exam questions in MedQA's layout (question, options A-D, answer_idx).
python3 - "$out/medqa_invented.jsonl" "$out/findings_invented.jsonl" <<'PY'
import json, sys
qs = [
    ("Which vitamin deficiency causes scurvy?", ["Vitamin A", "Vitamin C", "Vitamin D", "Vitamin K"], "B"),
    ("Which organ produces insulin?", ["Liver", "Pancreas", "Kidney", "Spleen"], "B"),
    ("Which electrolyte disturbance causes peaked T waves?", ["Hyperkalemia", "Hyponatremia", "Hypocalcemia", "Hypermagnesemia"], "A"),
    ("What is the first-line drug for anaphylaxis?", ["Diphenhydramine", "Prednisone", "Epinephrine", "Salbutamol"], "C"),
    ("Which nerve is compressed in carpal tunnel syndrome?", ["Ulnar", "Radial", "Axillary", "Median"], "D"),
    ("Which test confirms a deep vein thrombosis?", ["Compression ultrasound", "Chest radiograph", "Echocardiogram", "Spirometry"], "A"),
]
with open(sys.argv[1], "w") as f:
    for q, opts, ans in qs:
        f.write(json.dumps({"question": q, "options": dict(zip("ABCD", opts)), "answer_idx": ans, "answer": opts["ABCD".index(ans)]}) + "\n")
with open(sys.argv[2], "w") as f:
    for findings, impression in [("Clear lungs. Normal heart size.", "No acute disease."), ("Small left effusion.", "Left pleural effusion."), ("Right lower lobe opacity.", "Pneumonia.")]:
        f.write(json.dumps({"findings": findings, "impression": impression}) + "\n")
PY
cat > "$work/medqa_4options.yaml" <<YAML
task: medqa_4options
dataset_path: json
dataset_kwargs:
  data_files:
    test: $PWD/$out/medqa_invented.jsonl
test_split: test
output_type: multiple_choice
doc_to_text: "Question: {{question}}\n{% for k in ['A', 'B', 'C', 'D'] %}{{k}}. {{options[k]}}\n{% endfor %}Answer:"
doc_to_choice: ["A", "B", "C", "D"]
doc_to_target: "{{answer_idx}}"
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
  - metric: acc_norm
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1.0
YAML
cat > "$work/findings_summary.yaml" <<YAML
task: findings_summary
dataset_path: json
dataset_kwargs:
  data_files:
    test: $PWD/$out/findings_invented.jsonl
test_split: test
output_type: generate_until
doc_to_text: "Findings: {{findings}}\nImpression:"
doc_to_target: "{{impression}}"
generation_kwargs:
  until: ["\n\n"]
  max_gen_toks: 32
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1.0
YAML
(cd "$work" && "$lm_eval" --model dummy --tasks medqa_4options,findings_summary --include_path "$work" \
  --output_path "$work/out" --log_samples --seed 1234)
rm -f "$out"/results_*.json "$out"/samples_*.jsonl
cp "$work"/out/*/results_*.json "$work"/out/*/samples_*.jsonl "$out"/
# The files name the temporary folder; make them stable.
sed -i "s#$work#/tmp/lm-eval-fixture#g; s#$PWD/##g" "$out"/results_*.json
ls -l "$out"

# Ours read by lm-eval's own code, when the release binary is built: its file finders, its
# results table, and the prompt and target hashes of its samples against ours.
cli=target/release/clinicbench
if [ -x "$cli" ]; then
  ours="$(mktemp -d)"
  "$cli" eval --model tests/fixtures/families/llama_q4_k_m.gguf --task medqa_4options --backend cpu \
    --data "$out/medqa_invented.jsonl" --out "$ours" --log-format lm-eval >/dev/null
  "$(dirname "$lm_eval")/python" - "$ours" "$out" <<'PY'
import glob, json, sys
from lm_eval import utils
ours, theirs = sys.argv[1], sys.argv[2]
files = glob.glob(ours + "/*")
results = utils.get_latest_filename(utils.get_results_filenames(files))
samples = utils.get_sample_results_filenames(files)
assert [utils.get_file_task_name(s) for s in samples] == ["medqa_4options"], samples
print(utils.make_table(json.load(open(results))))
a = [json.loads(l) for l in open(samples[0])]
b = [json.loads(l) for l in open(glob.glob(theirs + "/samples_medqa_4options_*.jsonl")[0])]
assert all(x["prompt_hash"] == y["prompt_hash"] and x["target_hash"] == y["target_hash"] for x, y in zip(a, b))
print("lm-eval reads our files; prompt and target hashes equal its own")
PY
fi
