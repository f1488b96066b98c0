//! SentencePiece-style tokenization as llama.cpp does it (`llm_tokenizer_spm_session` in
//! src/llama-vocab.cpp, llama-cpp-python 0.3.36's llama.cpp): start from one symbol per UTF-8
//! char, repeatedly merge the adjacent pair whose concatenation is the highest-scoring vocabulary
//! piece (ties: leftmost), and spell whatever stays outside the vocabulary as `<0xNN>` byte pieces.
//!
//! This is llama.cpp's greedy bigram merge, not SentencePiece's own algorithm; the two agree on
//! most text but not all, and the ids must be llama.cpp's.
//!
//! llama.cpp also keeps a `rev_merge` map to re-split a final symbol that is not in the
//! vocabulary; every symbol it would re-split was built by a merge whose result *is* in the
//! vocabulary, so that path never runs and is not ported.

use super::{Symbol, Vocab};
use std::cmp::Ordering;
use std::collections::BinaryHeap;


struct Bigram {
    left: usize,
    right: usize,
    score: f32,
    size: usize,
}

impl PartialEq for Bigram {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Bigram {}
impl PartialOrd for Bigram {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Bigram {
    /// Max-heap order of `llm_bigram_spm::comparator`: higher score first, then smaller `left`.
    fn cmp(&self, other: &Self) -> Ordering {
        self.score
            .partial_cmp(&other.score)
            .unwrap_or(Ordering::Equal)
            .then_with(|| other.left.cmp(&self.left))
    }
}

/// Tokenizes `text` (already space-escaped with U+2581) and appends the ids to `out`.
pub(crate) fn tokenize(vocab: &Vocab, text: &str, out: &mut Vec<u32>) {
    if text.is_empty() {
        return;
    }
    let mut symbols: Vec<Symbol> = Vec::with_capacity(text.len());
    for (i, (start, c)) in text.char_indices().enumerate() {
        let n = c.len_utf8();
        symbols.push(Symbol {
            start,
            n,
            prev: i as isize - 1,
            next: if start + n == text.len() { -1 } else { i as isize + 1 },
        });
    }

    let mut queue = BinaryHeap::with_capacity(symbols.len());
    let try_add = |symbols: &[Symbol], queue: &mut BinaryHeap<Bigram>, left: isize, right: isize| {
        if left < 0 || right < 0 {
            return;
        }
        let (l, r) = (symbols[left as usize], symbols[right as usize]);
        let piece = &text[l.start..l.start + l.n + r.n];
        if let Some(id) = vocab.id(piece) {
            queue.push(Bigram {
                left: left as usize,
                right: right as usize,
                score: vocab.score(id),
                size: piece.len(),
            });
        }
    };

    for i in 1..symbols.len() {
        try_add(&symbols, &mut queue, i as isize - 1, i as isize);
    }

    while let Some(b) = queue.pop() {
        let (l, r) = (symbols[b.left], symbols[b.right]);
        // Skip pairs that an earlier merge already changed.
        if l.n == 0 || r.n == 0 || l.n + r.n != b.size {
            continue;
        }
        symbols[b.left].n += r.n;
        symbols[b.right].n = 0;
        symbols[b.left].next = r.next;
        if r.next >= 0 {
            symbols[r.next as usize].prev = b.left as isize;
        }
        let prev = symbols[b.left].prev;
        let next = symbols[b.left].next;
        try_add(&symbols, &mut queue, prev, b.left as isize);
        try_add(&symbols, &mut queue, b.left as isize, next);
    }

    let mut i: isize = 0;
    while i != -1 {
        let s = symbols[i as usize];
        let piece = &text[s.start..s.start + s.n];
        match vocab.id(piece) {
            Some(id) => out.push(id),
            None => {
                for &b in piece.as_bytes() {
                    if let Some(id) = vocab.byte_piece(b) {
                        out.push(id);
                    }
                }
            }
        }
        i = s.next;
    }
}
