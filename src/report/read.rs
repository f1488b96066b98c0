//! Reading runs: `results.json`, `samples.jsonl`, the page's export, and an `eval --out`
//! folder — this version's files and every earlier one (with a note), each error naming the
//! file and what is wrong with it.

use super::{DataFile, DatasetProvenance, ModelProvenance, Provenance, RunReport, TaskProvenance, TaskResult, REPORT_VERSION};
use crate::tasks::Sample;
use serde_json::{Map, Value};
use std::path::Path;

/// The largest report or samples file read (a run of the whole suite with generations is a few
/// hundred MB): a larger one is refused before it is read.
pub const MAX_REPORT_BYTES: u64 = 2 << 30;

/// A run read from files, and what the reader had to assume.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    pub report: RunReport,
    /// What was read from an earlier format or is missing, for people.
    pub notes: Vec<String>,
}

/// Why a run could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: {problem}")]
    Bad { path: String, problem: String },
}

fn bad(path: &str, problem: impl Into<String>) -> ReadError {
    ReadError::Bad { path: path.into(), problem: problem.into() }
}

/// A file's JSON, or an error that names it and says whether it was cut short.
pub(crate) fn parse_json(name: &str, bytes: &[u8]) -> Result<Value, ReadError> {
    serde_json::from_slice(bytes).map_err(|e| {
        if e.is_eof() {
            bad(name, format!("the file ends before the JSON does (cut short while it was written or copied?): {e}"))
        } else {
            bad(name, format!("not JSON: {e}"))
        }
    })
}

/// A run from the JSON of `results.json` or of the page's export (named `name` in messages).
/// The samples are those the export holds (none for `results.json`).
pub fn parse_report(name: &str, bytes: &[u8]) -> Result<Imported, ReadError> {
    let doc = parse_json(name, bytes)?;
    let Value::Object(mut top) = doc else {
        return Err(bad(name, "not a ClinicBench run: the JSON is not an object"));
    };
    let mut notes = Vec::new();
    // The page's export before the report was typed: {"results": {"results", "provenance"}, "samples"}.
    if let Some(Value::Object(inner)) = top.get("results") {
        if top.get("version").is_none() && inner.contains_key("results") && inner.get("results").is_some_and(Value::is_object) {
            let Some(Value::Object(inner)) = top.remove("results") else { unreachable!("checked above") };
            for (k, v) in inner {
                top.insert(k, v);
            }
        }
    }
    let version = match top.get("version") {
        None => {
            notes.push(format!(
                "{name}: written by an earlier clinicbench (no report version): scores were read from the flat keys, \
                 and its provenance is partial"
            ));
            0
        }
        Some(v) => {
            let v = v.as_u64().ok_or_else(|| bad(name, format!("the report version is not a number: {v}")))?;
            if v > u64::from(REPORT_VERSION) {
                return Err(bad(
                    name,
                    format!("written by a newer clinicbench (report version {v}; this one reads versions up to {REPORT_VERSION}): update clinicbench to read it"),
                ));
            }
            v as u32
        }
    };
    if top.contains_key("configs") && top.contains_key("versions") && !top.contains_key("provenance") {
        return Err(bad(name, "an lm-evaluation-harness results file, not a ClinicBench run: give its output folder"));
    }
    let results = match top.remove("results") {
        Some(Value::Object(m)) => m,
        Some(other) => return Err(bad(name, format!("\"results\" should be an object keyed by task name, found {}", kind(&other)))),
        None => return Err(bad(name, "not a ClinicBench run: no \"results\" object")),
    };
    let mut report = RunReport::default();
    for (task, entry) in results {
        if !entry.is_object() {
            return Err(bad(name, format!("results.{task} should be an object, found {}", kind(&entry))));
        }
        let mut r: TaskResult =
            serde_json::from_value(entry).map_err(|e| bad(name, format!("results.{task}: {e}")))?;
        r.task = task;
        report.results.push(r);
    }
    let provenance = top.remove("provenance").unwrap_or(Value::Null);
    report.provenance = if version == 0 {
        legacy_provenance(&provenance)
    } else {
        serde_json::from_value(provenance).map_err(|e| bad(name, format!("provenance: {e}")))?
    };
    if let Some(samples) = top.remove("samples") {
        let Value::Array(items) = samples else {
            return Err(bad(name, format!("\"samples\" should be a list, found {}", kind(&samples))));
        };
        for (i, s) in items.into_iter().enumerate() {
            let s: Sample = serde_json::from_value(s).map_err(|e| bad(name, format!("samples[{i}]: not a sample: {e}")))?;
            report.samples.push(s);
        }
    }
    Ok(Imported { report, notes })
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The provenance of a file written before the report was typed: the CLI's (`model` a path,
/// `model_sha256`, `datasets` per task, the settings once for the run) or the page's (`model`,
/// `model_sha256`, `backend`, `engine_version`). What it lacks stays empty.
fn legacy_provenance(p: &Value) -> Provenance {
    let str_of = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let usize_of = |v: &Value, k: &str| v.get(k).and_then(Value::as_u64).map(|x| x as usize);
    let mut out = Provenance {
        model: ModelProvenance { file: str_of(p, "model"), sha256: str_of(p, "model_sha256"), ..Default::default() },
        backend: str_of(p, "backend"),
        engine_version: str_of(p, "engine_version"),
        ..Default::default()
    };
    out.timings.seconds = p.get("seconds").and_then(Value::as_f64).unwrap_or(0.0);
    let empty = Map::new();
    for (task, d) in p.get("datasets").and_then(Value::as_object).unwrap_or(&empty) {
        let files = d
            .get("files")
            .and_then(Value::as_array)
            .map(|fs| fs.iter().map(|f| DataFile { path: str_of(f, "path"), sha256: str_of(f, "sha256") }).collect())
            .unwrap_or_default();
        let records = usize_of(d, "records").unwrap_or(0);
        let limit = usize_of(p, "limit");
        out.tasks.insert(
            task.clone(),
            TaskProvenance {
                spec_version: d.get("spec_version").and_then(Value::as_u64).unwrap_or(0) as u32,
                spec_hash: str_of(d, "spec_hash"),
                dataset: DatasetProvenance { importer: str_of(d, "importer"), format: str_of(d, "format"), files, records },
                shots: usize_of(p, "shots").unwrap_or(0),
                seed: p.get("seed").and_then(Value::as_u64).unwrap_or(0),
                limit,
                chat_template: p.get("chat_template").and_then(Value::as_bool).unwrap_or(false),
                max_new_tokens: usize_of(p, "max_new_tokens"),
                shard: None,
                sample: usize_of(p, "sample"),
                batched_generation: p.get("batched_generation").and_then(Value::as_bool).unwrap_or(false),
                documents: usize_of(p, "sample").or(limit).map_or(records, |l| l.min(records)),
            },
        );
    }
    out
}

/// `samples.jsonl`'s samples. With `cut_ok`, a last line cut short (a run interrupted while
/// writing it) is dropped; any other line that is not a sample is an error naming its line.
pub fn parse_samples_jsonl(name: &str, text: &str, cut_ok: bool) -> Result<Vec<Sample>, ReadError> {
    let lines: Vec<(usize, &str)> = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).collect();
    let mut out = Vec::with_capacity(lines.len());
    for (k, (i, line)) in lines.iter().enumerate() {
        match serde_json::from_str(line) {
            Ok(s) => out.push(s),
            Err(e) if cut_ok && k + 1 == lines.len() && !text.ends_with('\n') && e.is_eof() => {}
            Err(e) if k + 1 == lines.len() && !text.ends_with('\n') && e.is_eof() => {
                return Err(bad(name, format!("line {}: cut short (the file was not written to the end)", i + 1)))
            }
            Err(e) => return Err(bad(name, format!("line {}: not a sample of this version of clinicbench: {e}", i + 1))),
        }
    }
    Ok(out)
}

/// A file's bytes, refused before reading when larger than [`MAX_REPORT_BYTES`].
pub(crate) fn read_bounded(path: &Path) -> Result<Vec<u8>, ReadError> {
    let p = path.display().to_string();
    let io = |source| ReadError::Io { path: p.clone(), source };
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > MAX_REPORT_BYTES {
        return Err(bad(&p, format!("{len} bytes is more than a run's files may hold ({MAX_REPORT_BYTES} bytes)")));
    }
    std::fs::read(path).map_err(io)
}

/// A run from a path: an `eval --out` folder (its `results.json` and `samples.jsonl`), a
/// `results.json` (with the `samples.jsonl` beside it, if any), a page export, or an
/// lm-evaluation-harness output folder ([`super::lm_eval`]).
pub fn read_run(path: &Path) -> Result<Imported, ReadError> {
    if path.is_dir() && !path.join("results.json").exists() && !super::lm_eval::results_files(path).is_empty() {
        return super::lm_eval::read_folder(path);
    }
    let (results_path, folder) = if path.is_dir() { (path.join("results.json"), Some(path.to_path_buf())) } else { (path.to_path_buf(), None) };
    if folder.is_some() && !results_path.exists() {
        let partial = path.join("samples.jsonl.partial");
        let why = if partial.exists() {
            "it has no results.json: the run did not finish (its samples so far are in samples.jsonl.partial; `eval --resume` with the same settings finishes it)"
        } else {
            "it has no results.json: not the output folder of `clinicbench eval`"
        };
        return Err(bad(&path.display().to_string(), why));
    }
    let name = results_path.display().to_string();
    let mut imported = parse_report(&name, &read_bounded(&results_path)?)?;
    let beside = results_path.parent().map(|d| d.join("samples.jsonl"));
    if imported.report.samples.is_empty() {
        match beside.filter(|p| p.is_file()) {
            Some(sp) => {
                let bytes = read_bounded(&sp)?;
                let text = String::from_utf8(bytes).map_err(|_| bad(&sp.display().to_string(), "not UTF-8 text"))?;
                imported.report.samples = parse_samples_jsonl(&sp.display().to_string(), &text, false)?;
            }
            None => imported.notes.push(format!("{name}: no samples.jsonl beside it, so its results cannot be paired document by document")),
        }
    }
    Ok(imported)
}

/// A run from files picked together in the page: a page export, or a CLI run's `results.json`
/// with its `samples.jsonl` (by their contents: a `.jsonl` name is samples, anything else a
/// report).
pub fn import_files(files: &[(&str, &[u8])]) -> Result<Imported, ReadError> {
    let mut report: Option<(String, Imported)> = None;
    let mut samples: Option<Vec<Sample>> = None;
    for (name, bytes) in files {
        if name.ends_with(".jsonl") {
            let text = std::str::from_utf8(bytes).map_err(|_| bad(name, "not UTF-8 text"))?;
            if samples.is_some() {
                return Err(bad(name, "a second samples file: pick one run's results.json and samples.jsonl"));
            }
            samples = Some(parse_samples_jsonl(name, text, false)?);
        } else {
            if let Some((first, _)) = &report {
                return Err(bad(name, format!("a second report beside {first}: import one run at a time")));
            }
            report = Some((name.to_string(), parse_report(name, bytes)?));
        }
    }
    let Some((name, mut imported)) = report else {
        return Err(bad(files.first().map_or("(no file)", |f| f.0), "no report: pick the run's results.json (or a page export)"));
    };
    match samples {
        Some(s) if imported.report.samples.is_empty() => imported.report.samples = s,
        Some(_) => return Err(bad(&name, "holds its samples already; pick it alone")),
        None if imported.report.samples.is_empty() => imported.notes.push(format!(
            "{name}: no samples with it (pick its samples.jsonl too), so its results cannot be paired document by document"
        )),
        None => {}
    }
    Ok(imported)
}
