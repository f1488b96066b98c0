//! Byte-level BPE pre-tokenization: splitting text into words before merges, as llama.cpp's
//! `unicode_regex_split` does it (src/unicode.cpp, llama-cpp-python 0.3.36's llama.cpp).
//!
//! llama.cpp applies a list of regexes in turn; each one splits every piece the previous ones
//! produced, keeping both its matches and the text between them. The regexes it knows well
//! (GPT-2's, Llama 3's, Qwen 2's, Qwen 3.5's) are not run as regexes at all but by hand-written
//! scanners, and this module ports those scanners rather than feeding the pattern to a regex
//! engine, because they differ from the pattern in corner cases (e.g. an unassigned codepoint is
//! not matched by `[^\s\p{L}\p{N}]` and stands alone).
//!
//! Any other regex runs, in llama.cpp, through `std::regex` on a "collapsed" text in which every
//! non-ASCII codepoint is replaced by one byte standing for its category (0xD1 numbers, 0xD2
//! letters, 0xD3 punctuation, 0xD4 marks, 0xD5 symbols, 0x0B whitespace, 0xD0 the rest), with
//! `\p{..}` in the pattern rewritten to match those bytes; or, when the pattern names no category,
//! through `std::wregex` on the codepoints with non-ASCII whitespace replaced by 0x0B. This module
//! does the same rewriting and runs the result with `fancy-regex` (which has the lookaheads the
//! patterns use); the collapsed bytes become the chars U+00D0..U+00D5 so the text stays UTF-8.
//! Both ECMAScript and fancy-regex are backtracking engines with leftmost-first alternation, and on
//! collapsed text `\s` means the same ASCII set in both.

use super::unicode::{self, Flags};
use fancy_regex::Regex;

/// One splitting step.
#[derive(Debug)]
enum Splitter {
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)`
    Gpt2,
    /// Llama 3's pattern (`\p{N}{1,3}`), `digits = 3`; Qwen 2's (`\p{N}`), `digits = 1`.
    Llama3 { digits: usize },
    /// Qwen 3.5's: Qwen 2's with `[\p{L}\p{M}]+` for letter runs.
    Qwen35,
    /// A general pattern, run on collapsed text (`collapsed`) or on the plain codepoints.
    Regex { re: Regex, collapsed: bool },
}

/// The pre-tokenizer of one `tokenizer.ggml.pre` type.
#[derive(Debug)]
pub(crate) struct PreTokenizer {
    splitters: Vec<Splitter>,
    needs_collapse: bool,
}

const GPT2: &str = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)";
const LLAMA3_ORIG: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
pub(crate) const LLAMA3: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
pub(crate) const QWEN2: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
pub(crate) const QWEN35: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
pub(crate) const GPT2_PATTERN: &str = GPT2;

/// The `\p{..}` names llama.cpp rewrites for collapsed text, with their category.
const CATEGORY_NAMES: [(&str, u16); 10] = [
    (r"\p{N}", Flags::NUMBER),
    (r"\p{L}", Flags::LETTER),
    (r"\p{P}", Flags::PUNCTUATION),
    (r"\p{M}", Flags::ACCENT_MARK),
    (r"\p{S}", Flags::SYMBOL),
    (r"\p{Lu}", Flags::LETTER),
    (r"\p{Ll}", Flags::LETTER),
    (r"\p{Lt}", Flags::LETTER),
    (r"\p{Lm}", Flags::LETTER),
    (r"\p{Lo}", Flags::LETTER),
];

/// The collapsed stand-in for a category, and the ASCII members of that category
/// (`k_ucat_cpt`, `k_ucat_map` in unicode.cpp), as regex class text.
fn collapsed_class(category: u16) -> (char, &'static str) {
    match category {
        Flags::NUMBER => ('\u{D1}', "0-9"),
        Flags::LETTER => ('\u{D2}', "A-Za-z"),
        Flags::PUNCTUATION => ('\u{D3}', r"!-#%-*,-/:-;?-@\[-\]_\{\}"),
        Flags::ACCENT_MARK => ('\u{D4}', ""),
        Flags::SYMBOL => ('\u{D5}', "$+<->^`|~"),
        _ => ('\u{D0}', ""),
    }
}

fn collapse_char(cp: u32) -> char {
    if cp < 0x80 {
        return char::from_u32(cp).unwrap_or('\u{D0}');
    }
    let f = unicode::flags(cp);
    if f.is_whitespace() {
        return '\u{0B}';
    }
    match f.category() {
        Flags::NUMBER | Flags::LETTER | Flags::PUNCTUATION | Flags::ACCENT_MARK | Flags::SYMBOL => {
            collapsed_class(f.category()).0
        }
        _ => '\u{D0}',
    }
}

/// Rewrites a pattern for collapsed text the way `unicode_regex_split` does: each known
/// `\p{..}` becomes its stand-in char plus its ASCII members, wrapped in `[...]` unless it already
/// sits in a class.
fn collapse_pattern(pattern: &str) -> String {
    let b = pattern.as_bytes();
    let mut out = String::with_capacity(pattern.len() * 2);
    let mut inside = false;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'[' && (i == 0 || b[i - 1] != b'\\') {
            out.push('[');
            inside = true;
            i += 1;
            continue;
        }
        if inside && b[i] == b']' && b[i - 1] != b'\\' {
            out.push(']');
            inside = false;
            i += 1;
            continue;
        }
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1] == b'p' && b[i + 2] == b'{' {
            if let Some(close) = pattern[i + 3..].find('}').map(|p| p + i + 3) {
                if close <= i + 10 {
                    let name = &pattern[i..=close];
                    if let Some(&(_, cat)) = CATEGORY_NAMES.iter().find(|(n, _)| *n == name) {
                        let (stand_in, members) = collapsed_class(cat);
                        if !inside {
                            out.push('[');
                        }
                        out.push(stand_in);
                        out.push_str(members);
                        if !inside {
                            out.push(']');
                        }
                        i = close + 1;
                        continue;
                    }
                }
            }
        }
        // The pattern is ASCII wherever categories are used (llama.cpp refuses otherwise).
        let c = pattern[i..].chars().next().unwrap_or('\0');
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// Error building a pre-tokenizer: a pattern fancy-regex cannot compile.
#[derive(Debug)]
pub(crate) struct PatternError {
    pub pattern: String,
    pub message: String,
}

impl PreTokenizer {
    /// Builds the splitter list for llama.cpp's regex list `patterns` (in order).
    pub(crate) fn new(patterns: &[&str]) -> Result<Self, PatternError> {
        let mut splitters = Vec::with_capacity(patterns.len());
        let mut needs_collapse = false;
        for &p in patterns {
            let s = match p {
                GPT2 => Splitter::Gpt2,
                LLAMA3 | LLAMA3_ORIG => Splitter::Llama3 { digits: 3 },
                QWEN2 => Splitter::Llama3 { digits: 1 },
                QWEN35 => Splitter::Qwen35,
                _ => {
                    let collapsed = CATEGORY_NAMES.iter().any(|(n, _)| p.contains(n));
                    if collapsed && !p.is_ascii() {
                        return Err(PatternError {
                            pattern: p.to_string(),
                            message: "a pattern with both unicode categories and non-ASCII characters".into(),
                        });
                    }
                    let source = if collapsed { collapse_pattern(p) } else { p.to_string() };
                    let re = Regex::new(&source).map_err(|e| PatternError {
                        pattern: p.to_string(),
                        message: e.to_string(),
                    })?;
                    needs_collapse |= collapsed;
                    Splitter::Regex { re, collapsed }
                }
            };
            splitters.push(s);
        }
        Ok(PreTokenizer {
            splitters,
            needs_collapse,
        })
    }

    /// Splits `text` into words (unencoded UTF-8 pieces), appending them to `out` as ranges of
    /// `text`.
    pub(crate) fn split<'t>(&self, text: &'t str, out: &mut Vec<&'t str>) {
        let cpts: Vec<u32> = text.chars().map(|c| c as u32).collect();
        if cpts.is_empty() {
            return;
        }
        // Byte offset of each codepoint, plus the end.
        let mut byte_at: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
        byte_at.push(text.len());

        let collapsed: String = if self.needs_collapse {
            cpts.iter().map(|&c| collapse_char(c)).collect()
        } else {
            String::new()
        };
        let mut wide: Option<String> = None;

        let mut offsets: Vec<usize> = vec![cpts.len()];
        for s in &self.splitters {
            offsets = match s {
                Splitter::Gpt2 => split_gpt2(&cpts, &offsets),
                Splitter::Llama3 { digits } => split_llama3(&cpts, &offsets, *digits, false),
                Splitter::Qwen35 => split_llama3(&cpts, &offsets, 1, true),
                Splitter::Regex { re, collapsed: true } => split_regex(re, &collapsed, &offsets),
                Splitter::Regex { re, collapsed: false } => {
                    let w = wide.get_or_insert_with(|| {
                        cpts.iter()
                            .map(|&c| {
                                if c > 0x7F && unicode::flags(c).is_whitespace() {
                                    '\u{0B}'
                                } else {
                                    char::from_u32(c).unwrap_or('\u{FFFD}')
                                }
                            })
                            .collect()
                    });
                    split_regex(re, w, &offsets)
                }
            };
        }

        let mut start = 0;
        for len in offsets {
            out.push(&text[byte_at[start]..byte_at[start + len]]);
            start += len;
        }
    }
}

/// Runs a regex over each piece (given as codepoint lengths) of `text` (one char per codepoint),
/// keeping matches and the gaps between them (`unicode_regex_split_stl`).
fn split_regex(re: &Regex, text: &str, offsets: &[usize]) -> Vec<usize> {
    let mut out = Vec::with_capacity(offsets.len());
    // Char index -> byte offset in `text`, built lazily per piece.
    let mut pieces_start_char = 0usize;
    let mut byte_pos = 0usize; // byte offset of pieces_start_char
    let mut chars = text.char_indices().peekable();
    for &len in offsets {
        // Find the byte range of this piece.
        let begin = byte_pos;
        let mut end = begin;
        for _ in 0..len {
            match chars.next() {
                Some((i, c)) => end = i + c.len_utf8(),
                None => break,
            }
        }
        let piece = &text[begin..end];
        let mut last = 0usize; // byte offset in piece
        let mut pos = 0usize;
        while pos <= piece.len() {
            let m = match re.find_from_pos(piece, pos) {
                Ok(Some(m)) => m,
                // A regex that hits fancy-regex's backtrack limit: llama.cpp's std::regex would
                // either finish or throw; treat the rest as one piece.
                Ok(None) | Err(_) => break,
            };
            if m.start() == m.end() {
                // llama.cpp emits a zero-length piece here; none of the supported patterns can
                // match empty, so just step past it.
                pos = m.end() + piece[m.end()..].chars().next().map_or(1, |c| c.len_utf8());
                continue;
            }
            if m.start() > last {
                out.push(piece[last..m.start()].chars().count());
            }
            out.push(piece[m.start()..m.end()].chars().count());
            last = m.end();
            pos = m.end();
        }
        if last < piece.len() {
            out.push(piece[last..].chars().count());
        }
        pieces_start_char += len;
        byte_pos = end;
    }
    let _ = pieces_start_char;
    out
}

/// Port of `unicode_regex_split_custom_gpt2`.
fn split_gpt2(cpts: &[u32], offsets: &[usize]) -> Vec<usize> {
    let mut out = Vec::with_capacity(offsets.len());
    let mut start = 0;
    for &offset in offsets {
        let ini = start;
        let end = start + offset;
        start = end;
        let cpt = |p: usize| if p >= ini && p < end { cpts[p] } else { u32::MAX };
        let fl = |p: usize| {
            if p >= ini && p < end {
                unicode::flags(cpts[p])
            } else {
                Flags::OUT_OF_RANGE
            }
        };
        let mut prev_end = ini;
        let mut add = |e: usize, out: &mut Vec<usize>| -> usize {
            let len = e - prev_end;
            if len > 0 {
                out.push(len);
            }
            prev_end = e;
            len
        };

        let mut pos = ini;
        while pos < end {
            let c = cpt(pos);
            let f = fl(pos);

            // 's|'t|'re|'ve|'m|'ll|'d
            if c == '\'' as u32 && pos + 1 < end {
                let n = cpt(pos + 1);
                if n == 's' as u32 || n == 't' as u32 || n == 'm' as u32 || n == 'd' as u32 {
                    pos += add(pos + 2, &mut out);
                    continue;
                }
                if pos + 2 < end {
                    let nn = cpt(pos + 2);
                    if matches!(
                        (char::from_u32(n), char::from_u32(nn)),
                        (Some('r' | 'v'), Some('e')) | (Some('l'), Some('l'))
                    ) {
                        pos += add(pos + 3, &mut out);
                        continue;
                    }
                }
            }

            let mut f2 = if c == ' ' as u32 { fl(pos + 1) } else { f };
            //  ?\p{L}+
            if f2.is_letter() {
                pos += (c == ' ' as u32) as usize;
                while f2.is_letter() {
                    pos += 1;
                    f2 = fl(pos);
                }
                add(pos, &mut out);
                continue;
            }
            //  ?\p{N}+
            if f2.is_number() {
                pos += (c == ' ' as u32) as usize;
                while f2.is_number() {
                    pos += 1;
                    f2 = fl(pos);
                }
                add(pos, &mut out);
                continue;
            }
            //  ?[^\s\p{L}\p{N}]+
            if !(f2.is_whitespace() || f2.is_letter() || f2.is_number()) && f2.any() {
                pos += (c == ' ' as u32) as usize;
                while !(f2.is_whitespace() || f2.is_letter() || f2.is_number()) && f2.any() {
                    pos += 1;
                    f2 = fl(pos);
                }
                add(pos, &mut out);
                continue;
            }

            let mut n_ws = 0;
            while fl(pos + n_ws).is_whitespace() {
                n_ws += 1;
            }
            // \s+(?!\S)
            if n_ws > 1 && cpt(pos + n_ws) != u32::MAX {
                pos += n_ws - 1;
                add(pos, &mut out);
                continue;
            }
            // \s+
            if n_ws > 0 {
                pos += n_ws;
                add(pos, &mut out);
                continue;
            }
            // no match
            pos += 1;
            add(pos, &mut out);
        }
    }
    out
}

/// Port of `unicode_regex_split_custom_llama3` (`digits = 3`), `..._qwen2` (`digits = 1`) and
/// `..._qwen35` (`digits = 1`, `marks = true`: letter runs also take combining marks).
fn split_llama3(cpts: &[u32], offsets: &[usize], digits: usize, marks: bool) -> Vec<usize> {
    let mut out = Vec::with_capacity(offsets.len());
    let mut start = 0;
    for &offset in offsets {
        let ini = start;
        let end = start + offset;
        start = end;
        let cpt = |p: usize| if p >= ini && p < end { cpts[p] } else { u32::MAX };
        let fl = |p: usize| {
            if p >= ini && p < end {
                unicode::flags(cpts[p])
            } else {
                Flags::OUT_OF_RANGE
            }
        };
        let wordish = |f: Flags| f.is_letter() || (marks && f.is_accent_mark());
        let mut prev_end = ini;
        let mut add = |e: usize, out: &mut Vec<usize>| -> usize {
            let len = e - prev_end;
            if len > 0 {
                out.push(len);
            }
            prev_end = e;
            len
        };

        let mut pos = ini;
        while pos < end {
            let c = cpt(pos);
            let f = fl(pos);

            // (?i:'s|'t|'re|'ve|'m|'ll|'d)
            if c == '\'' as u32 && pos + 1 < end {
                let n = unicode::to_lower_ascii(cpt(pos + 1));
                if n == 's' as u32 || n == 't' as u32 || n == 'm' as u32 || n == 'd' as u32 {
                    pos += add(pos + 2, &mut out);
                    continue;
                }
                if pos + 2 < end {
                    let nn = unicode::to_lower_ascii(cpt(pos + 2));
                    if matches!(
                        (char::from_u32(n), char::from_u32(nn)),
                        (Some('r' | 'v'), Some('e')) | (Some('l'), Some('l'))
                    ) {
                        pos += add(pos + 3, &mut out);
                        continue;
                    }
                }
            }

            // [^\r\n\p{L}\p{N}]?\p{L}+   (Qwen 3.5: [\p{L}\p{M}]+)
            if !(c == '\r' as u32 || c == '\n' as u32 || f.is_number()) && (wordish(f) || wordish(fl(pos + 1))) {
                pos += 1;
                while wordish(fl(pos)) {
                    pos += 1;
                }
                add(pos, &mut out);
                continue;
            }

            // \p{N}{1,3} (Llama 3) or \p{N} (Qwen)
            if f.is_number() {
                if digits == 1 {
                    pos += 1;
                    add(pos, &mut out);
                    continue;
                }
                let mut run_start = pos;
                while fl(pos).is_number() {
                    pos += 1;
                    if pos - run_start >= digits {
                        add(pos, &mut out);
                        run_start = pos;
                    }
                }
                add(pos, &mut out);
                continue;
            }

            //  ?[^\s\p{L}\p{N}]+[\r\n]*   (note: llama.cpp tests the *current* char's flags first)
            let mut f2 = if c == ' ' as u32 { fl(pos + 1) } else { f };
            let excluded =
                |f: Flags| f.is_whitespace() || f.is_letter() || f.is_number() || (marks && f.is_accent_mark());
            if !excluded(f2) && f.any() {
                pos += (c == ' ' as u32) as usize;
                while !excluded(f2) && f2.any() {
                    pos += 1;
                    f2 = fl(pos);
                }
                let mut c2 = cpt(pos);
                while c2 == '\r' as u32 || c2 == '\n' as u32 {
                    pos += 1;
                    c2 = cpt(pos);
                }
                add(pos, &mut out);
                continue;
            }

            let mut n_ws = 0;
            let mut last_rn = 0;
            while fl(pos + n_ws).is_whitespace() {
                let c2 = cpt(pos + n_ws);
                if c2 == '\r' as u32 || c2 == '\n' as u32 {
                    last_rn = pos + n_ws + 1;
                }
                n_ws += 1;
            }
            // \s*[\r\n]+
            if last_rn > 0 {
                pos = last_rn;
                add(pos, &mut out);
                continue;
            }
            // \s+(?!\S)
            if n_ws > 1 && cpt(pos + n_ws) != u32::MAX {
                pos += n_ws - 1;
                add(pos, &mut out);
                continue;
            }
            // \s+
            if n_ws > 0 {
                pos += n_ws;
                add(pos, &mut out);
                continue;
            }
            pos += 1;
            add(pos, &mut out);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(pre: &PreTokenizer, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        pre.split(text, &mut out);
        out.into_iter().map(String::from).collect()
    }

    #[test]
    fn gpt2_splits_like_the_regex() {
        let pre = PreTokenizer::new(&[GPT2]).unwrap();
        assert_eq!(
            words(&pre, "Hello world's  end 123!!"),
            ["Hello", " world", "'s", " ", " end", " 123", "!!"]
        );
        assert_eq!(words(&pre, "a  "), ["a", "  "]);
    }

    #[test]
    fn llama3_groups_digits_by_three_and_keeps_newlines() {
        let pre = PreTokenizer::new(&[LLAMA3]).unwrap();
        assert_eq!(words(&pre, "12345 x\n\n y"), ["123", "45", " x", "\n\n", " y"]);
        assert_eq!(words(&pre, "I'M"), ["I", "'M"]);
    }

    #[test]
    fn collapsed_regex_matches_categories() {
        let pre = PreTokenizer::new(&[r"\p{N}+"]).unwrap();
        assert_eq!(words(&pre, "ab12²c"), ["ab", "12²", "c"]);
        let pre = PreTokenizer::new(&[r"[\p{P}\$\+<=>\^~\|]+"]).unwrap();
        assert_eq!(words(&pre, "a+b«»c"), ["a", "+", "b", "«»", "c"]);
    }

    #[test]
    fn collapse_pattern_rewrites_categories() {
        assert_eq!(collapse_pattern(r"\p{N}+"), "[\u{D1}0-9]+");
        assert_eq!(collapse_pattern(r"[^\s\p{L}]"), "[^\\s\u{D2}A-Za-z]");
    }
}
