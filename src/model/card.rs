//! A model file described for people: what `clinicbench inspect` prints and the page's model
//! card shows, read from the GGUF header alone (no tensor data).

use super::ModelConfig;
use crate::gguf::{ByteSource, Gguf};
use serde::{Deserialize, Serialize};

/// The KV cache a model gets by default: its training context, at most 4096 tokens.
pub fn default_context(c: &ModelConfig) -> usize {
    c.n_ctx_train.min(4096)
}

/// Bytes of one block format in a file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuantShare {
    #[serde(rename = "type")]
    pub ty: String,
    pub tensors: usize,
    pub bytes: u64,
}

/// What a model file is and what running it takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    pub name: Option<String>,
    pub architecture: String,
    /// `None` when the architecture is supported, else why not.
    pub unsupported: Option<String>,
    pub parameters: u64,
    pub gguf_version: u32,
    pub tensors: usize,
    /// Block formats by bytes, largest first.
    pub quantization: Vec<QuantShare>,
    pub context_length: usize,
    pub weights_bytes: u64,
    pub kv_cache_bytes_per_token: u64,
    /// Weights plus the KV cache of `memory_ctx` tokens.
    pub memory_bytes: u64,
    pub memory_ctx: usize,
    pub tokenizer: String,
    pub layers: Option<usize>,
    pub embedding_length: Option<usize>,
    pub vocab: Option<usize>,
    pub chat_template: bool,
}

impl ModelCard {
    pub fn from_gguf<S: ByteSource>(g: &Gguf<S>) -> ModelCard {
        let config = ModelConfig::from_gguf(g);
        let mut mix: Vec<QuantShare> = Vec::new();
        for t in &g.tensors {
            match mix.iter_mut().find(|m| m.ty == t.ty.name()) {
                Some(m) => {
                    m.tensors += 1;
                    m.bytes += t.n_bytes()
                }
                None => mix.push(QuantShare { ty: t.ty.name().to_string(), tensors: 1, bytes: t.n_bytes() }),
            }
        }
        mix.sort_by(|a, b| b.bytes.cmp(&a.bytes));
        let weights = g.tensor_bytes();
        let (architecture, context_length, kv, ctx) = match &config {
            Ok(c) => (c.arch.clone(), c.n_ctx_train, (c.n_layer * (c.k_dim() + c.v_dim()) * 4) as u64, default_context(c)),
            Err(_) => (g.get_str("general.architecture").unwrap_or("unknown").to_string(), 0, 0, 0),
        };
        ModelCard {
            name: g.get_str("general.name").ok().map(str::to_string),
            architecture,
            unsupported: config.as_ref().err().map(|e| e.to_string()),
            parameters: g.tensors.iter().map(|t| t.n_elements()).sum(),
            gguf_version: g.version,
            tensors: g.tensors.len(),
            quantization: mix,
            context_length,
            weights_bytes: weights,
            kv_cache_bytes_per_token: kv,
            memory_bytes: weights + kv * ctx as u64,
            memory_ctx: ctx,
            tokenizer: g.get_str("tokenizer.ggml.model").unwrap_or("none").to_string(),
            layers: config.as_ref().ok().map(|c| c.n_layer),
            embedding_length: config.as_ref().ok().map(|c| c.n_embd),
            vocab: config.as_ref().ok().map(|c| c.n_vocab),
            chat_template: g.get("tokenizer.chat_template").is_some(),
        }
    }
}
