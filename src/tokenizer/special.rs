//! Splitting text at special-token texts before tokenization (`tokenizer_st_partition` in
//! llama.cpp's src/llama-vocab.cpp, llama-cpp-python 0.3.36's llama.cpp).
//!
//! llama.cpp takes its special tokens (CONTROL, USER_DEFINED and UNKNOWN ones; without
//! `parse_special` only the USER_DEFINED ones) longest text first, and for each one cuts every
//! occurrence out of the text fragments that are still raw, so a longer token always wins over a
//! shorter one it contains and an earlier cut is never revisited. Doing that for all of Gemma's
//! 6400 special tokens on every call would scan the text 6400 times; here a trie over the special
//! texts first finds which tokens occur in the text at all (a token absent from the whole text
//! cannot occur in a fragment of it), and the exact llama.cpp procedure then runs for those only.

use super::attr;

/// A piece of the input after partitioning: raw text (a byte range of the input) or a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fragment {
    Text { start: usize, end: usize },
    Token(u32),
}

/// One special token in llama.cpp's processing order.
#[derive(Debug, Clone)]
pub(crate) struct SpecialToken {
    pub id: u32,
    pub text: Box<str>,
    pub attr: u32,
}

/// Byte trie over the special texts.
#[derive(Debug, Default)]
struct Trie {
    /// Children of node `i`, sorted by byte: `(byte, child node)`.
    children: Vec<Vec<(u8, u32)>>,
    /// Index into the special list of the token ending at node `i`.
    terminal: Vec<Option<u32>>,
}

impl Trie {
    fn new() -> Self {
        Trie {
            children: vec![Vec::new()],
            terminal: vec![None],
        }
    }

    fn insert(&mut self, key: &[u8], value: u32) {
        let mut node = 0usize;
        for &b in key {
            node = match self.children[node].binary_search_by_key(&b, |&(c, _)| c) {
                Ok(i) => self.children[node][i].1 as usize,
                Err(i) => {
                    let child = self.children.len();
                    self.children.push(Vec::new());
                    self.terminal.push(None);
                    self.children[node].insert(i, (b, child as u32));
                    child
                }
            };
        }
        self.terminal[node] = Some(value);
    }

    fn child(&self, node: usize, b: u8) -> Option<usize> {
        let c = &self.children[node];
        c.binary_search_by_key(&b, |&(k, _)| k).ok().map(|i| c[i].1 as usize)
    }
}

/// The special tokens of a vocabulary, ready to partition text.
#[derive(Debug)]
pub(crate) struct Specials {
    /// In llama.cpp's order: longest text first (ties by id; llama.cpp's `std::sort` leaves the
    /// order of equal lengths unspecified, which only matters for two equally long texts that
    /// overlap in the input).
    tokens: Vec<SpecialToken>,
    trie: Trie,
}

/// C's `isspace` in the "C" locale, which llama.cpp's LSTRIP/RSTRIP use.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r')
}

impl Specials {
    pub(crate) fn new(mut tokens: Vec<SpecialToken>) -> Self {
        tokens.sort_by(|a, b| b.text.len().cmp(&a.text.len()).then(a.id.cmp(&b.id)));
        let mut trie = Trie::new();
        for (i, t) in tokens.iter().enumerate() {
            if !t.text.is_empty() {
                trie.insert(t.text.as_bytes(), i as u32);
            }
        }
        Specials { tokens, trie }
    }

    pub(crate) fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Partitions `text` (`tokenizer_st_partition`): special tokens' texts become the tokens,
    /// in llama.cpp's order. A control (or unknown) token's text at `start..end` becomes the
    /// token only when `control_allowed(token, start, end)` (llama.cpp's `parse_special`);
    /// user-defined tokens are always parsed, as llama.cpp does.
    pub(crate) fn partition_where(
        &self,
        text: &str,
        control_allowed: &dyn Fn(&SpecialToken, usize, usize) -> bool,
        out: &mut Vec<Fragment>,
    ) {
        let base = out.len();
        if text.is_empty() {
            return;
        }
        out.push(Fragment::Text {
            start: 0,
            end: text.len(),
        });
        let bytes = text.as_bytes();

        // Which special tokens occur anywhere in the text.
        let mut present = vec![false; self.tokens.len()];
        let mut any = false;
        for start in 0..bytes.len() {
            let mut node = 0usize;
            for &b in &bytes[start..] {
                match self.trie.child(node, b) {
                    Some(n) => node = n,
                    None => break,
                }
                if let Some(i) = self.trie.terminal[node] {
                    present[i as usize] = true;
                    any = true;
                }
            }
        }
        if !any {
            return;
        }

        let mut next: Vec<Fragment> = Vec::new();
        for (i, tok) in self.tokens.iter().enumerate() {
            if !present[i] {
                continue;
            }
            let is_control = tok.attr & (attr::CONTROL | attr::UNKNOWN) != 0;
            let pattern = tok.text.as_bytes();
            next.clear();
            for frag in out.drain(base..) {
                let (mut start, end) = match frag {
                    Fragment::Text { start, end } => (start, end),
                    t => {
                        next.push(t);
                        continue;
                    }
                };
                let mut matched = false;
                let mut search = start;
                while let Some(m) = find(&bytes[search..end], pattern).map(|p| p + search) {
                    if is_control && !control_allowed(tok, m, m + pattern.len()) {
                        search = m + 1;
                        continue;
                    }
                    matched = true;
                    if m > start {
                        let mut left_end = m;
                        if tok.attr & attr::LSTRIP != 0 {
                            while left_end > start && is_c_space(bytes[left_end - 1]) {
                                left_end -= 1;
                            }
                        }
                        if left_end > start {
                            next.push(Fragment::Text { start, end: left_end });
                        }
                    }
                    next.push(Fragment::Token(tok.id));
                    let mut right = m + pattern.len();
                    if right >= end {
                        start = end;
                        break;
                    }
                    if tok.attr & attr::RSTRIP != 0 {
                        while right < end && is_c_space(bytes[right]) {
                            right += 1;
                        }
                    }
                    start = right;
                    search = right;
                }
                if !matched || start < end {
                    next.push(Fragment::Text { start, end });
                }
            }
            out.extend_from_slice(&next);
        }
    }
}

/// First occurrence of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > hay.len() {
        return None;
    }
    let first = needle[0];
    let last_start = hay.len() - needle.len();
    let mut i = 0;
    while i <= last_start {
        match hay[i..=last_start].iter().position(|&b| b == first) {
            None => return None,
            Some(p) => {
                i += p;
                if &hay[i..i + needle.len()] == needle {
                    return Some(i);
                }
                i += 1;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specials() -> Specials {
        Specials::new(vec![
            SpecialToken {
                id: 10,
                text: "<a>".into(),
                attr: attr::CONTROL,
            },
            SpecialToken {
                id: 11,
                text: "<ab>".into(),
                attr: attr::USER_DEFINED,
            },
            SpecialToken {
                id: 12,
                text: "\n".into(),
                attr: attr::USER_DEFINED,
            },
            SpecialToken {
                id: 13,
                text: "\n\n".into(),
                attr: attr::USER_DEFINED,
            },
        ])
    }

    #[test]
    fn longest_first_and_control_needs_parse_special() {
        let s = specials();
        let text = "x<a>y<ab>\n\n\nz";
        let mut out = Vec::new();
        s.partition_where(text, &|_, _, _| true, &mut out);
        assert_eq!(
            out,
            vec![
                Fragment::Text { start: 0, end: 1 },
                Fragment::Token(10),
                Fragment::Text { start: 4, end: 5 },
                Fragment::Token(11),
                Fragment::Token(13),
                Fragment::Token(12),
                Fragment::Text { start: 12, end: 13 },
            ]
        );
        out.clear();
        s.partition_where(text, &|_, _, _| false, &mut out);
        assert_eq!(out[0], Fragment::Text { start: 0, end: 5 });
        assert_eq!(out[1], Fragment::Token(11));
    }

    #[test]
    fn strip_attributes_eat_c_whitespace() {
        let s = Specials::new(vec![SpecialToken {
            id: 1,
            text: "<x>".into(),
            attr: attr::CONTROL | attr::LSTRIP | attr::RSTRIP,
        }]);
        let mut out = Vec::new();
        s.partition_where("a \t<x>\n b", &|_, _, _| true, &mut out);
        assert_eq!(
            out,
            vec![
                Fragment::Text { start: 0, end: 1 },
                Fragment::Token(1),
                Fragment::Text { start: 8, end: 9 }
            ]
        );
    }
}
