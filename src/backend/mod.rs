//! Backends execute a decoder's forward pass: the CPU reference, and wgpu (WGSL kernels on
//! Vulkan, Metal, DX12 natively and WebGPU in the browser).
//!
//! A backend owns the weights in its own storage and the KV cache. The engine drives it through
//! [`Backend`]: append tokens to the cache, get logits back for the last few of them.
//!
//! A forward pass is a future: on the CPU it is ready when it is made, and a GPU hands its
//! results back through a read-back that, in the browser, only the event loop can complete.
//! Native callers block on it (the engine's `wait`); the page's worker awaits it.

pub mod cpu;
pub mod logits;
pub mod wgpu;

use crate::model::{ModelConfig, ModelError};
use logits::Candidate;
use std::future::Future;
use std::pin::Pin;

/// A forward pass under way; it borrows the backend until it resolves.
pub type Pending<'a, T> = Pin<Box<dyn Future<Output = Result<T, BackendError>> + 'a>>;

/// Why a forward pass could not run.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Gguf(#[from] crate::gguf::GgufError),
    #[error("the context is full: {needed} tokens do not fit in the {n_ctx}-token KV cache")]
    ContextFull { needed: usize, n_ctx: usize },
    #[error("token id {id} is outside the vocabulary of {n_vocab}")]
    TokenOutOfRange { id: u32, n_vocab: usize },
    #[error("the model needs {} MiB of memory with this context size, more than the {} MiB allowed", needed >> 20, limit >> 20)]
    OutOfMemory { needed: u64, limit: u64 },
    #[error("not supported: {0}")]
    Unsupported(String),
    #[error("GPU backend: {0}")]
    Gpu(String),
    #[error("a context of {n_ctx} tokens is not possible: it must be between 1 and the model's training context, {n_ctx_train}")]
    BadContextSize { n_ctx: usize, n_ctx_train: usize },
}

/// A decoder running on some device.
pub trait Backend {
    /// The model's hyperparameters.
    fn config(&self) -> &ModelConfig;
    /// A short description for reports, e.g. `cpu (2 threads)`.
    fn describe(&self) -> String;
    /// Capacity of the KV cache in tokens.
    fn n_ctx(&self) -> usize;
    /// Most tokens one [`Backend::forward`] call accepts.
    fn max_batch(&self) -> usize;
    /// Most of them one call returns logits for (a batch may be longer than its logits).
    fn max_logits(&self) -> usize {
        self.max_batch()
    }
    /// Tokens currently held in the KV cache.
    fn kv_len(&self) -> usize;
    /// Forgets cached positions from `len` on (a shared prefix stays).
    fn truncate_kv(&mut self, len: usize);
    /// Runs `tokens` at positions `kv_len()..`, appends them to the cache, and returns the logits
    /// of the last `n_logits` of them, row-major `(n_logits, n_vocab)`.
    fn forward<'a>(&'a mut self, tokens: &'a [u32], n_logits: usize) -> Pending<'a, &'a [f32]>;
    /// Bytes of weights read for one decoded token (for the roofline).
    fn weight_bytes_per_token(&self) -> u64;
    /// Like [`Backend::forward`] for the last `targets.len()` tokens, but returns per position
    /// only what scoring and greedy decoding need: the log-probability of `targets[k]` and the
    /// argmax. A GPU reduces the logits where they are and reads back a few bytes.
    fn forward_scores<'a>(&'a mut self, tokens: &'a [u32], targets: &'a [u32]) -> Pending<'a, Vec<TokenScore>> {
        let n_vocab = self.config().n_vocab;
        Box::pin(async move {
            let logits = self.forward(tokens, targets.len()).await?;
            Ok(logits
                .chunks_exact(n_vocab)
                .zip(targets)
                .map(|(row, &t)| {
                    let (logprob, argmax) = logits::log_softmax_at(row, (t as usize).min(n_vocab - 1));
                    TokenScore { logprob, argmax: argmax as u32 }
                })
                .collect())
        })
    }
    /// Most sequences one [`Backend::forward_segments`] call takes; 0 where the backend runs
    /// one sequence at a time only (the engine then does).
    fn max_segments(&self) -> usize {
        0
    }
    /// Runs several sequences in one batch: each continues the cache's first `prefix` positions
    /// (shared by all of them, written by [`Backend::forward`] or as a segment of an earlier
    /// call) in its own region of the cache, as [`Segment`]s say; `tokens`
    /// holds each segment's tokens in turn. Returns the logits of each segment's last token,
    /// row-major `(segments.len(), n_vocab)`. The cache's length is not changed: the caller owns
    /// the regions and forgets them with [`Backend::truncate_kv`]. A token's result does not
    /// depend on the other sequences in the batch, nor on how many tokens its own segment has.
    fn forward_segments<'a>(&'a mut self, prefix: usize, tokens: &'a [u32], segments: &'a [Segment]) -> Pending<'a, &'a [f32]> {
        let _ = (prefix, tokens, segments);
        Box::pin(std::future::ready(Err(BackendError::Unsupported(format!("{} runs one sequence at a time", self.describe())))))
    }
    /// Like [`Backend::forward`] with one logits row, but returns only the `k` most likely
    /// next tokens after the last token, in [`logits::canonical_order`]: what
    /// sampling with a top-k limit needs. A GPU selects them where the logits are.
    fn forward_top_k<'a>(&'a mut self, tokens: &'a [u32], k: usize) -> Pending<'a, Vec<Candidate>> {
        Box::pin(async move {
            let logits = self.forward(tokens, 1).await?;
            Ok(logits::top_k(logits, k))
        })
    }
}

/// One sequence's part of a [`Backend::forward_segments`] batch: its tokens go to cache
/// positions `own_start + done..own_start + done + len`, at the sequence's positions
/// `prefix + done..` (RoPE), and each sees the shared prefix and its own sequence up to itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Cache position of the sequence's first token after the shared prefix.
    pub own_start: usize,
    /// Tokens of the sequence already in its region.
    pub done: usize,
    /// Tokens of this batch.
    pub len: usize,
}

/// One position's score: what [`Backend::forward_scores`] returns.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TokenScore {
    /// Natural-log probability of the target token.
    pub logprob: f64,
    /// The most likely token (first on ties).
    pub argmax: u32,
}

/// A backend chosen at run time (`--backend cpu|wgpu`).
impl Backend for Box<dyn Backend> {
    fn config(&self) -> &ModelConfig {
        (**self).config()
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
    fn n_ctx(&self) -> usize {
        (**self).n_ctx()
    }
    fn max_batch(&self) -> usize {
        (**self).max_batch()
    }
    fn max_logits(&self) -> usize {
        (**self).max_logits()
    }
    fn kv_len(&self) -> usize {
        (**self).kv_len()
    }
    fn truncate_kv(&mut self, len: usize) {
        (**self).truncate_kv(len)
    }
    fn forward<'a>(&'a mut self, tokens: &'a [u32], n_logits: usize) -> Pending<'a, &'a [f32]> {
        (**self).forward(tokens, n_logits)
    }
    fn weight_bytes_per_token(&self) -> u64 {
        (**self).weight_bytes_per_token()
    }
    fn forward_scores<'a>(&'a mut self, tokens: &'a [u32], targets: &'a [u32]) -> Pending<'a, Vec<TokenScore>> {
        (**self).forward_scores(tokens, targets)
    }
    fn forward_top_k<'a>(&'a mut self, tokens: &'a [u32], k: usize) -> Pending<'a, Vec<Candidate>> {
        (**self).forward_top_k(tokens, k)
    }
    fn max_segments(&self) -> usize {
        (**self).max_segments()
    }
    fn forward_segments<'a>(&'a mut self, prefix: usize, tokens: &'a [u32], segments: &'a [Segment]) -> Pending<'a, &'a [f32]> {
        (**self).forward_segments(prefix, tokens, segments)
    }
}

#[cfg(test)]
mod layering {
    /// The engine drives the backends: no backend source names the engine (the logit helpers
    /// both use live in `backend::logits`), so the two never import each other.
    #[test]
    fn no_backend_source_imports_the_engine() {
        fn visit(dir: &std::path::Path, found: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    visit(&path, found);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    for (i, line) in text.lines().enumerate() {
                        let code = line.split("//").next().unwrap_or("");
                        // Spelled in two halves so that this line does not match itself.
                        if [concat!("crate", "::engine"), concat!("super", "::engine")].iter().any(|n| code.contains(n)) {
                            found.push(format!("{}:{}: {}", path.display(), i + 1, line.trim()));
                        }
                    }
                }
            }
        }
        let mut found = Vec::new();
        visit(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/backend"), &mut found);
        assert!(found.is_empty(), "the backend imports the engine:\n{}", found.join("\n"));
    }
}
