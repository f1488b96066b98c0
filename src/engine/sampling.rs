//! Choosing the next token: greedy (argmax) or seeded temperature sampling.

use crate::backend::logits::{argmax, canonical_order, top_k, Candidate};
use crate::rng::SplitMix64;
use serde::{Deserialize, Serialize};

/// How to pick tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum Sampling {
    /// Always the most likely token (first on ties).
    #[default]
    Greedy,
    /// Sample from `softmax(logits / temperature)`, optionally restricted to the `top_k` most
    /// likely tokens (0: all), reproducibly from `seed`.
    Temperature { temperature: f32, seed: u64, #[serde(default)] top_k: usize },
}

/// A sampler's state: its random stream.
pub struct Sampler {
    sampling: Sampling,
    rng: SplitMix64,
    /// Scratch for the whole row's candidates, grown once.
    candidates: Vec<Candidate>,
}

impl Sampler {
    pub fn new(sampling: &Sampling) -> Self {
        let seed = match sampling {
            Sampling::Temperature { seed, .. } => *seed,
            Sampling::Greedy => 0,
        };
        Sampler { sampling: *sampling, rng: SplitMix64::new(seed), candidates: Vec::new() }
    }

    /// Whether every pick is the argmax (greedy, or a temperature that is not positive).
    pub fn is_greedy(&self) -> bool {
        match self.sampling {
            Sampling::Greedy => true,
            Sampling::Temperature { temperature, .. } => temperature <= 0.0 || !temperature.is_finite(),
        }
    }

    /// The `k` the backend should narrow each step to before [`Sampler::sample_from`], or
    /// `None` when sampling needs the whole row (greedy, or no top-k limit).
    pub fn top_k(&self, n_vocab: usize) -> Option<usize> {
        match self.sampling {
            Sampling::Temperature { top_k, .. } if !self.is_greedy() && top_k > 0 && top_k < n_vocab => Some(top_k),
            _ => None,
        }
    }

    /// Picks a token id from one row of logits.
    pub fn sample(&mut self, logits: &[f32]) -> u32 {
        if self.is_greedy() {
            return argmax(logits) as u32;
        }
        match self.top_k(logits.len()) {
            Some(k) => {
                let candidates = top_k(logits, k);
                self.sample_from(&candidates)
            }
            None => {
                // The whole vocabulary, in id order.
                self.candidates.clear();
                self.candidates.extend(logits.iter().enumerate().map(|(i, &l)| Candidate { logit: l, id: i as u32 }));
                let candidates = std::mem::take(&mut self.candidates);
                let id = self.sample_from(&candidates);
                self.candidates = candidates;
                id
            }
        }
    }

    /// Picks a token id among `candidates` (in the order given: the row in id order, or
    /// [`top_k`]'s canonical order), with probability `softmax(logit / temperature)`.
    pub fn sample_from(&mut self, candidates: &[Candidate]) -> u32 {
        let temperature = match self.sampling {
            Sampling::Temperature { temperature, .. } if !self.is_greedy() => temperature,
            _ => return best(candidates).map_or(0, |c| c.id),
        };
        let max = candidates.iter().map(|c| c.logit).fold(f32::NEG_INFINITY, f32::max);
        let total: f64 = candidates.iter().map(|c| (((c.logit - max) / temperature) as f64).exp()).sum();
        let mut u = self.rng.next_f64() * total;
        for c in candidates {
            u -= (((c.logit - max) / temperature) as f64).exp();
            if u <= 0.0 {
                return c.id;
            }
        }
        candidates.last().map_or(0, |c| c.id)
    }
}

fn best(candidates: &[Candidate]) -> Option<&Candidate> {
    candidates.iter().min_by(|a, b| canonical_order(a, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_tokens_and_temperature_spreads() {
        let logits = [0.0f32, 1.0, 0.5, 0.9];
        let s = Sampling::Temperature { temperature: 1.0, seed: 42, top_k: 0 };
        let run = |s: &Sampling| {
            let mut sm = Sampler::new(s);
            (0..200).map(|_| sm.sample(&logits)).collect::<Vec<_>>()
        };
        assert_eq!(run(&s), run(&s));
        let seen: std::collections::HashSet<u32> = run(&s).into_iter().collect();
        assert_eq!(seen.len(), 4, "temperature 1 should visit every token");
        let k1 = Sampling::Temperature { temperature: 1.0, seed: 7, top_k: 1 };
        assert!(run(&k1).iter().all(|&t| t == 1), "top_k 1 is greedy");
        assert_eq!(Sampler::new(&Sampling::Greedy).sample(&logits), 1);
    }

    #[test]
    fn top_k_sampling_draws_from_the_canonical_candidates() {
        let logits: Vec<f32> = (0..50).map(|i| ((i * 37) % 11) as f32 * 0.3).collect();
        let s = Sampling::Temperature { temperature: 0.7, seed: 5, top_k: 6 };
        let (mut from_row, mut from_candidates) = (Sampler::new(&s), Sampler::new(&s));
        let candidates = top_k(&logits, 6);
        let allowed: Vec<u32> = candidates.iter().map(|c| c.id).collect();
        for _ in 0..300 {
            let id = from_row.sample(&logits);
            assert_eq!(id, from_candidates.sample_from(&candidates));
            assert!(allowed.contains(&id), "{id} is outside the top 6");
        }
        assert_eq!(Sampler::new(&s).top_k(50), Some(6));
        assert_eq!(Sampler::new(&s).top_k(6), None, "a limit of the whole vocabulary is no limit");
        assert_eq!(Sampler::new(&Sampling::Greedy).top_k(50), None);
    }
}
