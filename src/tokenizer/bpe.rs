//! Byte-level BPE as llama.cpp does it (`llm_tokenizer_bpe_session` in src/llama-vocab.cpp,
//! llama-cpp-python 0.3.36's llama.cpp): pre-tokenize into words, byte-encode each word GPT-2
//! style, then within each word repeatedly apply the lowest-ranked merge (ties: leftmost).

use super::pretokenize::PreTokenizer;
use super::unicode;
use super::{FxBuild, Symbol, Vocab};
use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

/// The merge table: `tokenizer.ggml.merges` in rank order, keyed by the ids of the two halves
/// in a table of interned half-strings (so lookups need no allocation).
#[derive(Debug, Default)]
pub(crate) struct Merges {
    halves: HashMap<Box<str>, u32, FxBuild>,
    ranks: HashMap<(u32, u32), u32, FxBuild>,
}

impl Merges {
    /// Builds the table from merge lines `"left right"`, split at the first space after the
    /// first byte as llama.cpp does (`word.find(' ', 1)`); a line without one becomes the pair
    /// `("", "")`. When a pair repeats, its first rank stays.
    pub(crate) fn new<'a>(lines: impl ExactSizeIterator<Item = &'a str>) -> Self {
        let n = lines.len();
        let mut m = Merges {
            halves: HashMap::with_capacity_and_hasher(n, FxBuild::default()),
            ranks: HashMap::with_capacity_and_hasher(n, FxBuild::default()),
        };
        for (rank, line) in lines.enumerate() {
            // Byte search from byte 1 (a space is ASCII, so the split is on a char boundary).
            let (first, second) = match line.as_bytes().iter().skip(1).position(|&b| b == b' ').map(|p| p + 1) {
                Some(p) => (&line[..p], &line[p + 1..]),
                None => ("", ""),
            };
            let a = m.intern(first);
            let b = m.intern(second);
            m.ranks.entry((a, b)).or_insert(rank as u32);
        }
        m
    }

    fn intern(&mut self, s: &str) -> u32 {
        let next = self.halves.len() as u32;
        *self.halves.entry(s.into()).or_insert(next)
    }

    pub(crate) fn len(&self) -> usize {
        self.ranks.len()
    }

    fn rank(&self, left: &str, right: &str) -> Option<u32> {
        let a = *self.halves.get(left)?;
        let b = *self.halves.get(right)?;
        self.ranks.get(&(a, b)).copied()
    }
}


struct Bigram {
    left: usize,
    right: usize,
    rank: u32,
    /// Lengths of the two symbols when the pair was queued; the pair is stale once either
    /// changed. (llama.cpp compares the concatenated text instead; within one word that is the
    /// same test, since symbols only grow to the right and never move.)
    left_n: usize,
    right_n: usize,
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
    /// Max-heap order of `llm_bigram_bpe::comparator`: lower rank first, then smaller `left`.
    fn cmp(&self, other: &Self) -> Ordering {
        other.rank.cmp(&self.rank).then_with(|| other.left.cmp(&self.left))
    }
}

/// Settings of one BPE tokenizer.
#[derive(Debug)]
pub(crate) struct Bpe {
    pub pre: PreTokenizer,
    pub merges: Merges,
    /// Whole words found in the vocabulary skip the merges (`tokenizer_ignore_merges`, Llama 3).
    pub ignore_merges: bool,
}

impl Bpe {
    /// Tokenizes one raw-text fragment, appending ids to `out`.
    pub(crate) fn tokenize(&self, vocab: &Vocab, text: &str, out: &mut Vec<u32>) {
        let mut words = Vec::new();
        self.pre.split(text, &mut words);
        let mut encoded = String::new();
        let mut symbols: Vec<Symbol> = Vec::new();
        let mut queue: BinaryHeap<Bigram> = BinaryHeap::new();
        for word in words {
            encoded.clear();
            unicode::byte_encode(word, &mut encoded);
            let w = encoded.as_str();
            symbols.clear();
            queue.clear();

            if self.ignore_merges {
                if let Some(id) = vocab.id(w) {
                    out.push(id);
                    continue;
                }
            }
            for (i, (start, c)) in w.char_indices().enumerate() {
                let n = c.len_utf8();
                symbols.push(Symbol {
                    start,
                    n,
                    prev: i as isize - 1,
                    next: if start + n == w.len() { -1 } else { i as isize + 1 },
                });
            }
            let add = |symbols: &[Symbol], queue: &mut BinaryHeap<Bigram>, left: isize, right: isize| {
                if left < 0 || right < 0 {
                    return;
                }
                let (l, r) = (symbols[left as usize], symbols[right as usize]);
                let lt = &w[l.start..l.start + l.n];
                let rt = &w[r.start..r.start + r.n];
                if let Some(rank) = self.merges.rank(lt, rt) {
                    queue.push(Bigram {
                        left: left as usize,
                        right: right as usize,
                        rank,
                        left_n: l.n,
                        right_n: r.n,
                    });
                }
            };
            for i in 1..symbols.len() {
                add(&symbols, &mut queue, i as isize - 1, i as isize);
            }
            while let Some(b) = queue.pop() {
                let (l, r) = (symbols[b.left], symbols[b.right]);
                if l.n == 0 || r.n == 0 || l.n != b.left_n || r.n != b.right_n {
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
                add(&symbols, &mut queue, prev, b.left as isize);
                add(&symbols, &mut queue, b.left as isize, next);
            }
            for s in symbols.iter().filter(|s| s.n > 0) {
                let piece = &w[s.start..s.start + s.n];
                match vocab.id(piece) {
                    Some(id) => out.push(id),
                    None => {
                        // llama.cpp looks each byte of the encoded piece up as a one-byte
                        // string; only ASCII bytes can be vocabulary strings, the rest are
                        // dropped.
                        for &b in piece.as_bytes() {
                            if b < 0x80 {
                                let one = [b];
                                if let Some(id) = std::str::from_utf8(&one).ok().and_then(|s| vocab.id(s)) {
                                    out.push(id);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A BPE token's text decoded from GPT-2's byte encoding (`llama_decode_text`); a char outside
/// the byte table becomes `[UNK_BYTE_0x..<text>]` as in llama.cpp.
pub(crate) fn decode_text(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        match unicode::char_to_byte(c) {
            Some(b) => out.push(b),
            None => {
                out.extend_from_slice(b"[UNK_BYTE_0x");
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).as_bytes() {
                    out.extend_from_slice(format!("{b:02x}").as_bytes());
                }
                out.extend_from_slice(text.as_bytes());
                out.push(b']');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_lines_split_at_first_space_after_first_byte() {
        let m = Merges::new(["a b", "ab c", "nospace", "a b", "Ġ t"].into_iter());
        assert_eq!(m.rank("a", "b"), Some(0));
        assert_eq!(m.rank("ab", "c"), Some(1));
        assert_eq!(m.rank("", ""), Some(2));
        assert_eq!(m.rank("Ġ", "t"), Some(4));
        assert_eq!(m.len(), 4);
    }

    #[test]
    fn decode_text_reverses_byte_encoding() {
        let mut s = String::new();
        unicode::byte_encode("héllo \n", &mut s);
        assert_eq!(decode_text(&s), "héllo \n".as_bytes());
        assert_eq!(decode_text("€"), b"[UNK_BYTE_0xe282ac\xe2\x82\xac]".to_vec());
    }
}
