//! Agreement between raters and rankings from paired comparisons, for clinician review:
//! quadratic-weighted Cohen's kappa (scikit-learn's `cohen_kappa_score(weights="quadratic")`),
//! Krippendorff's alpha for ordinal data (PyPI `krippendorff`, `level_of_measurement="ordinal"`),
//! percent exact agreement, and Bradley–Terry strengths (maximum likelihood, a tie half a win to
//! each side). Checked against those references on fixtures they made
//! (`scripts/make_agreement_fixtures.py`).
//!
//! A unit is one rated thing (an output of a run on an item); a rater's rating of it may be
//! missing. A statistic is `None` exactly where its reference has no value: no pairable ratings,
//! or every rating the same value.

use super::stats;

/// Quadratic-weighted Cohen's kappa of two raters over the units both rated (`None` ratings are
/// left out), as scikit-learn computes it: the labels are the values either rater gave, sorted,
/// and the weight of a disagreement is the squared distance between the labels' positions in
/// that list (not between the values). `None` where scikit-learn gives NaN: no unit rated by
/// both, or a single label.
pub fn cohen_kappa_quadratic(a: &[Option<f64>], b: &[Option<f64>]) -> Option<f64> {
    let pairs: Vec<(f64, f64)> = a.iter().zip(b).filter_map(|(x, y)| Some(((*x)?, (*y)?))).collect();
    if pairs.is_empty() {
        return None;
    }
    let labels = sorted_unique(pairs.iter().flat_map(|(x, y)| [*x, *y]));
    let k = labels.len();
    let index = |v: f64| labels.iter().position(|l| *l == v).expect("a value is among the labels");
    let mut confusion = vec![vec![0.0f64; k]; k];
    for (x, y) in &pairs {
        confusion[index(*x)][index(*y)] += 1.0;
    }
    let n = pairs.len() as f64;
    let rows: Vec<f64> = (0..k).map(|i| confusion[i].iter().sum()).collect();
    let cols: Vec<f64> = (0..k).map(|j| (0..k).map(|i| confusion[i][j]).sum()).collect();
    let (mut observed, mut expected) = (0.0, 0.0);
    for i in 0..k {
        for j in 0..k {
            let w = ((i as f64) - (j as f64)).powi(2);
            observed += w * confusion[i][j];
            // scikit-learn: np.outer(sum0, sum1) / sum(sum0), sum0 the column sums.
            expected += w * cols[i] * rows[j] / n;
        }
    }
    (expected != 0.0).then(|| 1.0 - observed / expected)
}

/// Krippendorff's alpha for ordinal ratings, as PyPI `krippendorff` computes it: `units[u]`
/// holds the ratings unit `u` received (any number of raters; missing ones simply absent).
/// Units with fewer than two ratings carry no pairs and are left out. `None` where the
/// reference has no value: no pairable unit, or every pairable rating the same value.
pub fn krippendorff_alpha_ordinal(units: &[Vec<f64>]) -> Option<f64> {
    let values = sorted_unique(units.iter().filter(|u| u.len() >= 2).flatten().copied());
    let k = values.len();
    if k < 2 {
        return None;
    }
    let index = |v: f64| values.iter().position(|x| *x == v).expect("a value is among the values");
    // The coincidence matrix: each unit's ordered pairs of ratings, weighted 1 / (m_u - 1).
    let mut o = vec![vec![0.0f64; k]; k];
    for u in units.iter().filter(|u| u.len() >= 2) {
        let mut counts = vec![0.0f64; k];
        for v in u {
            counts[index(*v)] += 1.0;
        }
        let m = u.len() as f64;
        for c in 0..k {
            for d in 0..k {
                let pairs = counts[c] * (counts[d] - if c == d { 1.0 } else { 0.0 });
                o[c][d] += pairs / (m - 1.0);
            }
        }
    }
    let n_v: Vec<f64> = (0..k).map(|c| (0..k).map(|d| o[d][c]).sum()).collect();
    let n: f64 = n_v.iter().sum();
    // Ordinal distance: (sum of n_g from c to d, less half of n_c and n_d)^2.
    let delta = |c: usize, d: usize| {
        let (lo, hi) = (c.min(d), c.max(d));
        let between: f64 = n_v[lo..=hi].iter().sum();
        (between - (n_v[c] + n_v[d]) / 2.0).powi(2)
    };
    let (mut observed, mut expected) = (0.0, 0.0);
    for c in 0..k {
        for d in 0..k {
            let dist = delta(c, d);
            observed += o[c][d] * dist;
            expected += n_v[c] * (n_v[d] - if c == d { 1.0 } else { 0.0 }) / (n - 1.0) * dist;
        }
    }
    (expected != 0.0).then(|| 1.0 - observed / expected)
}

/// The share of pairs of ratings of one unit that are equal, over every unit rated at least
/// twice (for two raters: the share of units both rated the same). `None` without such a unit.
pub fn exact_agreement(units: &[Vec<f64>]) -> Option<f64> {
    let (mut equal, mut pairs) = (0u64, 0u64);
    for u in units {
        for i in 0..u.len() {
            for j in i + 1..u.len() {
                pairs += 1;
                equal += u64::from(u[i] == u[j]);
            }
        }
    }
    (pairs > 0).then(|| equal as f64 / pairs as f64)
}

/// A statistic over units with its 95% bootstrap interval: `resamples` draws of the units with
/// replacement from `seed` (the metrics' SplitMix64 stream), the 2.5th and 97.5th percentiles of
/// the draws where the statistic is defined. `None` where fewer than two draws are.
pub fn bootstrap_over_units<T: Clone>(units: &[T], resamples: usize, seed: u64, stat: impl Fn(&[T]) -> Option<f64>) -> Option<[f64; 2]> {
    if units.len() < 2 {
        return None;
    }
    let mut reps = Vec::with_capacity(resamples);
    let mut drawn: Vec<T> = Vec::with_capacity(units.len());
    stats::bootstrap(units.len(), resamples, seed, |idx| {
        drawn.clear();
        drawn.extend(idx.iter().map(|&i| units[i].clone()));
        if let Some(v) = stat(&drawn) {
            reps.push(v);
        }
    });
    if reps.len() < 2 {
        return None;
    }
    reps.sort_by(f64::total_cmp);
    Some([stats::percentile(&reps, 0.025), stats::percentile(&reps, 0.975)])
}

/// One paired comparison: `a` against `b`, `score` 1 when `a` is preferred, 0 when `b` is,
/// 0.5 for a tie.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    pub a: usize,
    pub b: usize,
    pub score: f64,
}

/// Why Bradley–Terry strengths cannot be fitted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RankingError {
    #[error("the comparisons do not connect every run (separate groups: {groups:?}); strengths across groups cannot be compared")]
    NotConnected { groups: Vec<Vec<usize>> },
    #[error("run {run} (with the runs it is tied to by wins) {how} every comparison against the others, so the strengths have no finite estimate")]
    NoFiniteEstimate { run: usize, how: &'static str },
    #[error("comparison of run {run}, but there are {runs} runs")]
    UnknownRun { run: usize, runs: usize },
    #[error("a comparison's score is {score}, not 0, 0.5 or 1")]
    BadScore { score: f64 },
}

/// Bradley–Terry log-strengths of `runs` runs from paired comparisons, by maximum likelihood
/// (a tie counts half a win to each side; no prior), centred to mean 0: the model says run `i`
/// is preferred to `j` with probability `1 / (1 + exp(s_j - s_i))`. A comparison graph that is
/// not connected, or a run that wins (or loses) every comparison, has no finite fit and is
/// reported, not fitted.
pub fn bradley_terry(runs: usize, comparisons: &[Comparison]) -> Result<Vec<f64>, RankingError> {
    // wins[i][j]: how often i was preferred to j (ties half); games[i][j]: comparisons of i and j.
    let mut wins = vec![vec![0.0f64; runs]; runs];
    let mut games = vec![vec![0.0f64; runs]; runs];
    for c in comparisons {
        for run in [c.a, c.b] {
            if run >= runs {
                return Err(RankingError::UnknownRun { run, runs });
            }
        }
        if ![0.0, 0.5, 1.0].contains(&c.score) {
            return Err(RankingError::BadScore { score: c.score });
        }
        wins[c.a][c.b] += c.score;
        wins[c.b][c.a] += 1.0 - c.score;
        games[c.a][c.b] += 1.0;
        games[c.b][c.a] += 1.0;
    }
    let groups = components(runs, &|i, j| games[i][j] > 0.0);
    if groups.len() > 1 {
        return Err(RankingError::NotConnected { groups });
    }
    // A finite maximum exists when "was preferred at least partly" links every run to every
    // other: no group of runs that only wins (or only loses) against the rest.
    let reach = |from: usize, forward: bool| {
        let mut seen = vec![false; runs];
        let mut stack = vec![from];
        seen[from] = true;
        while let Some(i) = stack.pop() {
            for j in 0..runs {
                let edge = if forward { wins[i][j] > 0.0 } else { wins[j][i] > 0.0 };
                if edge && !seen[j] {
                    seen[j] = true;
                    stack.push(j);
                }
            }
        }
        seen
    };
    if runs > 1 {
        // Strongly connected iff run 0 reaches everyone and everyone reaches run 0.
        // Not beaten, even transitively, by run 0's side: that side never wins against it.
        if let Some(run) = reach(0, true).iter().position(|s| !s) {
            return Err(RankingError::NoFiniteEstimate { run, how: "wins" });
        }
        if let Some(run) = reach(0, false).iter().position(|s| !s) {
            return Err(RankingError::NoFiniteEstimate { run, how: "loses" });
        }
    }
    // Newton's method on the log-likelihood with s_0 fixed at 0 (the rest solve an
    // (n-1)-dimensional system), then centred.
    let mut s = vec![0.0f64; runs];
    for _ in 0..200 {
        let m = runs - 1;
        let mut grad = vec![0.0f64; m];
        let mut hess = vec![vec![0.0f64; m]; m];
        for i in 1..runs {
            for j in 0..runs {
                if i == j || games[i][j] == 0.0 {
                    continue;
                }
                let p = 1.0 / (1.0 + (s[j] - s[i]).exp());
                grad[i - 1] += wins[i][j] - games[i][j] * p;
                let w = games[i][j] * p * (1.0 - p);
                hess[i - 1][i - 1] += w;
                if j > 0 {
                    hess[i - 1][j - 1] -= w;
                }
            }
        }
        let Some(step) = solve(hess, grad) else { break };
        let size = step.iter().fold(0.0f64, |a, x| a.max(x.abs()));
        for i in 1..runs {
            s[i] += step[i - 1];
        }
        if size < 1e-14 {
            break;
        }
    }
    let mean = s.iter().sum::<f64>() / runs.max(1) as f64;
    Ok(s.into_iter().map(|x| x - mean).collect())
}

/// Solves `a x = b` by Gaussian elimination with partial pivoting (`None` if singular).
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-300 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        let (above, below) = a.split_at_mut(col + 1);
        let pivot_row = &above[col];
        for (offset, row) in below.iter_mut().enumerate() {
            let f = row[col] / pivot_row[col];
            for (x, p) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                *x -= f * p;
            }
            b[col + 1 + offset] -= f * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let rest: f64 = (row + 1..n).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - rest) / a[row][row];
    }
    Some(x)
}

/// The connected groups of `0..n` under `linked`, each sorted, in order of their first member.
fn components(n: usize, linked: &dyn Fn(usize, usize) -> bool) -> Vec<Vec<usize>> {
    let mut group = vec![usize::MAX; n];
    let mut out: Vec<Vec<usize>> = Vec::new();
    for start in 0..n {
        if group[start] != usize::MAX {
            continue;
        }
        let g = out.len();
        let mut members = vec![start];
        group[start] = g;
        let mut k = 0;
        while k < members.len() {
            let i = members[k];
            for (j, slot) in group.iter_mut().enumerate() {
                if *slot == usize::MAX && linked(i, j) {
                    *slot = g;
                    members.push(j);
                }
            }
            k += 1;
        }
        members.sort_unstable();
        out.push(members);
    }
    out
}

fn sorted_unique(values: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_agreement_and_its_absence() {
        let r = [Some(1.0), Some(2.0), Some(3.0), Some(4.0)];
        assert_eq!(cohen_kappa_quadratic(&r, &r), Some(1.0));
        assert_eq!(cohen_kappa_quadratic(&[Some(2.0); 3], &[Some(2.0); 3]), None, "a single label");
        assert_eq!(cohen_kappa_quadratic(&[None, Some(1.0)], &[Some(1.0), None]), None, "no unit rated by both");
        assert_eq!(krippendorff_alpha_ordinal(&[vec![1.0, 1.0], vec![1.0, 1.0]]), None, "one value");
        assert_eq!(krippendorff_alpha_ordinal(&[vec![1.0], vec![2.0]]), None, "nothing pairable");
        assert_eq!(exact_agreement(&[vec![1.0, 1.0, 2.0]]), Some(1.0 / 3.0));
    }

    #[test]
    fn bradley_terry_refuses_what_has_no_fit() {
        let c = |a, b, score| Comparison { a, b, score };
        assert!(matches!(bradley_terry(3, &[c(0, 1, 1.0), c(1, 0, 1.0)]), Err(RankingError::NotConnected { .. })));
        assert!(matches!(bradley_terry(2, &[c(0, 1, 1.0), c(0, 1, 1.0)]), Err(RankingError::NoFiniteEstimate { .. })));
        // Even: equal strengths.
        let s = bradley_terry(2, &[c(0, 1, 1.0), c(1, 0, 1.0)]).unwrap();
        assert!(s.iter().all(|x| x.abs() < 1e-12), "{s:?}");
        // Two of three won: log(2) apart.
        let s = bradley_terry(2, &[c(0, 1, 1.0), c(0, 1, 1.0), c(0, 1, 0.0)]).unwrap();
        assert!((s[0] - s[1] - 2f64.ln()).abs() < 1e-12, "{s:?}");
    }
}
