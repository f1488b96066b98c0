//! Answer extraction: what a generated text says, in the form a metric scores.
//!
//! Real outputs rarely say just "C": they say "The correct answer is C: Nitroglycerin",
//! "Answer: (b)", "**B**", or restate the option's text; entity and medication lists come as
//! bullets, commas or sentences. Extraction looks for the clearest signal first and gives up
//! (`None`) rather than guess when the text names several answers without saying which — an
//! unparseable answer is counted and shown, and scored as wrong, never as a class of its own.

use fancy_regex::Regex;
use std::sync::OnceLock;

/// Which choice a text gives, by index, or `None` when it gives none or several.
///
/// `choices` are the answers the prompt asked for (option letters, `yes`/`no`/`maybe`, relation
/// names); `aliases` other words for each (the dataset's class names); `option_texts` each
/// option's text when the prompt listed them.
pub fn choice(text: &str, choices: &[String], aliases: &[String], option_texts: &[String]) -> Option<usize> {
    let text = text.trim();
    if text.is_empty() || choices.is_empty() {
        return None;
    }
    let letters = choices.iter().all(|c| c.len() == 1 && c.chars().all(|ch| ch.is_ascii_uppercase()));
    if letters {
        letter_choice(text, choices).or_else(|| option_text_choice(text, option_texts))
    } else {
        word_choice(text, choices, aliases).or_else(|| option_text_choice(text, option_texts))
    }
}

fn regex(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    // The patterns are constants of this module, checked by its tests.
    cell.get_or_init(|| Regex::new(pattern).expect("extraction pattern"))
}

/// Option letters: a leading letter ("C. Nitroglycerin", "(B)", "**A**"; a base model that
/// answers "D" and then goes on inventing "Answer: E" lines meant D), else an explicit cue
/// ("answer is C", "Answer: (b)", "option D"), else exactly one letter standing alone.
fn letter_choice(text: &str, choices: &[String]) -> Option<usize> {
    static CUE: OnceLock<Regex> = OnceLock::new();
    static LEADING: OnceLock<Regex> = OnceLock::new();
    static ALONE: OnceLock<Regex> = OnceLock::new();
    let index = |l: &str| choices.iter().position(|c| c.eq_ignore_ascii_case(l));
    // A lowercase letter counts only when marked as a label ("(b)", "b)", "b."), since "a" is
    // also an article: "the answer is a drug".
    let cue = regex(
        &CUE,
        r"(?i:answer|option|choice)(?:\s+(?:is|would be|should be))?\s*(?:[:\-]\s*)?[*_]*(?:\(([A-Za-z])\)|([A-Z])(?![\w'])|([a-z])(?=[).:]))",
    );
    // "A 45-year-old ..." starts with an article, not an answer: a bare leading letter must be
    // followed by punctuation or nothing.
    let leading = regex(&LEADING, r"^[\s*_#>\[]*(?:\(([A-Za-z])\)|([A-Z])(?=$|\r?\n|[.):*\],]|\s*$|\s+-\s)|([a-z])(?=[).:]))");
    if let Some(caps) = leading.captures(text).ok().flatten() {
        if let Some(i) = caps.get(1).or(caps.get(2)).or(caps.get(3)).and_then(|m| index(m.as_str())) {
            return Some(i);
        }
    }
    for caps in cue.captures_iter(text).flatten() {
        let l = caps.get(1).or(caps.get(2)).or(caps.get(3)).map(|m| m.as_str())?;
        if let Some(i) = index(l) {
            return Some(i);
        }
    }
    let alone = regex(&ALONE, r"(?:^|[\s(\[*])([A-Z])(?=$|[).:\]*,]|\s*$)");
    let mut found: Vec<usize> = alone
        .captures_iter(text)
        .flatten()
        .filter_map(|c| c.get(1).and_then(|m| index(m.as_str())))
        .collect();
    found.dedup();
    found.sort_unstable();
    found.dedup();
    (found.len() == 1).then(|| found[0])
}

/// Word answers (yes/no/maybe, relation classes): an explicit cue, else the first word, else
/// exactly one of the choices (or their aliases) named anywhere.
fn word_choice(text: &str, choices: &[String], aliases: &[String]) -> Option<usize> {
    let lower = text.to_lowercase();
    // Each choice with its other names, longest first so "no relation" is not read as "no".
    let mut names: Vec<(String, usize)> = Vec::new();
    for (i, c) in choices.iter().enumerate() {
        names.push((c.to_lowercase(), i));
        if let Some(a) = aliases.get(i).filter(|a| a.chars().any(char::is_alphabetic)) {
            names.push((a.to_lowercase(), i));
        }
    }
    names.sort_by(|a, b| b.0.len().cmp(&a.0.len()));
    let at_word = |s: &str, pos: usize, name: &str| {
        let before_ok = s[..pos].chars().next_back().map_or(true, |c| !c.is_alphanumeric());
        let after_ok = s[pos + name.len()..].chars().next().map_or(true, |c| !c.is_alphanumeric());
        before_ok && after_ok
    };
    static CUE: OnceLock<Regex> = OnceLock::new();
    let cue = regex(&CUE, r"(?i)(?:answer|label|relation|classification|category)(?:\s+(?:is|would be|should be))?\s*[:\-]\s*|(?:answer|label|relation) is\s+");
    if let Some(m) = cue.find(&lower).ok().flatten() {
        let rest = lower[m.end()..].trim_start_matches(|c: char| c.is_whitespace() || "*_\"'`(".contains(c));
        if let Some(i) = names.iter().find(|(n, _)| rest.starts_with(n.as_str()) && at_word(rest, 0, n)).map(|(_, i)| *i) {
            return Some(i);
        }
    }
    let start = lower.trim_start_matches(|c: char| c.is_whitespace() || "*_\"'`(#>-".contains(c));
    if let Some(i) = names.iter().find(|(n, _)| start.starts_with(n.as_str()) && at_word(start, 0, n)).map(|(_, i)| *i) {
        return Some(i);
    }
    let mut named: Vec<usize> = Vec::new();
    let mut blanked = lower.clone();
    for (name, i) in &names {
        let mut from = 0;
        while let Some(p) = blanked[from..].find(name.as_str()).map(|p| p + from) {
            if at_word(&blanked, p, name) {
                named.push(*i);
                // Blank it so a shorter name inside it is not found again.
                blanked.replace_range(p..p + name.len(), &" ".repeat(name.len()));
            }
            from = p + name.len().max(1);
        }
    }
    named.sort_unstable();
    named.dedup();
    (named.len() == 1).then(|| named[0])
}

/// The option whose text the answer contains, when exactly one does (longer texts first, so an
/// option that contains another is preferred).
fn option_text_choice(text: &str, option_texts: &[String]) -> Option<usize> {
    let lower = text.to_lowercase();
    let mut hits: Vec<usize> = Vec::new();
    let mut order: Vec<usize> = (0..option_texts.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(option_texts[i].len()));
    let mut blanked = lower.clone();
    for i in order {
        let t = option_texts[i].trim().to_lowercase();
        if t.len() < 2 {
            continue;
        }
        if let Some(p) = blanked.find(&t) {
            hits.push(i);
            blanked.replace_range(p..p + t.len(), &" ".repeat(t.len()));
        }
    }
    (hits.len() == 1).then(|| hits[0])
}

/// Every choice the text names (multi-label), in choice order; none named is an empty list.
pub fn labels(text: &str, choices: &[String]) -> Vec<String> {
    let lower = normalize_label_text(text);
    choices
        .iter()
        .filter(|c| {
            let c = normalize_label_text(c);
            !c.is_empty() && lower.contains(&c)
        })
        .cloned()
        .collect()
}

/// Lowercase, `&` as `and`, runs of non-alphanumerics as one space: "Activating invasion &
/// metastasis" names "activating invasion and metastasis".
fn normalize_label_text(s: &str) -> String {
    let s = s.to_lowercase().replace('&', " and ");
    let mut out = String::with_capacity(s.len() + 2);
    out.push(' ');
    for w in s.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        out.push_str(w);
        out.push(' ');
    }
    out
}

/// The items of a list answer: bullets, numbered lines, commas, semicolons or "and", with any
/// lead-in ("Medications:", "The entities are") and quotes or brackets removed.
pub fn items(text: &str) -> Vec<String> {
    static LEAD_IN: OnceLock<Regex> = OnceLock::new();
    static BULLET: OnceLock<Regex> = OnceLock::new();
    static SPLIT: OnceLock<Regex> = OnceLock::new();
    let lead_in = regex(
        &LEAD_IN,
        r"(?i)^(?:[\w\s,()'/-]{0,80}?\b(?:are|include|includes|including|is|would be)\s*:?\s+|[^:\n]{0,60}:\s*)",
    );
    let bullet = regex(&BULLET, r"^\s*(?:[-*•+]|\d+[.)]|\(\d+\)|[a-z][.)](?=\s))\s*");
    let split = regex(&SPLIT, r"(?i)\s*(?:[,;]|\band\b|\bor\b|\s\|\s)\s*");
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        let line = bullet.replace(line, "");
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let body: String = match lead_in.find(line).ok().flatten() {
            Some(m) if m.end() < line.len() => line[m.end()..].to_string(),
            _ => line.to_string(),
        };
        for piece in split.split(&body).flatten() {
            let item = clean_item(piece);
            let l = item.to_lowercase();
            if item.is_empty() || matches!(l.as_str(), "none" | "n/a" | "na" | "nil" | "no entities" | "no medications") {
                continue;
            }
            out.push(item.to_string());
        }
    }
    out
}

/// An item without surrounding quotes, emphasis, full stops, or brackets that enclose all of
/// it or close nothing ("Sertraline (Zoloft)" keeps its brackets).
fn clean_item(piece: &str) -> &str {
    let mut item = piece.trim();
    loop {
        let before = item;
        item = item.trim_matches(|c: char| "\"'`*_.:<>".contains(c) || c.is_whitespace());
        for (open, close) in [('(', ')'), ('[', ']'), ('{', '}')] {
            let (opens, closes) = (item.matches(open).count(), item.matches(close).count());
            if item.starts_with(open) && item.ends_with(close) && opens == 1 && closes == 1 {
                item = &item[1..item.len() - 1];
            } else if item.ends_with(close) && closes > opens {
                item = &item[..item.len() - 1];
            } else if item.starts_with(open) && opens > closes {
                item = &item[1..];
            }
        }
        if item == before {
            return item;
        }
    }
}

/// BIO tags over `tokens` for the entities a text lists: each entity's every occurrence in the
/// token sequence (matched case-insensitively, ignoring how either side was tokenized), longest
/// entities first, never overlapping. Tags are bare `B`/`I`/`O`, as the importers make them.
pub fn entity_tags(text: &str, tokens: &[String]) -> Vec<String> {
    let mut tags = vec!["O".to_string(); tokens.len()];
    let squash = |s: &str| s.chars().filter(|c| !c.is_whitespace()).flat_map(char::to_lowercase).collect::<String>();
    let toks: Vec<String> = tokens.iter().map(|t| squash(t)).collect();
    let mut entities: Vec<String> = items(text).iter().map(|e| squash(e)).filter(|e| !e.is_empty()).collect();
    entities.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
    entities.dedup();
    for e in &entities {
        let mut i = 0;
        while i < toks.len() {
            let mut acc = String::new();
            let mut j = i;
            while j < toks.len() && acc.len() < e.len() {
                acc.push_str(&toks[j]);
                j += 1;
            }
            if acc == *e && tags[i..j].iter().all(|t| t == "O") && !toks[i].is_empty() {
                tags[i] = "B".into();
                for t in &mut tags[i + 1..j] {
                    *t = "I".into();
                }
                i = j;
            } else {
                i += 1;
            }
        }
    }
    tags
}


#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn option_letters_from_real_answers() {
        let abcd = s(&["A", "B", "C", "D"]);
        let opts = s(&["Aspirin", "Nitroglycerin", "Morphine", "Oxygen"]);
        let cases = [
            ("C", Some(2)),
            (" C: Nitroglycerin", Some(2)),
            ("The correct answer is C: Morphine", Some(2)),
            ("The answer is A. Lens.", Some(0)),
            ("Answer: (b)", Some(1)),
            ("**D**", Some(3)),
            ("(B) Nitroglycerin", Some(1)),
            (" D\nAnswer: E\nAnswer: C", Some(3)),
            ("B is wrong here; the answer is C", Some(2)),
            ("I would choose option D because oxygen helps.", Some(3)),
            ("Nitroglycerin is the drug of choice.", Some(1)),
            ("A 45-year-old man should get morphine or aspirin.", None),
            ("the answer is a drug that dilates vessels", None),
            ("Either B or C could be right.", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(choice(text, &abcd, &[], &opts), want, "{text:?}");
        }
    }

    #[test]
    fn word_answers() {
        let ynm = s(&["yes", "no", "maybe"]);
        assert_eq!(choice("Yes.", &ynm, &[], &[]), Some(0));
        assert_eq!(choice("**No**, the evidence is weak", &ynm, &[], &[]), Some(1));
        assert_eq!(choice("Based on the context, the answer is: maybe", &ynm, &[], &[]), Some(2));
        assert_eq!(choice("It is not known; yes or no cannot be said", &ynm, &[], &[]), None);
        assert_eq!(choice("The study does not say.", &ynm, &[], &[]), None);
        assert_eq!(choice("Nobody knows", &ynm, &[], &[]), None, "whole words only");
        let ddi = s(&["none", "mechanism", "effect", "advice", "interaction"]);
        let classes = s(&["DDI-false", "DDI-mechanism", "DDI-effect", "DDI-advise", "DDI-int"]);
        assert_eq!(choice("The relation is mechanism (pharmacokinetic).", &ddi, &classes, &[]), Some(1));
        assert_eq!(choice("DDI-advise", &ddi, &classes, &[]), Some(3));
    }

    #[test]
    fn lists_and_entities() {
        assert_eq!(items("Medications: aspirin, clopidogrel and atorvastatin."), s(&["aspirin", "clopidogrel", "atorvastatin"]));
        assert_eq!(items("- Lorazepam\n- Sertraline (Zoloft)\n2. 'Paroxetine'"), s(&["Lorazepam", "Sertraline (Zoloft)", "Paroxetine"]));
        assert_eq!(items("The recommended medications are insulin; metformin"), s(&["insulin", "metformin"]));
        assert_eq!(items("None"), Vec::<String>::new());
        let tokens = s(&["Torsade", "de", "pointes", "after", "5", "-", "FU", "and", "torsade", "de", "pointes"]);
        let tags = entity_tags("0 | torsade de pointes, 5-FU", &tokens);
        assert_eq!(tags, s(&["B", "I", "I", "O", "B", "I", "I", "O", "B", "I", "I"]));
        assert_eq!(entity_tags("nothing here", &tokens), vec!["O"; 11]);
        let words: Vec<String> = crate::tasks::importers::tokenize_words("5-FU (x)").into_iter().map(|w| w.2).collect();
        assert_eq!(words, s(&["5", "-", "FU", "(", "x", ")"]));
    }

    #[test]
    fn labels_are_named_phrases() {
        let hallmarks = s(&["activating invasion and metastasis", "avoiding immune destruction", "cellular energetics"]);
        assert_eq!(labels("Activating invasion & metastasis; Deregulating cellular energetics", &hallmarks), s(&["activating invasion and metastasis", "cellular energetics"]));
        assert!(labels("none of these", &hallmarks).is_empty());
    }

    #[test]
    fn any_text_is_handled() {
        // Model output is arbitrary: case-changing letters (İ lowercases to two chars), marks,
        // emoji, control characters, markup.
        let alphabet: Vec<char> = "aAbBcCdD İıẞß ,;:.()[]*_-|\n\t\u{0}<>&\"'yes no maybe 😀\u{301}".chars().collect();
        let abcd = s(&["A", "B", "C", "D"]);
        let ynm = s(&["yes", "no", "maybe"]);
        let tokens = s(&["İ", "a", "b", "-", "c"]);
        let mut rng = 0x9E37_79B9_7F4A_7C15u64;
        for len in 0..200 {
            let text: String = (0..len)
                .map(|_| {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    alphabet[(rng % alphabet.len() as u64) as usize]
                })
                .collect();
            if let Some(i) = choice(&text, &abcd, &[], &abcd) {
                assert!(i < 4);
            }
            if let Some(i) = choice(&text, &ynm, &s(&["Y", "N", "M"]), &[]) {
                assert!(i < 3);
            }
            let _ = labels(&text, &ynm);
            assert!(items(&text).iter().all(|i| !i.is_empty()));
            assert_eq!(entity_tags(&text, &tokens).len(), tokens.len());
        }
    }
}
