//! Task specs, importers and the runner: lm-eval's prompt strings, the shared datasets' record
//! counts, and scoring multiple-choice and generation tasks through a scripted engine.

mod common;

use clinicbench::engine::{
    wait, Answer, ChatMessage, Engine, EngineError, Finish, GenerateRequest, Generation, LogLikelihood, LogLikelihoodRequest,
};
use clinicbench::tasks::{self, importers, Doc, Event, RunOptions, TaskData};
use serde_json::json;
use std::path::PathBuf;

fn data(docs: Vec<Doc>, dev: Vec<Doc>) -> TaskData {
    TaskData { docs, dev, bad_rows: vec![], files: vec![], format: "test".into() }
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

/// An engine that scores each continuation by a fixed table and answers generation requests
/// from a list, in turn; it records the requests it saw.
#[derive(Default)]
struct Scripted {
    loglikelihoods: Vec<(String, f64)>,
    answers: Vec<String>,
    seen_ll: Vec<LogLikelihoodRequest>,
    seen_gen: Vec<GenerateRequest>,
}

impl Scripted {
    fn scoring(table: Vec<(String, f64)>) -> Scripted {
        Scripted { loglikelihoods: table, ..Default::default() }
    }
    fn answering(answers: &[&str]) -> Scripted {
        Scripted { answers: answers.iter().map(|a| a.to_string()).collect(), ..Default::default() }
    }
}

impl Engine for Scripted {
    fn loglikelihood<'a>(&'a mut self, reqs: &'a [LogLikelihoodRequest]) -> Answer<'a, Vec<LogLikelihood>> {
        self.seen_ll.extend(reqs.iter().cloned());
        let out = reqs
            .iter()
            .map(|r| {
                let lp = self.loglikelihoods.iter().find(|(c, _)| *c == r.continuation).map_or(-10.0, |x| x.1);
                LogLikelihood { logprob: lp, is_greedy: false, n_tokens: 1, truncated: false }
            })
            .collect();
        Box::pin(std::future::ready(Ok(out)))
    }
    fn generate<'a>(&'a mut self, req: &'a GenerateRequest, on_token: &'a mut dyn FnMut(&str)) -> Answer<'a, Generation> {
        let i = self.seen_gen.len();
        self.seen_gen.push(req.clone());
        let text = self.answers.get(i).cloned().unwrap_or_default();
        on_token(&text);
        Box::pin(std::future::ready(Ok(Generation { text, ids: vec![], finish: Finish::Stop, truncated: false })))
    }
    fn render_chat(&self, messages: &[ChatMessage]) -> Result<String, EngineError> {
        Ok(messages.iter().map(|m| format!("<{}>{}</{}>", m.role, m.content, m.role)).collect::<String>() + "<assistant>")
    }
}

fn samples_only(f: &mut dyn FnMut(&tasks::Sample)) -> impl FnMut(Event) + '_ {
    move |e| {
        if let Event::Sample(s) = e {
            f(s)
        }
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
    let mut engine = Scripted::scoring(vec![(" yes".into(), -4.0), (" no".into(), -9.0), (" maybe".into(), -6.0)]);
    let d = data(vec![doc("yes"), doc("maybe"), doc("perhaps")], vec![]);
    let opts = RunOptions { seed: 1, ..Default::default() };
    let mut seen = 0;
    let run = wait(tasks::run_task(&mut engine, &spec, &d, &opts, &mut samples_only(&mut |_| seen += 1))).unwrap();
    assert_eq!(seen, 2);
    assert_eq!(run.skipped.len(), 1, "a gold label outside the choices is skipped and reported");
    assert!(run.skipped[0].contains("perhaps"));
    let s = &run.samples;
    assert_eq!((s[0].pred, s[0].pred_norm, s[0].metrics["acc"], s[0].metrics["acc_norm"]), (Some(0), Some(2), 1.0, 0.0));
    assert_eq!((s[1].target.as_u64(), s[1].metrics["acc"], s[1].metrics["acc_norm"]), (Some(2), 0.0, 1.0));
    let r = results_entry(&spec, &run);
    assert_eq!(r["acc"], 0.5);
    assert_eq!(r["acc_norm"], 0.5);
    assert_eq!(r["n"], 2);
    assert_eq!(r["skipped"], 1);
    assert!((r["acc_stderr"].as_f64().unwrap() - 0.5).abs() < 1e-12, "sample std / sqrt(n)");

    // Few-shot from the same split never shows the document itself, and is seeded.
    let d = data((0..6).map(|i| doc(["yes", "no"][i % 2])).collect(), vec![]);
    let opts = RunOptions { shots: 3, limit: Some(2), seed: 7, ..Default::default() };
    let a = wait(tasks::run_task(&mut engine, &spec, &d, &opts, &mut |_| {})).unwrap();
    let b = wait(tasks::run_task(&mut engine, &spec, &d, &opts, &mut |_| {})).unwrap();
    assert_eq!(a.samples.len(), 2);
    assert_eq!(a.samples[0].prompt, b.samples[0].prompt);
    assert_eq!(a.samples[0].prompt.matches("Answer:").count(), 4);

    // Resuming keeps the finished documents and scores only the rest.
    let opts = RunOptions { limit: Some(4), seed: 7, previous: a.samples.clone(), ..Default::default() };
    let mut scored = vec![];
    let c = wait(tasks::run_task(&mut engine, &spec, &d, &opts, &mut samples_only(&mut |s| scored.push(s.doc_id)))).unwrap();
    assert_eq!(scored, vec![2, 3]);
    assert_eq!(c.samples.len(), 4);
    assert_eq!(c.samples[0].prompt, a.samples[0].prompt, "the earlier sample is kept as it was");
}

fn shared_root() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets");
    if !root.is_dir() {
        assert!(std::env::var("CI").map_or(true, |v| v != "true"), "CI=true but ../shared/datasets is missing");
        eprintln!("note: ../shared/datasets not found; skipping");
        return None;
    }
    Some(root)
}

/// Mentions in a list of bare BIO tags.
fn mentions(tags: &serde_json::Value) -> usize {
    tags.as_array().unwrap().iter().filter(|t| *t == "B").count()
}

#[test]
fn shared_datasets_import_with_the_manifest_counts() {
    let Some(root) = shared_root() else { return };
    let mut present = 0;
    for spec in tasks::spec::builtin().into_iter().filter(|s| !s.is_builtin_data()) {
        if !root.join(&spec.path).exists() {
            // MANIFEST.md: MedMCQA's dev.json was not found in git; the others are not public.
            assert!(spec.records == 0 || spec.name.starts_with("medmcqa"), "{}: its file is missing from the data root", spec.name);
            continue;
        }
        present += 1;
        let d = tasks::load_data(&spec, &root, None).unwrap_or_else(|e| panic!("{}: {e}", spec.name));
        assert_eq!(d.docs.len(), spec.records, "{}: records", spec.name);
        assert!(d.bad_rows.is_empty(), "{}: {:?}", spec.name, d.bad_rows.first());
        if spec.output == tasks::Output::MultipleChoice || spec.extract == Some(tasks::Extract::Choice) {
            let bad = d.docs.iter().find(|doc| doc.gold.as_str().and_then(|g| spec.class_index(g)).is_none());
            assert!(bad.is_none(), "{}: gold {:?} is not a class", spec.name, bad.map(|b| &b.gold));
        }
        if spec.name.starts_with("mmlu_") {
            assert_eq!(d.dev.len(), 5, "{}: dev rows", spec.name);
        }
    }
    assert_eq!(present, 2 * 13 + 6, "every public dataset's tasks (and _gen variants) are present");

    // PubMedQA keeps the ground truth's key order.
    let d = tasks::load_data(&tasks::spec::find("pubmedqa").unwrap(), &root, None).unwrap();
    assert_eq!(d.docs[0].native_id, "12377809");
    // Mentions, labels and classes as MANIFEST.md counts them.
    let count = |task: &str, data: Option<&str>| {
        let spec = tasks::spec::find(task).unwrap();
        let d = tasks::load_data(&spec, &root, data.map(|p| root.join(p)).as_deref()).unwrap();
        assert!(d.bad_rows.is_empty(), "{task} {data:?}: {:?}", d.bad_rows.first());
        (d.docs.len(), d.docs.iter().map(|doc| mentions(&doc.gold)).sum::<usize>(), d.format)
    };
    assert_eq!(count("bc5cdr_chem", None), (4797, 5385, "token-tag".into()));
    assert_eq!(count("bc5cdr_disease", None), (4797, 4424, "token-tag".into()));
    assert_eq!(count("ncbi_disease", None), (940, 960, "token-tag".into()));
    // The same corpora in their other published formats.
    assert_eq!(count("bc5cdr_chem", Some("BC5CDR/BC5CDR-IOB/test.tsv")).0..=count("bc5cdr_chem", Some("BC5CDR/BC5CDR-IOB/test.tsv")).1, 4797..=5385);
    assert_eq!(count("bc5cdr_disease", Some("BC5CDR/BC5CDR-disease-IOB/test.tsv")).1, 4424);
    let (docs, chem, format) = count("bc5cdr_chem", Some("BC5CDR/PubTator/CDR_TestSet.PubTator.txt"));
    assert_eq!((docs, format.as_str()), (500, "pubtator"));
    // Nested and overlapping mentions share tokens; a few are tagged once.
    assert!((5300..=5385).contains(&chem), "{chem} chemical mentions tagged");
    let (docs, diseases, _) = count("ncbi_disease", Some("NCBI-disease/original-data/test/NCBItestset_corpus.txt"));
    assert_eq!(docs, 100);
    assert!((940..=960).contains(&diseases), "{diseases} disease mentions tagged");

    let labels = |task: &str| {
        let d = tasks::load_data(&tasks::spec::find(task).unwrap(), &root, None).unwrap();
        let mut by: std::collections::BTreeMap<String, usize> = Default::default();
        for doc in &d.docs {
            match &doc.gold {
                serde_json::Value::Array(a) => a.iter().for_each(|l| *by.entry(l.as_str().unwrap().into()).or_default() += 1),
                g => *by.entry(g.as_str().unwrap().into()).or_default() += 1,
            }
        }
        by
    };
    let ddi = labels("ddi");
    assert_eq!((ddi["DDI-false"], ddi["DDI-effect"], ddi["DDI-mechanism"], ddi["DDI-advise"], ddi["DDI-int"]), (4737, 360, 302, 221, 96));
    assert_eq!(labels("gad")["1"], 281);
    assert_eq!(labels("drug_interaction")["yes"], 100);
    let hoc = labels("hoc");
    assert_eq!((hoc["activating invasion and metastasis"], hoc["sustaining proliferative signaling"]), (155, 234));
    let hoc_docs = tasks::load_data(&tasks::spec::find("hoc").unwrap(), &root, None).unwrap();
    assert_eq!(hoc_docs.docs.iter().filter(|d| !d.gold.as_array().unwrap().is_empty()).count(), 897);
    let tr = tasks::load_data(&tasks::spec::find("treatment_recommendation").unwrap(), &root, None).unwrap();
    assert!(tr.docs.iter().all(|d| (2..=12).contains(&d.gold.as_array().unwrap().len())), "2-12 medications each");
    // Pharmacology QA: the workbook and its CSV export give the same documents.
    let spec = tasks::spec::find("pharmacology_qa").unwrap();
    let xlsx = tasks::load_data(&spec, &root, None).unwrap();
    let csv = tasks::load_data(&spec, &root, Some(&root.join("ClinicBench/Pharmacology-QA.from_xlsx.csv"))).unwrap();
    assert_eq!((xlsx.format.as_str(), csv.format.as_str()), ("xlsx", "csv"));
    assert_eq!(xlsx.docs.len(), csv.docs.len());
    for (x, c) in xlsx.docs.iter().zip(&csv.docs) {
        assert!(x == c, "pharmacology_qa record {}: the workbook gives {:?}, the CSV {:?}", x.native_id, x, c);
    }
    // DDI's original XML, masked as BLURB masks it: the same pairs, labels and sentences.
    let spec = tasks::spec::find("ddi").unwrap();
    let tsv = tasks::load_data(&spec, &root, None).unwrap();
    let xml = tasks::load_data(&spec, &root, Some(&root.join("DDI/original/DDICorpus/Test/Test for DDI Extraction task"))).unwrap();
    assert!(xml.bad_rows.is_empty(), "{:?}", xml.bad_rows.first());
    assert_eq!(xml.docs.len(), 5716);
    let by_id: std::collections::HashMap<&str, &Doc> = xml.docs.iter().map(|d| (d.native_id.as_str(), d)).collect();
    let same_sentence = tsv
        .docs
        .iter()
        .filter(|t| {
            let x = by_id[t.native_id.as_str()];
            assert_eq!(x.gold, t.gold, "{}", t.native_id);
            x.fields["sentence"] == t.fields["sentence"]
        })
        .count();
    assert_eq!(same_sentence, 5716, "sentences masked as BLURB masks them");
    // ClinicBench's own 100-question PubMedQA file, in ori_pqal.json's layout.
    let spec = tasks::spec::find("pubmedqa").unwrap();
    let d = tasks::load_data(&spec, &root, Some(&root.join("ClinicBench/PubMedQA_test.json"))).unwrap();
    assert_eq!(d.docs.len(), 100);
}

#[test]
fn users_bring_their_own_data_with_a_spec() {
    let Some(root) = shared_root() else { return };
    // The clin-summ Open-i split (JSON lines {idx, inputs, target}) through a user's spec.
    let spec = tasks::spec::parse(
        "opi.toml",
        r#"
name = "opi_summarization"
version = 1
scenario = "generation"
task = "radiology report summarization"
dataset = "Open-i (clin-summ split)"
licence = "see the source"
importer = "records"
path = "IU-Xray/clin-summ-opi/test.jsonl"
records = 343
output = "generation"
extract = "text"
prompt = "Findings: {{ findings }}\nImpression:"
metrics = ["rougeL"]
[columns]
fields = { findings = "inputs" }
gold = "target"
id = "idx"
[fewshot]
source = "same_split"
"#,
    )
    .unwrap();
    let d = tasks::load_data(&spec, &root, None).unwrap();
    assert_eq!((d.docs.len(), d.format.as_str(), d.docs[0].native_id.as_str()), (343, "jsonl", "3076"));
    let p = tasks::Prompter::new(&spec).unwrap();
    assert!(p.context(&d.docs[0], 0, &[]).unwrap().starts_with("Findings: Heart size within normal limits."));
    // The Kaggle table of all 3,851 reports, as CSV.
    let spec = tasks::spec::parse(
        "k.toml",
        &r#"name = "k"
version = 1
scenario = "generation"
task = "t"
dataset = "d"
licence = "l"
importer = "records"
path = "IU-Xray/kaggle/indiana_reports.csv"
records = 3851
output = "generation"
extract = "text"
prompt = "{{ findings }}"
metrics = ["rougeL"]
[columns]
gold = "impression"
id = "uid"
[fewshot]
source = "same_split"
"#,
    )
    .unwrap();
    let d = tasks::load_data(&spec, &root, None).unwrap();
    assert_eq!((d.docs.len(), d.format.as_str()), (3851, "csv"));
}

fn doc_with(fields: serde_json::Value, gold: serde_json::Value) -> Doc {
    Doc { native_id: "n".into(), fields: fields.as_object().unwrap().clone(), gold }
}

#[test]
fn generation_tasks_extract_answers_and_count_the_unparsed() {
    let spec = tasks::spec::find("medqa_4options_gen").unwrap();
    let options = json!([{"key": "A", "text": "Aspirin"}, {"key": "B", "text": "Nitroglycerin"}, {"key": "C", "text": "Morphine"}, {"key": "D", "text": "Oxygen"}]);
    let d = data(
        vec![
            doc_with(json!({"question": "q1", "options": options}), json!("C")),
            doc_with(json!({"question": "q2", "options": options}), json!("B")),
            doc_with(json!({"question": "q3", "options": options}), json!("A")),
            doc_with(json!({"question": "q4", "options": options}), json!("D")),
        ],
        vec![],
    );
    let mut engine = Scripted::answering(&["The correct answer is C: Morphine", " Nitroglycerin.", "I cannot say.", "Answer: (b)"]);
    let mut tokens = String::new();
    let run = wait(tasks::run_task(&mut engine, &spec, &d, &RunOptions::default(), &mut |e| {
        if let Event::Token { text, .. } = e {
            tokens.push_str(text)
        }
    }))
    .unwrap();
    assert!(tokens.contains("Morphine"), "generated text is streamed");
    let preds: Vec<Option<usize>> = run.samples.iter().map(|s| s.pred).collect();
    assert_eq!(preds, [Some(2), Some(1), None, Some(1)]);
    assert!(run.samples[2].unparsed && run.samples[2].answer == Some(serde_json::Value::Null));
    let r = results_entry(&spec, &run);
    assert_eq!((r["acc"].as_f64(), r["unparsed"].as_u64()), (Some(0.5), Some(1)), "unparsed counts as wrong");
    let req = &engine.seen_gen[0];
    assert!(req.prompt.starts_with("The following are multiple-choice questions") && req.prompt.ends_with("D: Oxygen
Answer:"));
    assert_eq!((req.max_tokens, &req.stop[..]), (32, &["

".to_string()][..]));

    // Relation classes: an unparsed answer costs recall, and is never a class of its own.
    let spec = tasks::spec::find("ddi_gen").unwrap();
    let docs = ["DDI-effect", "DDI-false", "DDI-mechanism"].map(|g| doc_with(json!({"sentence": "s"}), json!(g))).to_vec();
    let mut engine = Scripted::answering(&["effect", "none", "unclear"]);
    let run = wait(tasks::run_task(&mut engine, &spec, &data(docs, vec![]), &RunOptions::default(), &mut |_| {})).unwrap();
    let r = results_entry(&spec, &run);
    // Positive classes: tp 1 (effect), predicted 1, true 2 -> micro F1 = 2/3.
    assert!((r["f1_micro"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-12, "{r:?}");

    // Entities become tags over the sentence's tokens.
    let spec = tasks::spec::find("ncbi_disease").unwrap();
    let imp = importers::ner("t", b"Familial	O
breast	B
cancer	I
and	O
ataxia	B
-	I
telangiectasia	I

", None);
    let mut engine = Scripted::answering(&["- breast cancer\n- ataxia-telangiectasia\n- familial"]);
    let run = wait(tasks::run_task(&mut engine, &spec, &data(imp.docs, vec![]), &RunOptions::default(), &mut |_| {})).unwrap();
    assert_eq!(run.samples[0].answer, Some(json!(["B", "B", "I", "O", "B", "I", "I"])));
    let r = results_entry(&spec, &run);
    assert!((r["entity_f1"].as_f64().unwrap() - 0.8).abs() < 1e-12, "2 of 3 predicted, 2 of 2 true: {r:?}");

    // Medication lists as sets; summaries by ROUGE.
    let spec = tasks::spec::find("treatment_recommendation").unwrap();
    let doc = doc_with(json!({"disease": "Panic disorder", "Symptom": ["Anxiety"]}), json!(["Lorazepam", "Sertraline"]));
    let mut engine = Scripted::answering(&[" lorazepam, Paroxetine"]);
    let run = wait(tasks::run_task(&mut engine, &spec, &data(vec![doc], vec![]), &RunOptions::default(), &mut |_| {})).unwrap();
    assert_eq!(run.samples[0].metrics["set_f1"], 0.5);
    assert!(engine.seen_gen[0].prompt.contains("Disease: Panic disorder
Symptoms: Anxiety
Medications:"));
    let spec = tasks::spec::find("iu_xray_summarization").unwrap();
    let doc = doc_with(json!({"findings": "Clear lungs."}), json!("No acute cardiopulmonary disease."));
    let mut engine = Scripted::answering(&[" No acute disease. "]);
    let run = wait(tasks::run_task(&mut engine, &spec, &data(vec![doc], vec![]), &RunOptions::default(), &mut |_| {})).unwrap();
    let s = &run.samples[0];
    assert_eq!(s.answer, Some(json!("No acute disease.")));
    // rouge-score: 3 of 3 predicted tokens, 3 of 4 reference tokens in the LCS.
    assert!((s.metrics["rougeL"] - 2.0 * 1.0 * 0.75 / 1.75).abs() < 1e-12);
    let r = results_entry(&spec, &run);
    assert!(r.contains_key("bleu") && r.contains_key("rouge2"));
}

#[test]
fn chat_template_prompts_follow_lm_eval() {
    let spec = tasks::spec::find("mmlu_anatomy").unwrap();
    let test = importers::mmlu_csv("t", b"Q?,w,x,y,z,C\n");
    let d = data(test.docs, vec![]);
    let mut engine = Scripted::scoring(vec![("C".into(), -1.0)]);
    let opts = RunOptions { chat_template: true, ..Default::default() };
    let run = wait(tasks::run_task(&mut engine, &spec, &d, &opts, &mut |_| {})).unwrap();
    let req = &engine.seen_ll[2];
    // The description is the system message, the question the user's; the choice follows the
    // opened assistant turn with no delimiter (lm-eval's construct_requests).
    assert_eq!(req.continuation, "C");
    assert!(req.context.is_empty());
    let m = req.messages.as_ref().unwrap();
    assert_eq!((m[0].role.as_str(), m[1].role.as_str()), ("system", "user"));
    assert!(m[0].content.starts_with("The following are multiple choice questions (with answers) about anatomy."));
    assert_eq!(m[1].content, "Q?\nA. w\nB. x\nC. y\nD. z\nAnswer:");
    assert!(run.samples[0].prompt.starts_with("<system>The following") && run.samples[0].prompt.ends_with("<assistant>"));
    assert_eq!(run.samples[0].pred, Some(2));
}

#[test]
fn few_shot_generation_examples_show_their_answers() {
    let spec = tasks::spec::find("hoc").unwrap();
    let docs = vec![
        doc_with(json!({"sentence": "S0"}), json!(["inducing angiogenesis", "resisting cell death"])),
        doc_with(json!({"sentence": "S1"}), json!([])),
    ];
    let mut engine = Scripted::answering(&["Inducing angiogenesis; nothing else", "none"]);
    let opts = RunOptions { shots: 1, limit: Some(1), seed: 3, ..Default::default() };
    let run = wait(tasks::run_task(&mut engine, &spec, &data(docs, vec![]), &opts, &mut |_| {})).unwrap();
    let prompt = &run.samples[0].prompt;
    assert!(prompt.starts_with("Document: ```S1```") && prompt.contains("Categories: none\n\nDocument: ```S0```"), "{prompt}");
    assert_eq!(run.samples[0].answer, Some(json!(["inducing angiogenesis"])));
}

#[test]
fn medmcqa_prompts_are_lm_evals() {
    // MedMCQA's dev.json is not in the shared datasets: a sample in its published format, with
    // lm-eval's prompts for it (scripts/make_prompt_fixtures.py).
    let fx: serde_json::Value =
        serde_json::from_slice(&std::fs::read(common::fixture("tasks/lm_eval_prompts.json")).unwrap()).unwrap();
    let spec = tasks::spec::find("medmcqa").unwrap();
    let imp = importers::medmcqa_jsonl("s", &std::fs::read(common::fixture("tasks/medmcqa_sample.jsonl")).unwrap());
    assert!(imp.bad_rows.is_empty());
    let p = tasks::Prompter::new(&spec).unwrap();
    let want = fx["medmcqa"].as_array().unwrap();
    assert_eq!(imp.docs.len(), want.len());
    for (i, (doc, w)) in imp.docs.iter().zip(want).enumerate() {
        assert_eq!(p.context(doc, i, &[]).unwrap(), w["prompt"].as_str().unwrap(), "document {i}");
        assert_eq!(spec.class_index(doc.gold.as_str().unwrap()), w["gold"].as_u64().map(|g| g as usize));
    }
    assert_eq!(imp.docs[0].native_id, "e9ad821a-c438-4965-9f77-760819dfa155");
}

#[test]
fn importers_survive_hostile_bytes() {
    // Every importer on cut-short and scrambled copies of small valid inputs: errors and bad rows,
    // never a panic.
    let columns = tasks::spec::Columns { gold: "a".into(), lists: vec!["l".into()], options: vec!["o".into()], ..Default::default() };
    let samples: Vec<&[u8]> = vec![
        b"{\"question\": \"q\", \"options\": {\"A\": \"x\"}, \"answer_idx\": \"A\"}\n",
        b"q,a,b,c,d,A\n\"unterminated,x\n",
        b"tok\tB-Chemical\nx\tI\n\nPMID|t|T\n1\t0\t99999\tx\tChemical\n",
        b"p\ts\tDDI-int\n0_1,1_1\ts\ti\n",
        b"[{\"a\": 1, \"l\": \"['x', 'y\", \"o\": null}]",
        b"<document><sentence text=\"ab\"><entity id=\"e0\" charOffset=\"0-99\"/><entity id=\"e1\" charOffset=\"1-1;5-3\"/><pair id=\"p\" e1=\"e0\" e2=\"e1\" ddi=\"true\"/></sentence></document>",
        b"PK\x03\x04garbage",
    ];
    let classes: Vec<String> = vec!["x".into(), "y".into()];
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    for s in &samples {
        let mut variants: Vec<Vec<u8>> = (0..=s.len()).map(|n| s[..n].to_vec()).collect();
        for _ in 0..50 {
            let mut v = s.to_vec();
            for _ in 0..3 {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                if !v.is_empty() {
                    let i = (rng as usize) % v.len();
                    v[i] = (rng >> 32) as u8;
                }
            }
            variants.push(v);
        }
        for v in &variants {
            importers::medqa_jsonl("f", v);
            importers::medmcqa_jsonl("f", v);
            importers::mmlu_csv("f", v);
            let _ = importers::pubmedqa_json("f", v, "t", v);
            importers::ner("f", v, Some("Chemical"));
            importers::ddi_tsv("f", v);
            importers::hoc_tsv("f", v, &classes);
            importers::records("f.csv", v, &columns, &classes, None);
            importers::records("f.tsv", v, &columns, &classes, None);
            importers::ddi_xml(&[("f".into(), v.clone())]);
        }
    }
}

#[test]
fn demo_sets_ship_with_the_crate() {
    let demos: Vec<_> = tasks::spec::builtin().into_iter().filter(|s| s.is_builtin_data()).collect();
    assert!(demos.len() >= 5, "one per task type");
    for spec in &demos {
        // No data root needed.
        let d = tasks::load_data(spec, std::path::Path::new("/nonexistent"), None).unwrap_or_else(|e| panic!("{}: {e}", spec.name));
        assert_eq!(d.docs.len(), spec.records, "{}", spec.name);
        assert!(d.bad_rows.is_empty(), "{}: {:?}", spec.name, d.bad_rows);
        let p = tasks::Prompter::new(spec).unwrap();
        for (i, doc) in d.docs.iter().enumerate() {
            p.context(doc, i, &[]).unwrap();
        }
    }
    let kinds: std::collections::BTreeSet<String> = demos.iter().map(|s| format!("{:?}/{:?}", s.output, s.extract)).collect();
    assert!(kinds.len() >= 5, "multiple choice, choice extraction, text, entities, items: {kinds:?}");
}

#[test]
fn a_file_given_to_the_page_imports_like_the_data_root() {
    let Some(root) = shared_root() else { return };
    for (task, file) in [
        ("medqa_4options", "MedQA/questions/US/4_options/phrases_no_exclude_test.jsonl"),
        ("mmlu_anatomy", "MMLU/data/test/anatomy_test.csv"),
        ("pubmedqa", "ClinicBench/PubMedQA_test.json"),
        ("bc5cdr_chem", "BC5CDR/BLURB/BC5CDR-chem/test.tsv"),
        ("pharmacology_qa", "ClinicBench/Pharmacology-QA.xlsx"),
        ("hoc", "HoC/BLURB/test.tsv"),
    ] {
        let spec = tasks::spec::find(task).unwrap();
        let bytes = std::fs::read(root.join(file)).unwrap();
        let from_bytes = tasks::load_bytes(&spec, file, &bytes).unwrap();
        let from_path = tasks::load_data(&spec, &root, Some(&root.join(file))).unwrap_or_else(|_| tasks::load_data(&spec, &root, None).unwrap());
        assert_eq!(from_bytes.docs, from_path.docs, "{task}");
    }
}

#[test]
fn tasks_without_public_files_read_samples_in_their_stated_formats() {
    // Samples written here in each format the task's data is published in.
    let cases: [(&str, &str, &[u8], &str); 5] = [
        (
            "mimic_cxr_summarization",
            "mimic-cxr.json",
            br#"{"test": [{"study_id": 50414267, "findings": "No focal consolidation.\nHeart size normal.", "impression": "No acute cardiopulmonary process."}]}"#,
            "No focal consolidation.\nHeart size normal.",
        ),
        (
            "referral_qa",
            "referral.jsonl",
            b"{\"question\": \"Should a patient with BP 190/120 and headache be referred today?\", \"answer\": \"Yes, urgently, to the emergency department.\"}\n",
            "BP 190/120",
        ),
        (
            "hospitalization_summarization",
            "Hospitalization-Summarization.json",
            br#"[{"document": "Admitted with pneumonia; treated with ceftriaxone 1 g daily for 5 days; discharged well.", "summary": "Pneumonia treated with IV antibiotics; recovered."}]"#,
            "ceftriaxone 1 g",
        ),
        (
            "patient_education",
            "Patient-Education.csv",
            b"question,answer\n\"What does HbA1c 8.1% mean?\",\"Your average blood sugar over 3 months is above the target of 7%.\"\n",
            "HbA1c 8.1%",
        ),
        (
            "icliniq",
            "iCliniq.json",
            "[{\"input\": \"Hello doctor, I have had a dry cough for 2.5 weeks — what can I take?\", \"answer_icliniq\": \"Hi, try dextromethorphan; see a doctor if it persists.\", \"answer_chatgpt\": \"x\", \"answer_chatdoctor\": \"y\"}]".as_bytes(),
            "2.5 weeks — what",
        ),
    ];
    for (task, file, bytes, in_prompt) in cases {
        let spec = tasks::spec::find(task).unwrap();
        let d = tasks::load_bytes(&spec, file, bytes).unwrap_or_else(|e| panic!("{task}: {e}"));
        assert_eq!((d.docs.len(), d.bad_rows.len()), (1, 0), "{task}: {:?}", d.bad_rows);
        let mut engine = Scripted::answering(&["A short answer."]);
        let run = wait(tasks::run_task(&mut engine, &spec, &d, &RunOptions::default(), &mut |_| {})).unwrap();
        assert!(run.samples[0].prompt.contains(in_prompt), "{task}: {}", run.samples[0].prompt);
        let r = results_entry(&spec, &run);
        assert!(r["rougeL"].as_f64().is_some_and(|v| (0.0..=1.0).contains(&v)), "{task}: {r:?}");
    }
    // MIMIC-CXR's study ids are numbers: they become the native id as text.
    let spec = tasks::spec::find("mimic_cxr_summarization").unwrap();
    let d = tasks::load_bytes(&spec, "m.json", br#"{"test": [{"study_id": 7, "findings": "f", "impression": "i"}]}"#).unwrap();
    assert_eq!(d.docs[0].native_id, "7");
}

/// A task's entry in results.json, as the report writes it from the runner's scores.
fn results_entry(spec: &tasks::TaskSpec, run: &tasks::TaskRun) -> serde_json::Map<String, serde_json::Value> {
    let result = clinicbench::report::TaskResult::from_run(spec, run, 0, None);
    match serde_json::to_value(result).unwrap() {
        serde_json::Value::Object(m) => m,
        other => panic!("{other}"),
    }
}

/// `RunOptions::batch`: a generation task's documents go to the engine several at a time
/// (`generate_batch`), and the run is the one-at-a-time run: the same samples in the same
/// order, a resumed document in its place (it ends the batch gathered before it), and each
/// streamed piece of text under its own document.
#[test]
fn generation_in_batches_is_the_run_one_at_a_time() {
    let spec = tasks::spec::find("medqa_4options_gen").unwrap();
    let options = json!([{"key": "A", "text": "Aspirin"}, {"key": "B", "text": "Nitroglycerin"}, {"key": "C", "text": "Morphine"}, {"key": "D", "text": "Oxygen"}]);
    let d = data((0..5).map(|i| doc_with(json!({"question": format!("q{i}"), "options": options}), json!("C"))).collect(), vec![]);
    let answers = ["C", "B", "no idea", "Answer: (c)", "A"];
    let first = wait(tasks::run_task(&mut Scripted::answering(&answers), &spec, &d, &RunOptions { limit: Some(2), ..Default::default() }, &mut |_| {})).unwrap();
    let previous = vec![first.samples[1].clone()];
    let run = |batch: usize| {
        let mut engine = Scripted::answering(&answers[1..]);
        let mut streamed: Vec<(usize, String)> = vec![];
        let opts = RunOptions { batch, previous: previous.clone(), ..Default::default() };
        let run = wait(tasks::run_task(&mut engine, &spec, &d, &opts, &mut |e| {
            if let Event::Token { doc_id, text } = e {
                streamed.push((doc_id, text.to_string()))
            }
        }))
        .unwrap();
        (run.samples, streamed, engine.seen_gen.len())
    };
    let (one, one_streamed, one_calls) = run(1);
    let (three, three_streamed, three_calls) = run(3);
    assert_eq!(three.iter().map(|s| s.doc_id).collect::<Vec<_>>(), [0, 1, 2, 3, 4]);
    assert_eq!(three, one);
    assert_eq!(three_streamed, one_streamed);
    assert_eq!(three_streamed.iter().find(|(id, _)| *id == 3).map(|x| x.1.as_str()), Some("Answer: (c)"));
    assert_eq!((three_calls, one_calls), (4, 4), "the resumed document is not generated again");
}
