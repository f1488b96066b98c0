//! Relation extraction and document classification in the BLURB/BioBERT TSV files: DDI (pair
//! id, sentence with `@DRUG$` masks, label; no header) and HoC (header `labels sentence index`,
//! labels written `0_0,1_1,...` where `k_1` marks class k); and DDI's original XML, masked the
//! way BLURB masks it.

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

/// The pairs of DDI corpus XML files (`<document><sentence text><entity charOffset/>
/// <pair e1 e2 ddi type/></sentence></document>`), in file order then document order, each a
/// document whose sentence has the pair's two drugs replaced by `@DRUG$` (`@DRUG-DRUG$` where
/// they overlap), as BLURB's TSV has them. `charOffset` is inclusive, in characters; a
/// discontinuous mention (`139-150;177-186`) is masked from its first character to its last.
pub fn ddi_xml(files: &[(String, Vec<u8>)]) -> Imported {
    let mut out = Imported { format: "ddi-xml".into(), ..Default::default() };
    for (file, bytes) in files {
        let bad = |line: usize, problem: String| BadRow { file: file.clone(), line, problem };
        let text = match std::str::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                out.bad_rows.push(bad(1, format!("not UTF-8 text: {e}")));
                continue;
            }
        };
        let xml = match roxmltree::Document::parse(text) {
            Ok(x) => x,
            Err(e) => {
                out.bad_rows.push(bad(e.pos().row as usize, format!("not XML: {e}")));
                continue;
            }
        };
        for sentence in xml.descendants().filter(|n| n.has_tag_name("sentence")) {
            let line = xml.text_pos_at(sentence.range().start).row as usize;
            // Line breaks and tabs become spaces, as in BLURB's TSV (which cannot hold them);
            // one character for one, so the offsets still hold.
            let chars: Vec<char> = sentence
                .attribute("text")
                .unwrap_or("")
                .chars()
                .map(|c| if matches!(c, '\r' | '\n' | '\t') { ' ' } else { c })
                .collect();
            let mut spans = std::collections::HashMap::new();
            for e in sentence.children().filter(|n| n.has_tag_name("entity")) {
                let span = e.attribute("charOffset").and_then(|o| {
                    let mut parts = o.split(';').map(|part| {
                        let (a, b) = part.split_once('-')?;
                        Some((a.trim().parse::<usize>().ok()?, b.trim().parse::<usize>().ok()? + 1))
                    });
                    let first = parts.next()??;
                    parts.try_fold(first, |(s, e), p| p.map(|(a, b)| (s.min(a), e.max(b))))
                });
                if let (Some(id), Some(span)) = (e.attribute("id"), span) {
                    spans.insert(id, span);
                }
            }
            for pair in sentence.children().filter(|n| n.has_tag_name("pair")) {
                let id = pair.attribute("id").unwrap_or("");
                let (Some(a), Some(b)) = (
                    pair.attribute("e1").and_then(|e| spans.get(e)),
                    pair.attribute("e2").and_then(|e| spans.get(e)),
                ) else {
                    out.bad_rows.push(bad(line, format!("pair {id}: an entity or its charOffset is missing")));
                    continue;
                };
                let (first, second) = if a.0 <= b.0 { (*a, *b) } else { (*b, *a) };
                if first.1.max(second.1) > chars.len() || first.0 >= first.1 || second.0 >= second.1 {
                    out.bad_rows.push(bad(line, format!("pair {id}: charOffset outside the sentence")));
                    continue;
                }
                let masked: String = if second.0 < first.1 {
                    let end = first.1.max(second.1);
                    chars[..first.0].iter().chain("@DRUG-DRUG$".chars().collect::<Vec<_>>().iter()).chain(&chars[end..]).collect()
                } else {
                    let mut m: String = chars[..first.0].iter().collect();
                    m.push_str("@DRUG$");
                    m.extend(&chars[first.1..second.0]);
                    m.push_str("@DRUG$");
                    m.extend(&chars[second.1..]);
                    m
                };
                let label = match (pair.attribute("ddi"), pair.attribute("type")) {
                    (Some("true"), Some(t)) => format!("DDI-{t}"),
                    (Some("false"), _) => "DDI-false".to_string(),
                    (ddi, t) => {
                        out.bad_rows.push(bad(line, format!("pair {id}: ddi={ddi:?} type={t:?}")));
                        continue;
                    }
                };
                let mut fields = Map::new();
                fields.insert("sentence".into(), json!(masked));
                out.docs.push(Doc { native_id: id.to_string(), fields, gold: json!(label) });
            }
        }
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
