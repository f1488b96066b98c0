//! Python's string semantics where the reference scorers rely on them.
//!
//! The references are Python: `str.split()`, `str.strip()` and `str.lower()` decide tokens and
//! normalized text, and Python's idea of whitespace differs from Rust's: CPython counts the
//! information separators U+001C..U+001F as whitespace (`Py_UNICODE_ISSPACE`: bidirectional class
//! WS, B or S, or category Zs) and Rust's `char::is_whitespace` does not. Using Rust's `split_whitespace`
//! would silently change BLEU token counts on text holding those characters.

/// CPython's `str.isspace()` for one character (`Py_UNICODE_ISSPACE`, Unicode 14 / Python 3.11).
pub(crate) fn is_py_space(c: char) -> bool {
    matches!(
        c,
        '\t'..='\r'
            | '\u{1c}'..='\u{1f}'
            | ' '
            | '\u{85}'
            | '\u{a0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200a}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202f}'
            | '\u{205f}'
            | '\u{3000}'
    )
}

/// `s.split()`: runs of Python whitespace separate the pieces; no empty pieces.
pub(crate) fn py_split(s: &str) -> impl Iterator<Item = &str> {
    s.split(is_py_space).filter(|t| !t.is_empty())
}

/// `s.strip()`.
pub(crate) fn py_strip(s: &str) -> &str {
    s.trim_matches(is_py_space)
}

/// `s.rstrip()`.
pub(crate) fn py_rstrip(s: &str) -> &str {
    s.trim_end_matches(is_py_space)
}

/// `" ".join(s.split())`.
pub(crate) fn py_collapse_spaces(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, t) in py_split(s).enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(t);
    }
    out
}

/// `s.lower()`. Rust's `to_lowercase` applies the same full case mappings as CPython (including
/// `İ` -> `i̇` and the final-sigma rule); the Unicode versions differ (14 in Python 3.11), which
/// only matters for characters assigned since.
pub(crate) fn py_lower(s: &str) -> String {
    s.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_whitespace_includes_information_separators() {
        assert_eq!(py_split("a\u{1f}b\u{1c}c  d\u{200b}e").collect::<Vec<_>>(), ["a", "b", "c", "d\u{200b}e"]);
        assert_eq!(py_strip("\u{85}\u{a0} x \u{3000}"), "x");
        assert_eq!(py_rstrip(" x \n"), " x");
        assert_eq!(py_collapse_spaces("  a \t b\n"), "a b");
        assert_eq!(py_lower("ΟΔΟΣ İ"), "οδος i\u{307}");
    }
}
