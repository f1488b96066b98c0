//! Corpus BLEU as sacrebleu 2.6 computes it by default: 13a tokenization, case-sensitive, up to
//! 4-grams, smoothing `exp`, one reference per segment, on the 0-100 scale.
//!
//! Ported from sacrebleu 2.6.0 (`sacrebleu/metrics/bleu.py`, `tokenizers/tokenizer_13a.py`,
//! `tokenizers/tokenizer_re.py`, `metrics/helpers.py`, `utils.py::my_log`):
//!
//! - Each segment is `rstrip()`ed, then 13a: `<skipped>` removed, `-\n` joined, newlines to
//!   spaces, the four HTML entities `&quot; &amp; &lt; &gt;` unescaped in that order, then four
//!   regex substitutions on `" " + line + " "`: ASCII punctuation and symbols except `'`, `-`,
//!   `.` and `,` become their own tokens; `.` and `,` are split off unless between digits
//!   (`2.5` and `1,000` stay whole); a `-` after a digit is split off (`10-20` -> `10 - 20`);
//!   finally Python's `split()` (which also splits on U+001C..U+001F).
//! - Statistics per segment: hypothesis and reference lengths, clipped n-gram matches and
//!   hypothesis n-gram totals for n = 1..4; corpus BLEU sums them over segments.
//! - BLEU = BP * exp(mean of log precisions); BP = exp(1 - r/c) when c < r (0 when c = 0); 0 when
//!   no n-gram matches at all; a zero count of order n with a non-zero total gets precision
//!   100 / (2^k * total) for the k-th such order (`exp` smoothing); an order with no n-grams at
//!   all stops the loop and leaves its precision 0, whose log is floored at -9999999999, so a
//!   corpus whose hypotheses are all shorter than 4 tokens scores 0 (as in sacrebleu).

use super::pytext::{py_rstrip, py_split};
use std::collections::HashMap;

/// Largest n-gram order.
pub const MAX_NGRAM_ORDER: usize = 4;

/// sacrebleu's sufficient statistics of one segment (or, summed, of a corpus).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BleuStats {
    /// Hypothesis length in tokens.
    pub hyp_len: u64,
    /// Reference length in tokens (the closest reference's; there is one).
    pub ref_len: u64,
    /// Clipped n-gram matches, n = 1..4.
    pub correct: [u64; MAX_NGRAM_ORDER],
    /// Hypothesis n-grams, n = 1..4.
    pub total: [u64; MAX_NGRAM_ORDER],
}

/// A BLEU score with its parts, as `sacrebleu.BLEUScore` reports them.
#[derive(Debug, Clone, PartialEq)]
pub struct BleuScore {
    /// BLEU, 0-100.
    pub score: f64,
    /// Smoothed n-gram precisions, 0-100.
    pub precisions: [f64; MAX_NGRAM_ORDER],
    /// Brevity penalty.
    pub bp: f64,
    /// The statistics it was computed from.
    pub stats: BleuStats,
}

impl BleuStats {
    /// Statistics of one hypothesis against one reference (raw, untokenized text).
    pub fn new(hypothesis: &str, reference: &str) -> BleuStats {
        let hyp = tokenize_13a(py_rstrip(hypothesis));
        let rf = tokenize_13a(py_rstrip(reference));
        let hyp_toks: Vec<&str> = py_split(&hyp).collect();
        let ref_toks: Vec<&str> = py_split(&rf).collect();
        let ref_ngrams = ngrams(&ref_toks);
        let mut s = BleuStats { hyp_len: hyp_toks.len() as u64, ref_len: ref_toks.len() as u64, ..Default::default() };
        for (g, &c) in &ngrams(&hyp_toks) {
            let n = g.len() - 1;
            s.total[n] += c;
            if let Some(&rc) = ref_ngrams.get(g) {
                s.correct[n] += c.min(rc);
            }
        }
        s
    }

    /// Adds another segment's statistics.
    pub fn add(&mut self, o: &BleuStats) {
        self.hyp_len += o.hyp_len;
        self.ref_len += o.ref_len;
        for n in 0..MAX_NGRAM_ORDER {
            self.correct[n] += o.correct[n];
            self.total[n] += o.total[n];
        }
    }

    /// BLEU of these (summed) statistics: `BLEU.compute_bleu` with smoothing `exp`.
    pub fn score(&self) -> BleuScore {
        let (sys_len, ref_len) = (self.hyp_len, self.ref_len);
        let mut bp = 1.0;
        if sys_len < ref_len {
            bp = if sys_len > 0 { (1.0 - ref_len as f64 / sys_len as f64).exp() } else { 0.0 };
        }
        let mut precisions = [0.0; MAX_NGRAM_ORDER];
        if self.correct.iter().all(|&c| c == 0) {
            return BleuScore { score: 0.0, precisions, bp, stats: *self };
        }
        let mut smooth_mteval = 1.0;
        for (n, precision) in precisions.iter_mut().enumerate() {
            if self.total[n] == 0 {
                break;
            }
            *precision = if self.correct[n] == 0 {
                smooth_mteval *= 2.0;
                100.0 / (smooth_mteval * self.total[n] as f64)
            } else {
                100.0 * self.correct[n] as f64 / self.total[n] as f64
            };
        }
        let log_sum = precisions.iter().fold(0.0, |acc, &p| acc + my_log(p));
        let score = bp * (log_sum / MAX_NGRAM_ORDER as f64).exp();
        BleuScore { score, precisions, bp, stats: *self }
    }
}

/// `utils.my_log`: the log, floored for zero.
fn my_log(x: f64) -> f64 {
    if x == 0.0 {
        -9999999999.0
    } else {
        x.ln()
    }
}

/// `extract_all_word_ngrams(line, 1, 4)` on already split tokens.
fn ngrams<'a>(toks: &'a [&'a str]) -> HashMap<&'a [&'a str], u64> {
    let mut m = HashMap::new();
    for n in 1..=MAX_NGRAM_ORDER {
        if toks.len() >= n {
            for g in toks.windows(n) {
                *m.entry(g).or_insert(0) += 1;
            }
        }
    }
    m
}

/// Corpus BLEU of hypothesis/reference pairs (`sacrebleu.corpus_bleu(hyps, [refs])`).
pub fn corpus_bleu<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> BleuScore {
    let mut total = BleuStats::default();
    for (h, r) in pairs {
        total.add(&BleuStats::new(h, r));
    }
    total.score()
}

/// sacrebleu's `Tokenizer13a` (the line should already be `rstrip()`ed, as BLEU does).
pub fn tokenize_13a(line: &str) -> String {
    let mut line = line.replace("<skipped>", "").replace("-\n", "").replace('\n', " ");
    if line.contains('&') {
        line = line.replace("&quot;", "\"").replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">");
    }
    tokenize_regexp(&format!(" {line} "))
}

/// sacrebleu's `TokenizerRegexp`: four `re.sub` passes, then `" ".join(line.split())`. Each
/// pattern has a fixed width, so `re.sub`'s left-to-right, non-overlapping scan is a plain
/// loop over characters.
fn tokenize_regexp(line: &str) -> String {
    // 1. `([\{-\~\[-\` -\&\(-\+\:-\@\/])` -> ` \1 `
    let mut s: Vec<char> = Vec::with_capacity(line.len() * 2);
    for c in line.chars() {
        if matches!(c, '{'..='~' | '['..='`' | ' '..='&' | '('..='+' | ':'..='@' | '/') {
            s.extend([' ', c, ' ']);
        } else {
            s.push(c);
        }
    }
    let digit = |c: char| c.is_ascii_digit();
    let dot_comma = |c: char| c == '.' || c == ',';
    // 2. `([^0-9])([\.,])` -> `\1 \2 `
    let s = sub2(&s, |a, b| !digit(a) && dot_comma(b), |a, b, out| out.extend([a, ' ', b, ' ']));
    // 3. `([\.,])([^0-9])` -> ` \1 \2`
    let s = sub2(&s, |a, b| dot_comma(a) && !digit(b), |a, b, out| out.extend([' ', a, ' ', b]));
    // 4. `([0-9])(-)` -> `\1 \2 `
    let s = sub2(&s, |a, b| digit(a) && b == '-', |a, b, out| out.extend([a, ' ', b, ' ']));
    let s: String = s.into_iter().collect();
    super::pytext::py_collapse_spaces(&s)
}

/// `re.sub` of a two-character pattern: at each position, if the pair matches, replace it and
/// continue after it; otherwise copy one character.
fn sub2(s: &[char], matches: impl Fn(char, char) -> bool, repl: impl Fn(char, char, &mut Vec<char>)) -> Vec<char> {
    let mut out = Vec::with_capacity(s.len() + s.len() / 2);
    let mut i = 0;
    while i < s.len() {
        if i + 1 < s.len() && matches(s[i], s[i + 1]) {
            repl(s[i], s[i + 1], &mut out);
            i += 2;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_stay_whole_and_punctuation_splits() {
        assert_eq!(
            tokenize_13a("Give 2.5 mg, BP 120/80 (1,000) 10-20."),
            "Give 2.5 mg , BP 120 / 80 ( 1,000 ) 10 - 20 ."
        );
        assert_eq!(tokenize_13a("a &amp;lt; b"), "a < b");
    }

    #[test]
    fn hypotheses_shorter_than_four_tokens_score_zero() {
        assert_eq!(corpus_bleu([("a b c", "a b c d")]).score, 0.0);
        let s = corpus_bleu([("a b c d", "a b c d")]);
        assert!((s.score - 100.0).abs() < 1e-12);
    }
}
