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
///
/// Every scored token runs this over the whole vocabulary (262,144 logits for Gemma 3), so it is
/// written to vectorize: the maximum in eight lanes, the exponentials by [`exp_f64`] rather than
/// a library call (libm's made it a twentieth of a decode step), the sum in eight f64 lanes.
pub fn log_softmax_at(row: &[f32], target: usize) -> (f64, usize) {
    const LANES: usize = 8;
    let mut lane_max = [f32::NEG_INFINITY; LANES];
    let (chunks, rest) = row.as_chunks::<LANES>();
    for c in chunks {
        for (m, &v) in lane_max.iter_mut().zip(c) {
            *m = m.max(v);
        }
    }
    // f32::max skips NaN, as the `v > max` scan this replaced did.
    let max = rest.iter().chain(&lane_max).copied().fold(f32::NEG_INFINITY, f32::max);
    let argmax = row.iter().position(|&v| v == max).unwrap_or(0);
    let mut lane_sum = [0f64; LANES];
    for c in chunks {
        for (s, &v) in lane_sum.iter_mut().zip(c) {
            *s += exp_f64((v - max) as f64);
        }
    }
    let sum: f64 = lane_sum.iter().sum::<f64>() + rest.iter().map(|&v| exp_f64((v - max) as f64)).sum::<f64>();
    ((row[target] - max) as f64 - sum.ln(), argmax)
}

/// `e^x` in f64 for the `x <= 0` a softmax sums, without a library call so that loops over it
/// vectorize: `x = n ln 2 + r` with `|r| <= ln 2 / 2`, `e^r` by its degree-13 Taylor polynomial
/// (truncation below 2^-52), times `2^n` built in the exponent field. Within a few ulp of
/// `f64::exp` on `[-708, 0]`; below -708 (where `e^x` is under 2^-1021, nothing beside the
/// maximum's 1) it gives `e^-708`; NaN stays NaN.
#[inline(always)]
pub fn exp_f64(x: f64) -> f64 {
    const LOG2_E: f64 = std::f64::consts::LOG2_E;
    // ln 2 in two parts (fdlibm's): LN2_HI's low bits are zero, so `n * LN2_HI` is exact.
    const LN2_HI: f64 = 6.931_471_803_691_238_164_9e-1;
    const LN2_LO: f64 = 1.908_214_929_270_587_700_02e-10;
    // Adding 1.5 * 2^52 rounds to an integer and leaves it in the low mantissa bits.
    const ROUND: f64 = 6_755_399_441_055_744.0;
    let x = x.clamp(-708.0, 0.0);
    let t = x * LOG2_E + ROUND;
    let n = t - ROUND; // in [-1022, 0]
    let r = (x - n * LN2_HI) - n * LN2_LO;
    // Horner from 1/13! down to 1/0!.
    let mut p = INVERSE_FACTORIALS[13];
    for &c in INVERSE_FACTORIALS[..13].iter().rev() {
        // Fused where the target has FMA (elsewhere `mul_add` is a slow library call).
        #[cfg(target_feature = "fma")]
        {
            p = p.mul_add(r, c);
        }
        #[cfg(not(target_feature = "fma"))]
        {
            p = p * r + c;
        }
    }
    // The low 12 bits of t's bits are n mod 4096; n + 1023 in [1, 1023] is the exponent field.
    let scale = f64::from_bits(t.to_bits().wrapping_add(1023) << 52);
    p * scale
}

/// `1 / k!` for `k = 0..=13`.
const INVERSE_FACTORIALS: [f64; 14] = {
    let mut c = [1.0f64; 14];
    let mut k = 1;
    while k < 14 {
        c[k] = c[k - 1] / k as f64;
        k += 1;
    }
    c
};
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

    #[test]
    fn exp_f64_is_within_a_few_ulp_of_libm_on_a_softmax_range() {
        let mut worst = 0f64;
        for i in 0..=200_000 {
            let x = -(i as f64) * 708.0 / 200_000.0;
            let (ours, libm) = (exp_f64(x), x.exp());
            worst = worst.max(((ours - libm) / libm).abs());
        }
        assert!(worst < 4.0 * f64::EPSILON, "worst relative error {worst:e}");
        assert_eq!(exp_f64(0.0), 1.0);
        assert_eq!(exp_f64(-1000.0), exp_f64(-708.0), "clamped below -708");
        assert!(exp_f64(f64::NAN).is_nan());
    }

    #[test]
    fn log_softmax_at_matches_a_direct_f64_computation() {
        // A vocabulary-sized row (not a multiple of the lane count) with ties at the maximum.
        let row: Vec<f32> = (0..262_147).map(|i| ((i as f32) * 0.618).sin() * 12.0).collect();
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let first = row.iter().position(|&v| v == max).unwrap();
        let sum: f64 = row.iter().map(|&v| ((v - max) as f64).exp()).sum();
        for target in [0, 7, first, 262_146] {
            let want = (row[target] - max) as f64 - sum.ln();
            let (got, argmax) = log_softmax_at(&row, target);
            assert!((got - want).abs() < 1e-12, "target {target}: {got} vs {want}");
            assert_eq!(argmax, first);
        }
        let mut tied = row.clone();
        tied[262_146] = max;
        assert_eq!(log_softmax_at(&tied, 0).1, first, "the first maximum");
        let mut nan = row;
        nan[3] = f32::NAN;
        assert_eq!(log_softmax_at(&nan, 0).1, first, "NaN is never the argmax");
    }
}
