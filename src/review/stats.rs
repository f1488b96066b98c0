//! A review's results: per run and dimension the mean rating with a 95% bootstrap interval over
//! items and the distribution over the scale; per dimension the agreement between raters over
//! all runs together (a unit is one output: an item and a run), with Krippendorff's ordinal
//! alpha for any number of raters, quadratic-weighted Cohen's kappa for exactly two (over the
//! units both rated), and exact agreement.

use super::{Key, Review};
use crate::metrics::agreement::{bootstrap_over_units, cohen_kappa_quadratic, exact_agreement, krippendorff_alpha_ordinal};
use crate::metrics::Bootstrap;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// One rating in the long form: `item`, `run`, `dimension`, `rater`, `value`.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct LongRating {
    pub item: String,
    pub run: String,
    pub dimension: String,
    pub rater: String,
    pub value: f64,
}

/// A reviewer's ratings in the long form; with the key, outputs become the runs' labels,
/// without it they stay opaque ids.
pub fn long_form(review: &Review, key: Option<&Key>) -> Vec<LongRating> {
    review
        .ratings
        .iter()
        .map(|r| LongRating {
            item: r.item.clone(),
            run: key
                .and_then(|k| k.outputs.get(&r.output).and_then(|&i| k.runs.get(i)))
                .map_or_else(|| r.output.clone(), |run| run.label.clone()),
            dimension: r.dimension.clone(),
            rater: review.rater.clone(),
            value: f64::from(r.value),
        })
        .collect()
}

/// Each run's error-tag rates: the share of its rated outputs (a rater's ratings of one output)
/// that carry each tag, over the reviews given (the long CSV form has no tags).
pub fn tag_rates(reviews: &[&Review], key: Option<&Key>) -> BTreeMap<String, BTreeMap<String, f64>> {
    // (rater, item, run) -> tags
    let mut outputs: BTreeMap<(String, String, String), BTreeSet<String>> = BTreeMap::new();
    for review in reviews {
        for r in long_form(review, key).iter().zip(&review.ratings) {
            let (long, rating) = r;
            outputs.entry((review.rater.clone(), long.item.clone(), long.run.clone())).or_default().extend(rating.tags.iter().cloned());
        }
    }
    let mut out: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    let runs: BTreeSet<&String> = outputs.keys().map(|(_, _, run)| run).collect();
    for run in runs {
        let rated: Vec<&BTreeSet<String>> = outputs.iter().filter(|((_, _, r), _)| r == run).map(|(_, t)| t).collect();
        let tags: BTreeSet<&String> = rated.iter().flat_map(|t| t.iter()).collect();
        let rates = tags.into_iter().map(|t| (t.clone(), rated.iter().filter(|x| x.contains(t)).count() as f64 / rated.len() as f64)).collect();
        out.insert(run.clone(), rates);
    }
    out
}

/// Ratings in the long CSV form (header `item,run,dimension,rater,value`, any column order).
pub fn read_long_csv(name: &str, bytes: &[u8]) -> Result<Vec<LongRating>, super::ReviewError> {
    let bad = |problem: String| super::ReviewError::BadFile { file: name.into(), problem };
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(bytes);
    let headers = reader.headers().map_err(|e| bad(format!("no header row: {e}")))?.clone();
    let col = |h: &str| headers.iter().position(|x| x.trim() == h).ok_or_else(|| bad(format!("no {h:?} column (the long form has item, run, dimension, rater, value)")));
    let (item, run, dimension, rater, value) = (col("item")?, col("run")?, col("dimension")?, col("rater")?, col("value")?);
    let mut out = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let r = record.map_err(|e| bad(format!("line {line}: {e}")))?;
        let v: f64 = r[value].trim().parse().map_err(|_| bad(format!("line {line}: value {:?} is not a number", &r[value])))?;
        if !(1.0..=4.0).contains(&v) || v.fract() != 0.0 {
            return Err(bad(format!("line {line}: value {v} is outside the scale 1-4")));
        }
        out.push(LongRating { item: r[item].to_string(), run: r[run].to_string(), dimension: r[dimension].to_string(), rater: r[rater].to_string(), value: v });
    }
    Ok(out)
}

/// Results of a review.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReviewStats {
    pub dimensions: BTreeMap<String, DimensionStats>,
    pub raters: Vec<String>,
    /// Where a statistic is undefined, and why.
    pub notes: Vec<String>,
}

/// One dimension's results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DimensionStats {
    pub alpha: Option<f64>,
    pub alpha_ci95: Option<[f64; 2]>,
    /// Exactly two raters only.
    pub kappa: Option<f64>,
    pub kappa_ci95: Option<[f64; 2]>,
    pub exact_agreement: Option<f64>,
    pub exact_agreement_ci95: Option<[f64; 2]>,
    /// Outputs rated by at least two raters.
    pub units_rated_twice: usize,
    pub runs: BTreeMap<String, RunStats>,
}

/// A run on one dimension.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunStats {
    /// Mean over items of each item's mean rating.
    pub mean: f64,
    pub ci95: Option<[f64; 2]>,
    pub items: usize,
    /// Ratings given 1, 2, 3, 4.
    pub distribution: [usize; 4],
}

/// The results of ratings in the long form (a later rating of the same output by the same rater
/// on the same dimension replaces an earlier one).
pub fn review_stats(ratings: &[LongRating]) -> ReviewStats {
    let boot = Bootstrap::DEFAULT;
    let raters: Vec<String> = ratings.iter().map(|r| r.rater.clone()).collect::<BTreeSet<_>>().into_iter().collect();
    let mut notes = Vec::new();
    let mut dimensions = BTreeMap::new();
    let dims: BTreeSet<&str> = ratings.iter().map(|r| r.dimension.as_str()).collect();
    for dim in dims {
        // (item, run) -> rater -> value
        let mut units: BTreeMap<(&str, &str), BTreeMap<&str, f64>> = BTreeMap::new();
        for r in ratings.iter().filter(|r| r.dimension == dim) {
            units.entry((&r.item, &r.run)).or_default().insert(&r.rater, r.value);
        }
        let values: Vec<Vec<f64>> = units.values().map(|m| m.values().copied().collect()).collect();
        let alpha = krippendorff_alpha_ordinal(&values);
        let alpha_ci95 = bootstrap_over_units(&values, boot.resamples, boot.seed, krippendorff_alpha_ordinal);
        if alpha.is_none() {
            notes.push(format!("{dim}: alpha undefined (no output rated twice, or every rating the same value)"));
        }
        let (kappa, kappa_ci95) = if raters.len() == 2 {
            let pairs: Vec<(Option<f64>, Option<f64>)> =
                units.values().map(|m| (m.get(raters[0].as_str()).copied(), m.get(raters[1].as_str()).copied())).collect();
            let kappa_of = |p: &[(Option<f64>, Option<f64>)]| {
                let (a, b): (Vec<_>, Vec<_>) = p.iter().copied().unzip();
                cohen_kappa_quadratic(&a, &b)
            };
            let k = kappa_of(&pairs);
            if k.is_none() {
                notes.push(format!("{dim}: kappa undefined (no output rated by both, or a single value)"));
            }
            (k, bootstrap_over_units(&pairs, boot.resamples, boot.seed, kappa_of))
        } else {
            (None, None)
        };
        let exact = exact_agreement(&values);
        let exact_ci95 = bootstrap_over_units(&values, boot.resamples, boot.seed, exact_agreement);
        // Per run: each item's mean over its raters, then over items.
        let mut runs: BTreeMap<String, RunStats> = BTreeMap::new();
        let run_names: BTreeSet<&str> = units.keys().map(|(_, run)| *run).collect();
        for run in run_names {
            let per_item: Vec<f64> =
                units.iter().filter(|((_, r), _)| *r == run).map(|(_, m)| m.values().sum::<f64>() / m.len() as f64).collect();
            let mut distribution = [0usize; 4];
            for m in units.iter().filter(|((_, r), _)| *r == run).map(|(_, m)| m) {
                for v in m.values() {
                    distribution[(*v as usize).clamp(1, 4) - 1] += 1;
                }
            }
            let mean = per_item.iter().sum::<f64>() / per_item.len() as f64;
            let ci95 = bootstrap_over_units(&per_item, boot.resamples, boot.seed, |x| Some(x.iter().sum::<f64>() / x.len() as f64));
            runs.insert(run.to_string(), RunStats { mean, ci95, items: per_item.len(), distribution });
        }
        dimensions.insert(
            dim.to_string(),
            DimensionStats {
                alpha,
                alpha_ci95,
                kappa,
                kappa_ci95,
                exact_agreement: exact,
                exact_agreement_ci95: exact_ci95,
                units_rated_twice: values.iter().filter(|u| u.len() >= 2).count(),
                runs,
            },
        );
    }
    ReviewStats { dimensions, raters, notes }
}

impl ReviewStats {
    /// The tables for people: per dimension the agreement, then each run's mean.
    pub fn table(&self) -> String {
        let num = |x: Option<f64>| x.map_or_else(|| "-".to_string(), |v| format!("{v:.3}"));
        let ci = |x: Option<[f64; 2]>| x.map_or_else(|| "-".to_string(), |[lo, hi]| format!("[{lo:.3}, {hi:.3}]"));
        let mut out = format!("raters: {}\n", self.raters.join(", "));
        out += &format!(
            "{:<14} {:>8} {:>17} {:>8} {:>17} {:>8} {:>6}\n",
            "dimension", "alpha", "95% interval", "kappa", "95% interval", "exact", "units"
        );
        for (dim, d) in &self.dimensions {
            out += &format!(
                "{dim:<14} {:>8} {:>17} {:>8} {:>17} {:>8} {:>6}\n",
                num(d.alpha),
                ci(d.alpha_ci95),
                num(d.kappa),
                ci(d.kappa_ci95),
                num(d.exact_agreement),
                d.units_rated_twice
            );
        }
        out += &format!("\n{:<14} {:<30} {:>6} {:>17} {:>6} {:>15}\n", "dimension", "run", "mean", "95% interval", "items", "1/2/3/4");
        for (dim, d) in &self.dimensions {
            for (run, r) in &d.runs {
                let dist = r.distribution.map(|c| c.to_string()).join("/");
                out += &format!("{dim:<14} {run:<30} {:>6.3} {:>17} {:>6} {dist:>15}\n", r.mean, ci(r.ci95), r.items);
            }
        }
        out
    }
}

/// Pairwise results: for each pair of runs how often each was preferred (a tie counted apart),
/// the first run's win rate (a tie half a win) with a 95% bootstrap interval over judgements,
/// and with more than two runs, Bradley–Terry log-strengths (or why they cannot be fitted).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairwiseStats {
    pub pairs: Vec<PairResult>,
    /// Runs with their Bradley–Terry log-strength (mean 0), strongest first.
    pub bradley_terry: Option<Vec<(String, f64)>>,
    /// Why there is no ranking, where there is none with more than two runs.
    pub ranking_note: Option<String>,
}

/// One pair of runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairResult {
    pub a: String,
    pub b: String,
    pub a_wins: usize,
    pub ties: usize,
    pub b_wins: usize,
    /// `a`'s wins plus half the ties, over the judgements.
    pub a_win_rate: f64,
    pub a_win_rate_ci95: Option<[f64; 2]>,
}

/// The pairwise results of reviews (runs named through the key where given).
pub fn pairwise_stats(reviews: &[&Review], key: Option<&Key>) -> PairwiseStats {
    use crate::metrics::agreement::{bradley_terry, Comparison};
    let name = |output: &str| {
        key.and_then(|k| k.outputs.get(output).and_then(|&i| k.runs.get(i))).map_or_else(|| output.to_string(), |r| r.label.clone())
    };
    // (left run, right run, score for left)
    let judgements: Vec<(String, String, f64)> = reviews
        .iter()
        .flat_map(|r| r.preferences.iter())
        .map(|p| {
            let score = match p.choice {
                super::Choice::Left => 1.0,
                super::Choice::Tie => 0.5,
                super::Choice::Right => 0.0,
            };
            (name(&p.left), name(&p.right), score)
        })
        .collect();
    let runs: Vec<String> = judgements.iter().flat_map(|(a, b, _)| [a.clone(), b.clone()]).collect::<BTreeSet<_>>().into_iter().collect();
    let mut pairs = Vec::new();
    for (i, a) in runs.iter().enumerate() {
        for b in &runs[i + 1..] {
            // Each judgement of this pair as a score for `a`.
            let scores: Vec<f64> = judgements
                .iter()
                .filter_map(|(l, r, s)| if l == a && r == b { Some(*s) } else if l == b && r == a { Some(1.0 - s) } else { None })
                .collect();
            if scores.is_empty() {
                continue;
            }
            let rate = |x: &[f64]| Some(x.iter().sum::<f64>() / x.len() as f64);
            let boot = Bootstrap::DEFAULT;
            pairs.push(PairResult {
                a: a.clone(),
                b: b.clone(),
                a_wins: scores.iter().filter(|s| **s == 1.0).count(),
                ties: scores.iter().filter(|s| **s == 0.5).count(),
                b_wins: scores.iter().filter(|s| **s == 0.0).count(),
                a_win_rate: rate(&scores).unwrap_or(0.0),
                a_win_rate_ci95: bootstrap_over_units(&scores, boot.resamples, boot.seed, rate),
            });
        }
    }
    let (bradley_terry, ranking_note) = if runs.len() > 2 {
        let index = |r: &str| runs.iter().position(|x| x == r).expect("a run of the judgements");
        let comparisons: Vec<Comparison> = judgements.iter().map(|(a, b, s)| Comparison { a: index(a), b: index(b), score: *s }).collect();
        match bradley_terry(runs.len(), &comparisons) {
            Ok(strengths) => {
                let mut ranked: Vec<(String, f64)> = runs.iter().cloned().zip(strengths).collect();
                ranked.sort_by(|x, y| y.1.total_cmp(&x.1));
                (Some(ranked), None)
            }
            Err(e) => (None, Some(e.to_string())),
        }
    } else {
        (None, None)
    };
    PairwiseStats { pairs, bradley_terry, ranking_note }
}
