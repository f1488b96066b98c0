//! ClinicBench tasks: task specs, dataset importers, prompts, and the runner that turns documents
//! into engine requests and per-sample scores.
//!
//! Tasks talk to a model only through [`crate::engine::Engine`], and hand plain predictions to
//! [`crate::metrics`]. Multiple-choice tasks follow lm-evaluation-harness: the prompt is
//! `description + few-shot examples + prompt(doc)`, each choice is scored as the continuation
//! `target_delimiter + choice`, `acc` takes the highest loglikelihood and `acc_norm` the highest
//! loglikelihood per character of the choice.

pub mod importers;
pub mod spec;

pub use importers::{BadRow, Doc, Imported};
pub use spec::{FewshotSource, TaskSpec};

use crate::engine::{Engine, EngineError, LogLikelihoodRequest};
use crate::metrics::multiple_choice::{choose, ChoiceNormalization};
use crate::metrics::{Metric, Scored};
use minijinja::Environment;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Why a task could not run.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error("task spec {file}: {problem}")]
    BadSpec { file: String, problem: String },
    #[error("unknown task {0:?} (see `clinicbench tasks`)")]
    UnknownTask(String),
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{0}")]
    BadRow(BadRow),
    #[error("task {task}: the prompt template does not render for document {doc_id}: {problem}")]
    Template { task: String, doc_id: usize, problem: String },
    #[error("task {task}, document {doc_id}: {source}")]
    Engine { task: String, doc_id: usize, source: EngineError },
    #[error("task {task}: {problem}")]
    Metric { task: String, problem: String },
}

/// Documents of a task, read from the data root (or an explicit path), with few-shot material.
#[derive(Debug)]
pub struct TaskData {
    pub docs: Vec<Doc>,
    /// Examples for few-shot prompts from a separate split (MMLU's dev rows), if the task has one.
    pub dev: Vec<Doc>,
    pub bad_rows: Vec<BadRow>,
    /// The files read, for provenance.
    pub files: Vec<PathBuf>,
}

fn read(path: &Path) -> Result<Vec<u8>, TaskError> {
    std::fs::read(path).map_err(|source| TaskError::Read { path: path.display().to_string(), source })
}

/// Reads a task's dataset: `data` overrides the spec's default path under `data_root`.
pub fn load_data(spec: &TaskSpec, data_root: &Path, data: Option<&Path>) -> Result<TaskData, TaskError> {
    let base = data.map(Path::to_path_buf).unwrap_or_else(|| data_root.join(&spec.path));
    let name = |p: &Path| p.display().to_string();
    match spec.importer.as_str() {
        "medqa_jsonl" => {
            let imp = importers::medqa_jsonl(&name(&base), &read(&base)?);
            Ok(TaskData { docs: imp.docs, dev: vec![], bad_rows: imp.bad_rows, files: vec![base] })
        }
        "mmlu_csv" => {
            let subset = spec.subset.as_deref().unwrap_or_default();
            let test = base.join("test").join(format!("{subset}_test.csv"));
            let dev = base.join("dev").join(format!("{subset}_dev.csv"));
            let t = importers::mmlu_csv(&name(&test), &read(&test)?);
            let d = importers::mmlu_csv(&name(&dev), &read(&dev)?);
            let mut bad_rows = t.bad_rows;
            bad_rows.extend(d.bad_rows);
            Ok(TaskData { docs: t.docs, dev: d.docs, bad_rows, files: vec![test, dev] })
        }
        "pubmedqa_json" => {
            let data_file = base.join("ori_pqal.json");
            let truth_file = base.join("test_ground_truth.json");
            let imp = importers::pubmedqa_json(&name(&data_file), &read(&data_file)?, &name(&truth_file), &read(&truth_file)?)
                .map_err(TaskError::BadRow)?;
            Ok(TaskData { docs: imp.docs, dev: vec![], bad_rows: imp.bad_rows, files: vec![data_file, truth_file] })
        }
        other => Err(TaskError::BadSpec { file: spec.name.clone(), problem: format!("unknown importer {other:?}") }),
    }
}

/// How a run is set up.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Few-shot examples per prompt.
    pub shots: usize,
    /// Only the first `limit` documents.
    pub limit: Option<usize>,
    /// Seeds the few-shot selection of tasks without a dev split.
    pub seed: u64,
    /// Samples of an earlier, interrupted run of this task (`--resume`): their documents are not
    /// scored again, and they count in the results.
    pub previous: Vec<Sample>,
}

/// One scored document, as `samples.jsonl` holds it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sample {
    pub task: String,
    pub doc_id: usize,
    pub native_id: String,
    pub prompt: String,
    pub choices: Vec<String>,
    /// Index of the gold choice.
    pub target: usize,
    pub loglikelihoods: Vec<f64>,
    /// Index chosen by `acc`.
    pub pred: usize,
    /// Index chosen by `acc_norm`.
    pub pred_norm: usize,
    pub acc: f64,
    pub acc_norm: f64,
    pub truncated: bool,
}

/// A task's outcome: its samples, and the documents that could not be scored.
#[derive(Debug)]
pub struct TaskRun {
    pub samples: Vec<Sample>,
    /// Documents skipped, with the reason (a gold label outside the choices, ...).
    pub skipped: Vec<String>,
}

/// The prompt renderer for a task: description, few-shot examples and the document's prompt.
pub struct Prompter<'s> {
    spec: &'s TaskSpec,
    env: Environment<'s>,
}

impl<'s> Prompter<'s> {
    pub fn new(spec: &'s TaskSpec) -> Result<Self, TaskError> {
        let mut env = Environment::new();
        // lm-eval renders with jinja2's keep_trailing_newline=True: MMLU's description ends in
        // "\n\n" and both newlines belong to the prompt.
        env.set_keep_trailing_newline(true);
        // Python's str.strip(), which lm-eval's templates call: Unicode whitespace plus the
        // ASCII separators U+001C..U+001F.
        env.add_filter("strip", |s: String| {
            s.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)).to_string()
        });
        let bad = |e: minijinja::Error| TaskError::BadSpec { file: spec.name.clone(), problem: e.to_string() };
        env.add_template("prompt", &spec.prompt).map_err(bad)?;
        env.add_template("description", &spec.description).map_err(bad)?;
        Ok(Prompter { spec, env })
    }

    fn render(&self, template: &str, doc: &Doc, doc_id: usize) -> Result<String, TaskError> {
        let t = self.env.get_template(template).map_err(|e| self.template_error(doc_id, e))?;
        t.render(&doc.fields).map_err(|e| self.template_error(doc_id, e))
    }

    fn template_error(&self, doc_id: usize, e: minijinja::Error) -> TaskError {
        TaskError::Template { task: self.spec.name.clone(), doc_id, problem: e.to_string() }
    }

    /// `description + Σ (prompt(ex) + delimiter + gold(ex) + fewshot_delimiter) + prompt(doc)`.
    pub fn context(&self, doc: &Doc, doc_id: usize, examples: &[&Doc]) -> Result<String, TaskError> {
        let mut ctx = self.render("description", doc, doc_id)?;
        for ex in examples {
            ctx.push_str(&self.render("prompt", ex, doc_id)?);
            ctx.push_str(&self.spec.target_delimiter);
            ctx.push_str(&ex.gold);
            ctx.push_str(&self.spec.fewshot_delimiter);
        }
        ctx.push_str(&self.render("prompt", doc, doc_id)?);
        Ok(ctx)
    }
}

/// Few-shot examples for document `doc_id`: the first rows of the dev split, or a seeded
/// choice among the other documents of the split (never the document itself).
fn fewshot_examples<'d>(spec: &TaskSpec, data: &'d TaskData, doc_id: usize, opts: &RunOptions) -> Vec<&'d Doc> {
    if opts.shots == 0 {
        return vec![];
    }
    match spec.fewshot.source {
        FewshotSource::DevSplit => data.dev.iter().take(opts.shots).collect(),
        FewshotSource::SameSplit => {
            let n = data.docs.len();
            let mut rng = opts.seed ^ (doc_id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let mut picked: Vec<usize> = Vec::with_capacity(opts.shots);
            while picked.len() < opts.shots.min(n.saturating_sub(1)) {
                rng = rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut z = rng;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                let i = ((z ^ (z >> 31)) % n as u64) as usize;
                if i != doc_id && !picked.contains(&i) {
                    picked.push(i);
                }
            }
            picked.into_iter().map(|i| &data.docs[i]).collect()
        }
    }
}

/// Scores the documents of a multiple-choice task, calling `on_sample` after each.
pub fn run_multiple_choice(
    engine: &mut dyn Engine,
    spec: &TaskSpec,
    data: &TaskData,
    opts: &RunOptions,
    on_sample: &mut dyn FnMut(&Sample),
) -> Result<TaskRun, TaskError> {
    let prompter = Prompter::new(spec)?;
    let n = opts.limit.map_or(data.docs.len(), |l| l.min(data.docs.len()));
    let mut run = TaskRun { samples: Vec::with_capacity(n), skipped: Vec::new() };
    let previous: std::collections::BTreeMap<usize, &Sample> =
        opts.previous.iter().filter(|s| s.task == spec.name).map(|s| (s.doc_id, s)).collect();
    for (doc_id, doc) in data.docs.iter().take(n).enumerate() {
        if let Some(&done) = previous.get(&doc_id) {
            if done.native_id == doc.native_id {
                run.samples.push(done.clone());
                continue;
            }
        }
        let Some(target) = spec.choices.iter().position(|c| *c == doc.gold) else {
            run.skipped.push(format!(
                "document {doc_id} ({}): gold label {:?} is not among the choices {:?}",
                doc.native_id, doc.gold, spec.choices
            ));
            continue;
        };
        let examples = fewshot_examples(spec, data, doc_id, opts);
        let prompt = prompter.context(doc, doc_id, &examples)?;
        let reqs: Vec<LogLikelihoodRequest> = spec
            .choices
            .iter()
            .map(|c| LogLikelihoodRequest { context: prompt.clone(), continuation: format!("{}{c}", spec.target_delimiter) })
            .collect();
        let lls = engine
            .loglikelihood(&reqs)
            .map_err(|source| TaskError::Engine { task: spec.name.clone(), doc_id, source })?;
        let loglikelihoods: Vec<f64> = lls.iter().map(|l| l.logprob).collect();
        let metric_err = |e: crate::metrics::SampleError| TaskError::Metric {
            task: spec.name.clone(),
            problem: format!("document {doc_id}: {e}"),
        };
        let pred = choose::<String>(&loglikelihoods, None, ChoiceNormalization::None).map_err(metric_err)?;
        let pred_norm =
            choose(&loglikelihoods, Some(&spec.choices[..]), ChoiceNormalization::Characters).map_err(metric_err)?;
        let sample = Sample {
            task: spec.name.clone(),
            doc_id,
            native_id: doc.native_id.clone(),
            prompt,
            choices: spec.choices.clone(),
            target,
            pred,
            pred_norm,
            acc: f64::from(u8::from(pred == target)),
            acc_norm: f64::from(u8::from(pred_norm == target)),
            truncated: lls.iter().any(|l| l.truncated),
            loglikelihoods,
        };
        on_sample(&sample);
        run.samples.push(sample);
    }
    Ok(run)
}

/// The task's metrics over its samples, as the `results` entry of results.json.
pub fn aggregate(spec: &TaskSpec, run: &TaskRun) -> Result<serde_json::Map<String, serde_json::Value>, TaskError> {
    let mut out = serde_json::Map::new();
    let err = |e: crate::metrics::MetricError| TaskError::Metric { task: spec.name.clone(), problem: e.to_string() };
    for name in &spec.metrics {
        let metric = Metric::from_name(name).map_err(err)?;
        let values: Vec<f64> = run
            .samples
            .iter()
            .map(|s| if metric == Metric::AccNorm { s.acc_norm } else { s.acc })
            .collect();
        if values.is_empty() {
            continue;
        }
        let score = Scored::from_values(metric, values).map_err(err)?.score();
        out.insert(name.clone(), score.value.into());
        out.insert(format!("{name}_stderr"), score.stderr.into());
        out.insert(format!("{name}_ci95"), score.ci95.map(|[lo, hi]| vec![lo, hi]).into());
    }
    out.insert("n".into(), run.samples.len().into());
    out.insert("skipped".into(), run.skipped.len().into());
    Ok(out)
}
