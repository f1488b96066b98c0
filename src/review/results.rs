//! Reviewers' files gathered into the results the page and `clinicbench review stats` both show:
//! the files checked and collected ([`Reviews`]), the statistics ([`ReviewResults`]), the items
//! raters disagree on, and adjudicated ratings kept beside the originals.

use super::stats::{self, LongRating, PairwiseStats, ReviewStats};
use super::{Key, Review, ReviewError, ReviewSet};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Reviewers' files and long-form ratings, each reviewer once.
#[derive(Debug, Clone, Default)]
pub struct Reviews {
    /// (file name, review).
    pub reviews: Vec<(String, Review)>,
    /// Ratings read from long CSV files.
    pub long: Vec<LongRating>,
}

impl Reviews {
    /// Adds a reviewer's file (JSON) or long-form ratings (a `.csv` name), checked against the
    /// set where there is one. A pseudonym already given is refused, unless the file is a later
    /// export of the same review (same set, same start), which replaces the earlier one; the note
    /// returned says so. On an error nothing already added changes.
    pub fn add(&mut self, name: &str, bytes: &[u8], set: Option<&ReviewSet>) -> Result<Option<String>, ReviewError> {
        if name.to_ascii_lowercase().ends_with(".csv") {
            let ratings = stats::read_long_csv(name, bytes)?;
            if let Some(set) = set {
                for r in &ratings {
                    if !set.items.iter().any(|i| i.id == r.item) {
                        return Err(ReviewError::BadFile { file: name.into(), problem: format!("unknown item {:?}", r.item) });
                    }
                }
            }
            self.long.extend(ratings);
            return Ok(None);
        }
        let r = super::read_review(name, bytes, set)?;
        self.add_review(name, r)
    }

    /// Adds a review already read (the page's own), under the same pseudonym rule as [`Reviews::add`].
    pub fn add_review(&mut self, name: &str, r: Review) -> Result<Option<String>, ReviewError> {
        match self.reviews.iter_mut().find(|(_, x)| x.rater == r.rater) {
            Some((earlier, x)) if x.set_hash == r.set_hash && x.started == r.started => {
                let note = format!("{name} is a later export of {earlier}'s review by {}: it replaces it", r.rater);
                if r.updated >= x.updated {
                    *x = r;
                    *earlier = name.into();
                }
                Ok(Some(note))
            }
            Some((earlier, _)) => Err(ReviewError::BadFile {
                file: name.into(),
                problem: format!("the pseudonym {:?} is already {earlier}'s; each reviewer needs their own", r.rater),
            }),
            None => {
                self.reviews.push((name.into(), r));
                Ok(None)
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.long.is_empty() && self.reviews.iter().all(|(_, r)| r.ratings.is_empty() && r.preferences.is_empty())
    }

    /// Every rating in the long form, runs named through the key where given.
    pub fn long_form(&self, key: Option<&Key>) -> Vec<LongRating> {
        let mut all = self.long.clone();
        for (_, r) in &self.reviews {
            all.extend(stats::long_form(r, key));
        }
        all
    }

    /// The results of every rating and preference.
    pub fn results(&self, key: Option<&Key>) -> ReviewResults {
        let ratings = self.long_form(key);
        let reviewed: Vec<&Review> = self.reviews.iter().map(|(_, r)| r).collect();
        ReviewResults {
            stats: stats::review_stats(&ratings),
            tags: stats::tag_rates(&reviewed, key),
            pairwise: stats::pairwise_stats(&reviewed, key),
            disagreements: disagreements(&ratings, 2.0),
        }
    }
}

/// Everything the results view and `review stats --json` show.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewResults {
    pub stats: ReviewStats,
    /// Run → tag → share of its rated outputs carrying it.
    pub tags: BTreeMap<String, BTreeMap<String, f64>>,
    pub pairwise: PairwiseStats,
    pub disagreements: Vec<Disagreement>,
}

impl ReviewResults {
    /// The one JSON document of `review stats --json`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "dimensions": self.stats.dimensions,
            "tags": self.tags,
            "pairwise": self.pairwise,
            "raters": self.stats.raters,
            "disagreements": self.disagreements,
            "notes": self.stats.notes,
        })
    }
}

/// An output on a dimension whose ratings differ by the threshold or more.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Disagreement {
    pub item: String,
    /// The run (its label with the key, else the opaque output id).
    pub run: String,
    pub dimension: String,
    /// Each rater's value.
    pub ratings: Vec<(String, f64)>,
}

/// Outputs whose ratings on a dimension span `threshold` points or more, in item order.
pub fn disagreements(ratings: &[LongRating], threshold: f64) -> Vec<Disagreement> {
    let mut units: BTreeMap<(&str, &str, &str), BTreeMap<&str, f64>> = BTreeMap::new();
    for r in ratings {
        units.entry((&r.item, &r.run, &r.dimension)).or_default().insert(&r.rater, r.value);
    }
    units
        .into_iter()
        .filter(|(_, m)| {
            let (lo, hi) = m.values().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
            m.len() >= 2 && hi - lo >= threshold
        })
        .map(|((item, run, dimension), m)| Disagreement {
            item: item.into(),
            run: run.into(),
            dimension: dimension.into(),
            ratings: m.into_iter().map(|(r, v)| (r.to_string(), v)).collect(),
        })
        .collect()
}

/// A rating agreed after discussion, kept beside the raters' own (never over them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Adjudication {
    pub item: String,
    pub run: String,
    pub dimension: String,
    pub value: u8,
    /// Who adjudicated.
    pub by: String,
    #[serde(default)]
    pub note: String,
    pub at: String,
}

/// Adjudications of one set, as one file.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Adjudications {
    pub set_hash: String,
    pub adjudications: Vec<Adjudication>,
}

impl Adjudications {
    /// Records (or replaces) the adjudicated rating of an output on a dimension; values outside
    /// 1–4 are refused.
    pub fn record(&mut self, a: Adjudication) -> bool {
        if !(1..=4).contains(&a.value) {
            return false;
        }
        self.adjudications.retain(|x| !(x.item == a.item && x.run == a.run && x.dimension == a.dimension));
        self.adjudications.push(a);
        true
    }

    pub fn of(&self, item: &str, run: &str, dimension: &str) -> Option<&Adjudication> {
        self.adjudications.iter().find(|x| x.item == item && x.run == run && x.dimension == dimension)
    }
}
