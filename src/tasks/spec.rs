//! Task specifications: one human-readable TOML file per task in `tasks/`, embedded at build time.
//!
//! A spec says where the data is and which importer reads it, how a document becomes a prompt
//! (Jinja templates), whether the model is scored by the loglikelihood of each choice
//! (`output = "multiple_choice"`, lm-eval's convention) or generates an answer that is then
//! extracted (`output = "generation"`), and which metrics score it. Users can write their own
//! spec for their own data (`clinicbench eval --spec FILE`); the generic `records` importer maps
//! a JSON/JSONL/CSV file's columns to template fields.

use crate::metrics::Metric;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Where few-shot examples come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FewshotSource {
    /// The dataset's dev split, first rows first (MMLU, as lm-eval's `first_n` sampler).
    DevSplit,
    /// Other documents of the evaluated split, chosen by a seeded shuffle, never the document
    /// itself (datasets that publish no training or dev split here).
    SameSplit,
}

/// Few-shot settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fewshot {
    pub source: FewshotSource,
}

/// How the model answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Output {
    /// Each choice is scored as a continuation by its loglikelihood (lm-eval `multiple_choice`).
    MultipleChoice,
    /// The model generates until a stop string; the answer is extracted from the text.
    Generation,
}

/// What is extracted from a generated answer (see [`super::extract`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Extract {
    /// One of the task's choices (an option letter, yes/no/maybe, a relation class).
    Choice,
    /// Any number of the task's choices (multi-label classification).
    Labels,
    /// Entity mentions, turned into BIO tags over the document's tokens.
    Entities,
    /// A list of items (medications), compared as a set.
    Items,
    /// The text itself (summaries, answers), trimmed.
    Text,
}

/// How the generic `records` importer reads a file: which column is which.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Columns {
    /// Template field name -> column (JSON key or CSV header).
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// The column holding the gold answer.
    pub gold: String,
    /// The column holding the dataset's own id (default: the 1-based record number).
    #[serde(default)]
    pub id: Option<String>,
    /// Columns whose cells are lists written as JSON or Python literals (`['a', 'b']`); they
    /// become lists (the gold too, when named here).
    #[serde(default)]
    pub lists: Vec<String>,
    /// Option columns, in the order of the task's choices: they become the `options` field
    /// (`[{key, text}]`) that prompts and answer extraction use.
    #[serde(default)]
    pub options: Vec<String>,
    /// For a JSON object holding the records under a key (MIMIC-CXR's `{"test": [..]}`).
    #[serde(default)]
    pub records_key: Option<String>,
    /// Lower-case and trim the gold (answers written `Yes`/`yes `).
    #[serde(default)]
    pub normalize_gold: bool,
}

/// A task: which file, which importer, how a document becomes a prompt, how it is scored.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskSpec {
    pub name: String,
    /// Bumped whenever a change could change a score.
    pub version: u32,
    pub scenario: String,
    pub task: String,
    #[serde(default)]
    pub group: Option<String>,
    /// The dataset and split, for people.
    pub dataset: String,
    pub licence: String,
    /// Importer name (see [`super::importers`]).
    pub importer: String,
    /// Default path under the data root.
    pub path: String,
    /// A part of the dataset the importer selects (MMLU's subject).
    #[serde(default)]
    pub subset: Option<String>,
    /// Column mapping for the `records` importer.
    #[serde(default)]
    pub columns: Option<Columns>,
    /// Records the published file holds (0 when the file is not public and its size unknown).
    pub records: usize,
    /// Text before the first example (lm-eval's `description`), a Jinja template. With a chat
    /// template it is the system message.
    #[serde(default)]
    pub description: String,
    /// The prompt of one document, a Jinja template over the document's fields (lm-eval's
    /// `doc_to_text`).
    pub prompt: String,
    #[serde(default = "default_output")]
    pub output: Output,
    /// Multiple choice: the continuations scored for each document, without the delimiter
    /// (lm-eval's `doc_to_choice`). Generation with `extract = "choice"` or `"labels"`: the
    /// answers looked for in the text.
    #[serde(default)]
    pub choices: Vec<String>,
    /// The dataset's label for each choice, when it differs from the words the model sees
    /// (DDI's `DDI-mechanism` for `mechanism`, GAD's `1` for `yes`). Gold labels are looked up
    /// here, and F1 is computed over them. Defaults to `choices`.
    #[serde(default)]
    pub classes: Vec<String>,
    /// The labels F1 is computed over (scikit-learn's `labels=`), e.g. DDI's four positive
    /// classes. Defaults to every class.
    #[serde(default)]
    pub f1_labels: Option<Vec<String>>,
    /// Between the prompt and a choice (lm-eval's `target_delimiter`).
    #[serde(default = "default_target_delimiter")]
    pub target_delimiter: String,
    /// After each few-shot example (lm-eval's `fewshot_delimiter`).
    #[serde(default = "default_fewshot_delimiter")]
    pub fewshot_delimiter: String,
    /// Generation: what is extracted from the text.
    #[serde(default)]
    pub extract: Option<Extract>,
    /// Generation: stop strings (the text is cut before them).
    #[serde(default)]
    pub stop: Vec<String>,
    /// Generation: the most tokens generated per document.
    #[serde(default = "default_max_new_tokens")]
    pub max_new_tokens: usize,
    /// Generation: a few-shot example's answer, a Jinja template over its fields and `gold`
    /// (default: the gold, lists joined by ", ").
    #[serde(default)]
    pub answer: Option<String>,
    /// rouge-score's Porter stemmer for this task's ROUGE metrics.
    #[serde(default)]
    pub rouge_stemmer: bool,
    pub metrics: Vec<String>,
    pub fewshot: Fewshot,
    /// A multiple-choice task's generative variant, `<name>_gen`: the model answers in words
    /// and the choice is extracted.
    #[serde(default)]
    pub generative: Option<GenerativeVariant>,
}

/// The `[generative]` table of a multiple-choice spec.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerativeVariant {
    /// The instruction-style prompt, a Jinja template over the document's fields.
    pub prompt: String,
    /// Text before the first example (default: none).
    #[serde(default)]
    pub description: String,
    #[serde(default = "default_gen_stop")]
    pub stop: Vec<String>,
    #[serde(default = "default_gen_max_new_tokens")]
    pub max_new_tokens: usize,
}

fn default_gen_stop() -> Vec<String> {
    vec!["\n\n".into()]
}

fn default_gen_max_new_tokens() -> usize {
    32
}

fn default_output() -> Output {
    Output::MultipleChoice
}

fn default_target_delimiter() -> String {
    " ".into()
}

fn default_fewshot_delimiter() -> String {
    "\n\n".into()
}

fn default_max_new_tokens() -> usize {
    64
}

impl TaskSpec {
    /// The `<name>_gen` variant of a multiple-choice spec with a `[generative]` table.
    pub fn generative_variant(&self) -> Option<TaskSpec> {
        let g = self.generative.as_ref()?;
        let metrics: Vec<String> = self.metrics.iter().filter(|m| *m != "acc_norm").cloned().collect();
        Some(TaskSpec {
            name: format!("{}_gen", self.name),
            description: g.description.clone(),
            prompt: g.prompt.clone(),
            output: Output::Generation,
            extract: Some(Extract::Choice),
            stop: g.stop.clone(),
            max_new_tokens: g.max_new_tokens,
            metrics,
            generative: None,
            ..self.clone()
        })
    }

    /// The dataset labels of the choices (`classes`, else `choices`).
    pub fn classes(&self) -> &[String] {
        if self.classes.is_empty() {
            &self.choices
        } else {
            &self.classes
        }
    }

    /// The index of a gold label among the classes.
    pub fn class_index(&self, label: &str) -> Option<usize> {
        self.classes().iter().position(|c| c == label)
    }

    /// The metrics, parsed (the spec was checked when parsed).
    pub fn metric_list(&self) -> Vec<Metric> {
        self.metrics.iter().filter_map(|m| Metric::from_name(m).ok()).collect()
    }

    /// A short hash of the spec's text fields that shape prompts and scores, for provenance.
    pub fn fingerprint(&self) -> String {
        // FNV-1a over the parts that change results; stable across builds and platforms.
        let parts = [
            self.prompt.as_str(),
            &self.description,
            &self.choices.join("\u{1f}"),
            &self.classes.join("\u{1f}"),
            &self.target_delimiter,
            &self.fewshot_delimiter,
            &self.stop.join("\u{1f}"),
            &self.metrics.join("\u{1f}"),
            self.answer.as_deref().unwrap_or(""),
            &format!("{:?}{:?}{}", self.output, self.extract, self.max_new_tokens),
        ];
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for p in parts {
            for b in p.bytes().chain([0xff]) {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x100_0000_01b3);
            }
        }
        format!("{h:016x}")
    }
}

/// The specs shipped with the crate, as (file name, text).
const BUILTIN: &[(&str, &str)] = &[
    ("medqa_4options.toml", include_str!("../../tasks/medqa_4options.toml")),
    ("medqa_usmle.toml", include_str!("../../tasks/medqa_usmle.toml")),
    ("medmcqa.toml", include_str!("../../tasks/medmcqa.toml")),
    ("mmlu_anatomy.toml", include_str!("../../tasks/mmlu_anatomy.toml")),
    ("mmlu_clinical_knowledge.toml", include_str!("../../tasks/mmlu_clinical_knowledge.toml")),
    ("mmlu_college_biology.toml", include_str!("../../tasks/mmlu_college_biology.toml")),
    ("mmlu_college_medicine.toml", include_str!("../../tasks/mmlu_college_medicine.toml")),
    ("mmlu_medical_genetics.toml", include_str!("../../tasks/mmlu_medical_genetics.toml")),
    ("mmlu_professional_medicine.toml", include_str!("../../tasks/mmlu_professional_medicine.toml")),
    ("pubmedqa.toml", include_str!("../../tasks/pubmedqa.toml")),
    ("referral_qa.toml", include_str!("../../tasks/referral_qa.toml")),
    ("treatment_recommendation.toml", include_str!("../../tasks/treatment_recommendation.toml")),
    ("mimic_cxr_summarization.toml", include_str!("../../tasks/mimic_cxr_summarization.toml")),
    ("iu_xray_summarization.toml", include_str!("../../tasks/iu_xray_summarization.toml")),
    ("hospitalization_summarization.toml", include_str!("../../tasks/hospitalization_summarization.toml")),
    ("patient_education.toml", include_str!("../../tasks/patient_education.toml")),
    ("bc5cdr_chem.toml", include_str!("../../tasks/bc5cdr_chem.toml")),
    ("bc5cdr_disease.toml", include_str!("../../tasks/bc5cdr_disease.toml")),
    ("ncbi_disease.toml", include_str!("../../tasks/ncbi_disease.toml")),
    ("ddi.toml", include_str!("../../tasks/ddi.toml")),
    ("gad.toml", include_str!("../../tasks/gad.toml")),
    ("hoc.toml", include_str!("../../tasks/hoc.toml")),
    ("pharmacology_qa.toml", include_str!("../../tasks/pharmacology_qa.toml")),
    ("drug_interaction.toml", include_str!("../../tasks/drug_interaction.toml")),
    ("icliniq.toml", include_str!("../../tasks/icliniq.toml")),
    ("demo_exam.toml", include_str!("../../tasks/demo_exam.toml")),
    ("demo_yesno.toml", include_str!("../../tasks/demo_yesno.toml")),
    ("demo_summary.toml", include_str!("../../tasks/demo_summary.toml")),
    ("demo_entities.toml", include_str!("../../tasks/demo_entities.toml")),
    ("demo_medications.toml", include_str!("../../tasks/demo_medications.toml")),
];

/// Data files shipped with the crate (the demo sets), addressed as `builtin:<name>` in a
/// spec's `path`.
const BUILTIN_DATA: &[(&str, &[u8])] = &[
    ("demo/exam.jsonl", include_bytes!("../../tasks/demo/exam.jsonl")),
    ("demo/yesno.jsonl", include_bytes!("../../tasks/demo/yesno.jsonl")),
    ("demo/summary.jsonl", include_bytes!("../../tasks/demo/summary.jsonl")),
    ("demo/entities.tsv", include_bytes!("../../tasks/demo/entities.tsv")),
    ("demo/medications.jsonl", include_bytes!("../../tasks/demo/medications.jsonl")),
];

/// A data file shipped with the crate, by its `builtin:` name.
pub fn builtin_data(name: &str) -> Option<&'static [u8]> {
    BUILTIN_DATA.iter().find(|(n, _)| *n == name).map(|(_, b)| *b)
}

impl TaskSpec {
    /// Whether the task's data ships with the crate (the demo sets).
    pub fn is_builtin_data(&self) -> bool {
        self.path.starts_with("builtin:")
    }
}

/// Parses a spec, rejecting unknown fields and specs that cannot run.
pub fn parse(file: &str, text: &str) -> Result<TaskSpec, super::TaskError> {
    let spec: TaskSpec =
        toml::from_str(text).map_err(|e| super::TaskError::BadSpec { file: file.into(), problem: e.to_string() })?;
    check(&spec).map_err(|problem| super::TaskError::BadSpec { file: file.into(), problem })?;
    Ok(spec)
}

/// Whether a spec's parts fit together: metrics that its output can feed, choices where needed.
fn check(spec: &TaskSpec) -> Result<(), String> {
    let mut metrics = Vec::new();
    for m in &spec.metrics {
        metrics.push(Metric::from_name(m).map_err(|e| e.to_string())?);
    }
    if metrics.is_empty() {
        return Err("no metrics".into());
    }
    if !spec.classes.is_empty() && spec.classes.len() != spec.choices.len() {
        return Err(format!("{} classes for {} choices", spec.classes.len(), spec.choices.len()));
    }
    if spec.importer == "records" && spec.columns.is_none() {
        return Err("the records importer needs a [columns] table".into());
    }
    use Metric::*;
    let allowed: &[Metric] = match (spec.output, spec.extract) {
        (Output::MultipleChoice, None) => &[Acc, AccNorm, F1Micro, F1Macro],
        (Output::MultipleChoice, Some(_)) => return Err("extract is for generation tasks".into()),
        (Output::Generation, None) => return Err("a generation task needs extract".into()),
        (Output::Generation, Some(Extract::Choice)) => &[Acc, F1Micro, F1Macro],
        (Output::Generation, Some(Extract::Labels)) => &[F1Micro, F1Macro],
        (Output::Generation, Some(Extract::Entities)) => &[EntityF1],
        (Output::Generation, Some(Extract::Items)) => &[SetF1],
        (Output::Generation, Some(Extract::Text)) => {
            &[ExactMatch, QuasiExactMatch, Rouge1, Rouge2, RougeL, RougeLsum, Bleu]
        }
    };
    if let Some(m) = metrics.iter().find(|m| !allowed.contains(m)) {
        return Err(format!("metric {m} cannot score this task's output"));
    }
    let needs_choices =
        spec.output == Output::MultipleChoice || matches!(spec.extract, Some(Extract::Choice | Extract::Labels));
    if needs_choices && spec.choices.is_empty() {
        return Err("no choices".into());
    }
    if spec.output == Output::Generation && spec.max_new_tokens == 0 {
        return Err("max_new_tokens is 0".into());
    }
    if let Some(labels) = &spec.f1_labels {
        if let Some(l) = labels.iter().find(|l| !spec.classes().contains(l)) {
            return Err(format!("f1_labels: {l:?} is not a class"));
        }
    }
    Ok(())
}

/// Every built-in task, in a stable order.
pub fn builtin() -> Vec<TaskSpec> {
    // The built-in files are part of the crate and tested; a broken one is a build defect.
    let mut out = Vec::new();
    for (file, text) in BUILTIN {
        let spec = parse(file, text).unwrap_or_else(|e| panic!("built-in task {file}: {e}"));
        let generative = spec.generative_variant();
        out.push(spec);
        if let Some(g) = generative {
            check(&g).unwrap_or_else(|e| panic!("built-in task {file}, generative variant: {e}"));
            out.push(g);
        }
    }
    out
}

/// A built-in task by name.
pub fn find(name: &str) -> Option<TaskSpec> {
    builtin().into_iter().find(|t| t.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_specs_parse_and_unknown_fields_are_rejected() {
        let all = builtin();
        assert!(all.len() > BUILTIN.len(), "multiple-choice tasks have _gen variants");
        let mut names: Vec<_> = all.iter().map(|t| t.name.clone()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all.len(), "task names are unique");
        let text = BUILTIN[0].1.replace("version = 1", "version = 1\ncolour = \"blue\"");
        let e = parse("x.toml", &text).unwrap_err().to_string();
        assert!(e.contains("colour"), "{e}");
    }

    #[test]
    fn metrics_must_fit_the_output() {
        let base = BUILTIN[0].1;
        let e = parse("x.toml", &base.replace("metrics = [\"acc\", \"acc_norm\"]", "metrics = [\"rougeL\"]"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("rougeL cannot score"), "{e}");
        let e = parse("x.toml", &base.replace("metrics = [\"acc\", \"acc_norm\"]", "metrics = [\"accuracy\"]"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("accuracy"), "{e}");
    }
}
