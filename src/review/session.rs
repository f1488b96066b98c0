//! One reviewer at work on a set: the order they see the items in (shuffled by their
//! pseudonym, so two reviewers do not share an order effect), what they rate in each mode, and
//! their file as it grows. The page keeps a [`Session`] in IndexedDB after every rating; the
//! same code is tested natively.

use super::{Choice, Item, Preference, Rating, Review, ReviewSet, REVIEW_VERSION};
use crate::rng::SplitMix64;
use serde::{Deserialize, Serialize};

/// How items are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// One output at a time beside its source.
    Absolute,
    /// An item's two outputs side by side (the set's pair, sides as drawn at build).
    Pairwise,
}

/// What one screen of the rating view shows: an item and the outputs on it.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit<'a> {
    pub item: &'a Item,
    /// One output in absolute mode; left then right in pairwise mode.
    pub outputs: Vec<&'a super::ItemOutput>,
}

/// A reviewer's work on a set: their review, where they are, and how long each screen took.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub review: Review,
    pub mode: Mode,
    /// The screen shown, an index into [`Session::units`] for the mode.
    pub position: usize,
    /// Seconds spent on each screen so far, by `<mode>/<item>/<output>`.
    #[serde(default)]
    pub seconds: std::collections::BTreeMap<String, f64>,
}

/// A seed from a pseudonym (FNV-1a), so a reviewer's order is the same on every device.
fn seed_of(pseudonym: &str) -> u64 {
    pseudonym.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// The items in the order this reviewer sees them.
pub fn item_order(set: &ReviewSet, pseudonym: &str) -> Vec<usize> {
    let mut order: Vec<usize> = (0..set.items.len()).collect();
    SplitMix64::new(seed_of(pseudonym) ^ set.seed).shuffle(&mut order);
    order
}

/// The screens of a mode, in this reviewer's order: every (item, output) in absolute mode,
/// every item with a pair in pairwise mode.
pub fn units<'a>(set: &'a ReviewSet, pseudonym: &str, mode: Mode) -> Vec<Unit<'a>> {
    let order = item_order(set, pseudonym);
    let mut out = Vec::new();
    for i in order {
        let item = &set.items[i];
        match mode {
            Mode::Absolute => out.extend(item.outputs.iter().map(|o| Unit { item, outputs: vec![o] })),
            Mode::Pairwise => {
                let Some([l, r]) = &item.pair else { continue };
                let find = |id: &str| item.outputs.iter().find(|o| o.id == id);
                if let (Some(l), Some(r)) = (find(l), find(r)) {
                    out.push(Unit { item, outputs: vec![l, r] });
                }
            }
        }
    }
    out
}

impl Session {
    /// A new review of `set` by `pseudonym`, started at `now` (an RFC 3339 time).
    pub fn new(set: &ReviewSet, pseudonym: &str, app_version: &str, now: &str) -> Session {
        Session {
            review: Review {
                version: REVIEW_VERSION,
                set_hash: set.hash(),
                instrument_hash: set.instrument_hash.clone(),
                rater: pseudonym.trim().to_string(),
                app_version: app_version.into(),
                started: now.into(),
                updated: now.into(),
                ratings: Vec::new(),
                preferences: Vec::new(),
            },
            mode: Mode::Absolute,
            position: 0,
            seconds: Default::default(),
        }
    }

    fn screen_key(&self, item: &str, output: &str) -> String {
        format!("{}/{item}/{output}", if self.mode == Mode::Absolute { "absolute" } else { "pairwise" })
    }

    /// Adds time spent on the screen of `item` showing `first_output`; returns its total.
    pub fn spend(&mut self, item: &str, first_output: &str, seconds: f64) -> f64 {
        let key = self.screen_key(item, first_output);
        let total = self.seconds.entry(key).or_insert(0.0);
        *total += seconds.max(0.0);
        *total
    }

    /// The rating of an output on a dimension, if given.
    pub fn rating(&self, item: &str, output: &str, dimension: &str) -> Option<&Rating> {
        self.review.ratings.iter().find(|r| r.item == item && r.output == output && r.dimension == dimension)
    }

    /// Rates (or re-rates) an output on a dimension; values outside 1–4 are refused.
    pub fn rate(&mut self, item: &str, output: &str, dimension: &str, value: u8, seconds: f64, now: &str) -> bool {
        if !(1..=4).contains(&value) {
            return false;
        }
        match self.review.ratings.iter_mut().find(|r| r.item == item && r.output == output && r.dimension == dimension) {
            Some(r) => {
                r.value = value;
                r.seconds = seconds;
            }
            None => self.review.ratings.push(Rating {
                item: item.into(),
                output: output.into(),
                dimension: dimension.into(),
                value,
                tags: Vec::new(),
                comment: String::new(),
                seconds,
            }),
        }
        self.review.updated = now.into();
        true
    }

    /// An output's error tags and comment: kept on each of its ratings (the file's shape), so
    /// they can be given only once the output has a rating; returns whether they were kept.
    pub fn annotate(&mut self, item: &str, output: &str, tags: &[String], comment: &str, now: &str) -> bool {
        let mut any = false;
        for r in self.review.ratings.iter_mut().filter(|r| r.item == item && r.output == output) {
            r.tags = tags.to_vec();
            r.comment = comment.to_string();
            any = true;
        }
        if any {
            self.review.updated = now.into();
        }
        any
    }

    /// The tags and comment given on an output.
    pub fn annotation(&self, item: &str, output: &str) -> (Vec<String>, String) {
        self.review
            .ratings
            .iter()
            .find(|r| r.item == item && r.output == output)
            .map(|r| (r.tags.clone(), r.comment.clone()))
            .unwrap_or_default()
    }

    /// Which of an item's two outputs was better.
    pub fn prefer(&mut self, item: &str, left: &str, right: &str, choice: Choice, seconds: f64, now: &str) {
        match self.review.preferences.iter_mut().find(|p| p.item == item) {
            Some(p) => {
                p.choice = choice;
                p.seconds = seconds;
            }
            None => self.review.preferences.push(Preference { item: item.into(), left: left.into(), right: right.into(), choice, seconds }),
        }
        self.review.updated = now.into();
    }

    pub fn preference(&self, item: &str) -> Option<Choice> {
        self.review.preferences.iter().find(|p| p.item == item).map(|p| p.choice)
    }

    /// Screens of the current mode with every rating (and, pairwise, the preference) given.
    pub fn done(&self, set: &ReviewSet) -> usize {
        let dims: Vec<&str> = set.instrument.dimensions.iter().map(|d| d.id.as_str()).collect();
        units(set, &self.review.rater, self.mode)
            .iter()
            .filter(|u| {
                let rated = u.outputs.iter().all(|o| dims.iter().all(|d| self.rating(&u.item.id, &o.id, d).is_some()));
                rated && (self.mode == Mode::Absolute || self.preference(&u.item.id).is_some())
            })
            .count()
    }

    /// The review in the long CSV form: `item,run,dimension,rater,value` (the run is the opaque
    /// output id: a reviewer does not have the key).
    pub fn long_csv(&self) -> String {
        long_csv(&self.review)
    }
}

/// A review's ratings in the long CSV form, runs as opaque output ids.
pub fn long_csv(review: &Review) -> String {
    let field = |s: &str| if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() };
    let mut out = String::from("item,run,dimension,rater,value\n");
    for r in &review.ratings {
        out += &format!("{},{},{},{},{}\n", field(&r.item), field(&r.output), field(&r.dimension), field(&review.rater), r.value);
    }
    out
}
