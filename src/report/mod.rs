//! The run report: what a run found, how, and on what — one typed, versioned [`RunReport`] that
//! the CLI's `results.json` and `samples.jsonl`, its printed table, the page's results, its
//! export and import, `compare` and `merge` all read and write.
//!
//! A report is built from the scores the task runner's scorer computed as each sample finished
//! ([`crate::tasks::TaskRun::scores`]): there is no second scoring pass, except in [`merge`],
//! which scores the merged samples once, exactly as an unsharded run scores them.
//!
//! On disk:
//!
//! - `results.json`: `{"version", "results", "provenance"}`. `results` is an object keyed by
//!   task name whose entries keep the flat keys other tools read (`acc`, `acc_stderr`,
//!   `acc_ci95`, `n`, `skipped`, `unparsed`, `bad_rows`, `seconds`), with the typed `scores`
//!   beside them ([`TaskResult`]).
//! - `samples.jsonl`: one [`Sample`] a line (`doc_id` is the position in the whole task, also
//!   in a shard; `pred` the chosen index).
//! - The page's export: the same object with `samples` added at the top level.
//!
//! Files written before the report was versioned (no `version`; the page's export with its
//! results under `results.results`) still import, with a note ([`Imported::notes`]).

pub mod lm_eval;
mod merge;
mod read;
pub mod render;
pub mod side_by_side;
pub mod table;

pub use merge::{merge, MergeError, ShardRun};
pub use read::{import_files, parse_report, parse_samples_jsonl, read_run, Imported, ReadError, MAX_REPORT_BYTES};

use crate::metrics::{Metric, Score};
use crate::model::card::QuantShare;
use crate::tasks::{Sample, Shard, TaskRun, TaskSpec};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The report format this build writes; it reads this one and every earlier one.
pub const REPORT_VERSION: u32 = 1;

/// A run: each task's results, how and on what they were obtained, and every sample.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunReport {
    /// Results per task, in the order the tasks ran.
    pub results: Vec<TaskResult>,
    pub provenance: Provenance,
    /// Every scored document, task by task in `doc_id` order.
    pub samples: Vec<Sample>,
}

/// One task's results.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TaskResult {
    pub task: String,
    /// `reasoning`, `generation` or `understanding` (the paper's scenarios); `None` when the
    /// file that held the result did not say.
    pub scenario: Option<String>,
    /// Each metric of the task's spec, in the spec's order, with its uncertainty.
    pub scores: Vec<Score>,
    /// Documents scored.
    pub n: usize,
    /// Documents that could not be scored (a gold label outside the choices, ...).
    pub skipped: usize,
    /// Generations with no answer that could be extracted (scored as wrong).
    pub unparsed: usize,
    /// Dataset rows the importer could not read.
    pub bad_rows: usize,
    /// Wall-clock seconds the task took (summed over shards).
    pub seconds: Option<f64>,
}

impl TaskResult {
    /// The result of a finished task run, from the scores its scorer computed.
    pub fn from_run(spec: &TaskSpec, run: &TaskRun, bad_rows: usize, seconds: Option<f64>) -> TaskResult {
        TaskResult {
            task: spec.name.clone(),
            scenario: Some(spec.scenario.clone()),
            scores: run.scores.clone(),
            n: run.samples.len(),
            skipped: run.skipped.len(),
            unparsed: run.samples.iter().filter(|s| s.unparsed).count(),
            bad_rows,
            seconds,
        }
    }

    /// The score of one metric.
    pub fn score(&self, metric: Metric) -> Option<&Score> {
        self.scores.iter().find(|s| s.metric == metric)
    }

    /// The first metric of the task's spec that has a score (the one tables show), or the
    /// first score.
    pub fn headline(&self, spec: Option<&TaskSpec>) -> Option<&Score> {
        spec.and_then(|s| s.metric_list().into_iter().find_map(|m| self.score(m))).or(self.scores.first())
    }
}

/// The task entry of `results.json`: the task's name, the flat keys (`acc`, `acc_stderr`,
/// `acc_ci95`, ..., `n`, `skipped`, `unparsed`, `bad_rows`, `seconds`) as readers of earlier
/// files expect them, then `scenario` and the typed `scores`.
impl Serialize for TaskResult {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = Map::new();
        m.insert("task".into(), self.task.clone().into());
        for score in &self.scores {
            let name = score.metric.name();
            m.insert(name.into(), score.value.into());
            m.insert(format!("{name}_stderr"), score.stderr.into());
            m.insert(format!("{name}_ci95"), score.ci95.map(|[lo, hi]| vec![lo, hi]).into());
        }
        m.insert("n".into(), self.n.into());
        m.insert("skipped".into(), self.skipped.into());
        m.insert("unparsed".into(), self.unparsed.into());
        m.insert("bad_rows".into(), self.bad_rows.into());
        if let Some(sec) = self.seconds {
            m.insert("seconds".into(), sec.into());
        }
        if let Some(sc) = &self.scenario {
            m.insert("scenario".into(), sc.clone().into());
        }
        m.insert("scores".into(), serde_json::to_value(&self.scores).map_err(serde::ser::Error::custom)?);
        m.serialize(s)
    }
}

/// Reads the typed `scores` when present; an entry written before them is rebuilt from its
/// flat keys (every key that names a metric).
impl<'de> Deserialize<'de> for TaskResult {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let m = Map::deserialize(d)?;
        let count = |key: &str| -> Result<usize, D::Error> {
            match m.get(key) {
                None | Some(Value::Null) => Ok(0),
                Some(v) => v.as_u64().map(|x| x as usize).ok_or_else(|| D::Error::custom(format!("{key} is not a count: {v}"))),
            }
        };
        let n = count("n")?;
        let scores = match m.get("scores") {
            Some(v) => Vec::<Score>::deserialize(v).map_err(D::Error::custom)?,
            None => {
                let mut scores = Vec::new();
                for (key, v) in &m {
                    let Ok(metric) = Metric::from_name(key) else { continue };
                    let Some(value) = v.as_f64() else { continue };
                    let stderr = m.get(&format!("{key}_stderr")).and_then(Value::as_f64);
                    let ci95 = m.get(&format!("{key}_ci95")).and_then(|c| <[f64; 2]>::deserialize(c).ok());
                    scores.push(Score { metric, value, n, stderr, ci95 });
                }
                scores
            }
        };
        Ok(TaskResult {
            // results.json keys entries by task (its reader sets the name from the key).
            task: m.get("task").and_then(Value::as_str).unwrap_or_default().to_string(),
            scenario: m.get("scenario").and_then(Value::as_str).map(str::to_string),
            scores,
            n,
            skipped: count("skipped")?,
            unparsed: count("unparsed")?,
            bad_rows: count("bad_rows")?,
            seconds: m.get("seconds").and_then(Value::as_f64),
        })
    }
}

/// How and on what a run was obtained.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Provenance {
    pub model: ModelProvenance,
    /// Per task: its spec, its data and the settings it ran with (the page may run each task
    /// with other settings).
    #[serde(default)]
    pub tasks: BTreeMap<String, TaskProvenance>,
    /// `cpu (2 threads)`, `wgpu on ...`.
    #[serde(default)]
    pub backend: String,
    /// The clinicbench version that ran it.
    #[serde(default)]
    pub engine_version: String,
    #[serde(default)]
    pub timings: Timings,
    #[serde(default)]
    pub host: Host,
    /// When the run finished, `YYYY-MM-DDTHH:MM:SSZ` (UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
}

/// The model file.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ModelProvenance {
    /// The file as given (a path, a file name, or a URL in the page).
    pub file: String,
    pub sha256: String,
    /// `general.name` in the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<u64>,
    /// Block formats by bytes, largest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quantization: Vec<QuantShare>,
    /// SHA-256 of the model's chat template (`tokenizer.chat_template`), when a task used it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_template_sha256: Option<String>,
    /// LoRA adapters applied over the model in the forward pass, in the order given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adapters: Vec<AdapterProvenance>,
}

/// A LoRA adapter a run applied.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AdapterProvenance {
    /// The file as given.
    pub file: String,
    pub sha256: String,
    /// The scale given (`--lora`: 1); the update is scaled by this times alpha / rank.
    pub scale: f32,
    /// `adapter.lora.alpha` in the file (absent or 0: the scale alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpha: Option<f32>,
    /// `general.name` in the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl AdapterProvenance {
    /// `name ×scale`, the file's name where the adapter has none.
    pub fn label(&self) -> String {
        let name = self.name.clone().filter(|n| !n.trim().is_empty()).unwrap_or_else(|| self.file.rsplit(['/', '\\']).next().unwrap_or(&self.file).to_string());
        format!("{name} ×{}", self.scale)
    }
}

impl ModelProvenance {
    /// The adapters, as tables tell runs of one model apart: `+ name ×scale, ...`, or `no adapter`.
    pub fn adapters_label(&self) -> String {
        if self.adapters.is_empty() {
            return "no adapter".into();
        }
        format!("+ {}", self.adapters.iter().map(AdapterProvenance::label).collect::<Vec<_>>().join(" + "))
    }

    /// The model as people name it: `general.name`, else the file's name.
    pub fn label(&self) -> String {
        if let Some(n) = self.name.as_deref().filter(|n| !n.trim().is_empty()) {
            return n.to_string();
        }
        let file = self.file.rsplit(['/', '\\']).next().unwrap_or(&self.file);
        if file.is_empty() {
            "(unnamed model)".into()
        } else {
            file.to_string()
        }
    }

    /// The dominant block format (`Q4_K`), from the quantization mix.
    pub fn main_quantization(&self) -> Option<&str> {
        self.quantization.first().map(|q| q.ty.as_str())
    }
}

/// One task: the spec, the data and the settings.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TaskProvenance {
    pub spec_version: u32,
    /// [`TaskSpec::fingerprint`]: changes when anything that shapes prompts or scores does.
    pub spec_hash: String,
    pub dataset: DatasetProvenance,
    pub shots: usize,
    pub seed: u64,
    /// Only the first `limit` documents.
    pub limit: Option<usize>,
    pub chat_template: bool,
    pub max_new_tokens: Option<usize>,
    /// This run's part of the documents, when sharded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
    /// A seeded sample of this many documents (`--sample`, drawn with `seed`), not the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<usize>,
    /// Generation ran several documents together (`--batch` above 1: the batched products, whose
    /// sums round otherwise than one document at a time's), not one at a time.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub batched_generation: bool,
    /// Documents of the task before sharding: the dataset's, `limit` of them, or the sample's.
    pub documents: usize,
}

impl TaskProvenance {
    /// What a run of `spec` on `dataset` with these settings records.
    pub fn new(spec: &TaskSpec, dataset: DatasetProvenance, opts: &crate::tasks::RunOptions) -> TaskProvenance {
        let documents = opts.sample.or(opts.limit).map_or(dataset.records, |l| l.min(dataset.records));
        TaskProvenance {
            spec_version: spec.version,
            spec_hash: spec.fingerprint(),
            dataset,
            shots: opts.shots,
            seed: opts.seed,
            limit: opts.limit,
            chat_template: opts.chat_template,
            max_new_tokens: opts.max_new_tokens,
            shard: opts.shard,
            sample: opts.sample,
            batched_generation: spec.output == crate::tasks::spec::Output::Generation && opts.batch > 1,
            documents,
        }
    }

    /// The SHA-256s of the dataset's files, in order: what two runs must share to be paired.
    pub fn data_hashes(&self) -> Vec<&str> {
        self.dataset.files.iter().map(|f| f.sha256.as_str()).collect()
    }
}

/// The data a task read.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DatasetProvenance {
    /// The importer (`medqa_jsonl`, ...).
    pub importer: String,
    /// The format the importer found (`jsonl`, `csv`, `token-tag`, ...).
    pub format: String,
    pub files: Vec<DataFile>,
    /// Documents the files hold.
    pub records: usize,
}

/// One data file.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DataFile {
    /// As given: a path, a file name in the page, or `builtin:...` for the demo sets.
    pub path: String,
    pub sha256: String,
}

/// Work and time.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Timings {
    pub seconds: f64,
    pub prefill_tokens: u64,
    pub prefill_tokens_per_second: Option<f64>,
    pub decode_tokens: u64,
    pub decode_tokens_per_second: Option<f64>,
    /// Tokens whose keys and values came from the cache.
    pub reused_tokens: u64,
}

impl Timings {
    /// From the engine's counters over `seconds`.
    pub fn from_stats(stats: &crate::engine::EngineStats, seconds: f64) -> Timings {
        let rate = |t: u64, s: f64| (s > 0.0).then(|| t as f64 / s);
        Timings {
            seconds,
            prefill_tokens: stats.prefill_tokens,
            prefill_tokens_per_second: rate(stats.prefill_tokens, stats.prefill_seconds),
            decode_tokens: stats.decode_tokens,
            decode_tokens_per_second: rate(stats.decode_tokens, stats.decode_seconds),
            reused_tokens: stats.reused_tokens,
        }
    }
}

/// The machine.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Host {
    /// `linux`, `macos`, `windows`, or `browser`.
    #[serde(default)]
    pub os: String,
    /// `x86_64`, `aarch64`, `wasm32`.
    #[serde(default)]
    pub arch: String,
    /// Logical cores the machine (or the browser) reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<usize>,
    /// The browser's user agent, in the page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

impl Host {
    /// This machine, natively.
    pub fn this_machine() -> Host {
        Host {
            os: std::env::consts::OS.into(),
            arch: std::env::consts::ARCH.into(),
            cpus: std::thread::available_parallelism().ok().map(|n| n.get()),
            user_agent: None,
        }
    }
}

pub use crate::calendar::utc_timestamp;

/// `results.json` as written: the report without its samples.
#[derive(Serialize)]
struct ResultsFile<'a> {
    version: u32,
    #[serde(serialize_with = "results_by_task")]
    results: &'a [TaskResult],
    provenance: &'a Provenance,
}

/// The page's export: `results.json` with the samples.
#[derive(Serialize)]
struct ExportFile<'a> {
    version: u32,
    #[serde(serialize_with = "results_by_task")]
    results: &'a [TaskResult],
    provenance: &'a Provenance,
    samples: &'a [Sample],
}

fn results_by_task<S: Serializer>(results: &&[TaskResult], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(Some(results.len()))?;
    for r in results.iter() {
        m.serialize_entry(&r.task, r)?;
    }
    m.end()
}

impl RunReport {
    /// `results.json`: results and provenance, pretty-printed, with a final newline.
    pub fn results_json(&self) -> String {
        let file = ResultsFile { version: REPORT_VERSION, results: &self.results, provenance: &self.provenance };
        serde_json::to_string_pretty(&file).expect("a report serializes") + "\n"
    }

    /// The page's export: `results.json` with `samples` beside `results`.
    pub fn export_json(&self) -> String {
        let file = ExportFile { version: REPORT_VERSION, results: &self.results, provenance: &self.provenance, samples: &self.samples };
        serde_json::to_string_pretty(&file).expect("a report serializes") + "\n"
    }

    /// `samples.jsonl`: one sample a line.
    pub fn samples_jsonl(&self) -> String {
        let mut out = String::new();
        for s in &self.samples {
            out += &serde_json::to_string(s).expect("a sample serializes");
            out.push('\n');
        }
        out
    }

    /// A task's result.
    pub fn result(&self, task: &str) -> Option<&TaskResult> {
        self.results.iter().find(|r| r.task == task)
    }

    /// Adds a task's result and provenance, replacing an earlier one of the same task.
    pub fn set_task(&mut self, result: TaskResult, provenance: Option<TaskProvenance>) {
        self.results.retain(|r| r.task != result.task);
        if let Some(p) = provenance {
            self.provenance.tasks.insert(result.task.clone(), p);
        }
        self.results.push(result);
    }

    /// A task's samples.
    pub fn samples_of<'a>(&'a self, task: &'a str) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| s.task == task)
    }
}

/// Scores samples once, with the task's scorer, in the order given (bootstrap intervals
/// depend on the order: give them in `doc_id` order to equal an unsharded run).
pub fn score_samples(spec: &TaskSpec, samples: &[Sample]) -> Result<Vec<Score>, crate::tasks::TaskError> {
    let mut scorer = crate::tasks::SampleScorer::new(spec)?;
    for s in samples {
        scorer.push(&mut s.clone())?;
    }
    scorer.finish()
}

/// Why two runs' results on a task cannot be paired document by document, if they cannot: they
/// read different data files, or other versions of the task.
pub fn unpairable(a: Option<&TaskProvenance>, b: Option<&TaskProvenance>) -> Option<String> {
    let (a, b) = (a?, b?);
    if !a.dataset.files.is_empty() && !b.dataset.files.is_empty() && a.data_hashes() != b.data_hashes() {
        return Some("the runs read different dataset files (SHA-256 differs)".into());
    }
    if !a.spec_hash.is_empty() && !b.spec_hash.is_empty() && a.spec_hash != b.spec_hash {
        return Some(format!("the runs used different versions of the task (spec {} vs {})", a.spec_hash, b.spec_hash));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_keeps_flat_keys_and_reads_them_back() {
        let r = TaskResult {
            task: "t".into(),
            scenario: Some("reasoning".into()),
            scores: vec![Score { metric: Metric::Acc, value: 0.5, n: 4, stderr: Some(0.28867513459481287), ci95: Some([0.0, 1.0]) }],
            n: 4,
            skipped: 1,
            unparsed: 0,
            bad_rows: 2,
            seconds: Some(1.5),
        };
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["acc"], 0.5);
        assert_eq!(v["acc_ci95"], serde_json::json!([0.0, 1.0]));
        assert_eq!(v["n"], 4);
        let mut back: TaskResult = serde_json::from_value(v.clone()).unwrap();
        back.task = "t".into();
        assert_eq!(back, r);
        // Without `scores` (an earlier version's file), from the flat keys.
        let mut flat = v;
        flat.as_object_mut().unwrap().remove("scores");
        let mut old: TaskResult = serde_json::from_value(flat).unwrap();
        old.task = "t".into();
        assert_eq!(old, r);
    }
}
