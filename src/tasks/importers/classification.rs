//! Relation extraction and document classification in the BLURB/BioBERT TSV files: DDI (pair
//! id, sentence with `@DRUG$` masks, label; no header) and HoC (header `labels sentence index`,
//! labels written `0_0,1_1,...` where `k_1` marks class k).

use super::{BadRow, Doc, Imported};
use serde_json::{json, Map, Value};

/// Tab-separated lines; no quoting (BLURB's files contain bare `"`).
fn tsv_lines(bytes: &[u8]) -> impl Iterator<Item = (usize, Vec<&str>)> {
    let text = std::str::from_utf8(bytes).unwrap_or("");
    text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).map(|(i, l)| (i + 1, l.split('\t').collect()))
}

fn not_utf8(file: &str, bytes: &[u8]) -> Option<BadRow> {
    std::str::from_utf8(bytes).err().map(|e| BadRow { file: file.into(), line: 1, problem: format!("not UTF-8 text: {e}") })
}

/// DDI in BLURB's TSV: `pair_id<TAB>sentence<TAB>DDI-<class>`.
pub fn ddi_tsv(file: &str, bytes: &[u8]) -> Imported {
    let mut out = Imported { format: "blurb-tsv".into(), ..Default::default() };
    out.bad_rows.extend(not_utf8(file, bytes));
    for (line, cols) in tsv_lines(bytes) {
        if cols.len() != 3 {
            out.bad_rows.push(BadRow { file: file.into(), line, problem: format!("{} columns, expected 3 (pair id, sentence, label)", cols.len()) });
            continue;
        }
        let mut fields = Map::new();
        fields.insert("sentence".into(), json!(cols[1]));
        out.docs.push(Doc { native_id: cols[0].to_string(), fields, gold: json!(cols[2].trim()) });
    }
    out
}

/// HoC in BLURB's TSV. `classes` are the ten hallmarks in class-number order; the gold is the
/// list of the classes marked present (possibly empty).
pub fn hoc_tsv(file: &str, bytes: &[u8], classes: &[String]) -> Imported {
    let mut out = Imported { format: "blurb-tsv".into(), ..Default::default() };
    out.bad_rows.extend(not_utf8(file, bytes));
    for (line, cols) in tsv_lines(bytes) {
        let bad = |problem: String| BadRow { file: file.into(), line, problem };
        if line == 1 && cols.first() == Some(&"labels") {
            continue;
        }
        if cols.len() != 3 {
            out.bad_rows.push(bad(format!("{} columns, expected 3 (labels, sentence, index)", cols.len())));
            continue;
        }
        let mut gold = Vec::new();
        let mut problem = None;
        for item in cols[0].split(',').filter(|s| !s.is_empty()) {
            let parsed = item.split_once('_').and_then(|(k, v)| Some((k.parse::<usize>().ok()?, v)));
            match parsed {
                Some((k, "1")) if k < classes.len() => gold.push(Value::String(classes[k].clone())),
                Some((k, "0")) if k < classes.len() => {}
                _ => problem = Some(format!("label {item:?} is not k_0 or k_1 with k below {}", classes.len())),
            }
        }
        if let Some(p) = problem {
            out.bad_rows.push(bad(p));
            continue;
        }
        let mut fields = Map::new();
        fields.insert("sentence".into(), json!(cols[1]));
        out.docs.push(Doc { native_id: cols[2].to_string(), fields, gold: Value::Array(gold) });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddi_and_hoc_rows() {
        let imp = ddi_tsv("d", b"p0\t@DRUG$ with \"@DRUG$\"\tDDI-effect\nbroken line\n");
        assert_eq!(imp.docs[0].gold, "DDI-effect");
        assert_eq!(imp.docs[0].fields["sentence"], "@DRUG$ with \"@DRUG$\"");
        assert_eq!(imp.bad_rows[0].line, 2);

        let classes: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let imp = hoc_tsv("h", b"labels\tsentence\tindex\n0_0,1_1,2_1\tS.\t9_s0\n0_0,1_0,2_0\tT.\t9_s1\n3_1\tU.\t9_s2\n", &classes);
        assert_eq!(imp.docs[0].gold, json!(["b", "c"]));
        assert_eq!(imp.docs[1].gold, json!([]));
        assert_eq!(imp.docs[1].native_id, "9_s1");
        assert_eq!(imp.bad_rows.len(), 1, "class 3 does not exist");
    }
}
