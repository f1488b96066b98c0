//! Micro and macro F1 over class labels as scikit-learn's `f1_score` computes them.
//!
//! Follows `sklearn/metrics/_classification.py` (scikit-learn 1.9: `precision_recall_fscore_support`,
//! `multilabel_confusion_matrix`, `_prf_divide`):
//!
//! - Single-label samples (one string each) are multiclass targets; multi-label samples (a list
//!   of strings each) are what `MultiLabelBinarizer` would make of them: a set per sample, so
//!   repeats count once. Both reduce to per-label counts of true positives, predictions and
//!   true occurrences (for single labels the counts are the same as sklearn's bincounts).
//! - The labels scored are, without `labels`, every label seen in a prediction or a reference;
//!   with `labels`, exactly those, in the order given, duplicates counted as often as they
//!   appear (as sklearn does), labels never seen counting zero. Restricting the labels is how
//!   DDI is scored over its four positive classes.
//! - Per label F = 2 tp / (true + predicted), 0 when both are 0 (sklearn's default
//!   `zero_division="warn"` acts as 0). Micro sums the counts over the labels first (for
//!   single-label data without `labels` that is accuracy); macro is the unweighted mean of the
//!   per-label F.
//!
//! With no label at all to score (every sample an empty list, or an empty `labels`) sklearn
//! raises or returns NaN; here it is [`MetricError::NoLabels`].

use super::{Metric, MetricError, SampleError};
use std::collections::HashMap;

/// One sample's class label(s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Labels {
    /// A single label (multiclass).
    Single(String),
    /// A set of labels (multi-label), possibly empty.
    Multi(Vec<String>),
}

impl Labels {
    fn is_multi(&self) -> bool {
        matches!(self, Labels::Multi(_))
    }
}

/// How per-label counts become one number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Average {
    /// Sum the counts over labels, then F1.
    Micro,
    /// F1 per label, then the unweighted mean.
    Macro,
}

/// Samples of an `f1_micro` / `f1_macro` run, labels interned.
#[derive(Debug, Clone)]
pub(crate) struct LabelSamples {
    ids: HashMap<String, u32>,
    n_labels: usize,
    /// Whether the samples are multi-label (set by the first sample).
    multi: Option<bool>,
    /// (predicted, true) label ids per sample, sorted and deduplicated.
    samples: Vec<(Vec<u32>, Vec<u32>)>,
    /// The `labels` option as ids, in order, duplicates kept.
    selected: Option<Vec<u32>>,
}

impl LabelSamples {
    pub(crate) fn new(metric: Metric, labels: Option<&[String]>) -> Result<Self, MetricError> {
        let mut s = LabelSamples { ids: HashMap::new(), n_labels: 0, multi: None, samples: Vec::new(), selected: None };
        if let Some(labels) = labels {
            if labels.is_empty() {
                return Err(MetricError::NoLabels { metric });
            }
            s.selected = Some(labels.iter().map(|l| s.intern(l)).collect());
        }
        Ok(s)
    }

    fn intern(&mut self, label: &str) -> u32 {
        if let Some(&id) = self.ids.get(label) {
            return id;
        }
        let id = self.n_labels as u32;
        self.ids.insert(label.to_string(), id);
        self.n_labels += 1;
        id
    }

    fn set(&mut self, l: &Labels) -> Vec<u32> {
        let mut v: Vec<u32> = match l {
            Labels::Single(s) => vec![self.intern(s)],
            Labels::Multi(v) => v.iter().map(|s| self.intern(s)).collect(),
        };
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Adds a sample; all samples must be single-label or all multi-label.
    pub(crate) fn push(&mut self, prediction: &Labels, reference: &Labels) -> Result<(), SampleError> {
        let kind = |m: bool| if m { "a list of labels" } else { "a single label" };
        if prediction.is_multi() != reference.is_multi() {
            return Err(SampleError::LabelKind {
                field: "prediction",
                expected: kind(reference.is_multi()),
                found: kind(prediction.is_multi()),
            });
        }
        if let Some(m) = self.multi {
            if m != reference.is_multi() {
                return Err(SampleError::LabelKind { field: "reference", expected: kind(m), found: kind(!m) });
            }
        }
        self.multi = Some(reference.is_multi());
        let p = self.set(prediction);
        let r = self.set(reference);
        self.samples.push((p, r));
        Ok(())
    }

    pub(crate) fn len(&self) -> usize {
        self.samples.len()
    }

    /// F1 over the samples at `idx` (all when `None`); `None` when there is no label to score.
    pub(crate) fn f1(&self, average: Average, idx: Option<&[usize]>) -> Option<f64> {
        let n = self.n_labels;
        let (mut tp, mut pred, mut truth) = (vec![0u64; n], vec![0u64; n], vec![0u64; n]);
        let mut add = |(p, r): &(Vec<u32>, Vec<u32>)| {
            for &l in p {
                pred[l as usize] += 1;
            }
            for &l in r {
                truth[l as usize] += 1;
                if p.binary_search(&l).is_ok() {
                    tp[l as usize] += 1;
                }
            }
        };
        match idx {
            None => self.samples.iter().for_each(&mut add),
            Some(idx) => idx.iter().for_each(|&i| add(&self.samples[i])),
        }
        let labels: Vec<u32> = match &self.selected {
            Some(sel) => sel.clone(),
            None => (0..n as u32).filter(|&l| pred[l as usize] + truth[l as usize] > 0).collect(),
        };
        if labels.is_empty() {
            return None;
        }
        let f = |tp: u64, pred: u64, truth: u64| {
            if pred + truth == 0 {
                0.0
            } else {
                2.0 * tp as f64 / (truth + pred) as f64
            }
        };
        Some(match average {
            Average::Micro => {
                let sum = |v: &[u64]| labels.iter().map(|&l| v[l as usize]).sum::<u64>();
                f(sum(&tp), sum(&pred), sum(&truth))
            }
            Average::Macro => {
                let total: f64 = labels.iter().map(|&l| f(tp[l as usize], pred[l as usize], truth[l as usize])).sum();
                total / labels.len() as f64
            }
        })
    }
}

/// `sklearn.metrics.f1_score(references, predictions, average=..., labels=...)`.
pub fn f1(
    average: Average,
    predictions: &[Labels],
    references: &[Labels],
    labels: Option<&[String]>,
) -> Result<f64, MetricError> {
    let metric = match average {
        Average::Micro => Metric::F1Micro,
        Average::Macro => Metric::F1Macro,
    };
    if predictions.len() != references.len() {
        return Err(MetricError::LengthMismatch { predictions: predictions.len(), references: references.len() });
    }
    let mut s = LabelSamples::new(metric, labels)?;
    for (i, (p, r)) in predictions.iter().zip(references).enumerate() {
        s.push(p, r).map_err(|reason| MetricError::Sample { index: i, reason })?;
    }
    if s.len() == 0 {
        return Err(MetricError::NoSamples { metric });
    }
    s.f1(average, None).ok_or(MetricError::NoLabels { metric })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn single(v: &[&str]) -> Vec<Labels> {
        v.iter().map(|s| Labels::Single(s.to_string())).collect()
    }

    #[test]
    fn micro_without_labels_is_accuracy_and_duplicated_labels_count_twice() {
        let t = single(&["a", "b", "a"]);
        let p = single(&["a", "a", "a"]);
        assert!((f1(Average::Micro, &p, &t, None).unwrap() - 2.0 / 3.0).abs() < 1e-15);
        let labels = ["a".to_string(), "a".to_string()];
        assert!((f1(Average::Micro, &p, &t, Some(&labels)).unwrap() - 0.8).abs() < 1e-15);
    }

    #[test]
    fn mixing_single_and_multi_label_samples_is_an_error() {
        let p = vec![Labels::Single("a".into()), Labels::Multi(vec!["a".into()])];
        let r = p.clone();
        let e = f1(Average::Micro, &p, &r, None).unwrap_err();
        assert!(matches!(e, MetricError::Sample { index: 1, .. }), "{e}");
    }
}
