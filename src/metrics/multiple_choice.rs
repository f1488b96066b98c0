//! `acc` and `acc_norm` for multiple choice scored by loglikelihood, as lm-evaluation-harness
//! computes them.
//!
//! lm-eval 0.4.13, `lm_eval/api/task.py`, `ConfigurableTask.process_results` for
//! `output_type: multiple_choice`:
//!
//! ```python
//! completion_len = np.array([float(len(i)) for i in choices])
//! pred = np.argmax(lls)
//! pred_norm = np.argmax(lls / completion_len)
//! acc = 1.0 if pred == gold else 0.0          # `pred in gold` for several golds
//! ```
//!
//! `acc_norm` divides by the choice's length in **characters** (Python `len` of the choice
//! text, without the target delimiter: `"A"`, not `" A"`), not bytes: lm-eval calls the byte
//! version `acc_bytes`. `np.argmax` takes the first of equal maxima. A NaN loglikelihood, an
//! empty choice under `acc_norm` (lm-eval would divide by zero) or a gold index outside the
//! choices (lm-eval warns and scores 0) are errors here.

use super::SampleError;

/// How loglikelihoods are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChoiceNormalization {
    /// Raw loglikelihoods (`acc`).
    None,
    /// Divided by the choice's length in characters (`acc_norm`).
    Characters,
}

/// The index lm-eval would pick: the first maximum of the (normalized) loglikelihoods.
/// `choices` is only needed, and then required, for [`ChoiceNormalization::Characters`]; when
/// given there must be one per loglikelihood.
pub fn choose<S: AsRef<str>>(
    loglikelihoods: &[f64],
    choices: Option<&[S]>,
    norm: ChoiceNormalization,
) -> Result<usize, SampleError> {
    if loglikelihoods.is_empty() {
        return Err(SampleError::NoChoices);
    }
    if let Some(i) = loglikelihoods.iter().position(|l| l.is_nan()) {
        return Err(SampleError::NonFinite { what: "loglikelihood", index: i });
    }
    if let Some(c) = choices {
        if c.len() != loglikelihoods.len() {
            return Err(SampleError::ChoiceCountMismatch { loglikelihoods: loglikelihoods.len(), choices: c.len() });
        }
    }
    let lengths: Option<Vec<f64>> = match (norm, choices) {
        (ChoiceNormalization::None, _) => None,
        (ChoiceNormalization::Characters, None) => return Err(SampleError::MissingChoices),
        (ChoiceNormalization::Characters, Some(c)) => {
            if let Some(i) = c.iter().position(|s| s.as_ref().is_empty()) {
                return Err(SampleError::EmptyChoice { index: i });
            }
            Some(c.iter().map(|s| s.as_ref().chars().count() as f64).collect())
        }
    };
    let value = |i: usize| match &lengths {
        Some(len) => loglikelihoods[i] / len[i],
        None => loglikelihoods[i],
    };
    let mut best = 0;
    for i in 1..loglikelihoods.len() {
        if value(i) > value(best) {
            best = i;
        }
    }
    Ok(best)
}

/// 1.0 when the chosen index is (one of) the gold index(es), else 0.0; gold indexes must name
/// a choice.
pub fn choice_accuracy<S: AsRef<str>>(
    loglikelihoods: &[f64],
    choices: Option<&[S]>,
    gold: &[usize],
    norm: ChoiceNormalization,
) -> Result<f64, SampleError> {
    if gold.is_empty() {
        return Err(SampleError::NoGold);
    }
    if let Some(&g) = gold.iter().find(|&&g| g >= loglikelihoods.len()) {
        return Err(SampleError::GoldOutOfRange { gold: g, choices: loglikelihoods.len() });
    }
    let pred = choose(loglikelihoods, choices, norm)?;
    Ok(if gold.contains(&pred) { 1.0 } else { 0.0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acc_norm_divides_by_characters_and_ties_go_to_the_first() {
        // 6 characters (12 bytes) vs 4: per character -1.0 vs -1.125.
        let lls = [-6.0, -4.5];
        let choices = ["éééééé", "abcd"];
        assert_eq!(choose(&lls, Some(&choices[..]), ChoiceNormalization::Characters).unwrap(), 0);
        assert_eq!(choose::<&str>(&lls, None, ChoiceNormalization::None).unwrap(), 1);
        assert_eq!(choose::<&str>(&[-2.0, -2.0], None, ChoiceNormalization::None).unwrap(), 0);
        assert!(choose(&[-1.0, -1.0], Some(&["a", ""][..]), ChoiceNormalization::Characters).is_err());
    }
}
