//! `set_f1`: F1 between the sets of items a prediction and a reference name (medications for
//! treatment recommendation, entity strings), averaged over samples.
//!
//! No reference implementation exists; the definition is the project's:
//!
//! - each item is normalized as Python's `item.strip().lower()` (whitespace as Python knows it,
//!   full Unicode lowercasing); items empty after that are dropped; repeats count once;
//! - F1 = 2 |P ∩ R| / (|P| + |R|);
//! - **both sets empty scores 1.0** (nothing to recommend, and nothing recommended, is right);
//!   one empty and the other not scores 0.0.

use super::pytext::{py_lower, py_strip};
use std::collections::BTreeSet;

fn normalized<S: AsRef<str>>(items: &[S]) -> BTreeSet<String> {
    items.iter().map(|s| py_lower(py_strip(s.as_ref()))).filter(|s| !s.is_empty()).collect()
}

/// F1 between the normalized item sets of one sample.
pub fn set_f1<P: AsRef<str>, R: AsRef<str>>(prediction: &[P], reference: &[R]) -> f64 {
    let p = normalized(prediction);
    let r = normalized(reference);
    if p.is_empty() && r.is_empty() {
        return 1.0;
    }
    let common = p.intersection(&r).count();
    2.0 * common as f64 / (p.len() + r.len()) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_against_empty_is_one() {
        assert_eq!(set_f1::<&str, &str>(&[], &[]), 1.0);
        assert_eq!(set_f1(&[" ", ""], &[] as &[&str]), 1.0);
        assert_eq!(set_f1(&["Aspirin "], &[] as &[&str]), 0.0);
        assert_eq!(set_f1(&["Aspirin ", "heparin"], &["aspirin"]), 2.0 / 3.0);
    }
}
