//! What a row of logits says, shared by the backends (the GPU's top-k and scoring kernels are
//! held to these) and the engine (sampling, loglikelihoods): below both, so neither imports the
//! other for them.

/// One token a sampler may pick: its id and logit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    pub logit: f32,
    pub id: u32,
}

/// The canonical order of candidates: logit descending ([`f32::total_cmp`]), id ascending on
/// ties. A total order, so the CPU and the GPU's top-k agree on every row, ties included.
pub fn canonical_order(a: &Candidate, b: &Candidate) -> std::cmp::Ordering {
    b.logit.total_cmp(&a.logit).then(a.id.cmp(&b.id))
}

/// The `k` largest logits of a row with their ids, in [`canonical_order`] (all of them when
/// `k` is at least the row's length). One pass with a heap of the `k` best so far: no copy of
/// a 262144-logit row per sampled token.
pub fn top_k(logits: &[f32], k: usize) -> Vec<Candidate> {
    use std::collections::BinaryHeap;
    /// Orders candidates so that the heap's top is the worst of those kept.
    struct Kept(Candidate);
    impl PartialEq for Kept {
        fn eq(&self, other: &Self) -> bool {
            self.cmp(other).is_eq()
        }
    }
    impl Eq for Kept {}
    impl PartialOrd for Kept {
        fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
            Some(self.cmp(other))
        }
    }
    impl Ord for Kept {
        fn cmp(&self, other: &Self) -> std::cmp::Ordering {
            canonical_order(&self.0, &other.0)
        }
    }
    let k = k.min(logits.len());
    let mut kept: BinaryHeap<Kept> = BinaryHeap::with_capacity(k + 1);
    for (i, &logit) in logits.iter().enumerate() {
        let c = Candidate { logit, id: i as u32 };
        if kept.len() < k {
            kept.push(Kept(c));
        } else if let Some(mut worst) = kept.peek_mut() {
            if canonical_order(&c, &worst.0).is_lt() {
                *worst = Kept(c);
            }
        }
    }
    // Ascending in the heap's order is best first.
    kept.into_sorted_vec().into_iter().map(|c| c.0).collect()
}

/// Index of the largest value, the first one on ties.
pub fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

/// `log_softmax(row)[target]` in f64, and the argmax (first on ties, as torch/numpy argmax).
pub fn log_softmax_at(row: &[f32], target: usize) -> (f64, usize) {
    let mut argmax = 0;
    let mut max = f32::NEG_INFINITY;
    for (i, &v) in row.iter().enumerate() {
        if v > max {
            max = v;
            argmax = i;
        }
    }
    let sum: f64 = row.iter().map(|&v| ((v - max) as f64).exp()).sum();
    ((row[target] - max) as f64 - sum.ln(), argmax)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_is_in_canonical_order_with_ties_broken_by_id() {
        let row = [0.5f32, 2.0, -0.0, 2.0, 0.0, f32::NEG_INFINITY, 0.5, 2.0];
        let ids = |c: Vec<Candidate>| c.iter().map(|c| c.id).collect::<Vec<_>>();
        assert_eq!(ids(top_k(&row, 4)), [1, 3, 7, 0]);
        // total_cmp: +0 ranks above -0.
        assert_eq!(ids(top_k(&row, 8)), [1, 3, 7, 0, 6, 4, 2, 5]);
        assert_eq!(ids(top_k(&row, 20)), [1, 3, 7, 0, 6, 4, 2, 5]);
        assert!(top_k(&row, 0).is_empty());
    }
}
