//! ClinicBench tasks: task specs, dataset importers, prompts, and the runner that turns documents
//! into engine requests and per-sample scores.
//!
//! Tasks talk to a model only through [`crate::engine::Engine`], and hand plain predictions to
//! [`crate::metrics`]. Multiple-choice tasks follow lm-evaluation-harness: the prompt is
//! `description + few-shot examples + prompt(doc)`, each choice is scored as the continuation
//! `target_delimiter + choice`, `acc` takes the highest loglikelihood and `acc_norm` the highest
//! loglikelihood per character of the choice. Generation tasks generate until a stop string and
//! extract the answer ([`extract`]).

pub mod extract;
pub mod importers;
mod prompt;
mod run;
pub mod spec;

pub use importers::{BadRow, Doc, Imported};
pub use prompt::Prompter;
pub use run::{compare_runs, run_task, Event, RunOptions, Sample, SampleScorer, Shard, TaskComparison, TaskRun, TaskRunner};
pub use spec::{Extract, FewshotSource, Output, TaskSpec};

use crate::engine::EngineError;
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
    // The engine's message is part of this one (not a `source`, which would print it twice).
    #[error("task {task}, document {doc_id}: {error}")]
    Engine { task: String, doc_id: usize, error: EngineError },
    #[error("task {task}: {problem}")]
    Metric { task: String, problem: String },
}

/// Documents of a task, read from the data root (or an explicit path), with few-shot material.
#[derive(Debug, Clone)]
pub struct TaskData {
    pub docs: Vec<Doc>,
    /// Examples for few-shot prompts from a separate split (MMLU's dev rows), if the task has one.
    pub dev: Vec<Doc>,
    pub bad_rows: Vec<BadRow>,
    /// The files read, for provenance.
    pub files: Vec<PathBuf>,
    /// The format the importer found (`jsonl`, `csv`, `pubtator`, ...).
    pub format: String,
}

/// A data file's bytes: a file on disk, or a `builtin:` file shipped with the crate.
pub fn read_data_file(path: &Path) -> Result<Vec<u8>, TaskError> {
    read(path)
}

/// How many documents a run must read: all of them, unless `--limit` bounds the run and it is
/// zero-shot (few-shot examples may be drawn from the other documents, a choice that depends on
/// how many there are).
pub fn documents_needed(opts: &RunOptions) -> Option<usize> {
    // A sample is drawn from all of them.
    if opts.shots > 0 || opts.sample.is_some() {
        return None;
    }
    opts.limit
}

fn read(path: &Path) -> Result<Vec<u8>, TaskError> {
    if let Some(name) = path.to_str().and_then(|p| p.strip_prefix("builtin:")) {
        return spec::builtin_data(name).map(<[u8]>::to_vec).ok_or_else(|| TaskError::Read {
            path: path.display().to_string(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such built-in data file"),
        });
    }
    std::fs::read(path).map_err(|source| TaskError::Read { path: path.display().to_string(), source })
}

/// Reads a task's dataset: `data` overrides the spec's default path under `data_root`. A folder
/// is read in its published layout (MMLU's `test/` and `dev/`, PubMedQA's two JSON files, the DDI
/// XML corpus); a file as [`load_bytes`] reads it.
pub fn load_data(spec: &TaskSpec, data_root: &Path, data: Option<&Path>) -> Result<TaskData, TaskError> {
    load_data_up_to(spec, data_root, data, None)
}

/// [`load_data`], reading at most `max_docs` documents where the format allows (see
/// [`load_bytes_up_to`]).
pub fn load_data_up_to(spec: &TaskSpec, data_root: &Path, data: Option<&Path>, max_docs: Option<usize>) -> Result<TaskData, TaskError> {
    let base = match data {
        Some(p) => p.to_path_buf(),
        None if spec.is_builtin_data() => PathBuf::from(&spec.path),
        None => data_root.join(&spec.path),
    };
    let name = |p: &Path| p.display().to_string();
    // Layouts of several files in a folder; a single file goes through `load_bytes`.
    match spec.importer.as_str() {
        "ddi_tsv" if base.is_dir() => {
            // The corpus's own XML (e.g. `DDI/original/DDICorpus/Test/Test for DDI Extraction task`).
            let mut paths = Vec::new();
            xml_files(&base, &mut paths)?;
            paths.sort();
            let files = paths.iter().map(|p| Ok((name(p), read(p)?))).collect::<Result<Vec<_>, TaskError>>()?;
            let imp = importers::ddi_xml(&files);
            Ok(TaskData { docs: imp.docs, dev: vec![], bad_rows: imp.bad_rows, files: paths, format: imp.format })
        }
        "mmlu_csv" if base.is_dir() => {
            let subset = spec.subset.as_deref().unwrap_or_default();
            let test = base.join("test").join(format!("{subset}_test.csv"));
            let dev = base.join("dev").join(format!("{subset}_dev.csv"));
            let t = importers::mmlu_csv(&name(&test), &read(&test)?);
            let d = importers::mmlu_csv(&name(&dev), &read(&dev)?);
            let mut bad_rows = t.bad_rows;
            bad_rows.extend(d.bad_rows);
            Ok(TaskData { docs: t.docs, dev: d.docs, bad_rows, files: vec![test, dev], format: t.format })
        }
        "pubmedqa_json" if base.is_dir() => {
            let data_file = base.join("ori_pqal.json");
            let truth_file = base.join("test_ground_truth.json");
            let imp = importers::pubmedqa_json(&name(&data_file), &read(&data_file)?, &name(&truth_file), &read(&truth_file)?)
                .map_err(TaskError::BadRow)?;
            Ok(TaskData {
                docs: imp.docs,
                dev: vec![],
                bad_rows: imp.bad_rows,
                files: vec![data_file, truth_file],
                format: "pqal-json+ground-truth".into(),
            })
        }
        _ => {
            let mut data = load_bytes_up_to(spec, &name(&base), &read(&base)?, max_docs)?;
            data.files = vec![base];
            Ok(data)
        }
    }
}

/// The `.xml` files under `dir`, recursively.
fn xml_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), TaskError> {
    let entries = std::fs::read_dir(dir).map_err(|source| TaskError::Read { path: dir.display().to_string(), source })?;
    for entry in entries {
        let path = entry.map_err(|source| TaskError::Read { path: dir.display().to_string(), source })?.path();
        if path.is_dir() {
            xml_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "xml") {
            out.push(path);
        }
    }
    Ok(())
}

/// A task's documents from one file's bytes (a file the page was given): every single-file
/// importer, MMLU's test CSV (its test CSV), and PubMedQA
/// in `ori_pqal.json`'s layout. Few-shot examples then come from the file's other documents.
pub fn load_bytes(spec: &TaskSpec, file_name: &str, bytes: &[u8]) -> Result<TaskData, TaskError> {
    load_bytes_up_to(spec, file_name, bytes, None)
}

/// [`load_bytes`], reading at most `max_docs` documents where the format streams (Excel
/// sheets): give it only when the run needs no more (`--limit` without few-shot examples drawn
/// from the same file, whose choice depends on every document).
pub fn load_bytes_up_to(spec: &TaskSpec, file_name: &str, bytes: &[u8], max_docs: Option<usize>) -> Result<TaskData, TaskError> {
    let imp = match spec.importer.as_str() {
        "medqa_jsonl" => importers::medqa_jsonl(file_name, bytes),
        "medmcqa_jsonl" => importers::medmcqa_jsonl(file_name, bytes),
        "ner" => importers::ner(file_name, bytes, spec.subset.as_deref()),
        "ddi_tsv" => importers::ddi_tsv(file_name, bytes),
        "hoc_tsv" => importers::hoc_tsv(file_name, bytes, spec.classes()),
        "mmlu_csv" => importers::mmlu_csv(file_name, bytes),
        "records" => {
            let columns = spec.columns.as_ref().ok_or_else(|| TaskError::BadSpec {
                file: spec.name.clone(),
                problem: "the records importer needs a [columns] table".into(),
            })?;
            importers::records(file_name, bytes, columns, &spec.choices, max_docs)
        }
        "pubmedqa_json" => {
            let truth = pubmedqa_truth_from_records(file_name, bytes)?;
            importers::pubmedqa_json(file_name, bytes, file_name, truth.as_bytes()).map_err(TaskError::BadRow)?
        }
        other => return Err(TaskError::BadSpec { file: spec.name.clone(), problem: format!("unknown importer {other:?}") }),
    };
    // No dev split in one file: few-shot examples come from the file's other documents.
    Ok(TaskData { docs: imp.docs, dev: vec![], bad_rows: imp.bad_rows, files: vec![PathBuf::from(file_name)], format: imp.format })
}

/// `{pmid: final_decision}` of a PubMedQA records file, in its order.
fn pubmedqa_truth_from_records(file: &str, bytes: &[u8]) -> Result<String, TaskError> {
    let whole = |problem: String| TaskError::BadRow(BadRow { file: file.into(), line: 1, problem });
    let data: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(bytes).map_err(|e| whole(format!("not a JSON object: {e}")))?;
    let truth: serde_json::Map<String, serde_json::Value> = data
        .iter()
        .map(|(k, v)| (k.clone(), v.get("final_decision").cloned().unwrap_or(serde_json::Value::Null)))
        .collect();
    Ok(serde_json::Value::Object(truth).to_string())
}
