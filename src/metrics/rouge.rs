//! ROUGE-1, ROUGE-2, ROUGE-L and ROUGE-Lsum as rouge-score 0.1.2 computes them.
//!
//! Port of `rouge_score/tokenize.py` and `rouge_score/rouge_scorer.py` (google-research/
//! google-research, rouge 0.1.2 on PyPI):
//!
//! - Tokens: the text lowercased (full Unicode lowercasing, so `İ` gives `i` and the Kelvin sign
//!   `k`), every run of characters outside `[a-z0-9]` replaced by a space, split; with the stemmer
//!   only tokens longer than 3 characters are stemmed (nltk's Porter, [`super::porter`]). Accented
//!   letters, Greek, CJK and emoji are separators: a text in Greek has no tokens at all.
//! - ROUGE-N: clipped n-gram overlap; precision over the prediction's n-grams, recall over the
//!   reference's (each denominator at least 1).
//! - ROUGE-L: longest common subsequence of the two token lists; 0 when either is empty.
//! - ROUGE-Lsum: sentences are the non-empty lines (`text.split("\n")`, no sentence splitter);
//!   for each reference sentence the union of one LCS with each prediction sentence (the LCS
//!   read out by rouge-score's backtracking, whose tie-breaking decides which tokens count), hits
//!   clipped by the token counts of both summaries.
//! - F = 2PR / (P + R), 0 when P + R = 0. The corpus value is the mean of per-sample F (not
//!   rouge-score's bootstrap aggregator, and not HF `evaluate`'s median).

use super::porter;
use std::collections::HashMap;

/// Which ROUGE variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RougeType {
    /// Unigram overlap.
    Rouge1,
    /// Bigram overlap.
    Rouge2,
    /// Longest common subsequence over the whole text.
    RougeL,
    /// Summary-level LCS over newline-separated sentences.
    RougeLsum,
}

/// Precision, recall and F-measure of one prediction against one reference.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RougeScore {
    /// Overlap over the prediction's size.
    pub precision: f64,
    /// Overlap over the reference's size.
    pub recall: f64,
    /// Harmonic mean of the two.
    pub fmeasure: f64,
}

impl RougeScore {
    const ZERO: RougeScore = RougeScore { precision: 0.0, recall: 0.0, fmeasure: 0.0 };

    fn new(precision: f64, recall: f64) -> RougeScore {
        RougeScore { precision, recall, fmeasure: fmeasure(precision, recall) }
    }
}

/// `scoring.fmeasure`.
fn fmeasure(precision: f64, recall: f64) -> f64 {
    if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    }
}

/// rouge-score's `DefaultTokenizer`, with or without the Porter stemmer.
#[derive(Debug, Clone, Copy, Default)]
pub struct RougeScorer {
    use_stemmer: bool,
}

impl RougeScorer {
    /// A scorer; `use_stemmer` is rouge-score's `use_stemmer` (the CLI's `--rouge-stemmer`).
    pub fn new(use_stemmer: bool) -> RougeScorer {
        RougeScorer { use_stemmer }
    }

    /// `tokenize.tokenize(text, stemmer)`.
    pub fn tokenize(&self, text: &str) -> Vec<String> {
        let lower = text.to_lowercase();
        lower
            .split(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit()))
            .filter(|t| !t.is_empty())
            .map(|t| if self.use_stemmer && t.len() > 3 { porter::stem(t) } else { t.to_string() })
            .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
            .collect()
    }

    /// One variant's score (`RougeScorer([kind]).score(reference, prediction)`).
    pub fn score(&self, kind: RougeType, prediction: &str, reference: &str) -> RougeScore {
        match kind {
            RougeType::Rouge1 | RougeType::Rouge2 | RougeType::RougeL => {
                let mut ids = Interner::default();
                let r = ids.ids(&self.tokenize(reference));
                let p = ids.ids(&self.tokenize(prediction));
                match kind {
                    RougeType::Rouge1 => score_ngrams(&r, &p, 1),
                    RougeType::Rouge2 => score_ngrams(&r, &p, 2),
                    _ => score_lcs(&r, &p),
                }
            }
            RougeType::RougeLsum => {
                let mut ids = Interner::default();
                let r: Vec<Vec<u32>> = sentences(reference).map(|s| ids.ids(&self.tokenize(s))).collect();
                let p: Vec<Vec<u32>> = sentences(prediction).map(|s| ids.ids(&self.tokenize(s))).collect();
                summary_level_lcs(&r, &p)
            }
        }
    }
}

/// rougeLsum's sentences: the non-empty pieces of `text.split("\n")`.
fn sentences(text: &str) -> impl Iterator<Item = &str> {
    text.split('\n').filter(|s| !s.is_empty())
}

/// Maps tokens to small integers so that the LCS tables compare integers.
#[derive(Default)]
struct Interner {
    map: HashMap<String, u32>,
}

impl Interner {
    fn ids(&mut self, tokens: &[String]) -> Vec<u32> {
        tokens
            .iter()
            .map(|t| {
                let next = self.map.len() as u32;
                *self.map.entry(t.clone()).or_insert(next)
            })
            .collect()
    }
}

/// `_create_ngrams`.
fn ngram_counts(toks: &[u32], n: usize) -> HashMap<&[u32], usize> {
    let mut m: HashMap<&[u32], usize> = HashMap::new();
    if toks.len() >= n {
        for g in toks.windows(n) {
            *m.entry(g).or_insert(0) += 1;
        }
    }
    m
}

/// `_score_ngrams`.
fn score_ngrams(target: &[u32], prediction: &[u32], n: usize) -> RougeScore {
    let t = ngram_counts(target, n);
    let p = ngram_counts(prediction, n);
    let overlap: usize = t.iter().map(|(g, &c)| c.min(p.get(g).copied().unwrap_or(0))).sum();
    let t_total: usize = t.values().sum();
    let p_total: usize = p.values().sum();
    RougeScore::new(overlap as f64 / p_total.max(1) as f64, overlap as f64 / t_total.max(1) as f64)
}

/// `_lcs_table`: (rows + 1) x (cols + 1), row-major.
fn lcs_table(r: &[u32], c: &[u32]) -> Vec<u32> {
    let cols = c.len() + 1;
    let mut t = vec![0u32; (r.len() + 1) * cols];
    for i in 1..=r.len() {
        for j in 1..=c.len() {
            t[i * cols + j] = if r[i - 1] == c[j - 1] {
                t[(i - 1) * cols + j - 1] + 1
            } else {
                t[(i - 1) * cols + j].max(t[i * cols + j - 1])
            };
        }
    }
    t
}

/// The last cell of `_lcs_table`, computed with two rows (long summaries need no
/// quadratic memory when only the length is wanted).
fn lcs_length(r: &[u32], c: &[u32]) -> u32 {
    let mut prev = vec![0u32; c.len() + 1];
    let mut cur = vec![0u32; c.len() + 1];
    for &x in r {
        for j in 1..=c.len() {
            cur[j] = if x == c[j - 1] { prev[j - 1] + 1 } else { prev[j].max(cur[j - 1]) };
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[c.len()]
}

/// `_score_lcs`.
fn score_lcs(target: &[u32], prediction: &[u32]) -> RougeScore {
    if target.is_empty() || prediction.is_empty() {
        return RougeScore::ZERO;
    }
    let lcs = lcs_length(target, prediction) as f64;
    RougeScore::new(lcs / prediction.len() as f64, lcs / target.len() as f64)
}

/// `lcs_ind` (`_lcs_table` + `_backtrack_norec`): indices into `r` of one LCS. On a tie the
/// backtracking moves up (drops a reference token), as rouge-score does.
fn lcs_indices(r: &[u32], c: &[u32]) -> Vec<usize> {
    let t = lcs_table(r, c);
    let cols = c.len() + 1;
    let (mut i, mut j) = (r.len(), c.len());
    let mut out = Vec::new();
    while i > 0 && j > 0 {
        if r[i - 1] == c[j - 1] {
            out.push(i - 1);
            i -= 1;
            j -= 1;
        } else if t[i * cols + j - 1] > t[(i - 1) * cols + j] {
            j -= 1;
        } else {
            i -= 1;
        }
    }
    out.reverse();
    out
}

/// `_summary_level_lcs`.
fn summary_level_lcs(ref_sents: &[Vec<u32>], can_sents: &[Vec<u32>]) -> RougeScore {
    if ref_sents.is_empty() || can_sents.is_empty() {
        return RougeScore::ZERO;
    }
    let m: usize = ref_sents.iter().map(Vec::len).sum();
    let n: usize = can_sents.iter().map(Vec::len).sum();
    if m == 0 || n == 0 {
        return RougeScore::ZERO;
    }
    let mut cnt_r: HashMap<u32, usize> = HashMap::new();
    let mut cnt_c: HashMap<u32, usize> = HashMap::new();
    for &t in ref_sents.iter().flatten() {
        *cnt_r.entry(t).or_insert(0) += 1;
    }
    for &t in can_sents.iter().flatten() {
        *cnt_c.entry(t).or_insert(0) += 1;
    }
    let mut hits = 0usize;
    for r in ref_sents {
        // `_union_lcs`: the sorted union of the LCS indices against every candidate sentence.
        let mut union: Vec<usize> = can_sents.iter().flat_map(|c| lcs_indices(r, c)).collect();
        union.sort_unstable();
        union.dedup();
        for i in union {
            let t = r[i];
            let (c, rr) = (cnt_c.get(&t).copied().unwrap_or(0), cnt_r.get(&t).copied().unwrap_or(0));
            if c > 0 && rr > 0 {
                hits += 1;
                cnt_c.insert(t, c - 1);
                cnt_r.insert(t, rr - 1);
            }
        }
    }
    RougeScore::new(hits as f64 / n as f64, hits as f64 / m as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_lowercase_ascii_alphanumerics() {
        let s = RougeScorer::new(false);
        assert_eq!(s.tokenize("BP 120/80, naïve İ\u{212a}"), ["bp", "120", "80", "na", "ve", "i", "k"]);
        assert!(s.tokenize("Ο ασθενής 患者 😊").is_empty());
    }

    #[test]
    fn rouge_l_on_repeated_tokens() {
        let s = RougeScorer::new(false);
        let r = s.score(RougeType::RougeL, "a b a b a b", "b a b a");
        assert_eq!((r.precision, r.recall), (4.0 / 6.0, 1.0));
    }
}
