//! `exact_match` and `quasi_exact_match` as HELM defines them.
//!
//! From crfm-helm, `src/helm/benchmark/metrics/evaluate_reference_metrics.py`:
//!
//! ```python
//! def exact_match(gold, pred):        # 0 for an empty prediction, else gold.strip() == pred.strip()
//! def quasi_exact_match(gold, pred):  # 0 for an empty prediction, else normalize_text(gold) == normalize_text(pred)
//! def normalize_text(text):           # lower -> drop string.punctuation -> \b(a|an|the)\b to " " -> " ".join(split())
//! ```
//!
//! Both give 0 when the prediction is the empty string, even against an empty reference (a
//! whitespace-only prediction is not empty). `string.punctuation` is ASCII only (`_` is in it and
//! goes before articles are looked for, so `the_a` becomes `thea`; `“` or `—` stay); Python's `\b`
//! is Unicode-aware (word characters are letters, numbers and `_`), so the `the` in `théa` or
//! `éthe` is not an article; whitespace is Python's (U+001C..U+001F included).

use super::pytext::{py_collapse_spaces, py_lower, py_strip};

/// HELM's `exact_match(gold=reference, pred=prediction)`: 1.0 or 0.0.
pub fn exact_match(prediction: &str, reference: &str) -> f64 {
    if prediction.is_empty() {
        return 0.0;
    }
    f64::from(u8::from(py_strip(reference) == py_strip(prediction)))
}

/// HELM's `quasi_exact_match(gold=reference, pred=prediction)`: 1.0 or 0.0.
pub fn quasi_exact_match(prediction: &str, reference: &str) -> f64 {
    if prediction.is_empty() {
        return 0.0;
    }
    f64::from(u8::from(normalize_text(reference) == normalize_text(prediction)))
}

/// Python's `\w` for one character: `str.isalnum()` or `_`; `isalnum` is a letter (L*) or a
/// number (N*).
fn is_py_word(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || c == '_';
    }
    static WORD: std::sync::OnceLock<fancy_regex::Regex> = std::sync::OnceLock::new();
    let re = WORD.get_or_init(|| fancy_regex::Regex::new(r"^[\p{L}\p{N}]$").expect("a valid character class"));
    let mut buf = [0u8; 4];
    re.is_match(c.encode_utf8(&mut buf)).unwrap_or(false)
}

/// HELM's `normalize_text` (articles removed).
pub fn normalize_text(text: &str) -> String {
    let lowered = py_lower(text);
    let no_punct: String = lowered.chars().filter(|c| !c.is_ascii_punctuation()).collect();
    // `re.sub(r"\b(a|an|the)\b", " ", text)`: a maximal run of word characters that is exactly
    // an article becomes a space.
    let mut out = String::with_capacity(no_punct.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if matches!(word.as_str(), "a" | "an" | "the") {
            out.push(' ');
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in no_punct.chars() {
        if is_py_word(c) {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    py_collapse_spaces(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helm_normalization() {
        assert_eq!(normalize_text("The answer is (C)."), "answer is c");
        // `_` is punctuation (removed first); `é` is a word character, so `théa` keeps its `the`.
        assert_eq!(normalize_text("théa the_a an éthe"), "théa thea éthe");
        assert_eq!(quasi_exact_match("", ""), 0.0);
        assert_eq!(exact_match(" C ", "C"), 1.0);
        assert_eq!(exact_match("", ""), 0.0);
    }
}
