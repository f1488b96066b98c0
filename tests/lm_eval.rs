//! lm-evaluation-harness's files both ways: what lm-eval 0.4.13 wrote
//! (`scripts/make_lm_eval_fixtures.sh`: its `dummy` model on invented documents) read as a run
//! and paired with ours on the same documents, and ours written in its layout, key for key.

mod common;

use clinicbench::report::side_by_side::{side_by_side, NamedRun, Versus};
use clinicbench::report::{self, lm_eval};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    common::fixture("lm_eval")
}

fn json_of(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

fn one(dir: &Path, prefix: &str) -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with(prefix))
        .collect();
    assert_eq!(found.len(), 1, "{prefix} in {}", dir.display());
    found.remove(0)
}

/// Our run of the invented MedQA file, with lm-eval's files beside ours.
fn our_run(out: &Path) {
    let _ = std::fs::remove_dir_all(out);
    let o = common::run_cli(
        &["eval", "--model", common::fixture("families/llama_q4_k_m.gguf").to_str().unwrap(), "--task", "medqa_4options", "--backend", "cpu",
          "--data", fixtures().join("medqa_invented.jsonl").to_str().unwrap(), "--out", out.to_str().unwrap(), "--log-format", "lm-eval"],
        "",
    );
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn an_lm_eval_folder_reads_as_a_run() {
    let i = report::read_run(&fixtures()).unwrap();
    let r = &i.report;
    let mc = r.result("medqa_4options").unwrap();
    assert_eq!((mc.n, mc.scores.len()), (6, 2));
    let acc = &mc.scores[0];
    assert_eq!((acc.metric.name(), acc.value), ("acc", 1.0 / 6.0));
    assert!((acc.stderr.unwrap() - 1.0 / 6.0).abs() < 1e-12 && acc.ci95.is_some());
    let gen = r.result("findings_summary").unwrap();
    assert_eq!((gen.n, gen.scores[0].metric.name()), (3, "exact_match"));
    assert_eq!(r.provenance.tasks["medqa_4options"].shots, 0);
    assert!(r.provenance.backend.contains("lm-evaluation-harness 0.4.13"));
    let samples: Vec<_> = r.samples_of("medqa_4options").collect();
    assert_eq!(samples.len(), 6);
    let s = samples[0];
    assert_eq!((s.choices.len(), s.target.as_u64()), (4, Some(1)), "answer_idx B is choice 1");
    assert!(s.prompt.starts_with("Question: Which vitamin deficiency causes scurvy?\nA. Vitamin A\n") && s.prompt.ends_with("Answer:"));
    assert!(s.pred.is_some() && s.loglikelihoods.as_ref().unwrap().len() == 4);
    // Its own per-sample accuracy agrees with the choice read from its loglikelihoods.
    for s in &samples {
        assert_eq!(s.metrics["acc"] == 1.0, s.pred == s.target.as_u64().map(|g| g as usize), "doc {}", s.doc_id);
    }
    let g: Vec<_> = r.samples_of("findings_summary").collect();
    assert_eq!((g.len(), g[0].generation.as_deref()), (3, Some("lol")));
}

#[test]
fn an_lm_eval_run_pairs_with_ours_on_the_same_prompts() {
    let out = std::env::temp_dir().join(format!("clinicbench-lmeval-pair-{}", std::process::id()));
    our_run(&out);
    let theirs = NamedRun { source: "lm-eval".into(), report: report::read_run(&fixtures()).unwrap().report };
    let ours = NamedRun { source: "ours".into(), report: report::read_run(&out).unwrap().report };
    let t = side_by_side(&[theirs, ours], Some(0), &clinicbench::tasks::spec::find);
    let col = t.tasks.iter().position(|c| c.task == "medqa_4options").unwrap();
    match &t.cells[1][col].versus {
        Some(Versus::Paired { comparison, .. }) => assert_eq!(comparison.n, 6, "every document, matched by its prompt"),
        other => panic!("{other:?}"),
    }
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn our_lm_eval_files_have_lm_evals_keys() {
    let out = std::env::temp_dir().join(format!("clinicbench-lmeval-keys-{}", std::process::id()));
    our_run(&out);
    let (ours, theirs) = (json_of(&one(&out, "results_")), json_of(&one(&fixtures(), "results_")));
    // Everything lm-eval writes, except what describes its own Python environment.
    let environment: BTreeSet<String> =
        ["pretty_env_info", "transformers_version", "lm_eval_version", "upper_git_hash"].map(String::from).into();
    let missing: Vec<_> = keys(&theirs).difference(&keys(&ours)).filter(|k| !environment.contains(*k)).cloned().collect();
    assert!(missing.is_empty(), "top-level keys lm-eval writes and we do not: {missing:?}");
    let missing: Vec<_> = keys(&theirs["config"]).difference(&keys(&ours["config"])).cloned().collect();
    assert!(missing.is_empty(), "config: {missing:?}");
    for section in ["results", "configs", "n-samples", "higher_is_better"] {
        let missing: Vec<_> = keys(&theirs[section]["medqa_4options"]).difference(&keys(&ours[section]["medqa_4options"])).cloned().collect();
        assert!(missing.is_empty(), "{section}.medqa_4options: {missing:?}");
    }
    assert_eq!(ours["versions"]["medqa_4options"], 1.0);
    let lines = |p: PathBuf| -> Vec<Value> { std::fs::read_to_string(p).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect() };
    let (a, b) = (lines(one(&out, "samples_medqa_4options_")), lines(one(&fixtures(), "samples_medqa_4options_")));
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        let missing: Vec<_> = keys(y).difference(&keys(x)).cloned().collect();
        assert!(missing.is_empty(), "sample keys: {missing:?}");
        assert_eq!(keys(&x["arguments"]), keys(&y["arguments"]));
        assert_eq!(x["arguments"]["gen_args_1"]["arg_1"], y["arguments"]["gen_args_1"]["arg_1"], "choices with the delimiter");
        // Same prompt and target: lm-eval's own hashes agree with ours.
        assert_eq!((&x["prompt_hash"], &x["target_hash"], &x["target"]), (&y["prompt_hash"], &y["target_hash"], &y["target"]));
        assert!(x["resps"][0][0][0].is_string() && x["filtered_resps"][0][1].is_string(), "tuples as lm-eval writes them");
    }
    // And back: our lm-eval files read as the same run as our own files.
    let native = report::read_run(&out).unwrap().report;
    let copy = std::env::temp_dir().join(format!("clinicbench-lmeval-only-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&copy);
    std::fs::create_dir_all(&copy).unwrap();
    for p in [one(&out, "results_"), one(&out, "samples_medqa")] {
        std::fs::copy(&p, copy.join(p.file_name().unwrap())).unwrap();
    }
    let back = report::read_run(&copy).unwrap().report;
    let (rn, rb) = (native.result("medqa_4options").unwrap(), back.result("medqa_4options").unwrap());
    assert_eq!(rn.scores, rb.scores);
    let preds = |r: &report::RunReport| r.samples.iter().map(|s| (s.doc_id, s.pred, s.pred_norm, s.loglikelihoods.clone(), s.is_greedy.clone())).collect::<Vec<_>>();
    assert_eq!(preds(&native), preds(&back));
    let _ = std::fs::remove_dir_all(&copy);
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn lm_eval_files_of_an_unknown_version_or_cut_short_are_refused() {
    let theirs = std::fs::read_to_string(one(&fixtures(), "results_")).unwrap();
    let newer = theirs.replace("\"lm_eval_version\": \"0.4.13\"", "\"lm_eval_version\": \"0.6.0\"");
    assert_ne!(newer, theirs);
    let e = lm_eval::parse_results("results_x.json", newer.as_bytes()).unwrap_err().to_string();
    assert!(e.starts_with("results_x.json: ") && e.contains("0.6.0") && e.contains("0.4"), "{e}");
    let e = lm_eval::parse_results("results_x.json", &theirs.as_bytes()[..theirs.len() / 2]).unwrap_err().to_string();
    assert!(e.contains("results_x.json") && e.contains("ends before"), "{e}");
    let e = lm_eval::parse_samples("s.jsonl", "medqa_4options", "{\"doc_id\": 0, \"arguments\": 3}\n", " ").unwrap_err().to_string();
    assert!(e.contains("s.jsonl") && e.contains("line 1"), "{e}");
}
