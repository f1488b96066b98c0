//! Which tensors a decoder has, by llama.cpp's GGUF names, with their shapes checked at load.
//!
//! The structure is generic over the backend's tensor type `T`: the loader walks the file's
//! tensor index once and hands each tensor to a backend callback (the CPU keeps the bytes, the GPU
//! uploads them), so no backend ever sees the whole file at once.

use super::config::{Family, ModelConfig, ModelError};
use crate::gguf::{ByteSource, Gguf, TensorInfo};

/// The weights of one transformer block. Shapes are given as (rows, cols) = (out, in).
pub struct LayerWeights<T> {
    /// RMSNorm before attention, (n_embd); none in OLMo 2.
    pub attn_norm: Option<T>,
    /// Query, key, value projections, (q_dim, n_embd), (k_dim, n_embd), (v_dim, n_embd) —
    /// or one fused (q_dim + k_dim + v_dim, n_embd) matrix (Phi-3).
    pub qkv: Qkv<T>,
    /// Optional biases of the projections (Qwen 2).
    pub q_bias: Option<T>,
    pub k_bias: Option<T>,
    pub v_bias: Option<T>,
    /// RMSNorm of queries and keys, per head (head_dim: Qwen 3, Gemma 3) or over all heads
    /// (q_dim and k_dim: OLMo 2).
    pub q_norm: Option<T>,
    pub k_norm: Option<T>,
    /// Attention output projection, (n_embd, q_dim).
    pub attn_output: T,
    /// RMSNorm of the attention output before the residual (Gemma 2/3, OLMo 2), (n_embd).
    pub post_attention_norm: Option<T>,
    /// RMSNorm before the feed-forward, (n_embd); none in OLMo 2.
    pub ffn_norm: Option<T>,
    /// Gate and up projections, (n_ff, n_embd) each — or one fused (2 n_ff, n_embd) (Phi-3).
    pub ffn_gate_up: GateUp<T>,
    /// Down projection, (n_embd, n_ff).
    pub ffn_down: T,
    /// RMSNorm of the feed-forward output before the residual (Gemma 2/3, OLMo 2), (n_embd).
    pub post_ffw_norm: Option<T>,
}

/// Separate or fused attention input projections.
pub enum Qkv<T> {
    Separate { q: T, k: T, v: T },
    Fused(T),
}

/// Separate or fused feed-forward input projections.
pub enum GateUp<T> {
    Separate { gate: T, up: T },
    /// Rows `0..n_ff` are the gate, `n_ff..2 n_ff` the up projection.
    Fused(T),
}

/// All weights of a decoder.
pub struct DecoderWeights<T> {
    /// Token embeddings, (n_vocab, n_embd).
    pub token_embd: T,
    pub layers: Vec<LayerWeights<T>>,
    /// Final RMSNorm, (n_embd).
    pub output_norm: T,
    /// Output projection, (n_vocab, n_embd); `None` when tied to `token_embd`.
    pub output: Option<T>,
    /// Per-dimension RoPE frequency divisors, (n_rot / 2) (Llama 3.1+ long-context scaling).
    pub rope_freqs: Option<T>,
}

impl<T> DecoderWeights<T> {
    /// The matrix that maps the final hidden state to logits.
    pub fn output_matrix(&self) -> &T {
        self.output.as_ref().unwrap_or(&self.token_embd)
    }
}

impl<T> DecoderWeights<T> {
    /// Resolves every tensor the family needs, checks its shape, and loads it with `load`.
    ///
    /// A file holding tensors this decoder would not read (biases, extra norms, another
    /// architecture's weights) is refused before anything is loaded, as llama.cpp refuses it:
    /// running without them would silently compute a different model.
    pub fn load<S: ByteSource, E>(
        g: &Gguf<S>,
        c: &ModelConfig,
        load: impl FnMut(&TensorInfo) -> Result<T, E>,
    ) -> Result<Self, E>
    where
        E: From<ModelError>,
    {
        let mut used = std::collections::HashSet::new();
        DecoderWeights::<()>::resolve(g, c, |info: &TensorInfo| -> Result<(), ModelError> {
            used.insert(info.name.clone());
            Ok(())
        })?;
        let unused: Vec<&str> = g.tensors.iter().map(|t| t.name.as_str()).filter(|n| !used.contains(*n)).collect();
        if !unused.is_empty() {
            let shown = unused.iter().take(5).copied().collect::<Vec<_>>().join(", ");
            return Err(ModelError::BadTensor {
                name: unused[0].to_string(),
                problem: format!(
                    "{} tensor(s) that a {} decoder does not use ({shown}{}): the file is not a model this engine can run faithfully",
                    unused.len(),
                    c.arch,
                    if unused.len() > 5 { ", ..." } else { "" }
                ),
            }
            .into());
        }
        Self::resolve(g, c, load)
    }

    fn resolve<S: ByteSource, E>(
        g: &Gguf<S>,
        c: &ModelConfig,
        mut load: impl FnMut(&TensorInfo) -> Result<T, E>,
    ) -> Result<Self, E>
    where
        E: From<ModelError>,
    {
        let opt = |name: &str| g.tensor(name).is_some();
        let load = &mut load;
        macro_rules! get {
            ($name:expr, $shape:expr) => {
                load(find(g, &$name, &$shape)?)
            };
        }
        macro_rules! maybe {
            ($name:expr, $shape:expr) => {
                if opt(&$name) {
                    Some(get!($name, $shape)?)
                } else {
                    None
                }
            };
        }

        let token_embd = get!("token_embd.weight", [c.n_vocab, c.n_embd])?;
        let mut layers = Vec::with_capacity(c.n_layer);
        for il in 0..c.n_layer {
            let n = |s: &str| format!("blk.{il}.{s}");
            // Families with pre-norms must have them; OLMo 2's would be refused as unused.
            let attn_norm = if c.pre_norms { Some(get!(n("attn_norm.weight"), [c.n_embd])?) } else { None };
            let qkv = if opt(&n("attn_qkv.weight")) {
                Qkv::Fused(get!(n("attn_qkv.weight"), [c.q_dim() + c.k_dim() + c.v_dim(), c.n_embd])?)
            } else {
                Qkv::Separate {
                    q: get!(n("attn_q.weight"), [c.q_dim(), c.n_embd])?,
                    k: get!(n("attn_k.weight"), [c.k_dim(), c.n_embd])?,
                    v: get!(n("attn_v.weight"), [c.v_dim(), c.n_embd])?,
                }
            };
            // OLMo 2 has no biases (llama.cpp reads none: a file with them is refused as holding
            // tensors the decoder does not use).
            let biased = c.family != Family::Olmo2;
            let q_bias = if biased { maybe!(n("attn_q.bias"), [c.q_dim()]) } else { None };
            let k_bias = if biased { maybe!(n("attn_k.bias"), [c.k_dim()]) } else { None };
            let v_bias = if biased { maybe!(n("attn_v.bias"), [c.v_dim()]) } else { None };
            let (q_norm_width, k_norm_width) = if c.qk_norm_full { (c.q_dim(), c.k_dim()) } else { (c.head_dim, c.head_dim) };
            let q_norm = maybe!(n("attn_q_norm.weight"), [q_norm_width]);
            let k_norm = maybe!(n("attn_k_norm.weight"), [k_norm_width]);
            let attn_output = get!(n("attn_output.weight"), [c.n_embd, c.n_head * c.head_dim_v])?;
            let post_attention_norm = maybe!(n("post_attention_norm.weight"), [c.n_embd]);
            let ffn_norm = if c.pre_norms { Some(get!(n("ffn_norm.weight"), [c.n_embd])?) } else { None };
            let ffn_gate_up = if opt(&n("ffn_gate.weight")) {
                GateUp::Separate {
                    gate: get!(n("ffn_gate.weight"), [c.n_ff, c.n_embd])?,
                    up: get!(n("ffn_up.weight"), [c.n_ff, c.n_embd])?,
                }
            } else {
                GateUp::Fused(get!(n("ffn_up.weight"), [2 * c.n_ff, c.n_embd])?)
            };
            let ffn_down = get!(n("ffn_down.weight"), [c.n_embd, c.n_ff])?;
            let post_ffw_norm = maybe!(n("post_ffw_norm.weight"), [c.n_embd]);

            let needs_qk_norm = matches!(c.family, Family::Qwen3 | Family::Gemma3 | Family::Olmo2);
            if needs_qk_norm && (q_norm.is_none() || k_norm.is_none()) {
                return Err(ModelError::BadTensor {
                    name: n("attn_q_norm.weight"),
                    problem: format!("{} needs per-head query and key norms", c.arch),
                }
                .into());
            }
            let needs_post_norms = matches!(c.family, Family::Gemma2 | Family::Gemma3 | Family::Olmo2);
            if needs_post_norms && (post_attention_norm.is_none() || post_ffw_norm.is_none()) {
                return Err(ModelError::BadTensor {
                    name: n("post_attention_norm.weight"),
                    problem: format!("{} needs post-attention and post-feed-forward norms", c.arch),
                }
                .into());
            }
            layers.push(LayerWeights {
                attn_norm,
                qkv,
                q_bias,
                k_bias,
                v_bias,
                q_norm,
                k_norm,
                attn_output,
                post_attention_norm,
                ffn_norm,
                ffn_gate_up,
                ffn_down,
                post_ffw_norm,
            });
        }
        let output_norm = get!("output_norm.weight", [c.n_embd])?;
        let output = maybe!("output.weight", [c.n_vocab, c.n_embd]);
        let rope_freqs = maybe!("rope_freqs.weight", [c.n_rot / 2]);
        Ok(DecoderWeights { token_embd, layers, output_norm, output, rope_freqs })
    }
}

/// Looks a tensor up and checks its shape, given in (rows, cols) order; GGUF stores (cols, rows).
fn find<'g, S: ByteSource>(g: &'g Gguf<S>, name: &str, shape: &[usize]) -> Result<&'g TensorInfo, ModelError> {
    let info = g.tensor(name).ok_or_else(|| ModelError::BadTensor {
        name: name.to_string(),
        problem: "missing from the model file".into(),
    })?;
    let expected: Vec<u64> = shape.iter().rev().map(|&d| d as u64).collect();
    if info.dims != expected {
        return Err(ModelError::BadShape { name: name.to_string(), expected, found: info.dims.clone() });
    }
    Ok(info)
}
