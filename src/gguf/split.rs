//! Split models: the parts llama.cpp's `gguf-split` (or PyPI `gguf`'s writer with a split size)
//! writes, `NAME-00001-of-0000N.gguf` .. `NAME-0000N-of-0000N.gguf`. Each part is a GGUF file of
//! its own with `split.no` (0-based) and `split.count`; the first holds the model's metadata and
//! `split.tensors.count`, the tensors are spread over all of them.
//!
//! [`Gguf::open_parts`] reads them as one model: the parts lie end to end in one address space
//! ([`SplitSource`]) and every tensor's offset points into its own part, so the loaders read a
//! split model exactly as they read one file.

use super::{ByteSource, Gguf, GgufError};
use std::collections::HashMap;
use std::io;

/// Which part of how many a file says it is.
pub const KEY_NO: &str = "split.no";
pub const KEY_COUNT: &str = "split.count";
/// The first part's count of every part's tensors.
pub const KEY_TENSORS: &str = "split.tensors.count";

/// The parts of a model end to end: part k's bytes at `base_k..base_k + len_k`. A read never
/// crosses two parts (a tensor lies within one).
pub struct SplitSource<S> {
    parts: Vec<(u64, S)>,
    len: u64,
}

impl<S: ByteSource> SplitSource<S> {
    /// The parts, in order.
    pub fn parts(&self) -> impl Iterator<Item = &S> {
        self.parts.iter().map(|(_, s)| s)
    }
}

impl<S: ByteSource> ByteSource for SplitSource<S> {
    fn len(&self) -> u64 {
        self.len
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let k = self.parts.partition_point(|(base, _)| *base <= offset).saturating_sub(1);
        let (base, part) = &self.parts[k];
        let local = offset.checked_sub(*base).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "read before the first part"))?;
        if local.saturating_add(buf.len() as u64) > part.len() && k + 1 < self.parts.len() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "a read crosses two parts of a split model"));
        }
        part.read_at(local, buf)
    }
}

/// `(split.no, split.count)` of a file, or `None` for a file that is not a part.
pub fn part_of<S: ByteSource>(g: &Gguf<S>) -> Result<Option<(u64, u64)>, GgufError> {
    match (g.get(KEY_NO).is_some(), g.get(KEY_COUNT).is_some()) {
        (false, false) => Ok(None),
        _ => Ok(Some((g.get_u64(KEY_NO)?, g.get_u64(KEY_COUNT)?))),
    }
}

/// The file name of part `no` (1-based) of `count`, from the first part's name
/// (`NAME-00001-of-0000N.gguf`, as gguf-split names them); `None` when the name is not of that
/// form.
pub fn part_name(first: &str, no: u64, count: u64) -> Option<String> {
    let stem = first.strip_suffix(".gguf")?;
    let (head, tail) = stem.rsplit_once("-of-")?;
    let (name, index) = head.rsplit_once('-')?;
    let all_digits = |s: &str| s.len() == 5 && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(index) || !all_digits(tail) || index != "00001" || tail.parse::<u64>().ok()? != count {
        return None;
    }
    Some(format!("{name}-{no:05}-of-{count:05}.gguf"))
}

impl<S: ByteSource> Gguf<SplitSource<S>> {
    /// Opens one model from its parts in order, or from one file (a file that is not a part, or a
    /// split of one). The parts must say they are parts 1..=N of N, in that order, and hold the
    /// tensors the first one counts, each name once: a missing part, a part of another split or
    /// the wrong order is an error that names the part.
    pub fn open_parts(sources: Vec<S>) -> Result<Self, GgufError> {
        if sources.is_empty() {
            return Err(GgufError::Split("no file given".into()));
        }
        let given = sources.len() as u64;
        let mut parts = Vec::with_capacity(sources.len());
        for (k, source) in sources.into_iter().enumerate() {
            let g = Gguf::open(source).map_err(|e| if given > 1 { GgufError::Split(format!("part {}: {e}", k + 1)) } else { e })?;
            parts.push(g);
        }
        let count = match part_of(&parts[0])? {
            None if given == 1 => 1,
            None => return Err(GgufError::Split("the first file is not a part of a split model (no split.count)".into())),
            Some((no, _)) if no != 0 => {
                return Err(GgufError::Split(format!("the first file given is part {} of a split model; give its first part", no + 1)));
            }
            Some((_, count)) => count,
        };
        if count != given {
            return Err(GgufError::Split(format!("the model has {count} parts, {given} given")));
        }
        for (k, g) in parts.iter().enumerate().skip(1) {
            match part_of(g)? {
                Some((no, c)) if no == k as u64 && c == count => {}
                Some((no, c)) => {
                    return Err(GgufError::Split(format!(
                        "part {} of {count} says it is part {} of {c}: a part of another model, or the parts out of order",
                        k + 1,
                        no + 1
                    )))
                }
                None => return Err(GgufError::Split(format!("part {} of {count} is not a part of a split model", k + 1))),
            }
        }
        let total: usize = parts.iter().map(|g| g.tensors.len()).sum();
        if count > 1 {
            let claimed = parts[0].get_u64(KEY_TENSORS)?;
            if claimed != total as u64 {
                return Err(GgufError::Split(format!(
                    "the first part counts {claimed} tensors, the {count} parts hold {total}: a part of another model?"
                )));
            }
        }
        // One address space: part k from `base`, its tensors' offsets made absolute in it (the
        // merged data section starts at 0).
        let mut merged = Vec::with_capacity(total);
        let mut tensor_index = HashMap::with_capacity(total);
        let mut sources = Vec::with_capacity(parts.len());
        let mut base = 0u64;
        let mut first = None;
        for g in parts {
            let Gguf { version, metadata, index, tensors, alignment, data_offset, source, .. } = g;
            for mut t in tensors {
                if tensor_index.insert(t.name.clone(), merged.len()).is_some() {
                    return Err(GgufError::Split(format!("tensor {:?} is in two parts: a part of another model?", t.name)));
                }
                t.offset += base + data_offset;
                merged.push(t);
            }
            let len = source.len();
            sources.push((base, source));
            base += len;
            first.get_or_insert((version, metadata, index, alignment));
        }
        let (version, metadata, index, alignment) = first.expect("at least one part");
        Ok(Gguf {
            version,
            metadata,
            index,
            tensors: merged,
            tensor_index,
            alignment,
            data_offset: 0,
            source: SplitSource { parts: sources, len: base },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_names_follow_gguf_split() {
        assert_eq!(part_name("m-00001-of-00003.gguf", 3, 3).as_deref(), Some("m-00003-of-00003.gguf"));
        assert_eq!(part_name("a-b-00001-of-00012.gguf", 10, 12).as_deref(), Some("a-b-00010-of-00012.gguf"));
        assert_eq!(part_name("m-00002-of-00003.gguf", 3, 3), None, "not the first part");
        assert_eq!(part_name("m-00001-of-00004.gguf", 2, 3), None, "another count");
        assert_eq!(part_name("model.gguf", 2, 3), None);
        assert_eq!(part_name("m-1-of-3.gguf", 2, 3), None);
    }
}
