#!/usr/bin/env python3
"""Projects the time of a complete run from a timed seeded sample (issue 14, item 5):

    clinicbench eval -m MODEL --suite clinicbench --sample 10 --threads 2 --out RUN
    python3 scripts/project_suite.py RUN [--speedup X --label "the page, 2 threads"]
    python3 scripts/project_suite.py RUN --speedup-generation X --speedup-choice Y --label ...

Per task: the sample's seconds per document (results.json's `seconds` over the documents scored)
times the documents the task's present dataset holds (its provenance's `records`). A projection,
not a measurement: documents differ in length, and a sample of a few documents per task carries
that spread. `--speedup` divides the projection by a measured speed ratio (e.g. the page's CPU
speed against the CLI's on the same machine) for a second column; `--speedup-generation` and
`--speedup-choice` give a ratio for each kind of task (a task is generation when its samples in
RUN/samples.jsonl have a `generation`), measured on one task of each kind. Prints a Markdown table.
"""
import argparse
import json
import os


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("run", help="folder of a clinicbench eval run with --sample")
    ap.add_argument("--speedup", type=float, help="ratio of the second column's speed to this run's (below 1: slower)")
    ap.add_argument("--speedup-generation", type=float, help="the ratio for generation tasks")
    ap.add_argument("--speedup-choice", type=float, help="the ratio for multiple-choice (loglikelihood) tasks")
    ap.add_argument("--label", default="second column")
    a = ap.parse_args()
    by_kind = a.speedup_generation is not None or a.speedup_choice is not None
    if by_kind and (a.speedup_generation is None or a.speedup_choice is None or a.speedup is not None):
        ap.error("give --speedup-generation and --speedup-choice together, without --speedup")
    generation = set()
    if by_kind:
        with open(os.path.join(a.run, "samples.jsonl"), encoding="utf-8") as f:
            for line in f:
                sample = json.loads(line)
                if sample.get("generation") is not None:
                    generation.add(sample["task"])
    speedup = lambda task: (a.speedup_generation if task in generation else a.speedup_choice) if by_kind else a.speedup
    report = json.load(open(os.path.join(a.run, "results.json"), encoding="utf-8"))
    results = report["results"]
    tasks = report["provenance"]["tasks"]
    rows, total_sample, total_full, total_second = [], 0.0, 0.0, 0.0
    for task, p in tasks.items():
        r = results.get(task, {})
        seconds, docs, records = r.get("seconds"), p.get("documents") or 0, p["dataset"]["records"]
        if not seconds or not docs:
            continue
        full = seconds / docs * records
        total_sample += seconds
        total_full += full
        if speedup(task):
            total_second += full / speedup(task)
        rows.append((task, docs, seconds, records, full))
    hours = lambda s: f"{s / 3600:.1f} h" if s >= 3600 else f"{s / 60:.0f} min" if s >= 600 else f"{s / 60:.1f} min"
    second = a.speedup or by_kind
    extra = f" | {a.label}" if second else ""
    print(f"| task | sampled documents | sample seconds | documents in the dataset | projected{extra} |")
    print("| --- | --- | --- | --- | ---" + (" | ---" if second else "") + " |")
    for task, docs, seconds, records, full in rows:
        more = f" | {hours(full / speedup(task))}" if second else ""
        print(f"| {task} | {docs} | {seconds:.1f} | {records} | {hours(full)}{more} |")
    more = f" | {hours(total_second)}" if second else ""
    print(f"| all {len(rows)} tasks | {sum(r[1] for r in rows)} | {total_sample:.0f} | {sum(r[3] for r in rows)} | {hours(total_full)}{more} |")


if __name__ == "__main__":
    main()
