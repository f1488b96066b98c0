//! Uncertainty and paired tests: lm-eval's standard error of a mean, a seeded bootstrap,
//! percentiles, and the exact McNemar test.

/// Mean as lm-eval's `mean` (`sum(arr) / len(arr)`, summed in order).
pub(crate) fn mean(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |a, &x| a + x) / v.len() as f64
}

/// Sample standard deviation (n - 1), as lm-eval's `sample_stddev`; needs two values.
pub(crate) fn sample_std(v: &[f64]) -> f64 {
    let mu = mean(v);
    let ss = v.iter().fold(0.0, |a, &x| a + (x - mu) * (x - mu));
    (ss / (v.len() - 1) as f64).sqrt()
}

/// lm-eval's `mean_stderr`: sample std over sqrt(n); needs two values.
pub(crate) fn mean_stderr(v: &[f64]) -> f64 {
    sample_std(v) / (v.len() as f64).sqrt()
}

pub(crate) use crate::rng::SplitMix64;

/// Draws `resamples` resamples of `0..n` with replacement and hands each to `f`.
pub(crate) fn bootstrap(n: usize, resamples: usize, seed: u64, mut f: impl FnMut(&[usize])) {
    let mut rng = SplitMix64::new(seed);
    let mut idx = vec![0usize; n];
    for _ in 0..resamples {
        for i in idx.iter_mut() {
            *i = rng.below(n);
        }
        f(&idx);
    }
}

/// Percentile `q` in [0, 1] of sorted values, interpolated linearly (numpy's default method,
/// including its lerp that is exact at both ends).
pub(crate) fn percentile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    let t = pos - lo as f64;
    let (a, b) = (sorted[lo], sorted[hi]);
    let d = b - a;
    if t >= 0.5 {
        b - d * (1.0 - t)
    } else {
        a + d * t
    }
}

/// Two-sided exact McNemar p-value for `b` and `c` discordant pairs: the binomial test of
/// min(b, c) successes in b + c trials at p = 1/2, doubled and capped at 1 (1 when b + c = 0).
pub(crate) fn mcnemar_exact(b: u64, c: u64) -> f64 {
    let n = b + c;
    if n == 0 {
        return 1.0;
    }
    let k = b.min(c);
    // log of C(n, i) / 2^n for i = 0..=k, increasing in i since k <= n / 2.
    let mut log_terms = Vec::with_capacity(k as usize + 1);
    let mut log_comb = 0.0f64;
    let n_ln2 = n as f64 * std::f64::consts::LN_2;
    for i in 0..=k {
        log_terms.push(log_comb - n_ln2);
        log_comb += ((n - i) as f64).ln() - ((i + 1) as f64).ln();
    }
    let max = log_terms[log_terms.len() - 1];
    let tail = max.exp() * log_terms.iter().map(|t| (t - max).exp()).sum::<f64>();
    (2.0 * tail).min(1.0)
}

/// Holm's step-down adjustment of p-values for multiple tests (as statsmodels'
/// `multipletests(method="holm")`): the i-th smallest of m is multiplied by m - i (i from 0),
/// kept at least as large as the adjusted ones before it, and capped at 1. Returned in the
/// order given.
pub(crate) fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut out = vec![0.0; m];
    let mut running = 0.0f64;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p[i]).min(1.0));
        out[i] = running;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holm_steps_down_and_keeps_the_order() {
        // statsmodels: multipletests([0.01, 0.04, 0.03, 0.005], method="holm")[1]
        let adj = holm(&[0.01, 0.04, 0.03, 0.005]);
        let want = [0.03, 0.06, 0.06, 0.02];
        assert!(adj.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-15), "{adj:?}");
        assert_eq!(holm(&[]), Vec::<f64>::new());
        assert_eq!(holm(&[0.7, 0.9]), vec![1.0, 1.0]);
    }

    #[test]
    fn percentiles_match_numpy_linear() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&v, 0.0), 1.0);
        assert_eq!(percentile(&v, 1.0), 4.0);
        assert!((percentile(&v, 0.5) - 2.5).abs() < 1e-15);
        assert!((percentile(&v, 0.025) - 1.075).abs() < 1e-12);
    }

    #[test]
    fn mcnemar_small_cases() {
        assert_eq!(mcnemar_exact(0, 0), 1.0);
        assert!((mcnemar_exact(1, 0) - 1.0).abs() < 1e-15);
        assert!((mcnemar_exact(0, 5) - 2.0 / 32.0).abs() < 1e-15);
    }

}
