//! The runner: documents in, engine requests out, samples scored as they finish.

use super::extract;
use super::importers::Doc;
use super::prompt::Prompter;
use super::spec::{Extract, FewshotSource, Output, TaskSpec};
use super::{TaskData, TaskError};
use crate::engine::{Engine, EngineError, GenerateRequest, LogLikelihoodRequest, Sampling};
use crate::metrics::classification::Labels;
use crate::metrics::multiple_choice::{choose, ChoiceNormalization};
use crate::metrics::{Metric, Score, ScoreOptions, Scored, Scorer};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// How a run is set up.
#[derive(Debug, Clone, Default)]
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
    /// Wrap prompts in the model's chat template (lm-eval's `--apply_chat_template`).
    pub chat_template: bool,
    /// Overrides the spec's `max_new_tokens` for generation tasks.
    pub max_new_tokens: Option<usize>,
    /// Only this part of the (limited) documents: a run split over machines.
    pub shard: Option<Shard>,
    /// `sample` documents drawn at random (seeded by `seed`) from all of the task's, scored in
    /// the dataset's order: a quick estimate of a task, or its speed, from a few documents that
    /// are not all from its beginning. Instead of `limit`.
    pub sample: Option<usize>,
    /// Generation tasks: documents generated together, a step of the model for all of them
    /// ([`Engine::generate_batch`]); 0 or 1 generates one document at a time.
    pub batch: usize,
}

impl RunOptions {
    /// The documents (positions in the task's data) this run scores, in order, out of `n`:
    /// the first `limit`, or a seeded sample, then this shard's block of them.
    pub fn documents(&self, n: usize) -> Vec<usize> {
        let mut chosen: Vec<usize> = match self.sample {
            Some(k) if k < n => {
                let mut all: Vec<usize> = (0..n).collect();
                // Salted so that the sample is not the few-shot draw of the same seed.
                crate::rng::SplitMix64::new(self.seed ^ 0x5A4D_504C_4544_4F43).shuffle(&mut all);
                all.truncate(k);
                all.sort_unstable();
                all
            }
            _ => (0..self.limit.map_or(n, |l| l.min(n))).collect(),
        };
        if let Some(shard) = self.shard {
            chosen = chosen[shard.range(chosen.len())].to_vec();
        }
        chosen
    }
}

/// Part `index` of `count` of a task's documents (`--shard i/n`, `index` zero-based): a
/// contiguous block, the same on every machine, so that shards merged in order are the
/// documents of the unsharded run in its order. Blocks differ in size by at most one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// A shard, checked: `count` at least 1 and `index` below it.
    pub fn new(index: usize, count: usize) -> Result<Shard, String> {
        if count == 0 {
            return Err("a run has at least one shard (i/n with n >= 1)".into());
        }
        if index >= count {
            return Err(format!("shard {index}/{count}: the index is zero-based and must be below {count}"));
        }
        Ok(Shard { index, count })
    }

    /// The documents (positions in the task) of this shard among the first `n`.
    pub fn range(self, n: usize) -> std::ops::Range<usize> {
        let at = |i: usize| i * (n / self.count) + i.min(n % self.count);
        at(self.index)..at(self.index + 1)
    }
}

impl std::str::FromStr for Shard {
    type Err = String;
    /// `i/n`, as `--shard` takes it.
    fn from_str(s: &str) -> Result<Shard, String> {
        let (i, n) = s.split_once('/').ok_or_else(|| format!("{s:?} is not a shard: write i/n (e.g. 0/4, zero-based)"))?;
        let num = |x: &str| x.trim().parse::<usize>().map_err(|_| format!("{s:?} is not a shard: write i/n (e.g. 0/4, zero-based)"));
        Shard::new(num(i)?, num(n)?)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// One scored document, as `samples.jsonl` holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub task: String,
    pub doc_id: usize,
    pub native_id: String,
    /// The rendered prompt (with `--chat-template`, as the model's template renders it).
    pub prompt: String,
    /// The choices (multiple choice and choice extraction).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
    /// The gold choice's index (multiple choice and choice extraction); otherwise the reference:
    /// a text, a list of labels or items, or one BIO tag per token.
    pub target: Value,
    /// Each choice's loglikelihood (multiple choice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loglikelihoods: Option<Vec<f64>>,
    /// Whether each choice is what greedy decoding would produce (lm-eval's `is_greedy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_greedy: Option<Vec<bool>>,
    /// The chosen index: highest loglikelihood, or the choice extracted from the generation
    /// (absent when none could be).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pred: Option<usize>,
    /// The index chosen by loglikelihood per character (`acc_norm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pred_norm: Option<usize>,
    /// The generated text (generation tasks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<String>,
    /// What was extracted from the generation, in the metric's form (a choice, a list of
    /// labels, items or tags, a text); `null` when nothing could be.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<Value>,
    /// The generation gave no answer that could be extracted (scored as wrong).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unparsed: bool,
    /// Per-sample values of the task's mean metrics (`acc`, `rougeL`, `set_f1`, ...).
    #[serde(default)]
    pub metrics: BTreeMap<String, f64>,
    pub truncated: bool,
}

impl Sample {
    /// A sample of a document before the model has answered: no choices, scores or answer yet.
    pub fn new(task: &str, doc_id: usize, native_id: &str, prompt: String, target: Value) -> Sample {
        Sample {
            task: task.into(),
            doc_id,
            native_id: native_id.into(),
            prompt,
            choices: vec![],
            target,
            loglikelihoods: None,
            is_greedy: None,
            pred: None,
            pred_norm: None,
            generation: None,
            answer: None,
            unparsed: false,
            metrics: BTreeMap::new(),
            truncated: false,
        }
    }
}

/// What the runner reports as it goes.
#[derive(Debug)]
pub enum Event<'a> {
    /// A document's prompt, before the model sees it.
    Prompt { doc_id: usize, prompt: &'a str },
    /// Generated text, as it becomes final.
    Token { doc_id: usize, text: &'a str },
    /// A finished sample.
    Sample(&'a Sample),
}

/// A task's outcome: its samples, the documents that could not be scored, and the scores.
#[derive(Debug)]
pub struct TaskRun {
    pub samples: Vec<Sample>,
    /// Documents skipped, with the reason (a gold label outside the choices, ...).
    pub skipped: Vec<String>,
    /// Each metric over the samples, from the scorer that scored them as they finished (one
    /// scoring pass); a metric with no sample is left out.
    pub scores: Vec<Score>,
}

/// Few-shot examples for document `doc_id`: the first rows of the dev split, or a seeded
/// choice among the other documents of the split (never the document itself), also when the
/// dev split is missing.
fn fewshot_examples<'d>(spec: &TaskSpec, data: &'d TaskData, doc_id: usize, opts: &RunOptions) -> Vec<&'d Doc> {
    if opts.shots == 0 {
        return vec![];
    }
    match spec.fewshot.source {
        FewshotSource::DevSplit if !data.dev.is_empty() => data.dev.iter().take(opts.shots).collect(),
        // A dev split the data did not come with (one file given to the page): other documents.
        FewshotSource::DevSplit | FewshotSource::SameSplit => {
            let n = data.docs.len();
            let mut rng = crate::rng::SplitMix64::new(opts.seed ^ (doc_id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let mut picked: Vec<usize> = Vec::with_capacity(opts.shots);
            while picked.len() < opts.shots.min(n.saturating_sub(1)) {
                let i = (rng.next_u64() % n as u64) as usize;
                if i != doc_id && !picked.contains(&i) {
                    picked.push(i);
                }
            }
            picked.into_iter().map(|i| &data.docs[i]).collect()
        }
    }
}

/// Whether the gold is a class index (multiple choice, choice extraction).
fn gold_is_choice(spec: &TaskSpec) -> bool {
    spec.output == Output::MultipleChoice || spec.extract == Some(Extract::Choice)
}

/// Checks a document's gold against the task's output; the target as samples hold it.
fn target(spec: &TaskSpec, doc: &Doc) -> Result<Value, String> {
    if gold_is_choice(spec) {
        let label = doc.gold.as_str().ok_or_else(|| format!("gold {} is not a label", doc.gold))?;
        return spec
            .class_index(label)
            .map(|i| json!(i))
            .ok_or_else(|| format!("gold label {label:?} is not among the choices {:?}", spec.classes()));
    }
    let strings = |v: &Value| v.as_array().is_some_and(|a| a.iter().all(Value::is_string));
    match spec.extract {
        Some(Extract::Text) if doc.gold.is_string() => Ok(doc.gold.clone()),
        Some(Extract::Labels | Extract::Items | Extract::Entities) if strings(&doc.gold) => Ok(doc.gold.clone()),
        _ => Err(format!("gold {} does not fit a {:?} answer", doc.gold, spec.extract)),
    }
}

/// Option texts aligned with the choices, from a document's `options` field (`[{key, text}]`).
fn option_texts(spec: &TaskSpec, doc: &Doc) -> Vec<String> {
    let options = doc.fields.get("options").and_then(Value::as_array);
    spec.choices
        .iter()
        .map(|c| {
            options
                .and_then(|o| o.iter().find(|x| x.get("key").and_then(Value::as_str) == Some(c)))
                .and_then(|x| x.get("text"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        })
        .collect()
}

/// A task run one document at a time, so a caller can pause, cancel or yield between
/// documents (the page's worker does). It owns its inputs.
pub struct TaskRunner {
    spec: TaskSpec,
    data: TaskData,
    opts: RunOptions,
    scorer: SampleScorer,
    previous: BTreeMap<usize, Sample>,
    /// This run's documents (positions in `data.docs`: see [`RunOptions::documents`]), and how
    /// many of them are done.
    documents: Vec<usize>,
    next: usize,
    samples: Vec<Sample>,
    skipped: Vec<String>,
}

impl TaskRunner {
    pub fn new(spec: TaskSpec, data: TaskData, mut opts: RunOptions) -> Result<Self, TaskError> {
        Prompter::new(&spec)?; // templates that do not parse fail here, not at the first document
        let documents = opts.documents(data.docs.len());
        let previous = std::mem::take(&mut opts.previous)
            .into_iter()
            .filter(|s| s.task == spec.name)
            .map(|s| (s.doc_id, s))
            .collect();
        let scorer = SampleScorer::new(&spec)?;
        let samples = Vec::with_capacity(documents.len());
        Ok(TaskRunner { spec, data, opts, scorer, previous, documents, next: 0, samples, skipped: Vec::new() })
    }

    pub fn spec(&self) -> &TaskSpec {
        &self.spec
    }

    /// Documents this run covers (a shard's block when sharded).
    pub fn total(&self) -> usize {
        self.documents.len()
    }

    /// Documents handled so far (scored, kept from an earlier run, or skipped).
    pub fn done(&self) -> usize {
        self.next
    }

    /// The samples so far.
    pub fn samples(&self) -> &[Sample] {
        &self.samples
    }

    /// Handles the next document (of a generation task run with [`RunOptions::batch`], the next
    /// documents, up to that many, generated together); `false` once every document is done.
    pub async fn step(&mut self, engine: &mut dyn Engine, on_event: &mut dyn FnMut(Event)) -> Result<bool, TaskError> {
        let Some(&doc_id) = self.documents.get(self.next) else {
            return Ok(false);
        };
        let batch = if self.spec.output == Output::Generation { self.opts.batch.max(1) } else { 1 };
        let first = self.next;
        let mut ready = Vec::new();
        let mut at = doc_id;
        loop {
            match self.prepare(&*engine, at)? {
                Prepared::Ready(doc) => {
                    self.next += 1;
                    on_event(Event::Prompt { doc_id: at, prompt: &doc.sample.prompt });
                    ready.push(doc);
                }
                // Documents already scored or not scorable are handled in their turn, so that
                // samples stay in the documents' order: one ends the batch gathered before it.
                _ if !ready.is_empty() => break,
                Prepared::Kept(mut kept) => {
                    self.next += 1;
                    self.previous.remove(&at);
                    self.scorer.push(&mut kept)?;
                    self.samples.push(kept);
                    return Ok(true);
                }
                Prepared::Skipped(problem) => {
                    self.next += 1;
                    self.skipped.push(format!("document {at} ({}): {problem}", self.data.docs[at].native_id));
                    return Ok(true);
                }
            }
            match self.documents.get(self.next) {
                Some(&d) if ready.len() < batch => at = d,
                _ => break,
            }
        }
        let spec = &self.spec;
        let engine_err = |doc_id, error| TaskError::Engine { task: spec.name.clone(), doc_id, error };
        let mut done = Vec::with_capacity(ready.len());
        match spec.output {
            Output::MultipleChoice => {
                for ReadyDoc { mut sample, messages } in ready {
                    let doc_id = sample.doc_id;
                    // lm-eval drops the delimiter when the context is a chat template's rendering.
                    let delimiter = if messages.is_some() { "" } else { spec.target_delimiter.as_str() };
                    let reqs: Vec<LogLikelihoodRequest> = spec
                        .choices
                        .iter()
                        .map(|c| match &messages {
                            Some(m) => LogLikelihoodRequest { context: String::new(), continuation: format!("{delimiter}{c}"), messages: Some(m.clone()) },
                            None => LogLikelihoodRequest::new(sample.prompt.clone(), format!("{delimiter}{c}")),
                        })
                        .collect();
                    let lls = engine.loglikelihood(&reqs).await.map_err(|e| engine_err(doc_id, e))?;
                    let loglikelihoods: Vec<f64> = lls.iter().map(|l| l.logprob).collect();
                    let metric_err =
                        |e: crate::metrics::SampleError| TaskError::Metric { task: spec.name.clone(), problem: format!("document {doc_id}: {e}") };
                    sample.pred = Some(choose::<String>(&loglikelihoods, None, ChoiceNormalization::None).map_err(metric_err)?);
                    sample.pred_norm =
                        Some(choose(&loglikelihoods, Some(&spec.choices[..]), ChoiceNormalization::Characters).map_err(metric_err)?);
                    sample.truncated = lls.iter().any(|l| l.truncated);
                    sample.is_greedy = Some(lls.iter().map(|l| l.is_greedy).collect());
                    sample.loglikelihoods = Some(loglikelihoods);
                    done.push(sample);
                }
            }
            Output::Generation => {
                let reqs: Vec<GenerateRequest> = ready
                    .iter()
                    .map(|d| GenerateRequest {
                        prompt: if d.messages.is_some() { String::new() } else { d.sample.prompt.clone() },
                        messages: d.messages.clone(),
                        stop: spec.stop.clone(),
                        max_tokens: self.opts.max_new_tokens.unwrap_or(spec.max_new_tokens),
                        sampling: Sampling::default(),
                        ignore_eos: false,
                    })
                    .collect();
                let ids: Vec<usize> = ready.iter().map(|d| d.sample.doc_id).collect();
                let mut on_token = |i: usize, text: &str| on_event(Event::Token { doc_id: ids[i], text });
                // One at a time takes the engine's one-sequence path (the one-token kernels).
                let generations = if batch == 1 {
                    vec![engine.generate(&reqs[0], &mut |text| on_token(0, text)).await.map_err(|e| engine_err(ids[0], e))?]
                } else {
                    match engine.generate_batch(&reqs, &mut on_token).await {
                        Ok(g) => g,
                        // Interrupted (the page's Pause or Cancel): these documents come again.
                        Err(EngineError::Cancelled) => {
                            self.next = first;
                            return Err(engine_err(ids[0], EngineError::Cancelled));
                        }
                        Err(e) => return Err(engine_err(ids[0], e)),
                    }
                };
                for (ReadyDoc { mut sample, .. }, generation) in ready.into_iter().zip(generations) {
                    sample.truncated = generation.truncated;
                    extract_answer(spec, &self.data.docs[sample.doc_id], &generation.text, &mut sample);
                    sample.generation = Some(generation.text);
                    done.push(sample);
                }
            }
        }
        for mut sample in done {
            self.scorer.push(&mut sample)?;
            on_event(Event::Sample(&sample));
            self.samples.push(sample);
        }
        Ok(true)
    }

    /// What document `doc_id` needs: nothing (kept from an earlier run, or not scorable), or
    /// the model, with its prompt rendered.
    fn prepare(&self, engine: &dyn Engine, doc_id: usize) -> Result<Prepared, TaskError> {
        let spec = &self.spec;
        let doc = &self.data.docs[doc_id];
        if let Some(done) = self.previous.get(&doc_id) {
            if done.native_id == doc.native_id {
                return Ok(Prepared::Kept(done.clone()));
            }
        }
        let target = match target(spec, doc) {
            Ok(t) => t,
            Err(problem) => return Ok(Prepared::Skipped(problem)),
        };
        let prompter = Prompter::new(spec)?;
        let examples = fewshot_examples(spec, &self.data, doc_id, &self.opts);
        let (context, messages) = if self.opts.chat_template {
            let messages = prompter.messages(doc, doc_id, &examples)?;
            let shown = engine
                .render_chat(&messages)
                .map_err(|error| TaskError::Engine { task: spec.name.clone(), doc_id, error })?;
            (shown, Some(messages))
        } else {
            (prompter.context(doc, doc_id, &examples)?, None)
        };
        let mut sample = Sample::new(&spec.name, doc_id, &doc.native_id, context, target);
        if gold_is_choice(spec) {
            sample.choices = spec.choices.clone();
        }
        Ok(Prepared::Ready(ReadyDoc { sample, messages }))
    }

    /// The run: its samples, skipped documents and scores (an error when a metric cannot be
    /// computed over the samples, such as an F1 with no label at all).
    pub fn finish(self) -> Result<TaskRun, TaskError> {
        let scores = self.scorer.finish()?;
        Ok(TaskRun { samples: self.samples, skipped: self.skipped, scores })
    }
}

/// A document as [`TaskRunner::prepare`] finds it.
enum Prepared {
    /// Scored by an earlier run (`--resume`).
    Kept(Sample),
    /// Not scorable (a gold label outside the choices, ...): why.
    Skipped(String),
    Ready(ReadyDoc),
}

/// A document for the model: its sample so far (prompt and target), and its prompt as a
/// conversation where the chat template is applied.
struct ReadyDoc {
    sample: Sample,
    messages: Option<Vec<crate::engine::ChatMessage>>,
}

/// Scores the documents of a task, reporting progress through `on_event`.
pub async fn run_task(
    engine: &mut dyn Engine,
    spec: &TaskSpec,
    data: &TaskData,
    opts: &RunOptions,
    on_event: &mut dyn FnMut(Event),
) -> Result<TaskRun, TaskError> {
    let mut runner = TaskRunner::new(spec.clone(), data.clone(), opts.clone())?;
    while runner.step(engine, on_event).await? {}
    runner.finish()
}

/// Fills `answer`, `pred` and `unparsed` from a generated text.
fn extract_answer(spec: &TaskSpec, doc: &Doc, text: &str, sample: &mut Sample) {
    let answer = match spec.extract {
        Some(Extract::Choice) => {
            let aliases = if spec.classes.is_empty() { &[][..] } else { &spec.classes[..] };
            sample.pred = extract::choice(text, &spec.choices, aliases, &option_texts(spec, doc));
            sample.unparsed = sample.pred.is_none();
            sample.pred.map_or(Value::Null, |i| json!(spec.choices[i]))
        }
        Some(Extract::Labels) => json!(extract::labels(text, &spec.choices)),
        Some(Extract::Items) => json!(extract::items(text)),
        Some(Extract::Entities) => {
            let tokens: Vec<String> = doc
                .fields
                .get("tokens")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
                .unwrap_or_default();
            json!(extract::entity_tags(text, &tokens))
        }
        Some(Extract::Text) | None => json!(text.trim()),
    };
    sample.answer = Some(answer);
}

/// The label a sample's choice stands for in F1 (its class); no answer is a label outside
/// every class, so it costs recall but is never scored as a class.
fn class_label(spec: &TaskSpec, index: Option<usize>) -> String {
    index.and_then(|i| spec.classes().get(i)).cloned().unwrap_or_else(|| "(no answer)".into())
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect()).unwrap_or_default()
}

/// The task's metrics over samples pushed one at a time.
pub struct SampleScorer {
    spec: TaskSpec,
    scorers: Vec<Scorer>,
}

impl SampleScorer {
    pub fn new(spec: &TaskSpec) -> Result<Self, TaskError> {
        let err = |e: crate::metrics::MetricError| TaskError::Metric { task: spec.name.clone(), problem: e.to_string() };
        let mut scorers = Vec::new();
        for metric in spec.metric_list() {
            let labels = matches!(metric, Metric::F1Micro | Metric::F1Macro)
                .then(|| spec.f1_labels.clone().unwrap_or_else(|| spec.classes().to_vec()));
            let options = ScoreOptions {
                rouge_stemmer: spec.rouge_stemmer && metric.rouge_type().is_some(),
                labels,
                ..Default::default()
            };
            scorers.push(Scorer::new(metric, options).map_err(err)?);
        }
        Ok(SampleScorer { spec: spec.clone(), scorers })
    }

    /// Scores one sample and records its per-sample metric values in it.
    pub fn push(&mut self, sample: &mut Sample) -> Result<(), TaskError> {
        let spec = &self.spec;
        let err = |e: crate::metrics::MetricError| TaskError::Metric {
            task: spec.name.clone(),
            problem: format!("document {}: {e}", sample.doc_id),
        };
        let gold_index = sample.target.as_u64().map(|i| i as usize);
        let answer = sample.answer.clone().unwrap_or(Value::Null);
        let mut values = BTreeMap::new();
        for scorer in &mut self.scorers {
            let metric = scorer.metric();
            let value = match metric {
                Metric::Acc => Some(scorer.push_value(f64::from(u8::from(sample.pred.is_some() && sample.pred == gold_index))).map_err(err)?),
                Metric::AccNorm => {
                    Some(scorer.push_value(f64::from(u8::from(sample.pred_norm.is_some() && sample.pred_norm == gold_index))).map_err(err)?)
                }
                Metric::F1Micro | Metric::F1Macro => {
                    let (p, r) = if gold_is_choice(spec) {
                        (Labels::Single(class_label(spec, sample.pred)), Labels::Single(class_label(spec, gold_index)))
                    } else {
                        (Labels::Multi(strings(&answer)), Labels::Multi(strings(&sample.target)))
                    };
                    scorer.push_labels(&p, &r).map_err(err)?;
                    None
                }
                Metric::EntityF1 => {
                    scorer.push_tags(&strings(&answer), &strings(&sample.target)).map_err(err)?;
                    None
                }
                Metric::SetF1 => Some(scorer.push_items(&strings(&answer), &strings(&sample.target)).map_err(err)?),
                _ => scorer
                    .push_text(answer.as_str().unwrap_or(""), sample.target.as_str().unwrap_or(""))
                    .map_err(err)?,
            };
            if let Some(v) = value {
                values.insert(metric.name().to_string(), v);
            }
        }
        sample.metrics = values;
        Ok(())
    }

    /// Each metric's run, for paired comparison (metrics without a sample are left out).
    pub fn finish_scored(self) -> Result<Vec<Scored>, TaskError> {
        let task = self.spec.name.clone();
        self.scorers
            .into_iter()
            .filter(|s| s.n() > 0)
            .map(|s| s.finish().map_err(|e| TaskError::Metric { task: task.clone(), problem: e.to_string() }))
            .collect()
    }

    /// Each metric's value, n, standard error and interval over the samples pushed.
    pub fn finish(self) -> Result<Vec<Score>, TaskError> {
        Ok(self.finish_scored()?.iter().map(Scored::score).collect())
    }
}

/// Whether two samples of one task and `doc_id` are of the same document: their native ids
/// agree or, where one has none (a run imported from lm-evaluation-harness, whose samples carry
/// its dataset row, not our id), the prompts are identical (lm-eval's `prompt_hash`).
fn same_document(a: &Sample, b: &Sample) -> bool {
    if !a.native_id.is_empty() && !b.native_id.is_empty() {
        a.native_id == b.native_id
    } else {
        !a.prompt.is_empty() && a.prompt == b.prompt
    }
}

/// One task's metric in two runs over the same documents.
#[derive(Debug, Clone, Serialize)]
pub struct TaskComparison {
    pub task: String,
    #[serde(flatten)]
    pub comparison: crate::metrics::Comparison,
}

/// Two runs compared document by document: samples pair by task and `doc_id` when they are of
/// the same document (`native_id`, or the prompt where a sample has no native id);
/// each task's metrics (from its spec, found by `spec_of`) are compared with the paired test
/// (exact McNemar for 0/1 metrics, paired bootstrap otherwise). Returns the comparisons and
/// the number of samples in one run only.
pub fn compare_runs(
    a: &[Sample],
    b: &[Sample],
    spec_of: &dyn Fn(&str) -> Option<TaskSpec>,
) -> Result<(Vec<TaskComparison>, usize), TaskError> {
    let key = |s: &Sample| (s.task.clone(), s.doc_id);
    let ib: BTreeMap<(String, usize), &Sample> = b.iter().map(|s| (key(s), s)).collect();
    let ia: BTreeMap<(String, usize), &Sample> = a.iter().map(|s| (key(s), s)).collect();
    let mut by_task: BTreeMap<String, (Vec<Sample>, Vec<Sample>)> = BTreeMap::new();
    let mut unpaired = 0;
    for (k, sa) in &ia {
        match ib.get(k) {
            Some(sb) if same_document(sa, sb) => {
                let e = by_task.entry(k.0.clone()).or_default();
                e.0.push((*sa).clone());
                e.1.push((*sb).clone());
            }
            _ => unpaired += 1,
        }
    }
    unpaired += ib.keys().filter(|k| !ia.contains_key(*k)).count();
    let mut out = Vec::new();
    for (task, (sa, sb)) in by_task {
        let spec = spec_of(&task).ok_or_else(|| TaskError::UnknownTask(task.clone()))?;
        let scored = |samples: Vec<Sample>| -> Result<Vec<Scored>, TaskError> {
            let mut scorer = SampleScorer::new(&spec)?;
            for mut s in samples {
                scorer.push(&mut s)?;
            }
            scorer.finish_scored()
        };
        for (ra, rb) in scored(sa)?.iter().zip(scored(sb)?.iter()) {
            let comparison = crate::metrics::compare(ra, rb)
                .map_err(|e| TaskError::Metric { task: task.clone(), problem: e.to_string() })?;
            out.push(TaskComparison { task: task.clone(), comparison });
        }
    }
    Ok((out, unpaired))
}

#[cfg(test)]
mod documents {
    use super::*;

    #[test]
    fn a_sample_is_seeded_sorted_distinct_and_sharded_like_a_limit() {
        let opts = |sample, seed, shard| RunOptions { sample, seed, shard, ..RunOptions::default() };
        let a = opts(Some(50), 1234, None).documents(1000);
        assert_eq!(a.len(), 50);
        assert!(a.windows(2).all(|w| w[0] < w[1]) && a.iter().all(|&d| d < 1000));
        assert_eq!(a, opts(Some(50), 1234, None).documents(1000));
        assert_ne!(a, opts(Some(50), 1235, None).documents(1000));
        // Spread over the task, not its beginning.
        assert!(*a.last().unwrap() > 500 && a[0] < 500, "{a:?}");
        // A sample larger than the task is the whole task, in order.
        assert_eq!(opts(Some(10), 1, None).documents(4), vec![0, 1, 2, 3]);
        // Shards split the sample into blocks that put it back together in order.
        let parts: Vec<usize> = (0..3).flat_map(|i| opts(Some(50), 1234, Some(Shard::new(i, 3).unwrap())).documents(1000)).collect();
        assert_eq!(parts, a);
        assert_eq!(RunOptions { limit: Some(3), ..RunOptions::default() }.documents(10), vec![0, 1, 2]);
    }
}
