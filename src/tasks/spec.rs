//! Task specifications: one human-readable TOML file per task in `tasks/`, embedded at build time.

use serde::Deserialize;

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
    /// Records the published file holds.
    pub records: usize,
    /// Text before the first example (lm-eval's `description`), a Jinja template.
    #[serde(default)]
    pub description: String,
    /// The prompt of one document, a Jinja template over the document's fields (lm-eval's
    /// `doc_to_text`).
    pub prompt: String,
    /// The continuations scored for each document, without the delimiter (lm-eval's
    /// `doc_to_choice`).
    pub choices: Vec<String>,
    /// Between the prompt and a choice (lm-eval's `target_delimiter`).
    #[serde(default = "default_target_delimiter")]
    pub target_delimiter: String,
    /// After each few-shot example (lm-eval's `fewshot_delimiter`).
    #[serde(default = "default_fewshot_delimiter")]
    pub fewshot_delimiter: String,
    pub metrics: Vec<String>,
    pub fewshot: Fewshot,
}

fn default_target_delimiter() -> String {
    " ".into()
}

fn default_fewshot_delimiter() -> String {
    "\n\n".into()
}

/// The specs shipped with the crate, as (file name, text).
const BUILTIN: &[(&str, &str)] = &[
    ("medqa_4options.toml", include_str!("../../tasks/medqa_4options.toml")),
    ("medqa_usmle.toml", include_str!("../../tasks/medqa_usmle.toml")),
    ("pubmedqa.toml", include_str!("../../tasks/pubmedqa.toml")),
    ("mmlu_anatomy.toml", include_str!("../../tasks/mmlu_anatomy.toml")),
    ("mmlu_clinical_knowledge.toml", include_str!("../../tasks/mmlu_clinical_knowledge.toml")),
    ("mmlu_college_biology.toml", include_str!("../../tasks/mmlu_college_biology.toml")),
    ("mmlu_college_medicine.toml", include_str!("../../tasks/mmlu_college_medicine.toml")),
    ("mmlu_medical_genetics.toml", include_str!("../../tasks/mmlu_medical_genetics.toml")),
    ("mmlu_professional_medicine.toml", include_str!("../../tasks/mmlu_professional_medicine.toml")),
];

/// Parses a spec, rejecting unknown fields and specs that cannot run.
pub fn parse(file: &str, text: &str) -> Result<TaskSpec, super::TaskError> {
    let spec: TaskSpec =
        toml::from_str(text).map_err(|e| super::TaskError::BadSpec { file: file.into(), problem: e.to_string() })?;
    let bad = |problem: String| super::TaskError::BadSpec { file: file.into(), problem };
    if spec.choices.is_empty() {
        return Err(bad("no choices".into()));
    }
    if let Some(m) = spec.metrics.iter().find(|m| !matches!(m.as_str(), "acc" | "acc_norm")) {
        return Err(bad(format!("metric {m:?} is not available for multiple-choice tasks")));
    }
    Ok(spec)
}

/// Every built-in task, in a stable order.
pub fn builtin() -> Vec<TaskSpec> {
    // The built-in files are part of the crate and tested; a broken one is a build defect.
    BUILTIN
        .iter()
        .map(|(file, text)| parse(file, text).unwrap_or_else(|e| panic!("built-in task {file}: {e}")))
        .collect()
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
        assert_eq!(all.len(), BUILTIN.len());
        let mut names: Vec<_> = all.iter().map(|t| t.name.clone()).collect();
        names.dedup();
        assert_eq!(names.len(), all.len(), "task names are unique");
        let text = BUILTIN[0].1.replace("version = 1", "version = 1\ncolour = \"blue\"");
        let e = parse("x.toml", &text).unwrap_err().to_string();
        assert!(e.contains("colour"), "{e}");
    }
}
