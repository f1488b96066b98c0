//! Choosing the next token: greedy (argmax) or seeded temperature sampling.

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
    /// Scratch for (logit, id) candidates, grown once.
    candidates: Vec<(f32, u32)>,
}

impl Sampler {
    pub fn new(sampling: &Sampling) -> Self {
        let seed = match sampling {
            Sampling::Temperature { seed, .. } => *seed,
            Sampling::Greedy => 0,
        };
        Sampler { sampling: *sampling, rng: SplitMix64(seed), candidates: Vec::new() }
    }

    /// Whether every pick is the argmax (greedy, or a temperature that is not positive).
    pub fn is_greedy(&self) -> bool {
        match self.sampling {
            Sampling::Greedy => true,
            Sampling::Temperature { temperature, .. } => temperature <= 0.0 || !temperature.is_finite(),
        }
    }

    /// Picks a token id from one row of logits.
    pub fn sample(&mut self, logits: &[f32]) -> u32 {
        match self.sampling {
            Sampling::Greedy => argmax(logits) as u32,
            Sampling::Temperature { temperature, top_k, .. } => {
                if temperature <= 0.0 || !temperature.is_finite() {
                    return argmax(logits) as u32;
                }
                self.candidates.clear();
                self.candidates.extend(logits.iter().enumerate().map(|(i, &l)| (l, i as u32)));
                if top_k > 0 && top_k < self.candidates.len() {
                    self.candidates.select_nth_unstable_by(top_k - 1, |a, b| b.0.total_cmp(&a.0));
                    self.candidates.truncate(top_k);
                }
                let max = self.candidates.iter().map(|c| c.0).fold(f32::NEG_INFINITY, f32::max);
                let total: f64 = self.candidates.iter().map(|c| (((c.0 - max) / temperature) as f64).exp()).sum();
                let mut u = self.rng.next_f64() * total;
                for &(l, id) in &self.candidates {
                    u -= (((l - max) / temperature) as f64).exp();
                    if u <= 0.0 {
                        return id;
                    }
                }
                self.candidates.last().map_or(0, |c| c.1)
            }
        }
    }
}

/// Index of the largest value, the first one on ties.
pub fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

/// SplitMix64: a small, well-mixed generator whose stream is the same on every platform.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
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
}
