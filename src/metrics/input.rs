//! Building a run sample by sample: typed inputs for the task runner, JSON values for the CLI's
//! `score` and the page.
//!
//! JSON inputs per metric (`prediction`, `reference`):
//!
//! - `acc`: any two JSON values, 1 when equal (numbers by value: `1` equals `1.0`); or, as
//!   lm-eval scores multiple choice, a prediction `{"loglikelihoods": [..]}` and a reference
//!   gold index (or list of gold indexes), 1 when the highest loglikelihood is gold.
//! - `acc_norm`: a prediction `{"loglikelihoods": [..], "choices": ["..", ..]}` and a gold index
//!   (or list of them).
//! - `exact_match`, `quasi_exact_match`, `rouge*`, `bleu`: strings.
//! - `entity_f1`: lists of tag strings of equal length.
//! - `f1_micro`, `f1_macro`: strings (single-label) or lists of strings (multi-label).
//! - `set_f1`: lists of strings.

use super::bleu::BleuStats;
use super::classification::{LabelSamples, Labels};
use super::multiple_choice::{choice_accuracy, ChoiceNormalization};
use super::rouge::RougeScorer;
use super::seqeval::EntitySamples;
use super::{exact_match, set_f1, Bootstrap, Metric, MetricError, SampleError, Samples, Scored};
use serde_json::Value;

/// Options of a run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScoreOptions {
    /// rouge-score's `use_stemmer` (ROUGE metrics only).
    pub rouge_stemmer: bool,
    /// scikit-learn's `labels=`: score only these labels (`f1_micro`, `f1_macro` only).
    pub labels: Option<Vec<String>>,
    /// Bootstrap settings (default [`Bootstrap::DEFAULT`]).
    pub bootstrap: Bootstrap,
}

/// Accumulates the samples of one metric's run; [`Scorer::finish`] makes the [`Scored`].
///
/// Every push is one sample: a sample the metric fails on is not kept and its error carries
/// its index, the number of pushes before it, so a caller can report it and go on.
#[derive(Debug, Clone)]
pub struct Scorer {
    metric: Metric,
    rouge: RougeScorer,
    samples: Samples,
    bootstrap: Bootstrap,
    pushed: usize,
}

impl Scorer {
    /// A scorer for `metric`; options that do not apply to it are an error.
    pub fn new(metric: Metric, options: ScoreOptions) -> Result<Scorer, MetricError> {
        if options.rouge_stemmer && metric.rouge_type().is_none() {
            return Err(MetricError::OptionNotApplicable { option: "rouge_stemmer", metric });
        }
        let samples = match metric {
            Metric::Bleu => Samples::Bleu(Vec::new()),
            Metric::EntityF1 => Samples::Entities(EntitySamples::new()),
            Metric::F1Micro | Metric::F1Macro => Samples::Labels(LabelSamples::new(metric, options.labels.as_deref())?),
            _ => Samples::Mean(Vec::new()),
        };
        if options.labels.is_some() && !matches!(samples, Samples::Labels(_)) {
            return Err(MetricError::OptionNotApplicable { option: "labels", metric });
        }
        Ok(Scorer {
            metric,
            rouge: RougeScorer::new(options.rouge_stemmer),
            samples,
            bootstrap: options.bootstrap,
            pushed: 0,
        })
    }

    /// The metric.
    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// Number of samples kept so far.
    pub fn n(&self) -> usize {
        self.samples.len()
    }

    /// The run's [`Scored`]; an error when no sample was kept (or, for `f1_*`, no label).
    pub fn finish(self) -> Result<Scored, MetricError> {
        Scored::new(self.metric, self.samples, self.bootstrap)
    }

    /// Runs one push: counts it, and turns a sample error into [`MetricError::Sample`].
    fn sample<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, SampleError>) -> Result<T, MetricError> {
        let index = self.pushed;
        self.pushed += 1;
        f(self).map_err(|reason| MetricError::Sample { index, reason })
    }

    fn wrong(&self, input: &'static str) -> MetricError {
        MetricError::WrongInput { metric: self.metric, input }
    }

    /// A prediction and a reference text (`exact_match`, `quasi_exact_match`, `rouge*`, `bleu`).
    /// Returns the per-sample value (`None` for `bleu`, a corpus metric).
    pub fn push_text(&mut self, prediction: &str, reference: &str) -> Result<Option<f64>, MetricError> {
        let metric = self.metric;
        let value = match (metric, metric.rouge_type()) {
            (_, Some(kind)) => Some(self.rouge.score(kind, prediction, reference).fmeasure),
            (Metric::ExactMatch, _) => Some(exact_match::exact_match(prediction, reference)),
            (Metric::QuasiExactMatch, _) => Some(exact_match::quasi_exact_match(prediction, reference)),
            (Metric::Bleu, _) => None,
            _ => return Err(self.wrong("texts")),
        };
        self.sample(|s| {
            match (&mut s.samples, value) {
                (Samples::Mean(v), Some(x)) => v.push(x),
                (Samples::Bleu(v), None) => v.push(BleuStats::new(prediction, reference)),
                _ => unreachable!("the metric decides both the samples and the value"),
            }
            Ok(value)
        })
    }

    /// Predicted and reference tag lists (`entity_f1`).
    pub fn push_tags<P: AsRef<str>, R: AsRef<str>>(
        &mut self,
        prediction: &[P],
        reference: &[R],
    ) -> Result<(), MetricError> {
        if !matches!(self.samples, Samples::Entities(_)) {
            return Err(self.wrong("tag lists"));
        }
        self.sample(|s| match &mut s.samples {
            Samples::Entities(e) => e.push(prediction, reference),
            _ => unreachable!(),
        })
    }

    /// Predicted and reference labels (`f1_micro`, `f1_macro`).
    pub fn push_labels(&mut self, prediction: &Labels, reference: &Labels) -> Result<(), MetricError> {
        if !matches!(self.samples, Samples::Labels(_)) {
            return Err(self.wrong("labels"));
        }
        self.sample(|s| match &mut s.samples {
            Samples::Labels(l) => l.push(prediction, reference),
            _ => unreachable!(),
        })
    }

    /// Predicted and reference item lists (`set_f1`); returns the sample's F1.
    pub fn push_items<P: AsRef<str>, R: AsRef<str>>(
        &mut self,
        prediction: &[P],
        reference: &[R],
    ) -> Result<f64, MetricError> {
        if self.metric != Metric::SetF1 {
            return Err(self.wrong("item lists"));
        }
        let v = set_f1::set_f1(prediction, reference);
        self.push_mean(v)
    }

    /// A multiple-choice sample scored by loglikelihood (`acc`, `acc_norm`): the choices' texts
    /// are needed for `acc_norm`. Returns 1.0 or 0.0.
    pub fn push_choice<S: AsRef<str>>(
        &mut self,
        loglikelihoods: &[f64],
        choices: Option<&[S]>,
        gold: &[usize],
    ) -> Result<f64, MetricError> {
        let norm = match self.metric {
            Metric::Acc => ChoiceNormalization::None,
            Metric::AccNorm => ChoiceNormalization::Characters,
            _ => return Err(self.wrong("loglikelihoods")),
        };
        self.sample(|s| {
            let v = choice_accuracy(loglikelihoods, choices, gold, norm)?;
            s.mean_values().push(v);
            Ok(v)
        })
    }

    /// A per-sample value computed elsewhere, for a mean metric (e.g. `acc` of an extracted
    /// answer, or `acc_norm` of a choice made with [`super::multiple_choice::choose`]); it must
    /// be finite and in the metric's range.
    pub fn push_value(&mut self, value: f64) -> Result<f64, MetricError> {
        if !matches!(self.samples, Samples::Mean(_)) {
            return Err(self.wrong("per-sample values"));
        }
        self.push_mean(value)
    }

    fn push_mean(&mut self, value: f64) -> Result<f64, MetricError> {
        let (lo, hi) = self.metric.range();
        self.sample(|s| {
            if !(value >= lo && value <= hi) {
                return Err(SampleError::ValueOutOfRange { value, lo, hi });
            }
            s.mean_values().push(value);
            Ok(value)
        })
    }

    fn mean_values(&mut self) -> &mut Vec<f64> {
        match &mut self.samples {
            Samples::Mean(v) => v,
            _ => unreachable!("mean metrics keep per-sample values"),
        }
    }

    /// One sample as JSON values (the CLI's `{"prediction", "reference"}` lines). Returns the
    /// per-sample value for mean metrics.
    pub fn push_json(&mut self, prediction: &Value, reference: &Value) -> Result<Option<f64>, MetricError> {
        let metric = self.metric;
        let index = self.pushed;
        let fail = |reason: SampleError| MetricError::Sample { index, reason };
        // A sample rejected before reaching a typed push still counts as pushed.
        let rejected = |s: &mut Self, reason: SampleError| {
            s.pushed += 1;
            Err(fail(reason))
        };
        match metric {
            Metric::Acc | Metric::AccNorm => {
                let mc = match prediction {
                    Value::Object(o) if o.contains_key("loglikelihoods") => Some(o),
                    _ if metric == Metric::AccNorm => {
                        return rejected(
                            self,
                            wrong_type("prediction", "{\"loglikelihoods\": [...], \"choices\": [...]}", prediction),
                        )
                    }
                    _ => None,
                };
                let Some(o) = mc else {
                    return self.push_value(if json_equal(prediction, reference) { 1.0 } else { 0.0 }).map(Some);
                };
                let lls = match o.get("loglikelihoods").map(number_list) {
                    Some(Ok(v)) => v,
                    Some(Err(e)) => return rejected(self, e),
                    None => unreachable!(),
                };
                let choices = match o.get("choices") {
                    None | Some(Value::Null) => None,
                    Some(c) => match string_list(c, "choices") {
                        Ok(v) => Some(v),
                        Err(e) => return rejected(self, e),
                    },
                };
                let gold = match gold_indexes(reference) {
                    Ok(g) => g,
                    Err(e) => return rejected(self, e),
                };
                self.push_choice(&lls, choices.as_deref(), &gold).map(Some)
            }
            Metric::ExactMatch
            | Metric::QuasiExactMatch
            | Metric::Rouge1
            | Metric::Rouge2
            | Metric::RougeL
            | Metric::RougeLsum
            | Metric::Bleu => {
                let (p, r) = match (text(prediction, "prediction"), text(reference, "reference")) {
                    (Ok(p), Ok(r)) => (p, r),
                    (Err(e), _) | (_, Err(e)) => return rejected(self, e),
                };
                self.push_text(p, r)
            }
            Metric::EntityF1 => {
                let (p, r) = match (string_list(prediction, "prediction"), string_list(reference, "reference")) {
                    (Ok(p), Ok(r)) => (p, r),
                    (Err(e), _) | (_, Err(e)) => return rejected(self, e),
                };
                self.push_tags(&p, &r).map(|_| None)
            }
            Metric::F1Micro | Metric::F1Macro => {
                let (p, r) = match (labels(prediction, "prediction"), labels(reference, "reference")) {
                    (Ok(p), Ok(r)) => (p, r),
                    (Err(e), _) | (_, Err(e)) => return rejected(self, e),
                };
                self.push_labels(&p, &r).map(|_| None)
            }
            Metric::SetF1 => {
                let (p, r) = match (string_list(prediction, "prediction"), string_list(reference, "reference")) {
                    (Ok(p), Ok(r)) => (p, r),
                    (Err(e), _) | (_, Err(e)) => return rejected(self, e),
                };
                self.push_items(&p, &r).map(Some)
            }
        }
    }
}

/// A JSON value's type, or the value itself when short, for error messages.
fn describe(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() <= 40 {
        s
    } else {
        match v {
            Value::Null => "null".into(),
            Value::Bool(_) => "a boolean".into(),
            Value::Number(_) => "a number".into(),
            Value::String(_) => "a long string".into(),
            Value::Array(a) => format!("a list of {} values", a.len()),
            Value::Object(_) => "an object".into(),
        }
    }
}

fn wrong_type(field: &'static str, expected: &'static str, found: &Value) -> SampleError {
    SampleError::WrongType { field, expected, found: describe(found) }
}

fn text<'a>(v: &'a Value, field: &'static str) -> Result<&'a str, SampleError> {
    v.as_str().ok_or_else(|| wrong_type(field, "a string", v))
}

fn string_list<'a>(v: &'a Value, field: &'static str) -> Result<Vec<&'a str>, SampleError> {
    let err = || wrong_type(field, "a list of strings", v);
    v.as_array().ok_or_else(err)?.iter().map(|x| x.as_str().ok_or_else(err)).collect()
}

fn number_list(v: &Value) -> Result<Vec<f64>, SampleError> {
    let err = || wrong_type("loglikelihoods", "a list of numbers", v);
    v.as_array().ok_or_else(err)?.iter().map(|x| x.as_f64().ok_or_else(err)).collect()
}

fn labels(v: &Value, field: &'static str) -> Result<Labels, SampleError> {
    match v {
        Value::String(s) => Ok(Labels::Single(s.clone())),
        Value::Array(_) => Ok(Labels::Multi(string_list(v, field)?.into_iter().map(String::from).collect())),
        _ => Err(wrong_type(field, "a label string or a list of label strings", v)),
    }
}

fn gold_indexes(v: &Value) -> Result<Vec<usize>, SampleError> {
    let err = || wrong_type("reference", "a gold choice index or a list of them", v);
    let index = |x: &Value| x.as_u64().map(|g| g as usize).ok_or_else(err);
    match v {
        Value::Array(a) => a.iter().map(index).collect(),
        _ => Ok(vec![index(v)?]),
    }
}

/// Equality of JSON values with numbers compared by value (`1 == 1.0`, as in Python).
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
            (Some(i), Some(j), _, _) => i == j,
            (_, _, Some(i), Some(j)) => i == j,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_equal(p, q)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn failed_samples_are_counted_and_named() {
        let mut s = Scorer::new(Metric::EntityF1, ScoreOptions::default()).unwrap();
        s.push_json(&json!(["B-A"]), &json!(["B-A"])).unwrap();
        let e = s.push_json(&json!(["B-A"]), &json!(["B-A", "O"])).unwrap_err();
        assert!(matches!(e, MetricError::Sample { index: 1, reason: SampleError::TagCountMismatch { .. } }), "{e}");
        let e = s.push_json(&json!("B-A"), &json!(["B-A"])).unwrap_err();
        assert!(matches!(e, MetricError::Sample { index: 2, reason: SampleError::WrongType { .. } }), "{e}");
        assert_eq!(s.finish().unwrap().n(), 1);
    }

    #[test]
    fn acc_compares_values_or_chooses_by_loglikelihood() {
        let mut s = Scorer::new(Metric::Acc, ScoreOptions::default()).unwrap();
        assert_eq!(s.push_json(&json!(1), &json!(1.0)).unwrap(), Some(1.0));
        assert_eq!(s.push_json(&json!("B"), &json!("C")).unwrap(), Some(0.0));
        assert_eq!(s.push_json(&json!({"loglikelihoods": [-3.0, -1.0]}), &json!(1)).unwrap(), Some(1.0));
        assert!(s.push_json(&json!({"loglikelihoods": [-3.0, -1.0]}), &json!(2)).is_err());
    }

    #[test]
    fn metric_names_round_trip_through_serde() {
        for m in Metric::ALL {
            let v = serde_json::to_value(m).unwrap();
            assert_eq!(v, json!(m.name()));
            assert_eq!(serde_json::from_value::<Metric>(v).unwrap(), m);
        }
        assert!(serde_json::from_value::<Metric>(json!("ROUGE-L")).is_err());
    }

    #[test]
    fn options_must_apply() {
        let o = ScoreOptions { rouge_stemmer: true, ..Default::default() };
        assert!(Scorer::new(Metric::Bleu, o).is_err());
        let o = ScoreOptions { labels: Some(vec!["a".into()]), ..Default::default() };
        assert!(Scorer::new(Metric::RougeL, o).is_err());
    }
}
