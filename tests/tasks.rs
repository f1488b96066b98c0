//! Task specs, importers and the multiple-choice runner: lm-eval's prompt strings, the shared
//! datasets' record counts, and scoring through a scripted engine.

mod common;

use clinicbench::engine::{Engine, EngineError, GenerateRequest, Generation, LogLikelihood, LogLikelihoodRequest};
use clinicbench::tasks::{self, importers, Doc, RunOptions, TaskData};
use serde_json::json;
use std::path::PathBuf;

fn data(docs: Vec<Doc>, dev: Vec<Doc>) -> TaskData {
    TaskData { docs, dev, bad_rows: vec![], files: vec![] }
}

fn medqa_doc(q: &str, opts: &[(&str, &str)], gold: &str) -> Doc {
    let options: Vec<_> = opts.iter().map(|(k, t)| json!({"key": k, "text": t})).collect();
    let mut fields = serde_json::Map::new();
    fields.insert("question".into(), json!(q));
    fields.insert("options".into(), json!(options));
    Doc { native_id: "1".into(), fields, gold: gold.into() }
}

#[test]
fn zero_shot_prompts_are_lm_evals() {
    let spec = tasks::spec::find("medqa_4options").unwrap();
    let doc = medqa_doc("Which?", &[("A", "one"), ("B", "two"), ("C", "three"), ("D", "four")], "B");
    let p = tasks::Prompter::new(&spec).unwrap();
    assert_eq!(p.context(&doc, 0, &[]).unwrap(), "Question: Which?\nA. one\nB. two\nC. three\nD. four\nAnswer:");
    assert_eq!((spec.target_delimiter.as_str(), &spec.choices[..]), (" ", &["A", "B", "C", "D"].map(String::from)[..]));

    let spec = tasks::spec::find("pubmedqa").unwrap();
    let imp = importers::pubmedqa_json(
        "d",
        br#"{"7": {"QUESTION": "Does it?", "CONTEXTS": ["First part.", "Second part."]}}"#,
        "t",
        br#"{"7": "maybe"}"#,
    )
    .unwrap();
    let p = tasks::Prompter::new(&spec).unwrap();
    assert_eq!(
        p.context(&imp.docs[0], 0, &[]).unwrap(),
        "Abstract: First part.\nSecond part.\nQuestion: Does it?\nAnswer:"
    );
    assert_eq!(spec.choices, ["yes", "no", "maybe"]);
}

#[test]
fn mmlu_few_shot_uses_the_first_dev_rows() {
    let spec = tasks::spec::find("mmlu_clinical_knowledge").unwrap();
    let test = importers::mmlu_csv("t", b"\"  What is asked?\n\",w,x,y,z,C\n");
    let dev = importers::mmlu_csv("d", b"D1?,a,b,c,d,A\nD2?,e,f,g,h,D\nD3?,i,j,k,l,B\n");
    let d = data(test.docs, dev.docs);
    let p = tasks::Prompter::new(&spec).unwrap();
    let examples: Vec<&Doc> = d.dev.iter().take(2).collect();
    assert_eq!(
        p.context(&d.docs[0], 0, &examples).unwrap(),
        "The following are multiple choice questions (with answers) about clinical knowledge.\n\n\
         D1?\nA. a\nB. b\nC. c\nD. d\nAnswer: A\n\n\
         D2?\nA. e\nB. f\nC. g\nD. h\nAnswer: D\n\n\
         What is asked?\nA. w\nB. x\nC. y\nD. z\nAnswer:"
    );
}

/// An engine that scores each continuation by a fixed table.
struct Scripted(Vec<(String, f64)>);

impl Engine for Scripted {
    fn loglikelihood(&mut self, reqs: &[LogLikelihoodRequest]) -> Result<Vec<LogLikelihood>, EngineError> {
        Ok(reqs
            .iter()
            .map(|r| {
                let lp = self.0.iter().find(|(c, _)| *c == r.continuation).map_or(-10.0, |x| x.1);
                LogLikelihood { logprob: lp, is_greedy: false, n_tokens: 1, truncated: false }
            })
            .collect())
    }
    fn generate(&mut self, _: &GenerateRequest, _: &mut dyn FnMut(&str)) -> Result<Generation, EngineError> {
        Err(EngineError::Invalid("not used".into()))
    }
}

#[test]
fn multiple_choice_runner_scores_acc_and_acc_norm_and_skips_bad_gold() {
    let spec = tasks::spec::find("pubmedqa").unwrap();
    let doc = |gold: &str| {
        let mut fields = serde_json::Map::new();
        fields.insert("question".into(), json!("q"));
        fields.insert("contexts".into(), json!(["c"]));
        Doc { native_id: gold.into(), fields, gold: gold.into() }
    };
    // " yes" wins raw; per character " maybe" (-6/5) beats " yes" (-4/3).
    let mut engine = Scripted(vec![(" yes".into(), -4.0), (" no".into(), -9.0), (" maybe".into(), -6.0)]);
    let d = data(vec![doc("yes"), doc("maybe"), doc("perhaps")], vec![]);
    let opts = RunOptions { shots: 0, limit: None, seed: 1, previous: vec![] };
    let mut seen = 0;
    let run = tasks::run_multiple_choice(&mut engine, &spec, &d, &opts, &mut |_| seen += 1).unwrap();
    assert_eq!(seen, 2);
    assert_eq!(run.skipped.len(), 1, "a gold label outside the choices is skipped and reported");
    assert!(run.skipped[0].contains("perhaps"));
    let s = &run.samples;
    assert_eq!((s[0].pred, s[0].pred_norm, s[0].acc, s[0].acc_norm), (0, 2, 1.0, 0.0));
    assert_eq!((s[1].target, s[1].acc, s[1].acc_norm), (2, 0.0, 1.0));
    let r = tasks::aggregate(&spec, &run).unwrap();
    assert_eq!(r["acc"], 0.5);
    assert_eq!(r["acc_norm"], 0.5);
    assert_eq!(r["n"], 2);
    assert_eq!(r["skipped"], 1);
    assert!((r["acc_stderr"].as_f64().unwrap() - 0.5).abs() < 1e-12, "sample std / sqrt(n)");

    // Few-shot from the same split never shows the document itself, and is seeded.
    let d = data((0..6).map(|i| doc(["yes", "no"][i % 2])).collect(), vec![]);
    let opts = RunOptions { shots: 3, limit: Some(2), seed: 7, previous: vec![] };
    let a = tasks::run_multiple_choice(&mut engine, &spec, &d, &opts, &mut |_| {}).unwrap();
    let b = tasks::run_multiple_choice(&mut engine, &spec, &d, &opts, &mut |_| {}).unwrap();
    assert_eq!(a.samples.len(), 2);
    assert_eq!(a.samples[0].prompt, b.samples[0].prompt);
    assert_eq!(a.samples[0].prompt.matches("Answer:").count(), 4);

    // Resuming keeps the finished documents and scores only the rest.
    let opts = RunOptions { shots: 0, limit: Some(4), seed: 7, previous: a.samples.clone() };
    let mut scored = vec![];
    let c = tasks::run_multiple_choice(&mut engine, &spec, &d, &opts, &mut |s| scored.push(s.doc_id)).unwrap();
    assert_eq!(scored, vec![2, 3]);
    assert_eq!(c.samples.len(), 4);
    assert_eq!(c.samples[0].prompt, a.samples[0].prompt, "the earlier sample is kept as it was");
}

#[test]
fn shared_datasets_import_with_the_manifest_counts() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets");
    if !root.is_dir() {
        assert!(std::env::var("CI").map_or(true, |v| v != "true"), "CI=true but ../shared/datasets is missing");
        eprintln!("note: ../shared/datasets not found; skipping");
        return;
    }
    for spec in tasks::spec::builtin() {
        let d = tasks::load_data(&spec, &root, None).unwrap_or_else(|e| panic!("{}: {e}", spec.name));
        assert_eq!(d.docs.len(), spec.records, "{}: records", spec.name);
        assert!(d.bad_rows.is_empty(), "{}: {:?}", spec.name, d.bad_rows.first());
        assert!(d.docs.iter().all(|doc| spec.choices.contains(&doc.gold)), "{}: gold labels", spec.name);
        if spec.name.starts_with("mmlu_") {
            assert_eq!(d.dev.len(), 5, "{}: dev rows", spec.name);
        }
    }
    // PubMedQA keeps the ground truth's key order.
    let spec = tasks::spec::find("pubmedqa").unwrap();
    let d = tasks::load_data(&spec, &root, None).unwrap();
    assert_eq!(d.docs[0].native_id, "12377809");
}
