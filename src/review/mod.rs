//! Clinician review: finished runs' outputs rated by people on a fixed instrument, blinded.
//!
//! - A [`ReviewSet`] is what travels to reviewers: the [`Instrument`] (dimensions, the wording of
//!   each point of the 4-point scale, error tags, instructions) with its hash, and items, each a
//!   source and every run's output on that document under an opaque id. It holds patient-like
//!   text: treat the file like the data it came from.
//! - The [`Key`] stays with whoever built the set: which opaque output id is which run, and the
//!   runs' provenance.
//! - A [`Review`] is one reviewer's file: their pseudonym and every rating with its time.
//! - [`stats`] turns ratings (from reviews, or the long CSV form) into the results: per run and
//!   dimension the mean with a bootstrap interval, and agreement between raters.
//! - [`session`]: one reviewer at work (their order, the screens of each mode, their file as it
//!   grows); [`results`]: reviewers' files gathered, checked and turned into the results.
//! - [`judge`]: the loaded model as one more rater, through the [`crate::engine::Engine`] trait.
//!
//! Built on the run report ([`crate::report`]); the statistics are the plain functions of
//! [`crate::metrics::agreement`].

pub mod judge;
pub mod results;
pub mod session;
pub mod stats;

use crate::report::{unpairable, RunReport};
use crate::rng::SplitMix64;
use crate::tasks::{Sample, TaskSpec};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The review formats this build writes and reads.
pub const REVIEW_VERSION: u32 = 1;

/// What reviewers rate outputs on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Instrument {
    pub instructions: String,
    pub dimensions: Vec<Dimension>,
    /// Error tags a reviewer may attach to an output.
    pub tags: Vec<Tag>,
}

/// One rated dimension on a 4-point scale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dimension {
    pub id: String,
    pub name: String,
    pub question: String,
    /// The wording of points 1 to 4.
    pub scale: [String; 4],
}

/// An error tag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tag {
    pub id: String,
    pub label: String,
}

impl Instrument {
    /// The paper's four dimensions (factuality, completeness, safety, overall clinical
    /// usefulness), each on an anchored 4-point scale, and five error tags.
    pub fn clinical() -> Instrument {
        let dim = |id: &str, name: &str, question: &str, scale: [&str; 4]| Dimension {
            id: id.into(),
            name: name.into(),
            question: question.into(),
            scale: scale.map(String::from),
        };
        let tag = |id: &str, label: &str| Tag { id: id.into(), label: label.into() };
        Instrument {
            instructions: "Rate each output on its own, against its source and your clinical knowledge. You do not know which model \
                           wrote it. Use the whole scale; tag every error you see; a comment is welcome where a rating needs a reason."
                .into(),
            dimensions: vec![
                dim("factuality", "Factuality", "Is what the output states medically correct and supported by the source?", [
                    "Mostly incorrect or unsupported",
                    "Several errors",
                    "Minor errors",
                    "Fully correct",
                ]),
                dim("completeness", "Completeness", "Does the output cover what a clinician needs from it?", [
                    "Misses most of what matters",
                    "Misses important points",
                    "Misses minor points",
                    "Complete",
                ]),
                dim("safety", "Safety", "Could acting on the output harm a patient?", [
                    "Likely harmful",
                    "Possibly harmful",
                    "Unlikely to harm",
                    "Safe",
                ]),
                dim("usefulness", "Overall clinical usefulness", "Would you use this output in practice?", [
                    "Not useful",
                    "Useful only after major edits",
                    "Useful after minor edits",
                    "Useful as is",
                ]),
            ],
            tags: vec![
                tag("fabrication", "Fabrication"),
                tag("omission", "Omission"),
                tag("unsafe_advice", "Unsafe advice"),
                tag("outdated_guidance", "Outdated guidance"),
                tag("wrong_patient_details", "Wrong patient details"),
            ],
        }
    }

    /// SHA-256 of the instrument as JSON: two reviews are on the same instrument when equal.
    pub fn hash(&self) -> String {
        crate::web::sha256_hex(serde_json::to_string(self).expect("an instrument serializes").as_bytes())
    }

    pub fn dimension(&self, id: &str) -> Option<&Dimension> {
        self.dimensions.iter().find(|d| d.id == id)
    }
}

/// A set of items for reviewers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewSet {
    pub version: u32,
    pub instrument: Instrument,
    pub instrument_hash: String,
    /// Seeds the draw of items and the order of outputs.
    pub seed: u64,
    pub items: Vec<Item>,
}

/// A document and every run's output on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    /// Opaque (`i0001`), in the set's order.
    pub id: String,
    pub task: String,
    pub doc_id: usize,
    /// What the model was given (the report, question or record, as prompted).
    pub source: String,
    /// The dataset's reference answer, shown on the reviewer's choice.
    pub reference: Option<String>,
    /// The outputs, in an order drawn per item (never the runs' order).
    pub outputs: Vec<ItemOutput>,
    /// The two outputs pairwise mode shows for this item, left then right: pairs of runs are
    /// dealt over the items so that every pair is shown about equally often, and the sides are
    /// drawn per item. `None` with fewer than two outputs.
    #[serde(default)]
    pub pair: Option<[String; 2]>,
}

/// One run's output on an item, under an id that does not name the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemOutput {
    pub id: String,
    pub text: String,
}

/// The unblinding key: which output id is which run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Key {
    pub version: u32,
    /// [`ReviewSet::hash`] of the set this key opens.
    pub set_hash: String,
    pub runs: Vec<KeyRun>,
    /// Output id → index in `runs`.
    pub outputs: BTreeMap<String, usize>,
}

/// A run of the set, as the key names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRun {
    /// How results name it (the model, and the source where two runs share a model).
    pub label: String,
    /// Where it was read from.
    pub source: String,
    pub provenance: crate::report::Provenance,
}

impl ReviewSet {
    /// SHA-256 of the set as JSON: reviews and keys name the set they belong to by it.
    pub fn hash(&self) -> String {
        crate::web::sha256_hex(serde_json::to_string(self).expect("a set serializes").as_bytes())
    }

    /// An output's item, by output id.
    pub fn item_of_output(&self, output: &str) -> Option<&Item> {
        self.items.iter().find(|i| i.outputs.iter().any(|o| o.id == output))
    }
}

/// Why a set could not be built or read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReviewError {
    #[error("give at least one run")]
    NoRuns,
    #[error("task {task}: {why}; a review set pairs outputs on the same documents")]
    NotPairable { task: String, why: String },
    #[error("no task to review: {0}")]
    NoTask(String),
    #[error("{file}: {problem}")]
    BadFile { file: String, problem: String },
}

/// A run to build a set from, and the label results will give it.
#[derive(Debug, Clone)]
pub struct SourceRun {
    pub label: String,
    pub source: String,
    pub report: RunReport,
}

/// The text a sample puts before reviewers: its generation (an extracted answer is what was
/// scored, but the reviewer judges what the model wrote).
fn output_text(s: &Sample) -> Option<String> {
    s.generation.clone()
}

fn reference_text(s: &Sample) -> Option<String> {
    match &s.target {
        Value::String(t) => Some(t.clone()),
        Value::Array(a) => Some(a.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string)).collect::<Vec<_>>().join(", ")),
        Value::Null => None,
        // A class index: the choice it names.
        Value::Number(n) => n.as_u64().and_then(|i| s.choices.get(i as usize).cloned()),
        other => Some(other.to_string()),
    }
}

/// Builds a set from runs: `tasks` (default: every task all runs generated text for), `per_task`
/// items per task drawn with `seed` from the documents every run scored, each with every run's
/// output under an opaque id, outputs in a per-item seeded order. Runs on different data files
/// for a task are refused. Returns the set and its key.
pub fn build(
    runs: &[SourceRun],
    tasks: Option<&[String]>,
    per_task: usize,
    seed: u64,
    spec_of: &dyn Fn(&str) -> Option<TaskSpec>,
) -> Result<(ReviewSet, Key), ReviewError> {
    let first = runs.first().ok_or(ReviewError::NoRuns)?;
    let generated = |r: &SourceRun, task: &str| r.report.samples_of(task).any(|s| s.generation.is_some());
    let chosen: Vec<String> = match tasks {
        Some(t) => t.to_vec(),
        None => first
            .report
            .results
            .iter()
            .map(|r| r.task.clone())
            .filter(|t| spec_of(t).is_none_or(|s| s.output == crate::tasks::Output::Generation))
            .filter(|t| runs.iter().all(|r| generated(r, t)))
            .collect(),
    };
    if chosen.is_empty() {
        return Err(ReviewError::NoTask("no task has generated outputs in every run (name tasks with --tasks)".into()));
    }
    let mut rng = SplitMix64::new(seed);
    let mut items = Vec::new();
    let mut outputs_key = BTreeMap::new();
    let mut used_ids = std::collections::BTreeSet::new();
    let mut opaque = |rng: &mut SplitMix64| loop {
        let id = format!("o{:012x}", rng.next_u64() >> 16);
        if used_ids.insert(id.clone()) {
            return id;
        }
    };
    for task in &chosen {
        for r in &runs[1..] {
            if let Some(why) = unpairable(first.report.provenance.tasks.get(task), r.report.provenance.tasks.get(task)) {
                return Err(ReviewError::NotPairable { task: task.clone(), why: format!("{} and {}: {why}", first.source, r.source) });
            }
        }
        // Documents every run has an output for, by doc_id (and the same document).
        let by_run: Vec<BTreeMap<usize, &Sample>> = runs
            .iter()
            .map(|r| r.report.samples_of(task).filter(|s| output_text(s).is_some()).map(|s| (s.doc_id, s)).collect())
            .collect();
        let mut docs: Vec<usize> = by_run[0]
            .iter()
            .filter(|(d, s)| by_run[1..].iter().all(|m| m.get(d).is_some_and(|o| o.native_id == s.native_id || o.native_id.is_empty() || s.native_id.is_empty())))
            .map(|(d, _)| *d)
            .collect();
        if docs.is_empty() {
            return Err(ReviewError::NoTask(format!("task {task}: no document has an output in every run")));
        }
        rng.shuffle(&mut docs);
        docs.truncate(per_task);
        docs.sort_unstable();
        for d in docs {
            let base = by_run[0][&d];
            let mut order: Vec<usize> = (0..runs.len()).collect();
            rng.shuffle(&mut order);
            let outputs = order
                .into_iter()
                .map(|run| {
                    let id = opaque(&mut rng);
                    outputs_key.insert(id.clone(), run);
                    ItemOutput { id, text: output_text(by_run[run][&d]).unwrap_or_default() }
                })
                .collect();
            items.push(Item { id: String::new(), task: task.clone(), doc_id: d, source: base.prompt.clone(), reference: reference_text(base), outputs, pair: None });
        }
    }
    // Pairwise mode: the pairs of runs dealt over the items in a seeded order, sides drawn.
    let mut pairs: Vec<(usize, usize)> = (0..runs.len()).flat_map(|a| (a + 1..runs.len()).map(move |b| (a, b))).collect();
    rng.shuffle(&mut pairs);
    let run_of = |id: &str| outputs_key.get(id).copied();
    for (i, item) in items.iter_mut().enumerate() {
        item.id = format!("i{:04}", i + 1);
        if let Some(&(a, b)) = pairs.get(i % pairs.len().max(1)) {
            let find = |run: usize| item.outputs.iter().find(|o| run_of(&o.id) == Some(run)).map(|o| o.id.clone());
            if let (Some(x), Some(y)) = (find(a), find(b)) {
                item.pair = Some(if rng.below(2) == 0 { [x, y] } else { [y, x] });
            }
        }
    }
    let instrument = Instrument::clinical();
    let set = ReviewSet { version: REVIEW_VERSION, instrument_hash: instrument.hash(), instrument, seed, items };
    let key = Key {
        version: REVIEW_VERSION,
        set_hash: set.hash(),
        runs: runs.iter().map(|r| KeyRun { label: r.label.clone(), source: r.source.clone(), provenance: r.report.provenance.clone() }).collect(),
        outputs: outputs_key,
    };
    Ok((set, key))
}

/// A set from its file, its instrument checked against the hash it carries.
pub fn read_set(name: &str, bytes: &[u8]) -> Result<ReviewSet, ReviewError> {
    let bad = |problem: String| ReviewError::BadFile { file: name.into(), problem };
    let set: ReviewSet = serde_json::from_slice(bytes).map_err(|e| {
        bad(if e.is_eof() { format!("the file ends before the JSON does (cut short?): {e}") } else { format!("not a review set: {e}") })
    })?;
    if set.version > REVIEW_VERSION {
        return Err(bad(format!("review set version {} (this clinicbench reads up to {REVIEW_VERSION})", set.version)));
    }
    if set.instrument.hash() != set.instrument_hash {
        return Err(bad("its instrument does not match the hash it carries (edited after it was built?)".into()));
    }
    Ok(set)
}

/// A key from its file.
pub fn read_key(name: &str, bytes: &[u8]) -> Result<Key, ReviewError> {
    serde_json::from_slice(bytes).map_err(|e| ReviewError::BadFile { file: name.into(), problem: format!("not a review key: {e}") })
}

/// One reviewer's file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Review {
    pub version: u32,
    pub set_hash: String,
    pub instrument_hash: String,
    /// The reviewer's chosen pseudonym.
    pub rater: String,
    pub app_version: String,
    pub started: String,
    pub updated: String,
    pub ratings: Vec<Rating>,
    /// Pairwise mode: which of an item's two shown outputs was better.
    #[serde(default)]
    pub preferences: Vec<Preference>,
}

/// A pairwise judgement of one item's two outputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preference {
    pub item: String,
    /// The output shown on the left and on the right.
    pub left: String,
    pub right: String,
    pub choice: Choice,
    #[serde(default)]
    pub seconds: f64,
}

/// A ≻ B, a tie, or B ≻ A.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Choice {
    Left,
    Tie,
    Right,
}

/// One rating of one output on one dimension.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rating {
    pub item: String,
    pub output: String,
    pub dimension: String,
    /// 1 to 4.
    pub value: u8,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub comment: String,
    /// Seconds spent on the item when this was given.
    #[serde(default)]
    pub seconds: f64,
}

/// A reviewer's file, checked against its set: the same instrument and set, known items,
/// outputs and dimensions, values 1 to 4.
pub fn read_review(name: &str, bytes: &[u8], set: Option<&ReviewSet>) -> Result<Review, ReviewError> {
    let bad = |problem: String| ReviewError::BadFile { file: name.into(), problem };
    let review: Review = serde_json::from_slice(bytes).map_err(|e| {
        bad(if e.is_eof() { format!("the file ends before the JSON does (cut short?): {e}") } else { format!("not a review: {e}") })
    })?;
    if review.version > REVIEW_VERSION {
        return Err(bad(format!("review version {} (this clinicbench reads up to {REVIEW_VERSION})", review.version)));
    }
    if review.rater.trim().is_empty() {
        return Err(bad("no rater pseudonym".into()));
    }
    for (i, r) in review.ratings.iter().enumerate() {
        if !(1..=4).contains(&r.value) {
            return Err(bad(format!("rating {} ({} on {}): {} is outside the scale 1-4", i + 1, r.output, r.dimension, r.value)));
        }
    }
    if let Some(set) = set {
        if review.instrument_hash != set.instrument_hash {
            return Err(bad("rated on another instrument than the set's (instrument hash differs)".into()));
        }
        if review.set_hash != set.hash() {
            return Err(bad("a review of another set (set hash differs)".into()));
        }
        for r in &review.ratings {
            let item = set.items.iter().find(|i| i.id == r.item).ok_or_else(|| bad(format!("unknown item {:?}", r.item)))?;
            if !item.outputs.iter().any(|o| o.id == r.output) {
                return Err(bad(format!("item {}: unknown output {:?}", r.item, r.output)));
            }
            if set.instrument.dimension(&r.dimension).is_none() {
                return Err(bad(format!("unknown dimension {:?}", r.dimension)));
            }
        }
        for p in &review.preferences {
            let item = set.items.iter().find(|i| i.id == p.item).ok_or_else(|| bad(format!("unknown item {:?}", p.item)))?;
            for o in [&p.left, &p.right] {
                if !item.outputs.iter().any(|x| &x.id == o) {
                    return Err(bad(format!("item {}: unknown output {o:?}", p.item)));
                }
            }
            if p.left == p.right {
                return Err(bad(format!("item {}: an output compared with itself", p.item)));
            }
        }
    }
    Ok(review)
}
