//! Hyperparameters of a decoder, read from GGUF metadata, and the per-family switches.

use crate::gguf::{ByteSource, Gguf, GgufError};

/// The architecture families we run. Several `general.architecture` names map to one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Llama 2/3, Mistral, SmolLM, TinyLlama, BioMistral (`llama`, `mistral`).
    Llama,
    /// SmolLM3: Llama with no RoPE on every fourth layer.
    SmolLM3,
    /// IBM Granite 3 (dense): Llama with multipliers on the embeddings, the attention scores,
    /// each residual branch and the logits.
    Granite,
    /// Mistral 3 (Ministral 3's text model): Llama with YaRN and, where the file asks for it,
    /// queries scaled up with their position beyond the original context (Llama 4's attention
    /// temperature).
    Mistral3,
    /// OLMo 2: no norm before attention or the feed-forward, RMSNorm of each sub-layer's output
    /// instead, and of all queries (and all keys) together before RoPE.
    Olmo2,
    Qwen2,
    Qwen3,
    Gemma2,
    Gemma3,
    Phi3,
}

impl Family {
    fn from_arch(arch: &str) -> Option<Family> {
        Some(match arch {
            "llama" | "mistral" => Family::Llama,
            "smollm3" => Family::SmolLM3,
            "granite" => Family::Granite,
            "olmo2" => Family::Olmo2,
            "mistral3" => Family::Mistral3,
            "qwen2" => Family::Qwen2,
            "qwen3" => Family::Qwen3,
            "gemma2" => Family::Gemma2,
            "gemma3" => Family::Gemma3,
            "phi3" => Family::Phi3,
            _ => return None,
        })
    }
}

/// How RoPE pairs the dimensions of a head. Getting this wrong does not crash: the model
/// still runs and produces fluent-looking garbage, so each family states its layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RopeLayout {
    /// Adjacent pairs `(x[2i], x[2i+1])` (ggml `LLAMA_ROPE_TYPE_NORM`: Llama, Mistral).
    Interleaved,
    /// Halves `(x[i], x[i + n_rot/2])` (ggml `LLAMA_ROPE_TYPE_NEOX`: Qwen, Gemma, Phi-3).
    Neox,
}

/// The gated feed-forward's activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `silu(gate) * up` (SwiGLU).
    Silu,
    /// `gelu_tanh(gate) * up` (GeGLU, Gemma).
    Gelu,
}

/// Everything the forward pass needs to know about a model's shape and conventions.
#[derive(Debug, Clone)]
pub struct ModelConfig {
    /// `general.architecture` as written in the file.
    pub arch: String,
    pub family: Family,
    pub n_vocab: usize,
    pub n_embd: usize,
    pub n_layer: usize,
    pub n_head: usize,
    pub n_head_kv: usize,
    /// Per-head width of queries and keys.
    pub head_dim: usize,
    /// Per-head width of values.
    pub head_dim_v: usize,
    pub n_ff: usize,
    pub rms_eps: f32,
    /// Context length the model was trained for.
    pub n_ctx_train: usize,
    pub rope_layout: RopeLayout,
    /// Dimensions of each head that are rotated (the rest pass through).
    pub n_rot: usize,
    pub rope_base: f32,
    /// Multiplier on positions (1 / linear scaling factor).
    pub rope_freq_scale: f32,
    /// YaRN's blend of interpolated and original frequencies, where the file asks for it.
    pub rope_yarn: Option<Yarn>,
    /// RoPE base of sliding-window layers where it differs (Gemma 3: 10000).
    pub rope_base_swa: f32,
    pub rope_freq_scale_swa: f32,
    /// Sliding-window size in tokens (0: none).
    pub sliding_window: usize,
    /// Layer `il` uses the sliding window when `il % swa_period < swa_period - 1`
    /// (Gemma 2: period 2; Gemma 3: period 6; 0: no sliding layers).
    pub swa_period: usize,
    /// Multiplier applied to queries before `QK^T`.
    pub attn_scale: f32,
    /// `softcap * tanh(x / softcap)` on attention scores (Gemma 2), 0 for none.
    pub attn_softcap: f32,
    /// The same on the final logits (Gemma 2), 0 for none.
    pub final_softcap: f32,
    /// Embeddings are multiplied by this (Gemma: sqrt(n_embd); Granite: its embedding_scale).
    pub embd_scale: f32,
    /// Each sub-layer's output is multiplied by this before the residual add (Granite).
    pub residual_scale: f32,
    /// Logits are multiplied by this (Granite: 1 / logit_scale).
    pub logit_multiplier: f32,
    /// Layer `il` applies no RoPE when `(il + 1) % no_rope_period == 0` (SmolLM3: 4; 0: every
    /// layer rotates).
    pub no_rope_period: usize,
    /// The query and key norms span all heads together (OLMo 2: weights of q_dim and k_dim),
    /// not each head (Qwen 3, Gemma 3: head_dim).
    pub qk_norm_full: bool,
    /// Each sub-layer normalizes its input (every family but OLMo 2, which normalizes outputs).
    pub pre_norms: bool,
    /// Attention temperature (Mistral 3): queries at position `pos` are multiplied by
    /// `1 + attn_temp_scale * ln(1 + floor((pos + 1) / attn_temp_floor))` (0: none).
    pub attn_temp_scale: f32,
    pub attn_temp_floor: usize,
    pub activation: Activation,
}

/// YaRN RoPE scaling (`rope.scaling.type = yarn`), with llama.cpp's defaults: dimensions that
/// turn fewer than `beta_slow` times over the original context are interpolated (positions
/// times the frequency scale), those that turn more than `beta_fast` times keep their
/// frequency, a linear ramp between; the rotation is scaled by `attn_factor (1 + 0.1 ln(1 /
/// freq_scale))`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Yarn {
    /// The context length the model was trained with before the extension.
    pub n_ctx_orig: usize,
    /// How much of the ramp applies (llama.cpp: 1 for YaRN).
    pub ext_factor: f32,
    pub attn_factor: f32,
    pub beta_fast: f32,
    pub beta_slow: f32,
}

impl Yarn {
    /// The first and last rotated dimension (pair index times two) of the ramp, for `n_rot`
    /// rotated dimensions with RoPE base `base` (ggml_rope_yarn_corr_dims).
    pub fn correction_dims(&self, n_rot: usize, base: f32) -> [f32; 2] {
        let dim = |beta: f32| n_rot as f32 * (self.n_ctx_orig as f32 / (beta * 2.0 * std::f32::consts::PI)).ln() / (2.0 * base.ln());
        let start = dim(self.beta_fast).floor();
        let end = dim(self.beta_slow).ceil();
        [start.max(0.0), end.min(n_rot as f32 - 1.0)]
    }
}

/// Why a model cannot be run.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(transparent)]
    Gguf(#[from] GgufError),
    #[error("architecture {0:?} is not supported (supported: llama, mistral, mistral3, smollm3, granite, olmo2, qwen2, qwen3, gemma2, gemma3, phi3)")]
    UnsupportedArchitecture(String),
    #[error("model hyperparameter {key}: {problem}")]
    BadHyperparameter { key: String, problem: String },
    #[error("tensor {name:?}: expected shape {expected:?}, found {found:?}")]
    BadShape { name: String, expected: Vec<u64>, found: Vec<u64> },
    #[error("tensor {name:?}: {problem}")]
    BadTensor { name: String, problem: String },
    /// `which` is empty for the only adapter, ` 2 of 3` among several.
    #[error("LoRA adapter{which}: {problem}")]
    BadAdapter { which: String, problem: String },
}

impl ModelConfig {
    /// Reads the hyperparameters of `g`, with llama.cpp's defaults where a key is optional.
    pub fn from_gguf<S: ByteSource>(g: &Gguf<S>) -> Result<Self, ModelError> {
        let arch = g.get_str("general.architecture")?.to_string();
        let family = Family::from_arch(&arch).ok_or_else(|| ModelError::UnsupportedArchitecture(arch.clone()))?;
        let arch_name = arch.clone();
        let key = |k: &str| format!("{arch_name}.{k}");
        let usize_key = |k: &str| -> Result<usize, ModelError> {
            let v = g.get_u64(&key(k))?;
            usize::try_from(v)
                .ok()
                .filter(|&v| v > 0 && v < (1 << 24))
                .ok_or_else(|| ModelError::BadHyperparameter { key: key(k), problem: format!("{v} is out of range") })
        };
        let opt_usize = |k: &str| -> Result<Option<usize>, ModelError> {
            if g.get(&key(k)).is_some() {
                usize_key(k).map(Some)
            } else {
                Ok(None)
            }
        };
        let opt_f32 = |k: &str| -> Result<Option<f32>, ModelError> {
            match g.get(&key(k)) {
                Some(_) => Ok(Some(g.get_f32(&key(k))?)),
                None => Ok(None),
            }
        };

        let n_embd = usize_key("embedding_length")?;
        let n_layer = usize_key("block_count")?;
        let n_head = usize_key("attention.head_count")?;
        let n_head_kv = opt_usize("attention.head_count_kv")?.unwrap_or(n_head);
        if n_head % n_head_kv != 0 {
            return Err(ModelError::BadHyperparameter {
                key: key("attention.head_count_kv"),
                problem: format!("{n_head} query heads are not a multiple of {n_head_kv} KV heads"),
            });
        }
        let head_dim = opt_usize("attention.key_length")?.unwrap_or(n_embd / n_head);
        let head_dim_v = opt_usize("attention.value_length")?.unwrap_or(head_dim);
        let n_ff = usize_key("feed_forward_length")?;
        let rms_eps = opt_f32("attention.layer_norm_rms_epsilon")?.unwrap_or(1e-5);
        let n_ctx_train = opt_usize("context_length")?.unwrap_or(2048);
        let n_rot = opt_usize("rope.dimension_count")?.unwrap_or(head_dim);
        if n_rot > head_dim || n_rot % 2 != 0 {
            return Err(ModelError::BadHyperparameter {
                key: key("rope.dimension_count"),
                problem: format!("{n_rot} rotated dimensions in heads of {head_dim}"),
            });
        }
        let rope_base = opt_f32("rope.freq_base")?.unwrap_or(10000.0);
        // llama.cpp: the factor divides positions under any scaling type but "none"; YaRN also
        // blends interpolated and original frequencies and scales the rotation's magnitude.
        let scaling_type = match g.get(&key("rope.scaling.type")) {
            Some(_) => g.get_str(&key("rope.scaling.type"))?.to_string(),
            None => "linear".to_string(),
        };
        let factor = opt_f32("rope.scaling.factor")?.filter(|&f| f != 0.0);
        if let Some(f) = factor {
            if !(f.is_finite() && f > 0.0) {
                return Err(ModelError::BadHyperparameter { key: key("rope.scaling.factor"), problem: format!("{f} is not a scaling factor") });
            }
        }
        let rope_freq_scale = match (scaling_type.as_str(), factor) {
            ("none", _) | (_, None) => 1.0,
            (_, Some(f)) => 1.0 / f,
        };
        let rope_yarn = match scaling_type.as_str() {
            "none" | "linear" => None,
            "yarn" => {
                let n_ctx_orig = opt_usize("rope.scaling.original_context_length")?.or(opt_usize("context_length")?).unwrap_or(2048);
                let finite = |k: &str, default: f32| -> Result<f32, ModelError> {
                    let v = opt_f32(k)?.unwrap_or(default);
                    if v.is_finite() {
                        Ok(v)
                    } else {
                        Err(ModelError::BadHyperparameter { key: key(k), problem: format!("{v} is not finite") })
                    }
                };
                Some(Yarn {
                    n_ctx_orig,
                    ext_factor: finite("rope.scaling.yarn_ext_factor", 1.0)?,
                    attn_factor: finite("rope.scaling.yarn_attn_factor", 1.0)?,
                    beta_fast: finite("rope.scaling.yarn_beta_fast", 32.0)?,
                    beta_slow: finite("rope.scaling.yarn_beta_slow", 1.0)?,
                })
            }
            other => {
                return Err(ModelError::BadHyperparameter {
                    key: key("rope.scaling.type"),
                    problem: format!("RoPE scaling {other:?} is not supported (none, linear and yarn are)"),
                })
            }
        };
        let sliding_window = opt_usize("attention.sliding_window")?.unwrap_or(0);
        let n_vocab = match g.get_array("tokenizer.ggml.tokens") {
            Ok(tokens) => tokens.len(),
            Err(_) => opt_usize("vocab_size")?.unwrap_or(0),
        };

        let mut c = ModelConfig {
            arch,
            family,
            n_vocab,
            n_embd,
            n_layer,
            n_head,
            n_head_kv,
            head_dim,
            head_dim_v,
            n_ff,
            rms_eps,
            n_ctx_train,
            rope_layout: RopeLayout::Neox,
            n_rot,
            rope_base,
            rope_freq_scale,
            rope_yarn,
            rope_base_swa: rope_base,
            rope_freq_scale_swa: rope_freq_scale,
            sliding_window,
            swa_period: 0,
            attn_scale: 1.0 / (head_dim as f32).sqrt(),
            attn_softcap: 0.0,
            final_softcap: 0.0,
            embd_scale: 1.0,
            residual_scale: 1.0,
            logit_multiplier: 1.0,
            no_rope_period: 0,
            qk_norm_full: false,
            pre_norms: true,
            attn_temp_scale: 0.0,
            attn_temp_floor: 1,
            activation: Activation::Silu,
        };

        // Per-family conventions, as llama.cpp's llama-model.cpp sets them.
        match family {
            Family::Llama => {
                c.rope_layout = RopeLayout::Interleaved;
                // llama.cpp's llama graph has no sliding window: a declared one (Mistral v0.1's
                // 4096) is ignored there, so it is here (tests/families.rs, mistral_q2_k).
                c.sliding_window = 0;
            }
            Family::SmolLM3 => {
                c.rope_layout = RopeLayout::Interleaved;
                // llama.cpp fixes the period in code (`n_no_rope_layer_step = 4`); no key holds it.
                c.no_rope_period = 4;
            }
            Family::Granite => {
                c.rope_layout = RopeLayout::Interleaved;
                // llama.cpp requires all four multipliers (llama-model.cpp, LLM_ARCH_GRANITE).
                let required = |k: &str| -> Result<f32, ModelError> {
                    let v = g.get_f32(&key(k))?;
                    if v.is_finite() && v != 0.0 {
                        Ok(v)
                    } else {
                        Err(ModelError::BadHyperparameter { key: key(k), problem: format!("{v} is not a usable multiplier") })
                    }
                };
                c.embd_scale = required("embedding_scale")?;
                c.residual_scale = required("residual_scale")?;
                c.attn_scale = required("attention.scale")?;
                c.logit_multiplier = 1.0 / required("logit_scale")?;
                c.sliding_window = 0;
            }
            Family::Mistral3 => {
                c.rope_layout = RopeLayout::Interleaved;
                c.sliding_window = 0;
                if let Some(t) = opt_f32("attention.temperature_scale")?.filter(|&t| t != 0.0) {
                    // llama.cpp: the floor is the original context of YaRN.
                    let floor = c.rope_yarn.map(|y| y.n_ctx_orig).unwrap_or(0);
                    if !t.is_finite() || floor == 0 {
                        return Err(ModelError::BadHyperparameter {
                            key: key("attention.temperature_scale"),
                            problem: format!("{t} with an original context of {floor} tokens"),
                        });
                    }
                    c.attn_temp_scale = t;
                    c.attn_temp_floor = floor;
                }
            }
            Family::Olmo2 => {
                c.qk_norm_full = true;
                c.pre_norms = false;
                // llama.cpp's olmo2 graph slides on some layers when a window is declared
                // (OLMo 3's layout); no OLMo 2 file declares one, and none is tested here.
                if c.sliding_window > 0 {
                    return Err(ModelError::BadHyperparameter {
                        key: key("attention.sliding_window"),
                        problem: "sliding-window OLMo models are not supported".into(),
                    });
                }
            }
            Family::Qwen2 | Family::Qwen3 => {}
            Family::Phi3 => {
                // llama.cpp reads phi3.attention.sliding_window but disables it ("Phi SWA is
                // currently disabled", llama.cpp PR 13676): every layer attends globally.
                c.sliding_window = 0;
            }
            Family::Gemma2 | Family::Gemma3 => {
                c.activation = Activation::Gelu;
                c.embd_scale = (n_embd as f32).sqrt();
                // Gemma 2 27B and Gemma 3 27B scale queries by the model width per head instead.
                let is_27b = n_layer == 46 || n_layer == 62;
                if is_27b {
                    c.attn_scale = 1.0 / ((n_embd / n_head) as f32).sqrt();
                }
                if family == Family::Gemma2 {
                    c.swa_period = 2;
                    c.rope_base_swa = opt_f32("rope.freq_base_swa")?.unwrap_or(rope_base);
                    c.attn_softcap = opt_f32("attn_logit_softcapping")?.unwrap_or(50.0);
                    c.final_softcap = opt_f32("final_logit_softcapping")?.unwrap_or(30.0);
                } else {
                    c.swa_period = 6;
                    c.rope_base_swa = opt_f32("rope.freq_base_swa")?.unwrap_or(10000.0);
                    c.rope_freq_scale_swa = 1.0;
                    c.final_softcap = opt_f32("final_logit_softcapping")?.unwrap_or(0.0);
                }
                // An explicit pattern overrides the family's (llama.cpp `load_swa_pattern`, whose
                // n = 0 means every layer slides and n = 1 none; ours are the other way round).
                let pattern_key = key("attention.sliding_window_pattern");
                match g.get(&pattern_key) {
                    None => {}
                    Some(crate::gguf::MetadataValue::Array(_)) => {
                        return Err(ModelError::BadHyperparameter {
                            key: pattern_key,
                            problem: "per-layer sliding-window patterns are not supported".into(),
                        })
                    }
                    Some(_) => {
                        c.swa_period = match g.get_u64(&pattern_key)? {
                            0 => 1,
                            1 => 0,
                            n => usize::try_from(n).map_err(|_| ModelError::BadHyperparameter {
                                key: pattern_key.clone(),
                                problem: format!("{n} is out of range"),
                            })?,
                        }
                    }
                }
                if c.sliding_window == 0 {
                    c.swa_period = 0;
                }
            }
        }
        // Note: in a sliding layer with period 1 every layer slides.
        Ok(c)
    }

    /// Whether layer `il` attends through the sliding window.
    pub fn is_swa_layer(&self, il: usize) -> bool {
        match self.swa_period {
            0 => false,
            1 => true,
            p => il % p < p - 1,
        }
    }

    /// What queries at position `pos` are multiplied by (Mistral 3's attention temperature).
    pub fn query_scale(&self, pos: usize) -> f32 {
        if self.attn_temp_scale == 0.0 {
            return 1.0;
        }
        let steps = (pos as f32 / self.attn_temp_floor as f32).floor();
        ((steps + 1.0) as f64).ln() as f32 * self.attn_temp_scale + 1.0
    }

    /// Whether layer `il` rotates its queries and keys.
    pub fn uses_rope(&self, il: usize) -> bool {
        self.no_rope_period == 0 || !(il + 1).is_multiple_of(self.no_rope_period)
    }

    /// Floating-point operations (a multiply-add is two) of prefilling `prompt_tokens` tokens
    /// from an empty cache: every layer's matrix products for every token, and attention's two
    /// products (scores, then the weighted sum of values) over each token's context, within the
    /// window on sliding-window layers. The output layer is left out: a prefill computes the
    /// logits of its last token only.
    pub fn prefill_flops(&self, prompt_tokens: usize) -> f64 {
        let (d, f) = (self.n_embd as f64, self.n_ff as f64);
        let (q, kv, v) = (self.q_dim() as f64, (self.n_head_kv * self.head_dim) as f64, (self.n_head_kv * self.head_dim_v) as f64);
        let o = (self.n_head * self.head_dim_v) as f64;
        // q, k, v, the attention output, and the gated feed-forward (gate, up, down).
        let products = d * q + d * kv + d * v + o * d + 3.0 * d * f;
        let per_position = (self.n_head * (self.head_dim + self.head_dim_v)) as f64;
        let mut flops = 0.0;
        for il in 0..self.n_layer {
            let window = if self.is_swa_layer(il) && self.sliding_window > 0 { self.sliding_window } else { usize::MAX };
            let attended: f64 = (1..=prompt_tokens).map(|ctx| ctx.min(window) as f64).sum();
            flops += 2.0 * products * prompt_tokens as f64 + 2.0 * per_position * attended;
        }
        flops
    }

    /// Width of all query heads together.
    pub fn q_dim(&self) -> usize {
        self.n_head * self.head_dim
    }

    /// Width of all key heads together.
    pub fn k_dim(&self) -> usize {
        self.n_head_kv * self.head_dim
    }

    /// Width of all value heads together.
    pub fn v_dim(&self) -> usize {
        self.n_head_kv * self.head_dim_v
    }
}

/// A one-layer-wide shape for unit tests elsewhere in the crate to adjust (`..for_tests()`).
#[cfg(test)]
impl ModelConfig {
    pub(crate) fn for_tests() -> Self {
        ModelConfig {
            arch: "gemma3".into(),
            family: Family::Gemma3,
            n_vocab: 1,
            n_embd: 1,
            n_layer: 12,
            n_head: 1,
            n_head_kv: 1,
            head_dim: 1,
            head_dim_v: 1,
            n_ff: 1,
            rms_eps: 1e-6,
            n_ctx_train: 1,
            rope_layout: RopeLayout::Neox,
            n_rot: 2,
            rope_base: 1.0,
            rope_freq_scale: 1.0,
            rope_yarn: None,
            rope_base_swa: 1.0,
            rope_freq_scale_swa: 1.0,
            sliding_window: 4,
            swa_period: 0,
            attn_scale: 1.0,
            attn_softcap: 0.0,
            final_softcap: 0.0,
            embd_scale: 1.0,
            residual_scale: 1.0,
            logit_multiplier: 1.0,
            no_rope_period: 0,
            qk_norm_full: false,
            pre_norms: true,
            attn_temp_scale: 0.0,
            attn_temp_floor: 1,
            activation: Activation::Gelu,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(period: usize) -> ModelConfig {
        ModelConfig { swa_period: period, ..ModelConfig::for_tests() }
    }

    /// Gemma 3 alternates five sliding layers with one global layer; a wrong pattern still runs
    /// but degrades long-context answers, so the pattern is pinned here.
    #[test]
    fn gemma3_every_sixth_layer_is_global() {
        let c = cfg(6);
        let global: Vec<usize> = (0..12).filter(|&il| !c.is_swa_layer(il)).collect();
        assert_eq!(global, vec![5, 11]);
        let c = cfg(2);
        let global: Vec<usize> = (0..6).filter(|&il| !c.is_swa_layer(il)).collect();
        assert_eq!(global, vec![1, 3, 5]);
        assert!(!cfg(0).is_swa_layer(0));
        assert!(cfg(1).is_swa_layer(7));
    }
}
