//! Scorers: plain predictions and references in, a value with its uncertainty out.
//!
//! Owns every metric the project reports, each equal to its reference implementation (checked
//! against fixtures made by those implementations, `scripts/make_metric_fixtures.py`):
//!
//! | name | reference | per sample / corpus | scale |
//! | --- | --- | --- | --- |
//! | `acc`, `acc_norm` | lm-evaluation-harness 0.4.13 ([`multiple_choice`]) | mean | 0-1 |
//! | `exact_match`, `quasi_exact_match` | HELM ([`exact_match`]) | mean | 0-1 |
//! | `rouge1`, `rouge2`, `rougeL`, `rougeLsum` | rouge-score 0.1.2, optional Porter stemmer ([`rouge`], [`porter`]) | mean of F | 0-1 |
//! | `bleu` | sacrebleu 2.6, 13a, smoothing `exp` ([`bleu`]) | corpus | 0-100 |
//! | `entity_f1` | seqeval 1.2, default mode, micro ([`seqeval`]) | corpus | 0-1 |
//! | `f1_micro`, `f1_macro` | scikit-learn `f1_score` ([`classification`]) | corpus | 0-1 |
//! | `set_f1` | the project's definition ([`set_f1`]) | mean | 0-1 |
//!
//! Metrics know nothing of models or tasks. A run of one metric is built sample by sample with
//! a [`Scorer`] (typed inputs, or JSON values as the CLI and the page receive them) and becomes
//! a [`Scored`]: the per-sample statistics, from which come the [`Score`] (value, n, standard
//! error, 95% interval) and paired comparisons of two runs ([`compare`]).
//!
//! Uncertainty, decided here and reported with every value:
//!
//! - Means (`acc`, `acc_norm`, `exact_match`, `quasi_exact_match`, `rouge*`, `set_f1`): the
//!   standard error is lm-eval's `mean_stderr` (sample standard deviation with n - 1, over
//!   sqrt(n)); the interval is the normal approximation value ± 1.96 stderr, clamped to [0, 1].
//! - Corpus metrics (`bleu`, `entity_f1`, `f1_micro`, `f1_macro`): [`Bootstrap::DEFAULT`], 1000
//!   resamples of the samples with replacement from a fixed seed (a SplitMix64 stream, the same
//!   natively and in wasm); the metric is recomputed on each resample exactly as on the data
//!   (for `f1_*` without `labels`, over the labels present in that resample; a resample with no
//!   label at all counts 0); the standard error is the resamples' sample standard deviation and
//!   the interval their 2.5th and 97.5th percentiles (numpy's linear interpolation).
//! - With fewer than two samples there is no standard error or interval (`None`, JSON `null`).
//!
//! Paired comparison of two runs over the same samples ([`compare`]): the exact McNemar test
//! (two-sided binomial on the discordant pairs) for `acc`, `acc_norm`, `exact_match` and
//! `quasi_exact_match`; otherwise a paired bootstrap with sacrebleu's p-value
//! (`significance.py`, `_paired_bs`: resampled absolute differences, centered, counted where at
//! least the observed one; sacrebleu counts "greater than", which gives a run compared with
//! itself p = 1/1001). Both report the difference and its paired-bootstrap 95% interval.
//!
//! A metric that fails on a sample is an error carrying the sample's index
//! ([`MetricError::Sample`]), never a NaN averaged away.

pub mod agreement;
pub mod bleu;
pub mod classification;
pub mod exact_match;
mod input;
pub mod multiple_choice;
pub mod porter;
mod pytext;
pub mod rouge;
pub mod seqeval;
pub mod set_f1;
mod stats;

pub use classification::{Average, Labels};
pub use input::{ScoreOptions, Scorer};

use bleu::BleuStats;
use classification::LabelSamples;
use seqeval::EntitySamples;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A metric, by the name used everywhere (CLI, results.json, page).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// `acc`: accuracy (lm-eval multiple choice, or equality of answers).
    Acc,
    /// `acc_norm`: accuracy choosing by loglikelihood per character (lm-eval).
    AccNorm,
    /// `exact_match`: HELM's, equality after stripping whitespace.
    ExactMatch,
    /// `quasi_exact_match`: HELM's, equality after its normalization.
    QuasiExactMatch,
    /// `rouge1`: mean unigram F (rouge-score).
    Rouge1,
    /// `rouge2`: mean bigram F (rouge-score).
    Rouge2,
    /// `rougeL`: mean LCS F (rouge-score).
    RougeL,
    /// `rougeLsum`: mean summary-level LCS F over newline-separated sentences (rouge-score).
    RougeLsum,
    /// `bleu`: sacrebleu corpus BLEU, 0-100.
    Bleu,
    /// `entity_f1`: seqeval micro F1 over BIO entities.
    EntityF1,
    /// `f1_micro`: scikit-learn micro F1 over labels.
    F1Micro,
    /// `f1_macro`: scikit-learn macro F1 over labels.
    F1Macro,
    /// `set_f1`: mean F1 between normalized item sets.
    SetF1,
}

impl Metric {
    /// Every metric, in the order of the table above.
    pub const ALL: [Metric; 13] = [
        Metric::Acc,
        Metric::AccNorm,
        Metric::ExactMatch,
        Metric::QuasiExactMatch,
        Metric::Rouge1,
        Metric::Rouge2,
        Metric::RougeL,
        Metric::RougeLsum,
        Metric::Bleu,
        Metric::EntityF1,
        Metric::F1Micro,
        Metric::F1Macro,
        Metric::SetF1,
    ];

    /// The metric's name.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Acc => "acc",
            Metric::AccNorm => "acc_norm",
            Metric::ExactMatch => "exact_match",
            Metric::QuasiExactMatch => "quasi_exact_match",
            Metric::Rouge1 => "rouge1",
            Metric::Rouge2 => "rouge2",
            Metric::RougeL => "rougeL",
            Metric::RougeLsum => "rougeLsum",
            Metric::Bleu => "bleu",
            Metric::EntityF1 => "entity_f1",
            Metric::F1Micro => "f1_micro",
            Metric::F1Macro => "f1_macro",
            Metric::SetF1 => "set_f1",
        }
    }

    /// The metric of that name (exact, case-sensitive: `rougeL`).
    pub fn from_name(name: &str) -> Result<Metric, MetricError> {
        Metric::ALL
            .into_iter()
            .find(|m| m.name() == name)
            .ok_or_else(|| MetricError::UnknownMetric { name: name.to_string() })
    }

    /// Whether the value is computed over the whole corpus (not a mean of per-sample values);
    /// its uncertainty then comes from the bootstrap.
    pub fn is_corpus(self) -> bool {
        matches!(self, Metric::Bleu | Metric::EntityF1 | Metric::F1Micro | Metric::F1Macro)
    }

    /// Whether per-sample values are 0 or 1 (paired comparison by McNemar's test).
    pub fn is_binary(self) -> bool {
        matches!(self, Metric::Acc | Metric::AccNorm | Metric::ExactMatch | Metric::QuasiExactMatch)
    }

    /// The range of values: [0, 100] for BLEU, [0, 1] otherwise.
    pub fn range(self) -> (f64, f64) {
        match self {
            Metric::Bleu => (0.0, 100.0),
            _ => (0.0, 1.0),
        }
    }

    /// The ROUGE variant, for the ROUGE metrics.
    pub fn rouge_type(self) -> Option<rouge::RougeType> {
        Some(match self {
            Metric::Rouge1 => rouge::RougeType::Rouge1,
            Metric::Rouge2 => rouge::RougeType::Rouge2,
            Metric::RougeL => rouge::RougeType::RougeL,
            Metric::RougeLsum => rouge::RougeType::RougeLsum,
            _ => return None,
        })
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Metric {
    type Err = MetricError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Metric::from_name(s)
    }
}

impl Serialize for Metric {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Metric {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<str>::deserialize(d)?;
        Metric::from_name(&name).map_err(serde::de::Error::custom)
    }
}

/// A metric that failed: on one sample (with its index), or on the run as a whole.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MetricError {
    /// No metric has this name.
    #[error("unknown metric {name:?}; the metrics are {}", Metric::ALL.map(Metric::name).join(", "))]
    UnknownMetric {
        /// The name asked for.
        name: String,
    },
    /// An option given for a metric it does not apply to.
    #[error("{option} does not apply to {metric}")]
    OptionNotApplicable {
        /// The option (`rouge_stemmer`, `labels`).
        option: &'static str,
        /// The metric.
        metric: Metric,
    },
    /// A kind of input the metric does not take (typed [`Scorer`] methods).
    #[error("{metric} does not take {input}")]
    WrongInput {
        /// The metric.
        metric: Metric,
        /// What was pushed.
        input: &'static str,
    },
    /// The metric failed on one sample.
    #[error("sample {index}: {reason}")]
    Sample {
        /// 0-based position of the sample among those pushed.
        index: usize,
        /// Why.
        reason: SampleError,
    },
    /// Nothing to score.
    #[error("{metric}: no samples to score")]
    NoSamples {
        /// The metric.
        metric: Metric,
    },
    /// An F1 with no label to average over.
    #[error("{metric}: no labels to score (every sample has an empty label list, or the labels option is empty)")]
    NoLabels {
        /// The metric.
        metric: Metric,
    },
    /// Slices of predictions and references of different lengths.
    #[error("{predictions} predictions but {references} references")]
    LengthMismatch {
        /// Number of predictions.
        predictions: usize,
        /// Number of references.
        references: usize,
    },
    /// A paired comparison of two different metrics.
    #[error("cannot compare {a} with {b}: a paired comparison needs runs of one metric")]
    MetricMismatch {
        /// The first run's metric.
        a: Metric,
        /// The second run's metric.
        b: Metric,
    },
    /// A paired comparison of runs over different numbers of samples.
    #[error("cannot compare runs of {a} and {b} samples: a paired comparison needs the same samples")]
    RunLengthMismatch {
        /// Samples in the first run.
        a: usize,
        /// Samples in the second run.
        b: usize,
    },
}

/// Why a metric failed on one sample.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SampleError {
    /// A JSON value of the wrong type.
    #[error("{field} should be {expected}, found {found}")]
    WrongType {
        /// `prediction`, `reference`, or a field inside them.
        field: &'static str,
        /// What the metric takes.
        expected: &'static str,
        /// What came (a JSON type, or the value when short).
        found: String,
    },
    /// Tag lists of different lengths (`entity_f1`).
    #[error("the prediction has {prediction} tags but the reference has {reference}")]
    TagCountMismatch {
        /// Tags in the prediction.
        prediction: usize,
        /// Tags in the reference.
        reference: usize,
    },
    /// An empty string as a tag (`entity_f1`).
    #[error("{field} tag {position} is an empty string")]
    EmptyTag {
        /// `prediction` or `reference`.
        field: &'static str,
        /// 0-based position of the tag.
        position: usize,
    },
    /// A NaN where a number is needed.
    #[error("{what} {index} is NaN")]
    NonFinite {
        /// What it is (`loglikelihood`).
        what: &'static str,
        /// Its position.
        index: usize,
    },
    /// A per-sample value that is not a finite number in the metric's range.
    #[error("per-sample value {value} is not a finite number in [{lo}, {hi}]")]
    ValueOutOfRange {
        /// The value.
        value: f64,
        /// Lowest allowed.
        lo: f64,
        /// Highest allowed.
        hi: f64,
    },
    /// A multiple-choice sample without choices.
    #[error("there are no choices")]
    NoChoices,
    /// `acc_norm` without the choices' texts.
    #[error("acc_norm needs the choices' texts (\"choices\") to divide by their lengths")]
    MissingChoices,
    /// Different numbers of loglikelihoods and choices.
    #[error("{loglikelihoods} loglikelihoods but {choices} choices")]
    ChoiceCountMismatch {
        /// Number of loglikelihoods.
        loglikelihoods: usize,
        /// Number of choices.
        choices: usize,
    },
    /// An empty choice text (`acc_norm` would divide by zero).
    #[error("choice {index} is empty, and acc_norm divides by its length")]
    EmptyChoice {
        /// Its position.
        index: usize,
    },
    /// A multiple-choice sample with an empty list of gold indexes.
    #[error("the reference names no gold choice")]
    NoGold,
    /// A gold index that names no choice.
    #[error("gold index {gold} is outside the {choices} choices")]
    GoldOutOfRange {
        /// The gold index.
        gold: usize,
        /// Number of choices.
        choices: usize,
    },
    /// Single-label and multi-label samples mixed (`f1_*`).
    #[error("{field} is {found} but {expected} was expected (all samples must be single-label or all multi-label)")]
    LabelKind {
        /// `prediction` or `reference`.
        field: &'static str,
        /// The kind expected.
        expected: &'static str,
        /// The kind found.
        found: &'static str,
    },
}

/// Bootstrap settings for corpus metrics and paired comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bootstrap {
    /// Number of resamples.
    pub resamples: usize,
    /// Seed of the resampling stream.
    pub seed: u64,
}

impl Bootstrap {
    /// 1000 resamples from seed 12345 (sacrebleu's default seed).
    pub const DEFAULT: Bootstrap = Bootstrap { resamples: 1000, seed: 12345 };
}

impl Default for Bootstrap {
    fn default() -> Self {
        Bootstrap::DEFAULT
    }
}

/// A metric's value over a run with its uncertainty: what results.json and `score` report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// The metric.
    pub metric: Metric,
    /// Its value, on the reference's scale.
    pub value: f64,
    /// Number of samples.
    pub n: usize,
    /// Standard error (`None` below two samples).
    pub stderr: Option<f64>,
    /// 95% interval `[lo, hi]` (`None` below two samples).
    pub ci95: Option<[f64; 2]>,
}

/// Per-sample statistics of a run, what each metric's value is computed from.
#[derive(Debug, Clone)]
enum Samples {
    /// Per-sample values of a mean metric.
    Mean(Vec<f64>),
    /// Per-segment BLEU statistics.
    Bleu(Vec<BleuStats>),
    /// Label samples of `f1_micro` / `f1_macro`.
    Labels(LabelSamples),
    /// Tag samples of `entity_f1`.
    Entities(EntitySamples),
}

impl Samples {
    /// Number of samples kept.
    fn len(&self) -> usize {
        match self {
            Samples::Mean(v) => v.len(),
            Samples::Bleu(v) => v.len(),
            Samples::Labels(l) => l.len(),
            Samples::Entities(e) => e.len(),
        }
    }
}

/// One run of one metric over its samples.
#[derive(Debug, Clone)]
pub struct Scored {
    metric: Metric,
    samples: Samples,
    bootstrap: Bootstrap,
}

impl Scored {
    fn new(metric: Metric, samples: Samples, bootstrap: Bootstrap) -> Result<Scored, MetricError> {
        let s = Scored { metric, samples, bootstrap };
        if s.n() == 0 {
            return Err(MetricError::NoSamples { metric });
        }
        if let Samples::Labels(l) = &s.samples {
            let average = if metric == Metric::F1Macro { Average::Macro } else { Average::Micro };
            l.f1(average, None).ok_or(MetricError::NoLabels { metric })?;
        }
        Ok(s)
    }

    /// A mean metric from per-sample values computed elsewhere (each finite and in the
    /// metric's range); corpus metrics need their own statistics ([`Scorer`]).
    pub fn from_values(metric: Metric, values: Vec<f64>) -> Result<Scored, MetricError> {
        if metric.is_corpus() {
            return Err(MetricError::WrongInput { metric, input: "per-sample values" });
        }
        let (lo, hi) = metric.range();
        if let Some((index, &value)) = values.iter().enumerate().find(|(_, v)| !(**v >= lo && **v <= hi)) {
            return Err(MetricError::Sample { index, reason: SampleError::ValueOutOfRange { value, lo, hi } });
        }
        Scored::new(metric, Samples::Mean(values), Bootstrap::DEFAULT)
    }

    /// The same run with other bootstrap settings.
    pub fn with_bootstrap(mut self, bootstrap: Bootstrap) -> Scored {
        self.bootstrap = bootstrap;
        self
    }

    /// The metric.
    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// Number of samples.
    pub fn n(&self) -> usize {
        self.samples.len()
    }

    /// Per-sample values, for mean metrics (`None` for corpus metrics).
    pub fn per_sample(&self) -> Option<&[f64]> {
        match &self.samples {
            Samples::Mean(v) => Some(v),
            _ => None,
        }
    }

    /// Per-segment BLEU statistics, for `bleu`.
    pub fn bleu_stats(&self) -> Option<&[BleuStats]> {
        match &self.samples {
            Samples::Bleu(v) => Some(v),
            _ => None,
        }
    }

    /// The metric's value.
    pub fn value(&self) -> f64 {
        self.value_at(None)
    }

    /// The value over the samples at `idx` (a resample), or over all of them.
    fn value_at(&self, idx: Option<&[usize]>) -> f64 {
        match &self.samples {
            Samples::Mean(v) => match idx {
                None => stats::mean(v),
                Some(idx) => idx.iter().fold(0.0, |a, &i| a + v[i]) / idx.len() as f64,
            },
            Samples::Bleu(v) => {
                let mut total = BleuStats::default();
                match idx {
                    None => v.iter().for_each(|s| total.add(s)),
                    Some(idx) => idx.iter().for_each(|&i| total.add(&v[i])),
                }
                total.score().score
            }
            Samples::Labels(l) => {
                let average = if self.metric == Metric::F1Macro { Average::Macro } else { Average::Micro };
                l.f1(average, idx).unwrap_or(0.0)
            }
            Samples::Entities(e) => e.f1(idx),
        }
    }

    /// Value, n, standard error and 95% interval (see the module docs for how).
    pub fn score(&self) -> Score {
        let value = self.value();
        let n = self.n();
        let (stderr, ci95) = if n < 2 {
            (None, None)
        } else if let Samples::Mean(v) = &self.samples {
            let se = stats::mean_stderr(v);
            let (lo, hi) = self.metric.range();
            (Some(se), Some([(value - 1.96 * se).max(lo), (value + 1.96 * se).min(hi)]))
        } else {
            let mut reps = Vec::with_capacity(self.bootstrap.resamples);
            stats::bootstrap(n, self.bootstrap.resamples, self.bootstrap.seed, |idx| {
                reps.push(self.value_at(Some(idx)))
            });
            if reps.len() < 2 {
                (None, None)
            } else {
                let se = stats::sample_std(&reps);
                reps.sort_by(f64::total_cmp);
                (Some(se), Some([stats::percentile(&reps, 0.025), stats::percentile(&reps, 0.975)]))
            }
        };
        Score { metric: self.metric, value, n, stderr, ci95 }
    }
}

/// Which paired test a [`Comparison`] used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PairedTest {
    /// Exact McNemar test (two-sided binomial on the discordant pairs).
    McnemarExact,
    /// Paired bootstrap resampling (sacrebleu's `_paired_bs` p-value).
    PairedBootstrap,
}

/// Two runs of one metric over the same samples, compared pairwise.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// The metric.
    pub metric: Metric,
    /// Number of paired samples.
    pub n: usize,
    /// Value of the first run (the baseline).
    pub a: f64,
    /// Value of the second run.
    pub b: f64,
    /// `b - a`.
    pub delta: f64,
    /// Paired-bootstrap 95% percentile interval of `b - a` (`None` below two samples).
    pub delta_ci95: Option<[f64; 2]>,
    /// The test.
    pub test: PairedTest,
    /// Two-sided p-value of "no difference".
    pub p_value: f64,
    /// For McNemar: samples right in `a` only, and in `b` only.
    pub discordant: Option<[u64; 2]>,
}

/// Holm's step-down adjustment of p-values for multiple tests (statsmodels'
/// `multipletests(method="holm")`), in the order given.
pub fn holm(p_values: &[f64]) -> Vec<f64> {
    stats::holm(p_values)
}

/// Compares two runs of one metric over the same samples, in the same order: McNemar's exact
/// test for 0/1 metrics, a paired bootstrap otherwise.
pub fn compare(a: &Scored, b: &Scored) -> Result<Comparison, MetricError> {
    if a.metric != b.metric {
        return Err(MetricError::MetricMismatch { a: a.metric, b: b.metric });
    }
    if a.n() != b.n() {
        return Err(MetricError::RunLengthMismatch { a: a.n(), b: b.n() });
    }
    let n = a.n();
    let (va, vb) = (a.value(), b.value());
    let boot = a.bootstrap;
    let mut deltas = Vec::with_capacity(boot.resamples);
    let mut abs_diffs = Vec::with_capacity(boot.resamples);
    if n >= 2 {
        stats::bootstrap(n, boot.resamples, boot.seed, |idx| {
            let (ra, rb) = (a.value_at(Some(idx)), b.value_at(Some(idx)));
            deltas.push(rb - ra);
            abs_diffs.push((rb - ra).abs());
        });
    }
    let delta_ci95 = (deltas.len() >= 2).then(|| {
        deltas.sort_by(f64::total_cmp);
        [stats::percentile(&deltas, 0.025), stats::percentile(&deltas, 0.975)]
    });
    fn binary(s: &Scored) -> Option<&[f64]> {
        s.per_sample().filter(|v| v.iter().all(|&x| x == 0.0 || x == 1.0))
    }
    let (test, p_value, discordant) = match (a.metric.is_binary(), binary(a), binary(b)) {
        (true, Some(xa), Some(xb)) => {
            let only_a = xa.iter().zip(xb).filter(|(x, y)| **x == 1.0 && **y == 0.0).count() as u64;
            let only_b = xa.iter().zip(xb).filter(|(x, y)| **x == 0.0 && **y == 1.0).count() as u64;
            (PairedTest::McnemarExact, stats::mcnemar_exact(only_a, only_b), Some([only_a, only_b]))
        }
        _ => {
            // sacrebleu `_paired_bs`: center the resampled absolute differences and count those
            // above the observed one.
            let p = if abs_diffs.is_empty() {
                1.0
            } else {
                let real = (va - vb).abs();
                let m = stats::mean(&abs_diffs);
                // `>=` where sacrebleu has `>`: with `>` a run compared with itself (every
                // difference 0) would get p = 1/1001.
                let c = abs_diffs.iter().filter(|&&d| d - m >= real).count();
                (c + 1) as f64 / (abs_diffs.len() + 1) as f64
            };
            (PairedTest::PairedBootstrap, p, None)
        }
    };
    Ok(Comparison { metric: a.metric, n, a: va, b: vb, delta: vb - va, delta_ci95, test, p_value, discordant })
}
