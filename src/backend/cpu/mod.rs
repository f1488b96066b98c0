//! The CPU backend: weights kept in their block formats in host memory, multithreaded natively
//! (rayon), with SIMD128 in the browser: over a pool of workers in the page's threaded build,
//! on one thread in its plain build. It is the reference implementation.

pub mod check;
pub mod ops;
#[cfg(not(target_arch = "wasm32"))]
pub mod peak;

use super::{Backend, BackendError, Pending, Segment};
use crate::gguf::{ByteSource, Gguf, TensorInfo};
use crate::model::lora::{Adapter, Delta, Deltas};
use crate::model::{Activation, DecoderWeights, GateUp, ModelConfig, ModelError, Qkv, RopeLayout};
use ops::{parallel_for, QMatrix, SharedOut};

/// A weight as the CPU keeps it.
pub enum CpuTensor {
    /// Norm weights and biases, dequantized to f32 at load.
    Vector(Vec<f32>),
    Matrix(QMatrix),
}

impl CpuTensor {
    fn load<S: ByteSource>(g: &Gguf<S>, info: &TensorInfo) -> Result<Self, BackendError> {
        let mut bytes = vec![0u8; info.n_bytes() as usize];
        advise_huge_pages(&mut bytes);
        g.read_tensor_into(info, &mut bytes)?;
        if info.dims.len() == 1 {
            let mut v = vec![0f32; info.dims[0] as usize];
            crate::quant::dequantize(info.ty, &bytes, &mut v).map_err(|e| ModelError::BadTensor {
                name: info.name.clone(),
                problem: e.to_string(),
            })?;
            Ok(CpuTensor::Vector(v))
        } else {
            let (rows, cols) = info.rows_cols();
            let row_bytes = info.ty.row_bytes(cols).ok_or_else(|| ModelError::BadTensor {
                name: info.name.clone(),
                problem: format!("row of {cols} is not a whole number of {} blocks", info.ty.name()),
            })?;
            Ok(CpuTensor::Matrix(QMatrix { ty: info.ty, rows, cols, row_bytes, data: bytes }))
        }
    }

    /// The f32 values of a 1-D weight. The loader's shape checks guarantee which weights are
    /// vectors, so a matrix here is a bug in this crate, not bad input.
    fn vector(&self) -> &[f32] {
        match self {
            CpuTensor::Vector(v) => v,
            CpuTensor::Matrix(_) => unreachable!("a 1-D weight was loaded as a matrix"),
        }
    }

    /// The stored matrix of a 2-D weight (see [`CpuTensor::vector`]).
    fn matrix(&self) -> &QMatrix {
        match self {
            CpuTensor::Matrix(m) => m,
            CpuTensor::Vector(_) => unreachable!("a 2-D weight was loaded as a vector"),
        }
    }

    fn bytes(&self) -> u64 {
        match self {
            CpuTensor::Vector(v) => 4 * v.len() as u64,
            CpuTensor::Matrix(m) => m.data.len() as u64,
        }
    }
}

/// Asks Linux to back a large weight buffer with 2 MiB pages: decode streams every weight once
/// per token, and with 4 KiB pages the TLB misses cost a tenth of the memory bandwidth.
/// Advice only: where it is refused or unavailable nothing changes.
fn advise_huge_pages(buf: &mut [u8]) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let start = buf.as_mut_ptr() as usize;
        let aligned = start.next_multiple_of(HUGE);
        let end = (start + buf.len()) / HUGE * HUGE;
        if end > aligned {
            // SAFETY: the range lies inside `buf`, which we own; madvise changes no contents.
            unsafe {
                libc::madvise(aligned as *mut libc::c_void, end - aligned, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = buf;
}

/// Activations and scratch, sized once at load for `max_batch` tokens; `forward` allocates nothing.
struct RunState {
    /// Residual stream, (batch, n_embd).
    x: Vec<f32>,
    /// Normed input of a sub-layer, (batch, n_embd).
    xb: Vec<f32>,
    /// Sub-layer output before the residual add, (batch, n_embd).
    xb2: Vec<f32>,
    /// Fused projections' output, (batch, q_dim + k_dim + v_dim) or (batch, 2 n_ff).
    fused: Vec<f32>,
    /// Queries, keys, values of the batch, (batch, q_dim), (batch, k_dim), (batch, v_dim).
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    /// Attention output, (batch, n_head * head_dim_v).
    att: Vec<f32>,
    /// Attention scores, one row per (token, head), (batch * n_head, n_ctx).
    scores: Vec<f32>,
    /// Feed-forward gate and up activations, (batch, n_ff).
    gate: Vec<f32>,
    up: Vec<f32>,
    /// RoPE (cos, sin) for the batch, (batch, n_rot / 2), for full and sliding layers.
    rope_full: Vec<(f32, f32)>,
    rope_swa: Vec<(f32, f32)>,
    /// Logits, (batch, n_vocab).
    logits: Vec<f32>,
    /// LoRA scratch: `A x`, (batch, largest rank), and `B (A x)`, (batch, largest B rows); empty
    /// without adapters.
    lora_ax: Vec<f32>,
    lora_bax: Vec<f32>,
}

/// Keys and values of every position so far, (n_ctx, k_dim) and (n_ctx, v_dim) per layer.
struct KvCache {
    k: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
    len: usize,
}

/// A decoder on the CPU.
pub struct CpuBackend {
    config: ModelConfig,
    weights: DecoderWeights<CpuTensor>,
    /// LoRA adapters' updates (none without adapters).
    deltas: Deltas<CpuTensor>,
    state: RunState,
    kv: KvCache,
    n_ctx: usize,
    max_batch: usize,
    max_logits: usize,
    threads: usize,
}

/// Most memory the CPU backend will ask for (weights, KV cache and scratch): in wasm32 the 4 GiB
/// a page can address less room for the program, the tokenizer and the tensor being read; natively
/// a bound that keeps a typo in `--ctx-size` from swapping the machine to death.
#[cfg(target_arch = "wasm32")]
const MAX_HOST_BYTES: u64 = 3584 << 20;
#[cfg(not(target_arch = "wasm32"))]
const MAX_HOST_BYTES: u64 = 64 << 30;

/// Most tokens one forward call returns logits for: the logits buffer holds this many rows of
/// the vocabulary (67 MB for Gemma 3's 262,144 entries).
pub const MAX_LOGITS: usize = 64;
/// Most tokens one forward call takes, where [`BATCH_SCRATCH_BUDGET`] allows: a prefill batch
/// reuses each dequantized weight row for every one of its tokens, so longer batches spend less
/// of their time dequantizing. 256 against 64 on Gemma 3 270M (2 threads, this machine): MedQA's
/// first 20 documents 7.15 -> 6.5 s, a 512-token prefill +3-4%.
const MAX_BATCH: usize = 256;
/// Scratch a batch may take beyond its logits (attention scores, activations): the batch is
/// halved, down to [`MAX_LOGITS`] tokens, until it fits. The scores dominate, `n_head * n_ctx`
/// floats a token: Gemma 3 270M at 4096 positions takes 256 tokens in 16 MB.
const BATCH_SCRATCH_BUDGET: u64 = 128 << 20;

/// Tokens per forward call for a model of shape `c` with a cache of `n_ctx` positions, and
/// the scratch bytes a token of the batch takes.
fn batch_size(c: &ModelConfig, n_ctx: usize) -> (usize, u64) {
    let fused_width = (c.q_dim() + c.k_dim() + c.v_dim()).max(2 * c.n_ff);
    let per_token = 4 * (c.n_head * n_ctx + 3 * c.n_embd + fused_width + c.q_dim() + c.k_dim() + c.v_dim() + c.n_head * c.head_dim_v + 2 * c.n_ff + c.n_rot) as u64;
    let mut b = MAX_BATCH;
    while b > MAX_LOGITS && b as u64 * per_token > BATCH_SCRATCH_BUDGET {
        b /= 2;
    }
    (b, per_token)
}

impl CpuBackend {
    /// Loads the weights of `g` and sizes a KV cache of `n_ctx` tokens.
    pub fn load<S: ByteSource>(g: &Gguf<S>, n_ctx: usize) -> Result<Self, BackendError> {
        Self::load_adapted::<S, S>(g, n_ctx, &[])
    }

    /// [`CpuBackend::load`] with LoRA adapters applied in the forward pass.
    pub fn load_adapted<S: ByteSource, A: ByteSource>(g: &Gguf<S>, n_ctx: usize, adapters: &[Adapter<A>]) -> Result<Self, BackendError> {
        let config = ModelConfig::from_gguf(g)?;
        if n_ctx == 0 || n_ctx > config.n_ctx_train {
            return Err(BackendError::BadContextSize { n_ctx, n_ctx_train: config.n_ctx_train });
        }
        // Size the KV cache and scratch before reading any weight, so an impossible request
        // fails at once with a message instead of after loading (or by the OOM killer).
        let kv_bytes = 4 * config.n_layer as u64 * n_ctx as u64 * (config.k_dim() + config.v_dim()) as u64;
        let (max_batch, per_token) = batch_size(&config, n_ctx);
        let max_logits = MAX_LOGITS.min(max_batch);
        let scratch_bytes = max_batch as u64 * per_token + 4 * (max_logits * config.n_vocab) as u64;
        let adapter_bytes: u64 = adapters.iter().map(|a| a.gguf.tensor_bytes()).sum();
        let needed = kv_bytes + scratch_bytes + g.tensor_bytes() + adapter_bytes;
        if needed > MAX_HOST_BYTES {
            return Err(BackendError::OutOfMemory { needed, limit: MAX_HOST_BYTES });
        }
        let weights = DecoderWeights::load(g, &config, |info| CpuTensor::load(g, info))?;
        let deltas = Deltas::load(g, &config, adapters, |a, info| CpuTensor::load(a, info))?;
        let max_b_rows = deltas.all().map(|d| d.b.matrix().rows).max().unwrap_or(0);
        let c = &config;
        let b = max_batch;
        let fused_width = (c.q_dim() + c.k_dim() + c.v_dim()).max(2 * c.n_ff);
        let state = RunState {
            x: vec![0.0; b * c.n_embd],
            xb: vec![0.0; b * c.n_embd],
            xb2: vec![0.0; b * c.n_embd],
            fused: vec![0.0; b * fused_width],
            q: vec![0.0; b * c.q_dim()],
            k: vec![0.0; b * c.k_dim()],
            v: vec![0.0; b * c.v_dim()],
            att: vec![0.0; b * c.n_head * c.head_dim_v],
            scores: vec![0.0; b * c.n_head * n_ctx],
            gate: vec![0.0; b * c.n_ff],
            up: vec![0.0; b * c.n_ff],
            rope_full: vec![(0.0, 0.0); b * c.n_rot / 2],
            rope_swa: vec![(0.0, 0.0); b * c.n_rot / 2],
            logits: vec![0.0; max_logits * c.n_vocab],
            lora_ax: vec![0.0; b * deltas.max_rank()],
            lora_bax: vec![0.0; b * max_b_rows],
        };
        let kv = KvCache {
            k: (0..c.n_layer).map(|_| vec![0.0; n_ctx * c.k_dim()]).collect(),
            v: (0..c.n_layer).map(|_| vec![0.0; n_ctx * c.v_dim()]).collect(),
            len: 0,
        };
        #[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
        let threads = rayon::current_num_threads();
        #[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
        let threads = 1;
        Ok(CpuBackend { config, weights, deltas, state, kv, n_ctx, max_batch, max_logits, threads })
    }

    /// Bytes held by the weights.
    pub fn weight_bytes(&self) -> u64 {
        let w = &self.weights;
        let mut total = w.token_embd.bytes() + w.output_norm.bytes();
        total += w.output.as_ref().map_or(0, CpuTensor::bytes);
        for l in &w.layers {
            total += layer_matrices(l).iter().map(|m| m.data.len() as u64).sum::<u64>();
        }
        total + self.deltas.all().map(|d| d.a.bytes() + d.b.bytes()).sum::<u64>()
    }
}

/// The matrices of one layer (what a decoded token reads).
fn layer_matrices(l: &crate::model::LayerWeights<CpuTensor>) -> Vec<&QMatrix> {
    let mut v = Vec::new();
    match &l.qkv {
        Qkv::Separate { q, k, v: vv } => v.extend([q.matrix(), k.matrix(), vv.matrix()]),
        Qkv::Fused(m) => v.push(m.matrix()),
    }
    v.push(l.attn_output.matrix());
    match &l.ffn_gate_up {
        GateUp::Separate { gate, up } => v.extend([gate.matrix(), up.matrix()]),
        GateUp::Fused(m) => v.push(m.matrix()),
    }
    v.push(l.ffn_down.matrix());
    v
}

impl Backend for CpuBackend {
    fn config(&self) -> &ModelConfig {
        &self.config
    }

    fn describe(&self) -> String {
        match self.threads {
            1 => "cpu (1 thread)".to_string(),
            n => format!("cpu ({n} threads)"),
        }
    }

    fn n_ctx(&self) -> usize {
        self.n_ctx
    }

    fn max_batch(&self) -> usize {
        self.max_batch
    }

    fn max_logits(&self) -> usize {
        self.max_logits
    }

    fn kv_len(&self) -> usize {
        self.kv.len
    }

    fn truncate_kv(&mut self, len: usize) {
        self.kv.len = self.kv.len.min(len);
    }

    fn weight_bytes_per_token(&self) -> u64 {
        let w = &self.weights;
        let layers: u64 = w.layers.iter().map(|l| layer_matrices(l).iter().map(|m| m.data.len() as u64).sum::<u64>()).sum();
        let embd_row = w.token_embd.matrix().row_bytes as u64;
        let adapters: u64 = self.deltas.all().map(|d| d.a.bytes() + d.b.bytes()).sum();
        layers + w.output_matrix().matrix().data.len() as u64 + embd_row + adapters
    }

    fn forward<'a>(&'a mut self, tokens: &'a [u32], n_logits: usize) -> Pending<'a, &'a [f32]> {
        // The CPU computes now; the future is ready when it is made.
        Box::pin(std::future::ready(self.forward_sync(tokens, n_logits)))
    }

    fn max_segments(&self) -> usize {
        self.max_logits
    }

    fn forward_segments<'a>(&'a mut self, prefix: usize, tokens: &'a [u32], segments: &'a [Segment]) -> Pending<'a, &'a [f32]> {
        let result = on_the_pool(|| self.forward_pass(tokens, segments.len(), Placement::Segments { prefix, segments }));
        Box::pin(std::future::ready(result.map(|rows| &self.state.logits[..rows])))
    }
}

/// Where a batch's tokens go in the cache, and which cached keys each of them sees.
#[derive(Clone, Copy)]
enum Placement<'s> {
    /// One sequence continuing the cache ([`Backend::forward`]).
    Appended,
    /// Sequences in their own regions after a shared prefix ([`Backend::forward_segments`]).
    Segments { prefix: usize, segments: &'s [Segment] },
}

/// A run of a batch's tokens from one sequence: tokens `first..first + len` of the batch, at
/// the sequence's positions `pos..` and cache positions `view.slot(pos)..`.
struct Run {
    first: usize,
    len: usize,
    pos: usize,
    view: KeyView,
}

/// The cache positions a sequence's keys lie at: its positions `0..prefix` are the shared
/// prefix's, the same in the cache, and from `prefix` on its own region's, which begins at
/// cache position `own_start`. A sequence continuing the cache has no region (`CONTIGUOUS`).
#[derive(Debug, Clone, Copy)]
struct KeyView {
    prefix: usize,
    own_start: usize,
}

impl KeyView {
    const CONTIGUOUS: KeyView = KeyView { prefix: 0, own_start: 0 };

    /// The cache position of the sequence's position `pos`.
    #[inline]
    fn slot(self, pos: usize) -> usize {
        if pos < self.prefix {
            pos
        } else {
            self.own_start + (pos - self.prefix)
        }
    }
}

impl CpuBackend {
    /// [`Backend::forward`] without the future: the pass runs on one of rayon's threads, which
    /// shares its products with the others.
    pub fn forward_sync(&mut self, tokens: &[u32], n_logits: usize) -> Result<&[f32], BackendError> {
        let rows = on_the_pool(|| self.forward_pass(tokens, n_logits, Placement::Appended))?;
        Ok(&self.state.logits[..rows])
    }

    /// The batch's runs of tokens, checked against the cache: one run continuing the cache, or
    /// one a segment.
    fn runs(&self, n: usize, placement: Placement) -> Result<Vec<Run>, BackendError> {
        let full = |needed: usize| BackendError::ContextFull { needed, n_ctx: self.n_ctx };
        match placement {
            Placement::Appended => {
                let p0 = self.kv.len;
                if p0 + n > self.n_ctx {
                    return Err(full(p0 + n));
                }
                Ok(vec![Run { first: 0, len: n, pos: p0, view: KeyView::CONTIGUOUS }])
            }
            Placement::Segments { prefix, segments } => {
                let mut runs = Vec::with_capacity(segments.len());
                let mut first = 0;
                for seg in segments {
                    let end = seg.own_start + seg.done + seg.len;
                    if end > self.n_ctx {
                        return Err(full(end));
                    }
                    // The engine lays the regions out; one that overlaps the prefix, or is empty,
                    // is its bug.
                    assert!(seg.len > 0 && seg.own_start >= prefix, "forward_segments: {seg:?} after a prefix of {prefix}");
                    runs.push(Run { first, len: seg.len, pos: prefix + seg.done, view: KeyView { prefix, own_start: seg.own_start } });
                    first += seg.len;
                }
                assert_eq!(first, n, "forward_segments: the segments hold {first} tokens, the batch {n}");
                Ok(runs)
            }
        }
    }

    /// The forward pass; returns how many logits it wrote (`n_logits * n_vocab`): the last
    /// `n_logits` tokens' for one sequence, each segment's last token's for segments.
    fn forward_pass(&mut self, tokens: &[u32], n_logits: usize, placement: Placement) -> Result<usize, BackendError> {
        let c = &self.config;
        let n = tokens.len();
        assert!(
            n <= self.max_batch && n_logits <= n.min(self.max_logits),
            "forward: batch of {n} (max {}), {n_logits} logits (max {})",
            self.max_batch,
            self.max_logits
        );
        let runs = self.runs(n, placement)?;
        // Segments take the batched products for every token count, so that a token's result
        // does not depend on its batch; one sequence keeps the one-token kernels for decode.
        let segmented = matches!(placement, Placement::Segments { .. });
        let matmul: Product = if segmented { ops::matmul_tiled } else { ops::matmul };
        if let Some(&id) = tokens.iter().find(|&&id| id as usize >= c.n_vocab) {
            return Err(BackendError::TokenOutOfRange { id, n_vocab: c.n_vocab });
        }
        let w = &self.weights;
        let lora = &self.deltas;
        let s = &mut self.state;
        let (d, qd, kd, vd) = (c.n_embd, c.q_dim(), c.k_dim(), c.v_dim());

        // x = (embed(tokens) [+ s B a[tokens]]) * embd_scale
        let embd = w.token_embd.matrix();
        for (t, &id) in tokens.iter().enumerate() {
            embd.dequantize_row(id as usize, &mut s.x[t * d..(t + 1) * d]);
        }
        for delta in &lora.token_embd {
            let r = delta.rank;
            for (t, &id) in tokens.iter().enumerate() {
                delta.a.matrix().dequantize_row(id as usize, &mut s.lora_ax[t * r..(t + 1) * r]);
            }
            matmul(delta.b.matrix(), &s.lora_ax[..n * r], &mut s.lora_bax[..n * d], n);
            s.x[..n * d].iter_mut().zip(&s.lora_bax[..n * d]).for_each(|(x, u)| *x += delta.scale * u);
        }
        if c.embd_scale != 1.0 {
            s.x[..n * d].iter_mut().for_each(|v| *v *= c.embd_scale);
        }

        // RoPE angles for this batch's positions, for full and sliding-window layers.
        let half = c.n_rot / 2;
        let factors = w.rope_freqs.as_ref().map(|f| f.vector());
        for (t, pos) in runs.iter().flat_map(|r| (r.first..r.first + r.len).zip(r.pos..)) {
            let yarn = c.rope_yarn.as_ref();
            ops::rope_angles(pos, c.n_rot, c.rope_base, c.rope_freq_scale, factors, yarn, &mut s.rope_full[t * half..(t + 1) * half]);
            ops::rope_angles(pos, c.n_rot, c.rope_base_swa, c.rope_freq_scale_swa, factors, yarn, &mut s.rope_swa[t * half..(t + 1) * half]);
        }

        for (il, l) in w.layers.iter().enumerate() {
            let ld = &lora.layers[il];
            // xb = rmsnorm(x) * attn_norm (OLMo 2: xb = x)
            pre_norm(&s.x[..n * d], l.attn_norm.as_ref().map(|g| g.vector()), c.rms_eps, &mut s.xb[..n * d]);
            // q, k, v = Wq xb, Wk xb, Wv xb (+ LoRA updates) (+ biases)
            match &l.qkv {
                Qkv::Separate { q, k, v } => {
                    matmul(q.matrix(), &s.xb[..n * d], &mut s.q[..n * qd], n);
                    matmul(k.matrix(), &s.xb[..n * d], &mut s.k[..n * kd], n);
                    matmul(v.matrix(), &s.xb[..n * d], &mut s.v[..n * vd], n);
                    add_deltas(matmul, &ld.q, &s.xb[..n * d], &mut s.q[..n * qd], n, &mut s.lora_ax, &mut s.lora_bax);
                    add_deltas(matmul, &ld.k, &s.xb[..n * d], &mut s.k[..n * kd], n, &mut s.lora_ax, &mut s.lora_bax);
                    add_deltas(matmul, &ld.v, &s.xb[..n * d], &mut s.v[..n * vd], n, &mut s.lora_ax, &mut s.lora_bax);
                }
                Qkv::Fused(m) => {
                    let fw = qd + kd + vd;
                    matmul(m.matrix(), &s.xb[..n * d], &mut s.fused[..n * fw], n);
                    add_deltas(matmul, &ld.qkv, &s.xb[..n * d], &mut s.fused[..n * fw], n, &mut s.lora_ax, &mut s.lora_bax);
                    for t in 0..n {
                        let row = &s.fused[t * fw..(t + 1) * fw];
                        s.q[t * qd..(t + 1) * qd].copy_from_slice(&row[..qd]);
                        s.k[t * kd..(t + 1) * kd].copy_from_slice(&row[qd..qd + kd]);
                        s.v[t * vd..(t + 1) * vd].copy_from_slice(&row[qd + kd..]);
                    }
                }
            }
            for (buf, bias, width) in [(&mut s.q, &l.q_bias, qd), (&mut s.k, &l.k_bias, kd), (&mut s.v, &l.v_bias, vd)] {
                if let Some(b) = bias {
                    for row in buf[..n * width].chunks_exact_mut(width) {
                        row.iter_mut().zip(b.vector()).for_each(|(x, b)| *x += b);
                    }
                }
            }
            // RMSNorm of queries and keys over all heads together (OLMo 2) ...
            if c.qk_norm_full {
                for (buf, norm, width) in [(&mut s.q, &l.q_norm, qd), (&mut s.k, &l.k_norm, kd)] {
                    if let Some(g) = norm {
                        buf[..n * width].chunks_exact_mut(width).for_each(|r| ops::rms_norm_inplace(r, g.vector(), c.rms_eps));
                    }
                }
            }
            let (q_head_norm, k_head_norm) = if c.qk_norm_full { (None, None) } else { (l.q_norm.as_ref(), l.k_norm.as_ref()) };
            // ... or per head (Qwen 3, Gemma 3); then RoPE.
            let swa = c.is_swa_layer(il);
            let angles = if swa { &s.rope_swa } else { &s.rope_full };
            let interleaved = c.rope_layout == RopeLayout::Interleaved;
            // SmolLM3 leaves every fourth layer unrotated (n_rot 0: the heads pass through).
            let n_rot = if c.uses_rope(il) { c.n_rot } else { 0 };
            for (buf, width, head_norm) in [(&mut s.q, qd, q_head_norm), (&mut s.k, kd, k_head_norm)] {
                ops::for_each_row(&mut buf[..n * width], width, |t, row| {
                    let cs = &angles[t * half..(t + 1) * half];
                    for head in row.chunks_exact_mut(c.head_dim) {
                        if let Some(g) = head_norm {
                            ops::rms_norm_inplace(head, g.vector(), c.rms_eps);
                        }
                        ops::rope_head(head, cs, n_rot, interleaved);
                    }
                });
            }
            // Mistral 3 scales queries with their position (its attention temperature).
            if c.attn_temp_scale != 0.0 {
                for (t, pos) in runs.iter().flat_map(|r| (r.first..r.first + r.len).zip(r.pos..)) {
                    let scale = c.query_scale(pos);
                    s.q[t * qd..(t + 1) * qd].iter_mut().for_each(|v| *v *= scale);
                }
            }
            // Store this batch's keys and values in the cache.
            for r in &runs {
                let (slot, ts) = (r.view.slot(r.pos), r.first..r.first + r.len);
                self.kv.k[il][slot * kd..(slot + r.len) * kd].copy_from_slice(&s.k[ts.start * kd..ts.end * kd]);
                self.kv.v[il][slot * vd..(slot + r.len) * vd].copy_from_slice(&s.v[ts.start * vd..ts.end * vd]);
            }

            // The rest of a layer is a token's own: in the last layer it feeds only that token's
            // logits, so it runs for the tokens that return logits and no others (as llama.cpp
            // does; a prompt's batches before its last need none of it).
            let last_layer = il + 1 == c.n_layer;
            let live = match (last_layer, segmented) {
                (false, _) => 0..n,
                (true, false) => n - n_logits..n,
                // Each segment's last token, moved to the first rows.
                (true, true) => {
                    for (k, r) in runs.iter().enumerate() {
                        let t = r.first + r.len - 1;
                        s.x.copy_within(t * d..(t + 1) * d, k * d);
                    }
                    0..runs.len()
                }
            };
            let m = live.len();
            if m == 0 {
                continue;
            }
            let x = &mut s.x[live.start * d..live.end * d];

            // att = softmax(scale * q k^T, causal [+ sliding window]) v, per query head, each
            // run over its own sequence's keys.
            let window = if swa { c.sliding_window } else { 0 };
            let av = c.n_head * c.head_dim_v;
            for (k, r) in runs.iter().enumerate() {
                // The run's queries and the output row of its first: all of them, or in the last
                // layer those that return logits.
                let (ts, out) = match (last_layer, segmented) {
                    (false, _) => (r.first..r.first + r.len, r.first),
                    (true, false) => (r.first.max(live.start)..r.first + r.len, r.first.max(live.start) - live.start),
                    (true, true) => (r.first + r.len - 1..r.first + r.len, k),
                };
                if ts.is_empty() {
                    continue;
                }
                let pos = r.pos + (ts.start - r.first);
                let q = &s.q[ts.start * qd..ts.end * qd];
                let att = &mut s.att[out * av..(out + ts.len()) * av];
                let (k_cache, v_cache) = (&self.kv.k[il][..], &self.kv.v[il][..]);
                let keys = Keys { k: k_cache, v: v_cache, view: r.view };
                attention(c, q, keys, &mut s.scores, att, pos, ts.len(), self.n_ctx, window, segmented);
            }

            // xb2 = Wo att [; rmsnorm * post_attention_norm]; x += xb2
            let n = m; // from here on the layer's rows are the live tokens'
            matmul(l.attn_output.matrix(), &s.att[..n * av], &mut s.xb2[..n * d], n);
            add_deltas(matmul, &ld.attn_output, &s.att[..n * av], &mut s.xb2[..n * d], n, &mut s.lora_ax, &mut s.lora_bax);
            if let Some(pn) = &l.post_attention_norm {
                ops::for_each_row(&mut s.xb2[..n * d], d, |_, r| ops::rms_norm_inplace(r, pn.vector(), c.rms_eps));
            }
            add_residual(x, &s.xb2[..n * d], c.residual_scale);

            // xb = rmsnorm(x) * ffn_norm (OLMo 2: xb = x); h = act(W_gate xb) * (W_up xb); xb2 = W_down h
            pre_norm(x, l.ffn_norm.as_ref().map(|g| g.vector()), c.rms_eps, &mut s.xb[..n * d]);
            let f = c.n_ff;
            match &l.ffn_gate_up {
                GateUp::Separate { gate, up } => {
                    matmul(gate.matrix(), &s.xb[..n * d], &mut s.gate[..n * f], n);
                    matmul(up.matrix(), &s.xb[..n * d], &mut s.up[..n * f], n);
                    add_deltas(matmul, &ld.gate, &s.xb[..n * d], &mut s.gate[..n * f], n, &mut s.lora_ax, &mut s.lora_bax);
                    add_deltas(matmul, &ld.up, &s.xb[..n * d], &mut s.up[..n * f], n, &mut s.lora_ax, &mut s.lora_bax);
                }
                GateUp::Fused(m) => {
                    matmul(m.matrix(), &s.xb[..n * d], &mut s.fused[..n * 2 * f], n);
                    add_deltas(matmul, &ld.up, &s.xb[..n * d], &mut s.fused[..n * 2 * f], n, &mut s.lora_ax, &mut s.lora_bax);
                    for t in 0..n {
                        let row = &s.fused[t * 2 * f..(t + 1) * 2 * f];
                        s.gate[t * f..(t + 1) * f].copy_from_slice(&row[..f]);
                        s.up[t * f..(t + 1) * f].copy_from_slice(&row[f..]);
                    }
                }
            }
            let gelu = c.activation == Activation::Gelu;
            ops::for_each_row(&mut s.gate[..n * f], f, |t, gate| ops::gated_activation(gate, &s.up[t * f..(t + 1) * f], gelu));
            matmul(l.ffn_down.matrix(), &s.gate[..n * f], &mut s.xb2[..n * d], n);
            add_deltas(matmul, &ld.down, &s.gate[..n * f], &mut s.xb2[..n * d], n, &mut s.lora_ax, &mut s.lora_bax);
            if let Some(pn) = &l.post_ffw_norm {
                ops::for_each_row(&mut s.xb2[..n * d], d, |_, r| ops::rms_norm_inplace(r, pn.vector(), c.rms_eps));
            }
            add_residual(x, &s.xb2[..n * d], c.residual_scale);
        }
        if !segmented {
            self.kv.len += n;
        }

        // logits = W_out rmsnorm(x) * output_norm, for the last n_logits tokens only (for
        // segments each one's last token, moved to the first rows).
        let logit_rows = if segmented { 0..runs.len() } else { n - n_logits..n };
        for (i, t) in logit_rows.enumerate() {
            ops::rms_norm(&s.x[t * d..(t + 1) * d], w.output_norm.vector(), c.rms_eps, &mut s.xb[i * d..(i + 1) * d]);
        }
        let nv = c.n_vocab;
        let logits = &mut s.logits[..n_logits * nv];
        matmul(w.output_matrix().matrix(), &s.xb[..n_logits * d], logits, n_logits);
        add_deltas(matmul, &lora.output, &s.xb[..n_logits * d], logits, n_logits, &mut s.lora_ax, &mut s.lora_bax);
        if c.logit_multiplier != 1.0 {
            logits.iter_mut().for_each(|v| *v *= c.logit_multiplier);
        }
        if c.final_softcap > 0.0 {
            let cap = c.final_softcap;
            logits.iter_mut().for_each(|v| *v = cap * (*v / cap).tanh());
        }
        Ok(n_logits * nv)
    }
}

/// Runs `f` on a thread of rayon's pool, so that the products inside it split their rows among
/// the pool's threads without a thread switch each: called from outside the pool, each of a
/// decode step's ~130 products would post its work to the pool and put the caller to sleep
/// until it was done (a wake-up each, about 3% of a Gemma 3 270M decode step natively).
fn on_the_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    #[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
    {
        rayon::scope(|_| f())
    }
    #[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
    {
        f()
    }
}

/// A matrix product as the forward pass runs them ([`ops::matmul`] or [`ops::matmul_tiled`]).
type Product = fn(&QMatrix, &[f32], &mut [f32], usize);

/// `y += s · B (A x)` for each LoRA update of a product (`y = W x` already computed), for `n`
/// tokens, as llama.cpp adds them: the low-rank product scaled, then added.
fn add_deltas(matmul: Product, deltas: &[Delta<CpuTensor>], x: &[f32], y: &mut [f32], n: usize, ax: &mut [f32], bax: &mut [f32]) {
    for delta in deltas {
        let (a, b) = (delta.a.matrix(), delta.b.matrix());
        let ax = &mut ax[..n * a.rows];
        matmul(a, x, ax, n);
        let bax = &mut bax[..n * b.rows];
        matmul(b, ax, bax, n);
        y.iter_mut().zip(bax.iter()).for_each(|(y, u)| *y += delta.scale * u);
    }
}

/// A sub-layer's input: each row of `x` RMS-normalized with `norm`, or `x` itself where the
/// family has no input norm (OLMo 2).
fn pre_norm(x: &[f32], norm: Option<&[f32]>, eps: f32, out: &mut [f32]) {
    match norm {
        Some(g) => {
            let d = g.len();
            ops::for_each_row(out, d, |t, out| ops::rms_norm(&x[t * d..(t + 1) * d], g, eps, out));
        }
        None => out.copy_from_slice(x),
    }
}

/// `x += scale * y`, the residual add (Granite scales each branch; 1 elsewhere, skipped).
fn add_residual(x: &mut [f32], y: &[f32], scale: f32) {
    if scale == 1.0 {
        x.iter_mut().zip(y).for_each(|(x, y)| *x += y);
    } else {
        x.iter_mut().zip(y).for_each(|(x, y)| *x += scale * y);
    }
}

/// A raw query-key product as the softmax takes it: scaled, then soft-capped where the model
/// caps (Gemma 2).
#[inline]
fn attention_score(c: &ModelConfig, v: f32) -> f32 {
    let v = v * c.attn_scale;
    if c.attn_softcap > 0.0 {
        c.attn_softcap * (v / c.attn_softcap).tanh()
    } else {
        v
    }
}

/// Keys scored by one task of [`attention_one_query`]: a multiple of both register tiles' key
/// counts (3 and 4), so only a chunk's last tile is short.
const KEYS_PER_TASK: usize = 96;
/// How many keys ahead decode's score loop asks for the cached keys it will read.
const KEY_PREFETCH: usize = 2 * ops::TILE_R;
/// Value columns summed by one task of [`attention_one_query`]: a multiple of the value strip.
const VALUES_PER_TASK: usize = 64;

/// [`attention`] of one new query (decode), at position `p0`. The query heads that share a KV
/// head go together, as a prefill block's queries do: each cached key and value is read once
/// per KV head instead of once per query head. (Gemma 3 270M has four query heads on one KV
/// head; at 600 cached positions a layer's keys and values are 1.2 MB, more than a core's L2,
/// and reading them four times was a sixth of a decode step.) Scores are the same
/// [`ops::dot_tile`] sums as prefill's and each output value the same key-ordered
/// [`ops::weighted_values`] sum, so a token's attention is the same whether it is decoded or
/// prefilled. The work is split over keys for the scores and over value columns for the
/// outputs, never over a sum, so the result does not depend on the number of threads.
#[allow(clippy::too_many_arguments)]
fn attention_one_query(c: &ModelConfig, q: &[f32], keys: Keys, scores: &mut [f32], att: &mut [f32], p0: usize, n_ctx: usize, window: usize) {
    let (hd, hdv) = (c.head_dim, c.head_dim_v);
    let (kd, vd) = (c.k_dim(), c.v_dim());
    let group = c.n_head / c.n_head_kv;
    // The heads of a KV head's group in blocks of the register tile's queries.
    let head_blocks = group.div_ceil(ops::TILE_T);
    let start = if window > 0 { (p0 + 1).saturating_sub(window) } else { 0 };
    let n_keys = p0 + 1 - start;
    let heads = |kvh: usize, hb: usize| {
        let h0 = kvh * group + hb * ops::TILE_T;
        h0..(h0 + ops::TILE_T).min((kvh + 1) * group)
    };
    let scores_out = SharedOut::new(scores);
    let key_chunks = n_keys.div_ceil(KEYS_PER_TASK);
    parallel_for(c.n_head_kv * head_blocks * key_chunks, |task| {
        let (kvh, hb, chunk) = (task / (head_blocks * key_chunks), task / key_chunks % head_blocks, task % key_chunks);
        let hs = heads(kvh, hb);
        // Short blocks repeat their last head; the repeats are not written.
        let qs: [&[f32]; ops::TILE_T] = std::array::from_fn(|i| {
            let h = (hs.start + i).min(hs.end - 1);
            &q[h * hd..(h + 1) * hd]
        });
        let (j0, j1) = (start + chunk * KEYS_PER_TASK, (start + (chunk + 1) * KEYS_PER_TASK).min(p0 + 1));
        // SAFETY: task (kvh, hb, chunk) owns keys j0..j1 of the score rows of heads `hs`.
        let mut rows: Vec<&mut [f32]> = hs.clone().map(|h| unsafe { scores_out.slice(h * n_ctx + j0 - start, j1 - j0) }).collect();
        let k_row = |j: usize| keys.key(j, kd, kvh * hd, hd);
        let mut j = j0;
        while j < j1 {
            let nk = ops::TILE_R.min(j1 - j);
            // The keys a tile ahead, asked of memory while this tile runs (see `ops::prefetch`).
            for ahead in (j + KEY_PREFETCH..j + KEY_PREFETCH + ops::TILE_R).take_while(|&a| a < j1) {
                ops::prefetch(k_row(ahead));
            }
            let ks: [&[f32]; ops::TILE_R] = std::array::from_fn(|i| k_row(j + i.min(nk - 1)));
            let acc = ops::dot_tile(&ks, &qs);
            for (row, acc_h) in rows.iter_mut().zip(&acc) {
                for (kk, &v) in acc_h.iter().enumerate().take(nk) {
                    row[j - j0 + kk] = attention_score(c, v);
                }
            }
            j += nk;
        }
    });
    // Each head's probabilities, then gathered per head block as the value sums read them.
    let mut probs = vec![[0f32; ops::TILE_T]; c.n_head_kv * head_blocks * n_keys];
    for kvh in 0..c.n_head_kv {
        for hb in 0..head_blocks {
            let block = &mut probs[(kvh * head_blocks + hb) * n_keys..][..n_keys];
            for (i, h) in heads(kvh, hb).enumerate() {
                let row = &mut scores[h * n_ctx..h * n_ctx + n_keys];
                ops::softmax_inplace(row);
                for (p, &v) in block.iter_mut().zip(row.iter()) {
                    p[i] = v;
                }
            }
        }
    }
    let att_out = SharedOut::new(att);
    let value_chunks = hdv.div_ceil(VALUES_PER_TASK);
    parallel_for(c.n_head_kv * head_blocks * value_chunks, |task| {
        let (kvh, hb, chunk) = (task / (head_blocks * value_chunks), task / value_chunks % head_blocks, task % value_chunks);
        let (s0, s1) = (chunk * VALUES_PER_TASK, ((chunk + 1) * VALUES_PER_TASK).min(hdv));
        let block = &probs[(kvh * head_blocks + hb) * n_keys..][..n_keys];
        let v_row = |j: usize| &keys.value(start + j, vd, kvh * hdv, hdv)[s0..s1];
        // SAFETY: task (kvh, hb, chunk) owns columns s0..s1 of the outputs of heads `heads(kvh, hb)`.
        let mut outs: Vec<&mut [f32]> = heads(kvh, hb).map(|h| unsafe { att_out.slice(h * hdv + s0, s1 - s0) }).collect();
        ops::weighted_values(block, v_row, &mut outs);
    });
}

/// A layer's cached keys and values, (n_ctx, k_dim) and (n_ctx, v_dim), as one sequence sees
/// them: its position `j`'s at cache position `view.slot(j)`.
#[derive(Clone, Copy)]
struct Keys<'a> {
    k: &'a [f32],
    v: &'a [f32],
    view: KeyView,
}

impl<'a> Keys<'a> {
    /// Position `j`'s key, elements `offset..offset + len` of its row of `width`.
    #[inline]
    fn key(&self, j: usize, width: usize, offset: usize, len: usize) -> &'a [f32] {
        let at = self.view.slot(j) * width + offset;
        &self.k[at..at + len]
    }
    /// Position `j`'s value, elements `offset..offset + len` of its row of `width`.
    #[inline]
    fn value(&self, j: usize, width: usize, offset: usize, len: usize) -> &'a [f32] {
        let at = self.view.slot(j) * width + offset;
        &self.v[at..at + len]
    }
}

/// Causal (optionally sliding-window) attention of `n` new queries at positions `p0..p0+n`
/// over the cache, with grouped KV heads. Masking, as llama.cpp's: query `i` sees key `j` when
/// `j <= i` and, with a window `w > 0`, `i - j < w`.
///
/// Positions are the sequence's; `keys` says where in the cache each lies. With `uniform`, one
/// query takes the same kernels as a block of them (for segments: see [`ops::matmul_tiled`]).
#[allow(clippy::too_many_arguments)]
fn attention(c: &ModelConfig, q: &[f32], keys: Keys, scores: &mut [f32], att: &mut [f32], p0: usize, n: usize, n_ctx: usize, window: usize, uniform: bool) {
    if n == 1 && c.head_dim_v % ops::VALUE_STRIP == 0 {
        return attention_one_query(c, q, keys, scores, att, p0, n_ctx, window);
    }
    let (hd, hdv) = (c.head_dim, c.head_dim_v);
    let (qd, kd, vd) = (c.q_dim(), c.k_dim(), c.v_dim());
    let group = c.n_head / c.n_head_kv;
    let av = c.n_head * hdv;
    let scores_out = SharedOut::new(scores);
    let att_out = SharedOut::new(att);
    let kv_start = |pos: usize| if window > 0 { (pos + 1).saturating_sub(window) } else { 0 };
    let score = |v: f32| attention_score(c, v);
    // Queries go in blocks of the register tile's tokens: a block's scores against each tile
    // of keys are one `dot_tile`, so every key is read once for the block rather than once a
    // query (prefill). One query (decode) takes the plain dot product.
    let block = if n == 1 && !uniform { 1 } else { ops::TILE_T };
    let n_blocks = n.div_ceil(block);
    parallel_for(n_blocks * c.n_head, |task| {
        let (b, h) = (task / c.n_head, task % c.n_head);
        let kvh = h / group;
        let k_row = |j: usize| keys.key(j, kd, kvh * hd, hd);
        let (t0, t1) = (b * block, (b * block + block).min(n));
        // SAFETY: task (b, h) owns the score rows (t, h) of its queries t0..t1, each written
        // only in its first `pos + 1 - start` elements (n_ctx long rows, pos < n_ctx).
        let row = |t: usize| unsafe {
            let pos = p0 + t;
            scores_out.slice((t * c.n_head + h) * n_ctx, pos + 1 - kv_start(pos))
        };
        if block == 1 {
            let pos = p0 + t0;
            let qh = &q[t0 * qd + h * hd..t0 * qd + (h + 1) * hd];
            for (j, s) in (kv_start(pos)..=pos).zip(row(t0).iter_mut()) {
                *s = score(ops::dot_f32(qh, k_row(j)));
            }
        } else {
            let nq = t1 - t0;
            // Short blocks repeat their last query; the repeats are not written.
            let qs: [&[f32]; ops::TILE_T] = std::array::from_fn(|i| {
                let t = t0 + i.min(nq - 1);
                &q[t * qd + h * hd..t * qd + (h + 1) * hd]
            });
            let mut rows: Vec<&mut [f32]> = (t0..t1).map(row).collect();
            let (first, last) = (kv_start(p0 + t0), p0 + t1 - 1);
            let mut j = first;
            while j <= last {
                let nk = ops::TILE_R.min(last + 1 - j);
                let ks: [&[f32]; ops::TILE_R] = std::array::from_fn(|i| k_row(j + i.min(nk - 1)));
                let acc = ops::dot_tile(&ks, &qs);
                for (i, r) in rows.iter_mut().enumerate() {
                    let pos = p0 + t0 + i;
                    let start = kv_start(pos);
                    for (kk, &v) in acc[i].iter().enumerate().take(nk) {
                        let key = j + kk;
                        if key >= start && key <= pos {
                            r[key - start] = score(v);
                        }
                    }
                }
                j += nk;
            }
        }
        let v_row = |j: usize| keys.value(j, vd, kvh * hdv, hdv);
        if block > 1 && hdv % ops::VALUE_STRIP == 0 {
            // The block's queries together: each key's values are read once for all of them.
            for t in t0..t1 {
                ops::softmax_inplace(row(t));
            }
            let (first, last) = (kv_start(p0 + t0), p0 + t1 - 1);
            let mut probs = vec![[0f32; ops::TILE_T]; last + 1 - first];
            for t in t0..t1 {
                let start = kv_start(p0 + t);
                for (j, &p) in (start..).zip(row(t).iter()) {
                    probs[j - first][t - t0] = p;
                }
            }
            // SAFETY: task (b, h) owns head h of the outputs of its queries.
            let mut outs: Vec<&mut [f32]> = (t0..t1).map(|t| unsafe { att_out.slice(t * av + h * hdv, hdv) }).collect();
            ops::weighted_values(&probs, |i| v_row(first + i), &mut outs);
            return;
        }
        for t in t0..t1 {
            let pos = p0 + t;
            let start = kv_start(pos);
            let sc = row(t);
            ops::softmax_inplace(sc);
            // SAFETY: task (b, h) owns head h of the outputs of its queries.
            let out = unsafe { att_out.slice(t * av + h * hdv, hdv) };
            out.iter_mut().for_each(|o| *o = 0.0);
            // Four keys per pass over the output, so `out` is loaded and stored a quarter as often.
            let mut j = start;
            for p in sc.chunks_exact(4) {
                let (v0, v1, v2, v3) = (v_row(j), v_row(j + 1), v_row(j + 2), v_row(j + 3));
                for i in 0..hdv {
                    out[i] += p[0] * v0[i] + p[1] * v1[i] + p[2] * v2[i] + p[3] * v3[i];
                }
                j += 4;
            }
            for &p in sc.chunks_exact(4).remainder() {
                out.iter_mut().zip(v_row(j)).for_each(|(o, v)| *o += p * v);
                j += 1;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decode's attention (one query, a KV head's query heads together) against prefill's (a
    /// block of queries, one head at a time) on the same cache: the last query's output is the
    /// same, bit for bit, for grouped heads that fill the register tile, overflow it and share
    /// nothing, with and without a sliding window, over more keys than one task scores.
    #[test]
    fn one_query_attention_equals_the_last_query_of_a_prefill() {
        let mut rng = crate::rng::SplitMix64::new(7);
        for (n_head, n_head_kv, window, n) in [(4, 1, 0, 7), (6, 1, 5, 9), (8, 2, 0, 200), (3, 3, 64, 130), (4, 1, 0, 1)] {
            let hd = 32;
            let c = ModelConfig {
                n_head,
                n_head_kv,
                head_dim: hd,
                head_dim_v: hd,
                attn_scale: 1.0 / (hd as f32).sqrt(),
                ..ModelConfig::for_tests()
            };
            let n_ctx = n + 3;
            let mut random = |len: usize| -> Vec<f32> { (0..len).map(|_| (rng.next_f64() * 4.0 - 2.0) as f32).collect() };
            let (q, k, v) = (random(n * c.q_dim()), random(n_ctx * c.k_dim()), random(n_ctx * c.v_dim()));
            let av = n_head * hd;
            let (mut scores, mut att) = (vec![0f32; n * n_head * n_ctx], vec![0f32; n * av]);
            let keys = Keys { k: &k, v: &v, view: KeyView::CONTIGUOUS };
            attention(&c, &q, keys, &mut scores, &mut att, 0, n, n_ctx, window, false);
            let (mut scores1, mut att1) = (vec![0f32; n_head * n_ctx], vec![f32::NAN; av]);
            attention(&c, &q[(n - 1) * c.q_dim()..], keys, &mut scores1, &mut att1, n - 1, 1, n_ctx, window, false);
            let last = &att[(n - 1) * av..];
            for (i, (a, b)) in last.iter().zip(&att1).enumerate() {
                assert_eq!(a.to_bits(), b.to_bits(), "{n_head} heads on {n_head_kv}, window {window}, {n} keys: value {i}: {a} vs {b}");
            }
            // And the output is attention's definition (to rounding): head 0's value 0.
            let start = if window > 0 { n.saturating_sub(window) } else { 0 };
            let s: Vec<f64> = (start..n)
                .map(|j| (0..hd).map(|d| f64::from(q[(n - 1) * c.q_dim() + d]) * f64::from(k[j * c.k_dim() + d])).sum::<f64>() * f64::from(c.attn_scale))
                .collect();
            let m = s.iter().cloned().fold(f64::MIN, f64::max);
            let z: f64 = s.iter().map(|x| (x - m).exp()).sum();
            let want: f64 = s.iter().zip(start..n).map(|(x, j)| (x - m).exp() / z * f64::from(v[j * c.v_dim()])).sum();
            assert!((f64::from(att1[0]) - want).abs() < 1e-5, "{want} vs {}", att1[0]);
        }
    }

    /// A sequence in its own region of the cache after a shared prefix (segments) attends as it
    /// would continuing the prefix in one piece: the same outputs, bit for bit, whatever lies
    /// between the prefix and its region, with and without a window reaching into the prefix.
    /// And with `uniform`, one query's output is the last of a block's, bit for bit, also where
    /// the value width is not a whole number of strips (the one-query kernel's condition).
    #[test]
    fn a_segment_attends_as_the_contiguous_sequence() {
        let mut rng = crate::rng::SplitMix64::new(11);
        for (n_head, n_head_kv, hd, prefix, own, window, nq) in
            [(4, 1, 32, 5, 9, 0, 3), (6, 1, 32, 0, 20, 5, 7), (8, 2, 32, 40, 100, 64, 1), (3, 3, 24, 10, 3, 0, 1), (4, 2, 24, 7, 30, 12, 6)]
        {
            let c = ModelConfig { n_head, n_head_kv, head_dim: hd, head_dim_v: hd, attn_scale: 1.0 / (hd as f32).sqrt(), ..ModelConfig::for_tests() };
            let (kd, vd) = (c.k_dim(), c.v_dim());
            let mut random = |len: usize| -> Vec<f32> { (0..len).map(|_| (rng.next_f64() * 4.0 - 2.0) as f32).collect() };
            let len = prefix + own;
            let (k, v, q) = (random(len * kd), random(len * vd), random(nq * c.q_dim()));
            // The same keys with 13 positions of another sequence between prefix and region.
            let gap = 13;
            let own_start = prefix + gap;
            let n_ctx = own_start + own;
            let (mut kp, mut vp) = (random(n_ctx * kd), random(n_ctx * vd));
            kp[..prefix * kd].copy_from_slice(&k[..prefix * kd]);
            vp[..prefix * vd].copy_from_slice(&v[..prefix * vd]);
            kp[own_start * kd..].copy_from_slice(&k[prefix * kd..]);
            vp[own_start * vd..].copy_from_slice(&v[prefix * vd..]);
            let p0 = len - nq;
            let av = n_head * hd;
            let run = |keys: Keys, uniform: bool| {
                let (mut scores, mut att) = (vec![0f32; nq * n_head * n_ctx], vec![f32::NAN; nq * av]);
                attention(&c, &q, keys, &mut scores, &mut att, p0, nq, n_ctx, window, uniform);
                att
            };
            let contiguous = run(Keys { k: &k, v: &v, view: KeyView::CONTIGUOUS }, true);
            let segment = run(Keys { k: &kp, v: &vp, view: KeyView { prefix, own_start } }, true);
            let case = format!("{n_head} heads on {n_head_kv}, width {hd}, prefix {prefix}, own {own}, window {window}, {nq} queries");
            for (i, (a, b)) in contiguous.iter().zip(&segment).enumerate() {
                assert_eq!(a.to_bits(), b.to_bits(), "{case}: value {i}: {a} vs {b}");
            }
            // The last query alone, uniform, against the block's last.
            let (mut scores1, mut att1) = (vec![0f32; n_head * n_ctx], vec![f32::NAN; av]);
            let keys = Keys { k: &kp, v: &vp, view: KeyView { prefix, own_start } };
            attention(&c, &q[(nq - 1) * c.q_dim()..], keys, &mut scores1, &mut att1, len - 1, 1, n_ctx, window, true);
            for (i, (a, b)) in segment[(nq - 1) * av..].iter().zip(&att1).enumerate() {
                assert_eq!(a.to_bits(), b.to_bits(), "{case}: alone, value {i}: {a} vs {b}");
            }
        }
    }
}
