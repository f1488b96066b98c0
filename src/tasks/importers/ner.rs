//! Named-entity recognition data: token/tag files (BLURB's bare `B/I/O`, the MTL IOB files'
//! `B-Chemical`, CoNLL-style lines whose first column is the token and last the tag; blank
//! lines between sentences) and PubTator abstracts with mention offsets.
//!
//! Every document becomes `tokens` (list), `sentence` (the tokens joined by spaces), `entities`
//! (the gold mentions' texts, for few-shot answers) and a gold list of bare `B`/`I`/`O` tags.
//! Tags are bare because the model names entities of one type per task: a typed file is
//! filtered to the task's type (`subset`, e.g. `Chemical`) and the type then dropped.

use super::{BadRow, Doc, Imported};
use serde_json::{json, Map};

/// Reads `bytes` as token/tag lines or as PubTator, whichever it is. `entity_type` keeps only
/// mentions of that type (`None`: every mention).
pub fn ner(file: &str, bytes: &[u8], entity_type: Option<&str>) -> Imported {
    let text = String::from_utf8_lossy(bytes);
    let is_pubtator = text.lines().take(5).any(|l| l.contains("|t|") || l.contains("|a|"));
    if is_pubtator {
        pubtator(file, &text, entity_type)
    } else {
        token_tags(file, &text, entity_type)
    }
}

fn doc(native_id: String, tokens: Vec<String>, tags: Vec<String>) -> Doc {
    let mut entities = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for (tok, tag) in tokens.iter().zip(&tags) {
        match tag.as_str() {
            "B" => {
                entities.extend(current.take().map(|c| c.join(" ")));
                current = Some(vec![tok]);
            }
            "I" if current.is_some() => current.as_mut().unwrap().push(tok),
            _ => entities.extend(current.take().map(|c| c.join(" "))),
        }
    }
    entities.extend(current.map(|c| c.join(" ")));
    let mut fields = Map::new();
    fields.insert("sentence".into(), json!(tokens.join(" ")));
    fields.insert("tokens".into(), json!(tokens));
    fields.insert("entities".into(), json!(entities));
    Doc { native_id, fields, gold: json!(tags) }
}

/// A file tag as a bare tag of the wanted type: `B-Chemical` -> `B` when the type is wanted or
/// not filtered, else `O`.
fn bare_tag(tag: &str, entity_type: Option<&str>) -> Option<&'static str> {
    let (prefix, kind) = match tag.split_once('-') {
        Some((p, k)) => (p, Some(k)),
        None => (tag, None),
    };
    let wanted = match (entity_type, kind) {
        (Some(want), Some(k)) => k == want,
        _ => true,
    };
    match prefix {
        "O" => Some("O"),
        "B" if wanted => Some("B"),
        "I" if wanted => Some("I"),
        "B" | "I" => Some("O"),
        _ => None,
    }
}

fn token_tags(file: &str, text: &str, entity_type: Option<&str>) -> Imported {
    let mut out = Imported { format: "token-tag".into(), ..Default::default() };
    let (mut tokens, mut tags, mut start, mut broken) = (Vec::new(), Vec::new(), 0usize, None::<BadRow>);
    let flush = |out: &mut Imported, tokens: &mut Vec<String>, tags: &mut Vec<String>, start: usize, broken: &mut Option<BadRow>| {
        if let Some(b) = broken.take() {
            out.bad_rows.push(b);
        } else if !tokens.is_empty() {
            out.docs.push(doc(start.to_string(), std::mem::take(tokens), std::mem::take(tags)));
        }
        tokens.clear();
        tags.clear();
    };
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if line.trim().is_empty() || line.starts_with("-DOCSTART-") {
            flush(&mut out, &mut tokens, &mut tags, start, &mut broken);
            continue;
        }
        if tokens.is_empty() && broken.is_none() {
            start = line_no;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        let (tok, tag) = match cols.as_slice() {
            [tok, .., tag] if cols.len() >= 2 => (*tok, tag.trim()),
            _ => ("", ""),
        };
        match bare_tag(tag, entity_type) {
            Some(t) if !tok.is_empty() => {
                tokens.push(tok.to_string());
                tags.push(t.to_string());
            }
            _ => {
                broken.get_or_insert(BadRow {
                    file: file.into(),
                    line: line_no,
                    problem: format!("expected token<TAB>tag with a B/I/O tag, found {line:?}"),
                });
            }
        }
    }
    flush(&mut out, &mut tokens, &mut tags, start, &mut broken);
    out
}

/// Words and punctuation marks with their character spans: `\w+` runs and single other
/// non-space characters (the usual biomedical NER tokenization).
pub fn tokenize_words(text: &str) -> Vec<(usize, usize, String)> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_alphanumeric() || c == '_' {
            let s = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push((s, i, chars[s..i].iter().collect()));
        } else {
            out.push((i, i + 1, c.to_string()));
            i += 1;
        }
    }
    out
}

/// PubTator: `PMID|t|title`, `PMID|a|abstract`, mention lines `PMID\tstart\tend\ttext\ttype\tid`,
/// relation lines, a blank line between documents. One document per abstract (title, a space,
/// abstract: the offsets count the title's end as one character).
fn pubtator(file: &str, text: &str, entity_type: Option<&str>) -> Imported {
    let mut out = Imported { format: "pubtator".into(), ..Default::default() };
    struct Pending {
        pmid: String,
        line: usize,
        title: String,
        abstract_: String,
        mentions: Vec<(usize, usize)>,
    }
    let finish = |out: &mut Imported, p: Pending| {
        let body = format!("{} {}", p.title, p.abstract_);
        let words = tokenize_words(&body);
        let mut tags = vec!["O".to_string(); words.len()];
        let mut mentions = p.mentions;
        mentions.sort();
        for (s, e) in mentions {
            let inside: Vec<usize> = (0..words.len()).filter(|&k| words[k].0 >= s && words[k].1 <= e).collect();
            // A mention overlapping one already tagged (nested or repeated) is not tagged twice.
            if inside.is_empty() || inside.iter().any(|&k| tags[k] != "O") {
                continue;
            }
            tags[inside[0]] = "B".into();
            for &k in &inside[1..] {
                tags[k] = "I".into();
            }
        }
        let _ = p.line;
        out.docs.push(doc(p.pmid, words.into_iter().map(|w| w.2).collect(), tags));
    };
    let mut pending: Option<Pending> = None;
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let bad = |problem: String| BadRow { file: file.into(), line: line_no, problem };
        if line.trim().is_empty() {
            if let Some(p) = pending.take() {
                finish(&mut out, p);
            }
            continue;
        }
        if let Some((pmid, rest)) = line.split_once("|t|") {
            if let Some(p) = pending.take() {
                finish(&mut out, p);
            }
            pending = Some(Pending { pmid: pmid.into(), line: line_no, title: rest.into(), abstract_: String::new(), mentions: vec![] });
            continue;
        }
        let Some(p) = pending.as_mut() else {
            out.bad_rows.push(bad("a line before any `PMID|t|title` line".into()));
            continue;
        };
        if let Some((_, rest)) = line.split_once("|a|") {
            p.abstract_ = rest.into();
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() >= 4 && cols[1] == "CID" {
            continue; // a relation
        }
        if cols.len() < 5 {
            out.bad_rows.push(bad(format!("expected a mention PMID<TAB>start<TAB>end<TAB>text<TAB>type, found {line:?}")));
            continue;
        }
        let (Ok(s), Ok(e)) = (cols[1].parse::<usize>(), cols[2].parse::<usize>()) else {
            out.bad_rows.push(bad(format!("mention offsets {:?}..{:?} are not numbers", cols[1], cols[2])));
            continue;
        };
        if entity_type.map_or(true, |t| cols[4] == t) {
            p.mentions.push((s, e));
        }
    }
    if let Some(p) = pending {
        finish(&mut out, p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_tag_files_typed_or_bare() {
        let typed = "Torsade\tB-Disease\nde\tI-Disease\nwith\tO\nsotalol\tB-Chemical\n\nA\tO\n";
        let imp = ner("t", typed.as_bytes(), Some("Chemical"));
        assert_eq!(imp.docs.len(), 2);
        assert_eq!(imp.docs[0].gold, json!(["O", "O", "O", "B"]));
        assert_eq!(imp.docs[0].fields["entities"], json!(["sotalol"]));
        let imp = ner("t", typed.as_bytes(), None);
        assert_eq!(imp.docs[0].fields["entities"], json!(["Torsade de", "sotalol"]));
        let imp = ner("t", b"a\tB\nb\tI\nc\tX\n\nd\tO\n", None);
        assert_eq!(imp.docs.len(), 1);
        assert_eq!(imp.bad_rows[0].line, 3);
        assert_eq!(imp.docs[0].native_id, "5", "the sentence's first line");
    }

    #[test]
    fn pubtator_offsets_become_tags() {
        let text = "1|t|Famotidine-associated delirium.\n1|a|Famotidine is an H2 antagonist.\n\
                    1\t0\t10\tFamotidine\tChemical\tD015738\n1\t22\t30\tdelirium\tDisease\tD003693\n\
                    1\t32\t42\tFamotidine\tChemical\tD015738\n1\tCID\tD015738\tD003693\n\n";
        let imp = ner("p", text.as_bytes(), Some("Chemical"));
        assert!(imp.bad_rows.is_empty(), "{:?}", imp.bad_rows);
        let d = &imp.docs[0];
        assert_eq!(d.native_id, "1");
        assert_eq!(d.fields["tokens"][0], "Famotidine");
        assert_eq!(d.fields["entities"], json!(["Famotidine", "Famotidine"]));
        let imp = ner("p", text.as_bytes(), Some("Disease"));
        assert_eq!(imp.docs[0].fields["entities"], json!(["delirium"]));
    }
}
