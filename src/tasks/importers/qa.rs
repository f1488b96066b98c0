//! Exam-style question answering in its published formats: MedQA JSON lines, MMLU's CSV,
//! PubMedQA's JSON, MedMCQA's JSON lines.

use super::{BadRow, Doc, Imported};
use serde_json::{json, Map, Value};

/// MedQA JSON lines: `{"question", "options": {"A": .., ...}, "answer_idx": "C", ...}`.
pub fn medqa_jsonl(file: &str, bytes: &[u8]) -> Imported {
    let mut out = Imported { format: "jsonl".into(), ..Default::default() };
    let text = String::from_utf8_lossy(bytes);
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |problem: String| BadRow { file: file.into(), line: i + 1, problem };
        let row: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                out.bad_rows.push(bad(format!("not JSON: {e}")));
                continue;
            }
        };
        let question = row.get("question").and_then(Value::as_str);
        let options = row.get("options").and_then(Value::as_object);
        let gold = row.get("answer_idx").and_then(Value::as_str);
        match (question, options, gold) {
            (Some(q), Some(opts), Some(g)) => {
                let mut list = Vec::new();
                for (k, v) in opts {
                    match v.as_str() {
                        Some(t) => list.push(json!({"key": k, "text": t})),
                        None => {
                            out.bad_rows.push(bad(format!("option {k} is not text")));
                            list.clear();
                            break;
                        }
                    }
                }
                if list.is_empty() {
                    continue;
                }
                let mut fields = Map::new();
                fields.insert("question".into(), json!(q));
                fields.insert("options".into(), Value::Array(list));
                out.docs.push(Doc { native_id: (i + 1).to_string(), fields, gold: json!(g) });
            }
            _ => out.bad_rows.push(bad("missing question, options or answer_idx".into())),
        }
    }
    out
}

/// MMLU's headerless CSV: `question, A, B, C, D, answer_letter`.
pub fn mmlu_csv(file: &str, bytes: &[u8]) -> Imported {
    let mut out = Imported { format: "mmlu-csv".into(), ..Default::default() };
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(bytes);
    for (i, record) in reader.records().enumerate() {
        let line = record.as_ref().ok().and_then(|r| r.position()).map_or(i + 1, |p| p.line() as usize);
        let bad = |problem: String| BadRow { file: file.into(), line, problem };
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                out.bad_rows.push(bad(format!("not CSV: {e}")));
                continue;
            }
        };
        if record.len() != 6 {
            out.bad_rows.push(bad(format!("{} columns, expected 6 (question, A, B, C, D, answer)", record.len())));
            continue;
        }
        let options: Vec<Value> = ["A", "B", "C", "D"]
            .iter()
            .enumerate()
            .map(|(k, key)| json!({"key": key, "text": &record[k + 1]}))
            .collect();
        let mut fields = Map::new();
        fields.insert("question".into(), json!(&record[0]));
        fields.insert("options".into(), Value::Array(options));
        out.docs.push(Doc { native_id: (i + 1).to_string(), fields, gold: json!(record[5].trim()) });
    }
    out
}

/// PubMedQA: `ori_pqal.json` (PMID -> {QUESTION, CONTEXTS, final_decision, ...}) and the test
/// split's `test_ground_truth.json` (PMID -> label), whose key order is the document order.
pub fn pubmedqa_json(data_file: &str, data: &[u8], truth_file: &str, truth: &[u8]) -> Result<Imported, BadRow> {
    let whole = |file: &str, problem: String| BadRow { file: file.into(), line: 1, problem };
    let data: Map<String, Value> =
        serde_json::from_slice(data).map_err(|e| whole(data_file, format!("not a JSON object: {e}")))?;
    let truth: Map<String, Value> =
        serde_json::from_slice(truth).map_err(|e| whole(truth_file, format!("not a JSON object: {e}")))?;
    let mut out = Imported { format: "pqal-json".into(), ..Default::default() };
    for (i, (pmid, label)) in truth.iter().enumerate() {
        let bad = |problem: String| BadRow { file: truth_file.into(), line: i + 1, problem };
        let Some(label) = label.as_str() else {
            out.bad_rows.push(bad(format!("PMID {pmid}: the label is not text")));
            continue;
        };
        let Some(entry) = data.get(pmid) else {
            out.bad_rows.push(bad(format!("PMID {pmid} is not in {data_file}")));
            continue;
        };
        let question = entry.get("QUESTION").and_then(Value::as_str);
        let contexts: Option<Vec<&str>> =
            entry.get("CONTEXTS").and_then(Value::as_array).and_then(|a| a.iter().map(Value::as_str).collect());
        let (Some(question), Some(contexts)) = (question, contexts) else {
            out.bad_rows.push(bad(format!("PMID {pmid}: missing QUESTION or CONTEXTS")));
            continue;
        };
        let mut fields = Map::new();
        fields.insert("question".into(), json!(question));
        fields.insert("contexts".into(), json!(contexts));
        out.docs.push(Doc { native_id: pmid.clone(), fields, gold: json!(label) });
    }
    Ok(out)
}

/// MedMCQA's original JSON lines (`dev.json`): `{"question", "opa".."opd", "cop", "id", ...}`
/// with `cop` the correct option, 1-based (1 = A) as released; the Hugging Face copy's 0-based
/// `cop` is read the same way when a file holds a 0 (it has no 4).
pub fn medmcqa_jsonl(file: &str, bytes: &[u8]) -> Imported {
    let mut out = Imported { format: "jsonl".into(), ..Default::default() };
    let text = String::from_utf8_lossy(bytes);
    let rows: Vec<(usize, Result<Value, String>)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| (i + 1, serde_json::from_str::<Value>(l).map_err(|e| format!("not JSON: {e}"))))
        .collect();
    // One convention per file: 0-based when any row says 0.
    let zero_based = rows.iter().any(|(_, r)| r.as_ref().ok().and_then(|v| v.get("cop")).and_then(Value::as_u64) == Some(0));
    for (line, row) in rows {
        let bad = |problem: String| BadRow { file: file.into(), line, problem };
        let row = match row {
            Ok(v) => v,
            Err(e) => {
                out.bad_rows.push(bad(e));
                continue;
            }
        };
        let question = row.get("question").and_then(Value::as_str);
        let opts: Option<Vec<&str>> = ["opa", "opb", "opc", "opd"].iter().map(|k| row.get(*k).and_then(Value::as_str)).collect();
        let cop = row.get("cop").and_then(Value::as_u64);
        let (Some(q), Some(opts), Some(cop)) = (question, opts, cop) else {
            out.bad_rows.push(bad("missing question, opa..opd or cop".into()));
            continue;
        };
        let index = if zero_based { cop } else { cop.wrapping_sub(1) };
        let Some(letter) = ["A", "B", "C", "D"].get(index as usize) else {
            out.bad_rows.push(bad(format!("cop {cop} is not an option")));
            continue;
        };
        let options: Vec<Value> =
            opts.iter().zip(["A", "B", "C", "D"]).map(|(t, k)| json!({"key": k, "text": t})).collect();
        let mut fields = Map::new();
        fields.insert("question".into(), json!(q));
        fields.insert("options".into(), Value::Array(options));
        for k in ["subject_name", "topic_name"] {
            if let Some(v) = row.get(k) {
                fields.insert(k.into(), v.clone());
            }
        }
        let native_id = row.get("id").and_then(Value::as_str).map_or_else(|| line.to_string(), str::to_string);
        out.docs.push(Doc { native_id, fields, gold: json!(letter) });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;


    #[test]
    fn bad_rows_are_reported_with_their_line_and_the_rest_imported() {
        let jsonl = concat!(
            r#"{"question": "Q1", "options": {"A": "a", "B": "b"}, "answer_idx": "B"}"#,
            "\nnot json\n",
            r#"{"question": "Q3", "options": {"A": "a"}}"#,
            "\n",
            r#"{"question": "Q4", "options": {"B": "b", "A": "a"}, "answer_idx": "A"}"#,
            "\n"
        );
        let imp = medqa_jsonl("t.jsonl", jsonl.as_bytes());
        assert_eq!(imp.docs.len(), 2);
        assert_eq!(imp.bad_rows.iter().map(|b| b.line).collect::<Vec<_>>(), vec![2, 3]);
        // Options keep the file's order.
        assert_eq!(imp.docs[1].fields["options"][0]["key"], "B");
        assert_eq!(imp.docs[1].native_id, "4");

        let csv = "\"Which, of these?\",a,b,\"c \"\"quoted\"\"\",d,C\nshort,row\nQ2,a,b,c,d,A\n";
        let imp = mmlu_csv("t.csv", csv.as_bytes());
        assert_eq!(imp.docs.len(), 2);
        assert_eq!(imp.docs[0].fields["question"], "Which, of these?");
        assert_eq!(imp.docs[0].fields["options"][2]["text"], "c \"quoted\"");
        assert_eq!(imp.bad_rows.len(), 1);
        assert_eq!(imp.bad_rows[0].line, 2);
    }

    #[test]
    fn medmcqa_reads_one_based_cop_and_the_zero_based_copy() {
        let one = br#"{"id": "u1", "question": "Q", "opa": "a", "opb": "b", "opc": "c", "opd": "d", "cop": 4}
{"id": "u2", "question": "Q", "opa": "a", "opb": "b", "opc": "c", "opd": "d", "cop": 5}
"#;
        let imp = medmcqa_jsonl("m", one);
        assert_eq!(imp.docs[0].gold, "D");
        assert_eq!(imp.docs[0].native_id, "u1");
        assert_eq!(imp.bad_rows.len(), 1, "cop 5 is no option");
        let zero = br#"{"question": "Q", "opa": "a", "opb": "b", "opc": "c", "opd": "d", "cop": 0}
{"question": "Q", "opa": "a", "opb": "b", "opc": "c", "opd": "d", "cop": 3}
"#;
        let imp = medmcqa_jsonl("m", zero);
        assert_eq!((imp.docs[0].gold.as_str(), imp.docs[1].gold.as_str()), (Some("A"), Some("D")));
    }

    #[test]
    fn pubmedqa_follows_the_ground_truth_key_order() {
        let data = r#"{"1": {"QUESTION": "q1", "CONTEXTS": ["a", "b"]}, "2": {"QUESTION": "q2", "CONTEXTS": ["c"]}}"#;
        let truth = r#"{"2": "no", "9": "yes", "1": "yes"}"#;
        let imp = pubmedqa_json("d.json", data.as_bytes(), "t.json", truth.as_bytes()).unwrap();
        assert_eq!(imp.docs.iter().map(|d| d.native_id.as_str()).collect::<Vec<_>>(), ["2", "1"]);
        assert_eq!(imp.bad_rows.len(), 1);
        assert!(imp.bad_rows[0].problem.contains("PMID 9"));
    }
}
