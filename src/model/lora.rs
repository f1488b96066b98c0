//! LoRA adapters in GGUF, as llama.cpp's `convert_lora_to_gguf.py` writes them and llama.cpp
//! applies them: the base file is never changed; each adapted product `y = W x` becomes
//! `y = W x + s · B (A x)` in the forward pass, summed over the adapters that adapt `W`.
//!
//! An adapter file says `general.type = adapter`, `adapter.type = lora`, the base's
//! `general.architecture` and optionally `adapter.lora.alpha`, and holds for each adapted weight
//! `NAME.lora_a`, of ggml shape (cols, rank), and `NAME.lora_b`, (rank, rows). The effective
//! scale is llama.cpp's: `scale · alpha / rank` with the rank of that weight's B, or the user's
//! `scale` alone where alpha is 0 or absent. An adapter at scale 0 is left out, as llama.cpp
//! leaves it out, so it computes the base exactly.
//!
//! The token embeddings may be adapted too, in llama.cpp's flipped layout: A is (rank, n_vocab),
//! a row per token, and B (rank, n_embd); the delta `s · B a[token]` is added to the embedding
//! before any embedding scale. Norm vectors in an adapter (`*_norm.weight`) are skipped, as
//! llama.cpp skips them; [`skipped_tensors`] names them so that a caller can say so.

use super::config::{ModelConfig, ModelError};
use crate::gguf::{ByteSource, Gguf, TensorInfo};
use std::collections::BTreeMap;

/// An adapter file and the scale the user gave it (`--lora` is 1).
pub struct Adapter<'a, S: ByteSource> {
    pub gguf: &'a Gguf<S>,
    pub scale: f32,
}

/// One adapter's low-rank update of one weight: `y += scale · B (A x)`.
pub struct Delta<T> {
    /// (rank, cols) as rows and cols; for the token embeddings (n_vocab, rank).
    pub a: T,
    /// (rows, rank).
    pub b: T,
    pub rank: usize,
    /// The effective scale (llama.cpp's `scale · alpha / rank`).
    pub scale: f32,
}

/// The updates of one block's products, by the base weight they adapt. `qkv` is a fused
/// `attn_qkv` (Phi-3); `up` of a fused `ffn_up` (Phi-3) spans its gate and up rows.
pub struct LayerDeltas<T> {
    pub q: Vec<Delta<T>>,
    pub k: Vec<Delta<T>>,
    pub v: Vec<Delta<T>>,
    pub qkv: Vec<Delta<T>>,
    pub attn_output: Vec<Delta<T>>,
    pub gate: Vec<Delta<T>>,
    pub up: Vec<Delta<T>>,
    pub down: Vec<Delta<T>>,
}

impl<T> Default for LayerDeltas<T> {
    fn default() -> Self {
        LayerDeltas { q: vec![], k: vec![], v: vec![], qkv: vec![], attn_output: vec![], gate: vec![], up: vec![], down: vec![] }
    }
}

impl<T> LayerDeltas<T> {
    fn all(&self) -> impl Iterator<Item = &Delta<T>> {
        [&self.q, &self.k, &self.v, &self.qkv, &self.attn_output, &self.gate, &self.up, &self.down].into_iter().flatten()
    }
}

/// Every adapter's updates of a decoder, loaded by a backend.
pub struct Deltas<T> {
    pub token_embd: Vec<Delta<T>>,
    pub layers: Vec<LayerDeltas<T>>,
    pub output: Vec<Delta<T>>,
}

/// The tensors of an adapter that are not applied: its norm vectors, which llama.cpp skips too
/// ("most adapters still work fine without it").
pub fn skipped_tensors<S: ByteSource>(adapter: &Gguf<S>) -> Vec<&str> {
    adapter.tensors.iter().map(|t| t.name.as_str()).filter(|n| is_skipped(n)).collect()
}

fn is_skipped(name: &str) -> bool {
    name.ends_with("_norm.weight")
}

/// Where an adapted weight sits in the decoder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Site {
    TokenEmbd,
    Output,
    Layer(usize, Part),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Part {
    Q,
    K,
    V,
    Qkv,
    AttnOutput,
    Gate,
    Up,
    Down,
}

impl Site {
    /// The site of a base weight, by llama.cpp's tensor names; `None` for weights no product
    /// of ours reads (norms, biases, RoPE factors).
    fn of(name: &str, n_layer: usize) -> Option<Site> {
        match name {
            "token_embd.weight" => return Some(Site::TokenEmbd),
            "output.weight" => return Some(Site::Output),
            _ => {}
        }
        let rest = name.strip_prefix("blk.")?;
        let (il, weight) = rest.split_once('.')?;
        let il: usize = il.parse().ok().filter(|&il| il < n_layer)?;
        let part = match weight {
            "attn_q.weight" => Part::Q,
            "attn_k.weight" => Part::K,
            "attn_v.weight" => Part::V,
            "attn_qkv.weight" => Part::Qkv,
            "attn_output.weight" => Part::AttnOutput,
            "ffn_gate.weight" => Part::Gate,
            "ffn_up.weight" => Part::Up,
            "ffn_down.weight" => Part::Down,
            _ => return None,
        };
        Some(Site::Layer(il, part))
    }
}

/// One adapted weight of one adapter, checked against the base.
struct Target<'g> {
    site: Site,
    a: &'g TensorInfo,
    b: &'g TensorInfo,
    rank: usize,
    scale: f32,
}

/// What is wrong with an adapter (the caller says which adapter).
fn bad(problem: impl Into<String>) -> String {
    problem.into()
}

/// Checks an adapter against the base model (what llama.cpp checks, and that the shapes make
/// a product) and lists what it adapts.
fn targets<'g, S0: ByteSource, S: ByteSource>(
    base: &Gguf<S0>,
    c: &ModelConfig,
    adapter: &'g Gguf<S>,
    user_scale: f32,
) -> Result<Vec<Target<'g>>, String> {
    let str_key = |key: &str| adapter.get(key).and_then(|v| v.as_str()).unwrap_or("");
    let kind = str_key("general.type");
    if kind != "adapter" {
        let what = if kind.is_empty() { "no general.type".to_string() } else { format!("general.type {kind:?}") };
        return Err(bad(format!("not an adapter: the file has {what}, an adapter says \"adapter\" (a model file given as an adapter?)")));
    }
    let adapter_type = str_key("adapter.type");
    if adapter_type != "lora" {
        return Err(bad(format!("adapter.type is {adapter_type:?}; only \"lora\" adapters are supported")));
    }
    let arch = str_key("general.architecture");
    if arch != c.arch {
        return Err(bad(format!("the adapter is for a {arch:?} model, the model is {:?}", c.arch)));
    }
    if adapter.get("adapter.alora.invocation_tokens").is_some() {
        return Err(bad("activated LoRA (adapter.alora.invocation_tokens) is not supported: it adapts only the tokens after an invocation sequence"));
    }
    let alpha = match adapter.get("adapter.lora.alpha") {
        None => 0.0,
        Some(_) => adapter.get_f32("adapter.lora.alpha").map_err(|e| e.to_string())?,
    };
    if !alpha.is_finite() {
        return Err(bad(format!("adapter.lora.alpha is {alpha}")));
    }

    // Pair each weight's A and B.
    let mut pairs: BTreeMap<&str, (Option<&TensorInfo>, Option<&TensorInfo>)> = BTreeMap::new();
    for t in &adapter.tensors {
        if let Some(name) = t.name.strip_suffix(".lora_a") {
            pairs.entry(name).or_default().0 = Some(t);
        } else if let Some(name) = t.name.strip_suffix(".lora_b") {
            pairs.entry(name).or_default().1 = Some(t);
        } else if !is_skipped(&t.name) {
            return Err(bad(format!("tensor {:?} is neither a .lora_a nor a .lora_b", t.name)));
        }
    }
    let tied = base.tensor("output.weight").is_none();
    let mut out = Vec::with_capacity(pairs.len());
    for (name, pair) in pairs {
        let (Some(a), Some(b)) = pair else {
            return Err(bad(format!("{name}: {} without {}", if pair.0.is_some() { "lora_a" } else { "lora_b" }, if pair.0.is_some() { "lora_b" } else { "lora_a" })));
        };
        let w = base.tensor(name).ok_or_else(|| bad(format!("{name} is not in the model (an adapter for another base model?)")))?;
        let site = Site::of(name, c.n_layer).ok_or_else(|| bad(format!("{name}: adapting this weight is not supported (only the embeddings, the output and the blocks' projections)")))?;
        if a.dims.len() != 2 || b.dims.len() != 2 || w.dims.len() != 2 {
            return Err(bad(format!("{name}: lora_a {:?} and lora_b {:?} must be matrices", a.dims, b.dims)));
        }
        let shape_error = || bad(format!("{name}: lora_a {:?} and lora_b {:?} do not fit the weight {:?} (an adapter for another base model?)", a.dims, b.dims, w.dims));
        let rank = b.dims[0];
        if site == Site::TokenEmbd {
            // llama.cpp's flipped layout: A (rank, n_vocab), B (rank, n_embd).
            if a.dims[0] != rank || a.dims[1] != w.dims[1] || b.dims[1] != w.dims[0] {
                return Err(shape_error());
            }
            if tied {
                return Err(bad("token_embd.weight is adapted, and the model's output is tied to its embeddings: the output product cannot take the embeddings' flipped update (llama.cpp cannot run this either)"));
            }
        } else if a.dims[0] != w.dims[0] || b.dims[1] != w.dims[1] || a.dims[1] != rank {
            return Err(shape_error());
        }
        if rank == 0 || rank > 1 << 16 {
            return Err(bad(format!("{name}: rank {rank}")));
        }
        let scale = if alpha != 0.0 { user_scale * alpha / rank as f32 } else { user_scale };
        out.push(Target { site, a, b, rank: rank as usize, scale });
    }
    Ok(out)
}

impl<T> Deltas<T> {
    /// No adapter.
    pub fn none(n_layer: usize) -> Self {
        Deltas { token_embd: vec![], layers: (0..n_layer).map(|_| LayerDeltas::default()).collect(), output: vec![] }
    }

    /// Checks every adapter against the base `base` and loads each A and B with `load` (the
    /// adapter's file and the tensor). Adapters at scale 0 are checked and not loaded.
    pub fn load<S0: ByteSource, S: ByteSource, E>(
        base: &Gguf<S0>,
        c: &ModelConfig,
        adapters: &[Adapter<S>],
        mut load: impl FnMut(&Gguf<S>, &TensorInfo) -> Result<T, E>,
    ) -> Result<Self, E>
    where
        E: From<ModelError>,
    {
        let mut d = Self::none(c.n_layer);
        for (k, adapter) in adapters.iter().enumerate() {
            let which = if adapters.len() == 1 { String::new() } else { format!(" {} of {}", k + 1, adapters.len()) };
            let refuse = |problem: String| ModelError::BadAdapter { which: which.clone(), problem };
            if !adapter.scale.is_finite() {
                return Err(refuse(format!("scale {}", adapter.scale)).into());
            }
            let found = targets(base, c, adapter.gguf, adapter.scale).map_err(refuse)?;
            if adapter.scale == 0.0 {
                continue;
            }
            for t in found {
                let delta = Delta { a: load(adapter.gguf, t.a)?, b: load(adapter.gguf, t.b)?, rank: t.rank, scale: t.scale };
                let list = match t.site {
                    Site::TokenEmbd => &mut d.token_embd,
                    Site::Output => &mut d.output,
                    Site::Layer(il, part) => {
                        let l = &mut d.layers[il];
                        match part {
                            Part::Q => &mut l.q,
                            Part::K => &mut l.k,
                            Part::V => &mut l.v,
                            Part::Qkv => &mut l.qkv,
                            Part::AttnOutput => &mut l.attn_output,
                            Part::Gate => &mut l.gate,
                            Part::Up => &mut l.up,
                            Part::Down => &mut l.down,
                        }
                    }
                };
                list.push(delta);
            }
        }
        Ok(d)
    }

    /// Every loaded update.
    pub fn all(&self) -> impl Iterator<Item = &Delta<T>> {
        self.token_embd.iter().chain(&self.output).chain(self.layers.iter().flat_map(LayerDeltas::all))
    }

    /// No update at all (no adapter, or only adapters at scale 0).
    pub fn is_empty(&self) -> bool {
        self.all().next().is_none()
    }

    /// The largest rank (0 without updates): the scratch a backend needs for `A x`.
    pub fn max_rank(&self) -> usize {
        self.all().map(|d| d.rank).max().unwrap_or(0)
    }
}
