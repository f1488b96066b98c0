//! Dataset importers: a published file in, documents out.
//!
//! Each importer reads the format the dataset is published in and yields [`Doc`]s in the
//! published order (`doc_id` is the position). A row that cannot be read is a [`BadRow`] naming
//! the file and line; the caller decides whether that is fatal (`--strict`) or skipped and
//! counted. Importers take bytes, not paths, so the page can hand them a browser `File`'s
//! contents.

mod classification;
mod ner;
mod qa;
mod records;

pub use classification::{ddi_tsv, ddi_xml, hoc_tsv};
pub use ner::{ner, tokenize_words};
pub use qa::{medmcqa_jsonl, medqa_jsonl, mmlu_csv, pubmedqa_json};
pub use records::{parse_list_literal, records, MAX_RECORD_BYTES, MAX_XLSX_INFLATED_BYTES};

use serde_json::{Map, Value};

/// One document: its template fields and its gold answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    /// The dataset's own id (a PMID, a pair id, else the 1-based record number), as text.
    pub native_id: String,
    /// Fields the prompt template sees.
    pub fields: Map<String, Value>,
    /// The gold answer: a label among the task's classes (`"C"`, `"yes"`), a reference text, a
    /// list of labels or items, or a list of BIO tags (one per token).
    pub gold: Value,
}

impl Doc {
    /// The gold as text: a string as is, a list joined by ", ".
    pub fn gold_text(&self) -> String {
        match &self.gold {
            Value::String(s) => s.clone(),
            Value::Array(a) => a.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string)).collect::<Vec<_>>().join(", "),
            Value::Null => String::new(),
            other => other.to_string(),
        }
    }
}

/// A row that could not be imported.
#[derive(Debug, Clone, PartialEq)]
pub struct BadRow {
    pub file: String,
    /// 1-based line (or record) number.
    pub line: usize,
    pub problem: String,
}

impl std::fmt::Display for BadRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.problem)
    }
}

/// What an importer produced.
#[derive(Debug, Default)]
pub struct Imported {
    pub docs: Vec<Doc>,
    pub bad_rows: Vec<BadRow>,
    /// The format found in the bytes (for provenance), e.g. `"jsonl"`, `"pubtator"`.
    pub format: String,
}
