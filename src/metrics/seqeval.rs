//! Entity-level F1 over BIO tag sequences as seqeval 1.2 computes it by default
//! (`seqeval.metrics.f1_score(y_true, y_pred)`: micro average, non-strict "conlleval" mode).
//!
//! Port of `seqeval/metrics/sequence_labeling.py` (`get_entities`, `end_of_chunk`,
//! `start_of_chunk`, `precision_recall_fscore_support`) and `seqeval/metrics/v1.py`
//! (`_precision_recall_fscore_support`, `_prf_divide`), seqeval 1.2.2:
//!
//! - The sentences are concatenated, each followed by an `O`, and one more `O` closes the
//!   corpus; entity offsets are positions in that concatenation.
//! - A tag's first character is its prefix and what follows the first `-` after it is its type
//!   (`B-Chemical` -> `B`, `Chemical`; `B` or `O` alone -> type `_`; `I-A-B` -> type `A-B`).
//!   Any prefix is accepted; only B, I, E, S, O and `.` have meaning.
//! - Non-strict rules: an entity starts at B or S, at I or E after O/E/S, or where the type
//!   changes; so `I-PER` after `O` starts an entity (IOB1 lists score like IOB2) and
//!   `B-PER I-LOC` is two entities.
//! - Entities are sets of (type, start, end); true positives are exact matches; precision and
//!   recall are 0 when undefined, F = 2PR / (P + R) and 0 when P + R = 0.
//!
//! The prediction and the reference of a sample must have the same number of tags (seqeval
//! raises otherwise); an empty tag string is an error (seqeval fails indexing it).

use super::{MetricError, SampleError};
use std::collections::HashMap;

/// One entity: its type and the first and last positions it covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Entity {
    /// The entity type (`_` when the tag has none).
    pub kind: String,
    /// First position (inclusive).
    pub start: usize,
    /// Last position (inclusive).
    pub end: usize,
}

/// A tag split into its prefix character and an interned type. [`TYPE_NONE`] is the type
/// before the first tag (seqeval's initial `prev_type = ''`, which no tag can have).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tag {
    prefix: char,
    kind: u32,
}

const TYPE_NONE: u32 = u32::MAX;
/// The `O` that seqeval appends after every sentence and at the end.
const SEP_TYPE: u32 = 0; // interned "_"

/// Tag types interned to integers; `_` is always 0.
#[derive(Debug, Clone)]
pub(crate) struct TagTypes {
    ids: HashMap<String, u32>,
    names: Vec<String>,
}

impl Default for TagTypes {
    fn default() -> Self {
        TagTypes { ids: HashMap::from([("_".to_string(), 0)]), names: vec!["_".to_string()] }
    }
}

impl TagTypes {
    /// Parses one tag (`tag = chunk[0]; type_ = chunk[1:].split('-', maxsplit=1)[-1] or '_'`).
    pub(crate) fn parse(&mut self, tag: &str) -> Option<Tag> {
        let mut chars = tag.chars();
        let prefix = chars.next()?;
        let rest = chars.as_str();
        let kind = match rest.split_once('-') {
            Some((_, after)) => after,
            None => rest,
        };
        let kind = if kind.is_empty() { "_" } else { kind };
        let id = match self.ids.get(kind) {
            Some(&id) => id,
            None => {
                let id = self.names.len() as u32;
                self.ids.insert(kind.to_string(), id);
                self.names.push(kind.to_string());
                id
            }
        };
        Some(Tag { prefix, kind: id })
    }

    fn name(&self, id: u32) -> &str {
        &self.names[id as usize]
    }
}

/// Parses a sample's tags; an empty tag is an error naming its position.
pub(crate) fn parse_tags(
    types: &mut TagTypes,
    tags: &[impl AsRef<str>],
    field: &'static str,
) -> Result<Vec<Tag>, SampleError> {
    tags.iter()
        .enumerate()
        .map(|(i, t)| types.parse(t.as_ref()).ok_or(SampleError::EmptyTag { field, position: i }))
        .collect()
}

/// `end_of_chunk(prev_tag, tag, prev_type, type_)`.
fn end_of_chunk(prev_tag: char, tag: char, prev_type: u32, kind: u32) -> bool {
    matches!(prev_tag, 'E' | 'S')
        || (matches!(prev_tag, 'B' | 'I') && matches!(tag, 'B' | 'S' | 'O'))
        || (prev_tag != 'O' && prev_tag != '.' && prev_type != kind)
}

/// `start_of_chunk(prev_tag, tag, prev_type, type_)`.
fn start_of_chunk(prev_tag: char, tag: char, prev_type: u32, kind: u32) -> bool {
    matches!(tag, 'B' | 'S')
        || (matches!(prev_tag, 'E' | 'S' | 'O') && matches!(tag, 'E' | 'I'))
        || (tag != 'O' && tag != '.' && prev_type != kind)
}

/// `get_entities`'s loop as a state machine over a stream of tags.
#[derive(Debug, Clone, Copy)]
struct ChunkScanner {
    prev_tag: char,
    prev_type: u32,
    /// `begin_offset`: where the last chunk started (possibly in an earlier sentence).
    begin: usize,
    /// Position of the next tag in the concatenation.
    pos: usize,
}

impl ChunkScanner {
    /// The state before the first tag of a corpus.
    fn new() -> Self {
        ChunkScanner { prev_tag: 'O', prev_type: TYPE_NONE, begin: 0, pos: 0 }
    }

    fn push(&mut self, t: Tag, out: &mut impl FnMut((u32, usize, usize))) {
        if end_of_chunk(self.prev_tag, t.prefix, self.prev_type, t.kind) {
            // Never at position 0: the first tag's prev_tag is 'O', which ends nothing.
            out((self.prev_type, self.begin, self.pos - 1));
        }
        if start_of_chunk(self.prev_tag, t.prefix, self.prev_type, t.kind) {
            self.begin = self.pos;
        }
        self.prev_tag = t.prefix;
        self.prev_type = t.kind;
        self.pos += 1;
    }

    /// One sentence and the `O` seqeval puts after it.
    fn sentence(&mut self, tags: &[Tag], out: &mut impl FnMut((u32, usize, usize))) {
        for &t in tags {
            self.push(t, out);
        }
        self.push(Tag { prefix: 'O', kind: SEP_TYPE }, out);
    }
}

/// `get_entities` of one flat tag sequence (no sentence separators added).
pub fn get_entities(tags: &[impl AsRef<str>]) -> Result<Vec<Entity>, SampleError> {
    let mut types = TagTypes::default();
    let parsed = parse_tags(&mut types, tags, "tags")?;
    let mut raw = Vec::new();
    ChunkScanner::new().sentence(&parsed, &mut |e| raw.push(e));
    Ok(raw.into_iter().map(|(k, start, end)| Entity { kind: types.name(k).to_string(), start, end }).collect())
}

/// One sample of an `entity_f1` run.
///
/// Why samples can mostly be scored alone: after each sentence's `O` the scanner is always in
/// the state (`O`, type `_`), and a chunk can only end after a non-`O` tag. In a sentence whose
/// tags all start with B, I, E, S or O, the first non-`O` tag always starts a chunk, so its
/// entities do not depend on what came before; it only leaves `begin` where its last chunk
/// started. A sentence with other tags (`X`, `.`, an empty type) can end a chunk that began in
/// an earlier sentence, so it is scanned in place, from the state the sentences before it left.
#[derive(Debug, Clone)]
struct EntitySample {
    /// (prediction, reference) tags.
    tags: [Vec<Tag>; 2],
    /// Whether every tag starts with B, I, E, S or O.
    context_free: bool,
    /// (true positives, predicted, true) counts of the sample alone (when context-free).
    counts: [u64; 3],
    /// Offset in the sample of the last chunk start, per side (when context-free).
    last_start: [Option<usize>; 2],
}

/// Parsed samples of an `entity_f1` run.
#[derive(Debug, Clone, Default)]
pub(crate) struct EntitySamples {
    types: TagTypes,
    samples: Vec<EntitySample>,
}

impl EntitySamples {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Adds a sample; the two tag lists must have the same length.
    pub(crate) fn push(
        &mut self,
        prediction: &[impl AsRef<str>],
        reference: &[impl AsRef<str>],
    ) -> Result<(), SampleError> {
        if prediction.len() != reference.len() {
            return Err(SampleError::TagCountMismatch { prediction: prediction.len(), reference: reference.len() });
        }
        let mut types = self.types.clone();
        let p = parse_tags(&mut types, prediction, "prediction")?;
        let r = parse_tags(&mut types, reference, "reference")?;
        self.types = types;
        let context_free = p.iter().chain(&r).all(|t| matches!(t.prefix, 'B' | 'I' | 'E' | 'S' | 'O'));
        let mut sample = EntitySample { tags: [p, r], context_free, counts: [0; 3], last_start: [None; 2] };
        if context_free {
            let mut found: [Vec<(u32, usize, usize)>; 2] = Default::default();
            for side in 0..2 {
                let mut s = ChunkScanner { prev_tag: 'O', prev_type: SEP_TYPE, begin: usize::MAX, pos: 0 };
                s.sentence(&sample.tags[side], &mut |e| found[side].push(e));
                sample.last_start[side] = (s.begin != usize::MAX).then_some(s.begin);
            }
            sample.counts = [matches(&found[1], &found[0]), found[0].len() as u64, found[1].len() as u64];
        }
        self.samples.push(sample);
        Ok(())
    }

    pub(crate) fn len(&self) -> usize {
        self.samples.len()
    }

    /// Micro F1 over the samples at `idx` (all samples, in order, when `None`), concatenated
    /// in that order as seqeval concatenates its input.
    pub(crate) fn f1(&self, idx: Option<&[usize]>) -> f64 {
        match idx {
            None => micro_f1(self.counts(0..self.samples.len())),
            Some(idx) => micro_f1(self.counts(idx.iter().copied())),
        }
    }

    /// (true positives, predicted, true) of the concatenation of the samples at `order`.
    fn counts(&self, order: impl Iterator<Item = usize>) -> [u64; 3] {
        let mut total = [0u64; 3];
        // Scanner state carried from sentence to sentence, per side (prediction, reference).
        let mut state = [ChunkScanner::new(); 2];
        let mut found: [Vec<(u32, usize, usize)>; 2] = Default::default();
        for i in order {
            let sample = &self.samples[i];
            let start = state[0].pos;
            if sample.context_free {
                for (side, s) in state.iter_mut().enumerate() {
                    if let Some(off) = sample.last_start[side] {
                        s.begin = start + off;
                    }
                    s.pos += sample.tags[side].len() + 1;
                    s.prev_tag = 'O';
                    s.prev_type = SEP_TYPE;
                }
                for k in 0..3 {
                    total[k] += sample.counts[k];
                }
            } else {
                for (side, s) in state.iter_mut().enumerate() {
                    found[side].clear();
                    s.sentence(&sample.tags[side], &mut |e| found[side].push(e));
                }
                total[0] += matches(&found[1], &found[0]);
                total[1] += found[0].len() as u64;
                total[2] += found[1].len() as u64;
            }
        }
        total
    }
}

/// Entities found on both sides. The scanner emits at most one entity per position, ending at
/// the position before, so each side's entities have strictly increasing ends (seqeval's sets
/// remove nothing) and the intersection is a merge.
fn matches(truth: &[(u32, usize, usize)], pred: &[(u32, usize, usize)]) -> u64 {
    let (mut i, mut j, mut tp) = (0, 0, 0u64);
    while i < truth.len() && j < pred.len() {
        match truth[i].2.cmp(&pred[j].2) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                tp += u64::from(truth[i] == pred[j]);
                i += 1;
                j += 1;
            }
        }
    }
    tp
}

/// `_precision_recall_fscore_support` with `average='micro'`, beta 1, zero_division 'warn'.
fn micro_f1([tp, pred, truth]: [u64; 3]) -> f64 {
    let precision = if pred == 0 { 0.0 } else { tp as f64 / pred as f64 };
    let recall = if truth == 0 { 0.0 } else { tp as f64 / truth as f64 };
    let mut denom = precision + recall;
    if denom == 0.0 {
        denom = 1.0;
    }
    2.0 * precision * recall / denom
}

/// seqeval's `f1_score(references, predictions)` on whole tag lists.
pub fn entity_f1<P: AsRef<str>, R: AsRef<str>>(
    predictions: &[Vec<P>],
    references: &[Vec<R>],
) -> Result<f64, MetricError> {
    if predictions.len() != references.len() {
        return Err(MetricError::LengthMismatch { predictions: predictions.len(), references: references.len() });
    }
    let mut s = EntitySamples::new();
    for (i, (p, r)) in predictions.iter().zip(references).enumerate() {
        s.push(p, r).map_err(|reason| MetricError::Sample { index: i, reason })?;
    }
    if s.len() == 0 {
        return Err(MetricError::NoSamples { metric: super::Metric::EntityF1 });
    }
    Ok(s.f1(None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seqeval_docstring_examples() {
        let e = get_entities(&["B-PER", "I-PER", "O", "B-LOC"]).unwrap();
        let got: Vec<_> = e.iter().map(|e| (e.kind.as_str(), e.start, e.end)).collect();
        assert_eq!(got, [("PER", 0, 1), ("LOC", 3, 3)]);
        let t = vec![vec!["O", "O", "B-MISC", "I-MISC", "B-MISC", "O", "O"], vec!["B-PER", "I-PER", "O"]];
        let p = vec![vec!["O", "O", "B-MISC", "I-MISC", "B-MISC", "I-MISC", "O"], vec!["B-PER", "I-PER", "O"]];
        assert!((entity_f1(&p, &t).unwrap() - 2.0 / 3.0).abs() < 1e-15);
    }

    #[test]
    fn i_after_o_starts_an_entity() {
        let e = get_entities(&["O", "I-PER", "I-PER"]).unwrap();
        assert_eq!(e, [Entity { kind: "PER".into(), start: 1, end: 2 }]);
    }

    /// seqeval's own way, literally: one scan over the whole concatenation, sets of entities.
    fn naive_counts(s: &EntitySamples, order: &[usize]) -> [u64; 3] {
        use std::collections::HashSet;
        let mut sides: [HashSet<(u32, usize, usize)>; 2] = Default::default();
        for (side, set) in sides.iter_mut().enumerate() {
            let mut sc = ChunkScanner::new();
            for &i in order {
                sc.sentence(&s.samples[i].tags[side], &mut |e| {
                    set.insert(e);
                });
            }
            sc.push(Tag { prefix: 'O', kind: SEP_TYPE }, &mut |e| {
                set.insert(e);
            });
        }
        [sides[0].intersection(&sides[1]).count() as u64, sides[0].len() as u64, sides[1].len() as u64]
    }

    #[test]
    fn per_sample_counting_equals_one_scan_over_the_concatenation() {
        let vocab = ["O", "O", "B-A", "I-A", "B-B", "I-B", "E-A", "S-B", "X", "B", "I", ".", "I-", "O-A", "X-A"];
        let mut rng = crate::metrics::stats::SplitMix64::new(3);
        for trial in 0..300 {
            let mut s = EntitySamples::new();
            let wild = trial % 3 == 0;
            for _ in 0..1 + rng.below(8) {
                let len = rng.below(7);
                let pick = |rng: &mut crate::metrics::stats::SplitMix64| {
                    vocab[rng.below(if wild { vocab.len() } else { 8 })].to_string()
                };
                let t: Vec<String> = (0..len).map(|_| pick(&mut rng)).collect();
                let p: Vec<String> =
                    t.iter().map(|x| if rng.below(3) == 0 { pick(&mut rng) } else { x.clone() }).collect();
                s.push(&p, &t).unwrap();
            }
            for _ in 0..5 {
                let order: Vec<usize> = (0..1 + rng.below(10)).map(|_| rng.below(s.len())).collect();
                assert_eq!(s.counts(order.iter().copied()), naive_counts(&s, &order), "trial {trial}, {order:?}");
            }
        }
    }
}
