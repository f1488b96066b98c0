//! The GPU backend: the decoder's forward pass in WGSL through wgpu, natively on Vulkan, Metal
//! or DX12 and in the browser on WebGPU.
//!
//! Weights stay in their GGUF block layout on the GPU and the kernels dequantize them on the
//! fly ([`shaders`]). The whole pass is planned at load: every dispatch's pipeline, bind group
//! and shape uniform are built once, and a forward pass only writes the token ids, the RoPE
//! angles and one small "step" uniform (batch size, logits wanted, cache position), records the
//! planned dispatches into one command buffer and reads back either the logits or, on the
//! scoring path, 16 bytes a position reduced on the GPU.
//!
//! Tensors larger than a storage binding (Gemma 3's 262144 x 640 embedding is 178 MB, the
//! WebGPU default binding limit 128 MiB) are split by rows over several buffers; fused
//! projections (Phi-3's QKV and gate/up) are row views of one buffer.

pub mod check;
mod context;
pub mod shaders;

pub use context::{Gpu, GpuError, GpuOptions, KernelFeatures, KvCache};

use super::{Backend, BackendError, Pending, TokenScore};
use super::logits::Candidate;
use crate::gguf::{ByteSource, Gguf, TensorInfo};
use crate::model::lora::{Adapter, Delta, Deltas};
use crate::model::{Activation, DecoderWeights, GateUp, LayerWeights, ModelConfig, ModelError, Qkv, RopeLayout};
use std::collections::HashMap;
use wgpu::util::DeviceExt;

/// How a kernel binds a buffer.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Bind {
    Read,
    ReadWrite,
    Uniform,
    /// The i-quants' grid buffer (read-only storage), bound by the kernels themselves.
    Tables,
}

/// Each op's bindings, in binding order; ops that share a bind group layout share a key.
fn op_layout(op: &str) -> (&'static str, &'static [Bind]) {
    use Bind::*;
    match op {
        "matvec" | "matmul_tiled" => ("matmul", &[Read, Read, ReadWrite, Uniform, Uniform, Tables]),
        "embed" => ("embed", &[Read, Read, ReadWrite, Uniform, Uniform, Tables]),
        "rms_norm" => ("rms_norm", &[Read, ReadWrite, Read, ReadWrite, Read, Uniform, Uniform]),
        "rope" => ("rope", &[ReadWrite, ReadWrite, ReadWrite, Read, Read, Read, Read, Uniform, Uniform]),
        "qk_norm" => ("qk_norm", &[ReadWrite, Read, Read, Uniform, Uniform]),
        "attention" | "attention_split" => ("attention", &[Read, Read, Read, ReadWrite, ReadWrite, Uniform, Uniform]),
        "attention_combine" => ("attention_combine", &[Read, ReadWrite, Uniform, Uniform]),
        "ffn_gated" => ("ffn_gated", &[ReadWrite, Read, Uniform, Uniform]),
        "softcap" => ("softcap", &[ReadWrite, Uniform, Uniform]),
        "logits_score" => ("logits_score", &[Read, ReadWrite, Uniform, Uniform]),
        "logits_score_combine" => ("logits_score_combine", &[Read, Read, Read, ReadWrite, Uniform, Uniform]),
        "stream_read" => ("stream_read", &[Read, ReadWrite, Uniform]),
        "top_k" => ("top_k", &[Read, Read, ReadWrite, Uniform, Uniform]),
        // Op names come from this module only.
        other => unreachable!("unknown kernel {other}"),
    }
}

/// The block formats a kernel reads: the first and the second (`#include format_b`), the same
/// for one format; `None` for kernels that read no weights.
type Formats = Option<[&'static str; 2]>;

/// Compiled pipelines by (op, block formats), and their bind group layouts by layout key.
pub struct Kernels {
    pipelines: HashMap<(&'static str, Formats), wgpu::ComputePipeline>,
    /// The i-quants' grids (shaders::grid_table_words), bound where a layout says `Tables`.
    tables: wgpu::Buffer,
    layouts: HashMap<&'static str, (wgpu::BindGroupLayout, wgpu::PipelineLayout)>,
    features: KernelFeatures,
    kv_f16: bool,
}

impl Kernels {
    fn new(gpu: &Gpu) -> Kernels {
        let tables = words(&gpu.device, "grid tables", shaders::grid_table_words(), wgpu::BufferUsages::STORAGE);
        Kernels { pipelines: HashMap::new(), tables, layouts: HashMap::new(), features: gpu.features, kv_f16: gpu.kv_f16 }
    }

    /// The source that runs `op` on this device: `<op>_subgroup.wgsl` where there is one and
    /// the device has subgroups, else `<op>.wgsl`. Both bind the same buffers and take the
    /// same grid.
    fn source_of(&self, op: &'static str) -> &'static str {
        match op {
            "matvec" if self.features.subgroups => "matvec_subgroup",
            other => other,
        }
    }

    fn layout(&mut self, device: &wgpu::Device, op: &'static str) -> &wgpu::BindGroupLayout {
        let (key, binds) = op_layout(op);
        &self
            .layouts
            .entry(key)
            .or_insert_with(|| {
                let entries: Vec<wgpu::BindGroupLayoutEntry> = binds
                    .iter()
                    .enumerate()
                    .map(|(i, b)| wgpu::BindGroupLayoutEntry {
                        binding: i as u32,
                        visibility: wgpu::ShaderStages::COMPUTE,
                        ty: match b {
                            Bind::Uniform => wgpu::BindingType::Buffer {
                                ty: wgpu::BufferBindingType::Uniform,
                                has_dynamic_offset: false,
                                min_binding_size: None,
                            },
                            Bind::Read | Bind::ReadWrite | Bind::Tables => wgpu::BindingType::Buffer {
                                ty: wgpu::BufferBindingType::Storage { read_only: *b != Bind::ReadWrite },
                                has_dynamic_offset: false,
                                min_binding_size: None,
                            },
                        },
                        count: None,
                    })
                    .collect();
                let bgl = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor { label: Some(key), entries: &entries });
                let pl = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                    label: Some(key),
                    bind_group_layouts: &[Some(&bgl)],
                    immediate_size: 0,
                });
                (bgl, pl)
            })
            .0
    }

    /// Compiles `op` for `format` once.
    fn prepare(&mut self, device: &wgpu::Device, op: &'static str, format: Formats) {
        if self.pipelines.contains_key(&(op, format)) {
            return;
        }
        self.layout(device, op);
        let (key, _) = op_layout(op);
        let layout = &self.layouts[key].1;
        let label = format!("{}{}", self.source_of(op), format.map(|[a, b]| format!(" {a} {b}")).unwrap_or_default());
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(&label),
            source: wgpu::ShaderSource::Wgsl(self.wgsl(op, format).into()),
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(&label),
            layout: Some(layout),
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        });
        self.pipelines.insert((op, format), pipeline);
    }

    /// The complete source of `op` for this device.
    fn wgsl(&self, op: &'static str, format: Formats) -> String {
        let source = self.source_of(op);
        let slots = shaders::Slots { format: format.map(|f| f[0]), format_b: format.map(|f| f[1]), kv_f16: self.kv_f16 };
        let wgsl = shaders::expand(source, &slots);
        // Naga enables subgroup built-ins from the device's features and rejects the directive;
        // WGSL in a browser must declare it.
        if source.ends_with("_subgroup") && cfg!(target_arch = "wasm32") {
            return format!("enable subgroups;\n{wgsl}");
        }
        wgsl
    }

    fn pipeline(&self, op: &'static str, format: Formats) -> &wgpu::ComputePipeline {
        // Every dispatch's kernel is prepared when the dispatch is planned.
        &self.pipelines[&(op, format)]
    }

    fn bind_group(&mut self, device: &wgpu::Device, op: &'static str, buffers: &[&wgpu::Buffer]) -> wgpu::BindGroup {
        let tables = self.tables.clone();
        let mut all = buffers.to_vec();
        if op_layout(op).1.last() == Some(&Bind::Tables) {
            all.push(&tables);
        }
        let layout = self.layout(device, op);
        let entries: Vec<wgpu::BindGroupEntry> = all
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupEntry { binding: i as u32, resource: b.as_entire_binding() })
            .collect();
        device.create_bind_group(&wgpu::BindGroupDescriptor { label: Some(op), layout, entries: &entries })
    }
}

/// A block of rows of a weight matrix in one block format, from byte `base` of a GPU buffer.
#[derive(Clone)]
struct MatrixPart {
    buffer: wgpu::Buffer,
    base: usize,
    first_row: usize,
    rows: usize,
    format: &'static str,
    row_bytes: usize,
}

/// A weight matrix as the GPU holds it: its GGUF blocks, split by rows where it is larger
/// than one storage binding. Projections fused at load (q|k|v, gate|up) are one buffer whose
/// parts may differ in block format (Q4_K_M stores some layers' values in Q6_K).
pub struct GpuMatrix {
    rows: usize,
    cols: usize,
    parts: Vec<MatrixPart>,
}

impl GpuMatrix {
    /// Bytes of weights the matrix holds.
    fn bytes(&self) -> u64 {
        self.parts.iter().map(|p| (p.rows * p.row_bytes) as u64).sum()
    }

    /// The parts holding rows `begin..end`, each with the rows of it that fall inside.
    fn parts_in(&self, begin: usize, end: usize) -> impl Iterator<Item = (&MatrixPart, usize, usize)> {
        self.parts.iter().filter_map(move |p| {
            let lo = begin.max(p.first_row);
            let hi = end.min(p.first_row + p.rows);
            (lo < hi).then_some((p, lo, hi))
        })
    }
}

/// A weight as the GPU backend keeps it.
pub enum GpuTensor {
    /// Norm weights, biases and RoPE factors, dequantized to f32 (also kept on the host).
    Vector { buffer: wgpu::Buffer, host: Vec<f32> },
    Matrix(GpuMatrix),
}

impl GpuTensor {
    fn vector(&self) -> &wgpu::Buffer {
        match self {
            GpuTensor::Vector { buffer, .. } => buffer,
            GpuTensor::Matrix(_) => unreachable!("a 1-D weight was loaded as a matrix"),
        }
    }
    fn matrix(&self) -> &GpuMatrix {
        match self {
            GpuTensor::Matrix(m) => m,
            GpuTensor::Vector { .. } => unreachable!("a 2-D weight was loaded as a vector"),
        }
    }
}

/// Host bytes read and uploaded at a time while loading: weights never sit whole in host (or
/// wasm) memory.
const UPLOAD_CHUNK: usize = 16 << 20;

fn storage(device: &wgpu::Device, label: &str, bytes: u64, extra: wgpu::BufferUsages) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        // Bindings are never empty and copies move whole words.
        size: bytes.max(16).next_multiple_of(4),
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC | extra,
        mapped_at_creation: false,
    })
}

fn words(device: &wgpu::Device, label: &str, data: &[u32], usage: wgpu::BufferUsages) -> wgpu::Buffer {
    let mut v = data.to_vec();
    v.resize(data.len().max(4).next_multiple_of(4), 0);
    device.create_buffer_init(&wgpu::util::BufferInitDescriptor { label: Some(label), contents: bytemuck::cast_slice(&v), usage })
}

fn uniform(device: &wgpu::Device, label: &str, data: &[u32]) -> wgpu::Buffer {
    words(device, label, data, wgpu::BufferUsages::UNIFORM)
}

impl GpuTensor {
    fn load<S: ByteSource>(gpu: &Gpu, g: &Gguf<S>, info: &TensorInfo) -> Result<Self, BackendError> {
        let bad = |problem: String| ModelError::BadTensor { name: info.name.clone(), problem };
        if info.dims.len() == 1 {
            let bytes = g.read_tensor(info)?;
            let mut host = vec![0f32; info.dims[0] as usize];
            crate::quant::dequantize(info.ty, &bytes, &mut host).map_err(|e| bad(e.to_string()))?;
            let buffer = gpu.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(&info.name),
                contents: bytemuck::cast_slice(&host),
                usage: wgpu::BufferUsages::STORAGE,
            });
            return Ok(GpuTensor::Vector { buffer, host });
        }
        let (rows, cols) = info.rows_cols();
        let format = shaders::format_name(info.ty)
            .ok_or_else(|| bad(format!("{} weights have no GPU kernel", info.ty.name())))?;
        let row_bytes = info
            .ty
            .row_bytes(cols)
            .ok_or_else(|| bad(format!("row of {cols} is not a whole number of {} blocks", info.ty.name())))?;
        // Byte offsets inside a part are u32 in the kernels.
        let max_part = gpu.max_weight_part.min(1 << 31) as usize;
        let rows_per_part = (max_part / row_bytes).max(1);
        if row_bytes > max_part {
            return Err(bad(format!("a row of {row_bytes} bytes is larger than a GPU storage binding ({max_part} bytes)")).into());
        }
        let mut parts = Vec::new();
        let mut first_row = 0;
        let mut host = Vec::new();
        while first_row < rows {
            let n = rows_per_part.min(rows - first_row);
            let bytes = (n * row_bytes) as u64;
            let buffer = storage(&gpu.device, &info.name, bytes, wgpu::BufferUsages::empty());
            let start = g.data_offset + info.offset + (first_row * row_bytes) as u64;
            let mut done = 0u64;
            while done < bytes {
                let len = (UPLOAD_CHUNK as u64).min(bytes - done) as usize;
                host.clear();
                host.resize(len.next_multiple_of(4), 0);
                g.source().read_at(start + done, &mut host[..len]).map_err(crate::gguf::GgufError::from)?;
                gpu.queue.write_buffer(&buffer, done, &host);
                done += len as u64;
            }
            parts.push(MatrixPart { buffer, base: 0, first_row, rows: n, format, row_bytes });
            first_row += n;
        }
        Ok(GpuTensor::Matrix(GpuMatrix { rows, cols, parts }))
    }
}

/// What one planned dispatch does; its shape at a given batch size follows from this.
enum Work {
    /// Embedding rows of one part of the table, one thread per 32-element chunk of a token.
    Embed { format: &'static str, chunks: u32 },
    /// A product with `rows` rows over the batch (or over the logits positions), its weights in
    /// one or two block formats.
    Matmul { formats: [&'static str; 2], rows: u32, logits: bool },
    /// One workgroup per row of the batch (or per logits position).
    Norm { logits: bool },
    /// One workgroup per (head, token).
    Heads { op: &'static str, heads: u32 },
    /// Attention over the cache: a workgroup per (head, token) for a batch, per (head, split of
    /// the keys) for one decoded token, whose keys a sliding `window` may limit (0: none).
    Attention { heads: u32, window: u32 },
    /// Decode's merge of the split results, a workgroup per head.
    AttentionCombine { heads: u32 },
    /// One thread per element of `per_token` elements a token (or a logits position).
    Elements { op: &'static str, per_token: u32, logits: bool },
    /// A workgroup per (logits position, chunk of the vocabulary).
    Score { chunks: u32 },
    /// One workgroup per logits position, merging its chunks.
    ScoreCombine,
    /// A pass of the top-k selection over the last logits row.
    TopK { groups: u32 },
}

struct Dispatch {
    work: Work,
    bind_group: wgpu::BindGroup,
}

/// Activations, the KV cache and the per-step inputs, sized at load for `max_batch` tokens.
struct Buffers {
    x: wgpu::Buffer,
    xb: wgpu::Buffer,
    xb2: wgpu::Buffer,
    /// Each token's q|k|v projection (queries rotated in place; keys and values go to the cache).
    qkv: wgpu::Buffer,
    /// Each layer's q|k|v bias (Qwen 2), one row.
    qkv_bias: Vec<Option<wgpu::Buffer>>,
    att: wgpu::Buffer,
    /// Decode's split-KV partial results: per (head, split) a max, a sum and the weighted values.
    attn_partials: wgpu::Buffer,
    gate: wgpu::Buffer,
    up: wgpu::Buffer,
    logits: wgpu::Buffer,
    /// A LoRA update's `A x`, (batch, largest rank).
    lora_ax: wgpu::Buffer,
    tokens: wgpu::Buffer,
    targets: wgpu::Buffer,
    angles_full: wgpu::Buffer,
    angles_swa: wgpu::Buffer,
    token_scores: wgpu::Buffer,
    /// The logits reduction's per-chunk results (logits_score.wgsl).
    score_partials: wgpu::Buffer,
    /// The top-k passes' candidates, written by one pass and read by the next.
    top_k: [wgpu::Buffer; 2],
    step: wgpu::Buffer,
    k_cache: Vec<wgpu::Buffer>,
    v_cache: Vec<wgpu::Buffer>,
    readback: wgpu::Buffer,
}

/// A decoder on a GPU.
pub struct WgpuBackend {
    gpu: Gpu,
    config: ModelConfig,
    weights: DecoderWeights<GpuTensor>,
    /// LoRA adapters' updates (none without adapters).
    deltas: Deltas<GpuTensor>,
    kernels: Kernels,
    buffers: Buffers,
    plan: Vec<Dispatch>,
    /// Index in `plan` of the first dispatch after the logits (softcap, scoring).
    score_dispatch: usize,
    /// The top-k selection's passes for each k asked for, planned when first asked, and the
    /// buffer the last pass writes.
    top_k_plans: HashMap<usize, (Vec<Dispatch>, usize)>,
    kv_len: usize,
    n_ctx: usize,
    max_batch: usize,
    /// Logits read back (sampling, `forward`), grown when first needed: scoring and greedy
    /// decoding never read the vocabulary back, and wasm memory stays small without it.
    logits_host: Vec<f32>,
    angles_host: Vec<f32>,
}

/// Most tokens one forward call takes.
pub const DEFAULT_MAX_BATCH: usize = 64;

/// Logits one workgroup of the scoring reduction takes (logits_score.wgsl).
const SCORE_CHUNK: usize = 4096;

/// The largest k the GPU selects itself (a larger one reads the row back); the items one
/// workgroup of `top_k.wgsl` takes.
pub const MAX_GPU_TOP_K: usize = 256;
const TOP_K_ITEMS_PER_GROUP: usize = 256 * 16;

/// Keys a split of decode's attention takes, and the most splits (as shaders/attention_splits.wgsl).
const ATTENTION_SPLIT_KEYS: u32 = 64;
const MAX_ATTENTION_SPLITS: usize = 32;

/// The splits of decode's attention for the token at position `pos` (the KV cache's length
/// before it), whose keys a sliding `window` may limit: the same count the kernels compute.
fn attention_splits(pos: u32, window: u32) -> u32 {
    let first = if window > 0 && pos + 1 > window { pos + 1 - window } else { 0 };
    let visible = pos + 1 - first;
    visible.div_ceil(ATTENTION_SPLIT_KEYS).clamp(1, MAX_ATTENTION_SPLITS as u32)
}

impl WgpuBackend {
    /// Opens a GPU and loads `g` onto it with a KV cache of `n_ctx` tokens.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn load<S: ByteSource>(g: &Gguf<S>, n_ctx: usize, options: &GpuOptions) -> Result<Self, BackendError> {
        let gpu = pollster::block_on(Gpu::open(options)).map_err(|e| BackendError::Gpu(e.to_string()))?;
        Self::load_on(gpu, g, n_ctx)
    }

    /// Loads `g` onto an open GPU.
    pub fn load_on<S: ByteSource>(gpu: Gpu, g: &Gguf<S>, n_ctx: usize) -> Result<Self, BackendError> {
        Self::load_adapted_on::<S, S>(gpu, g, n_ctx, &[])
    }

    /// [`WgpuBackend::load_on`] with LoRA adapters applied in the forward pass.
    pub fn load_adapted_on<S: ByteSource, A: ByteSource>(gpu: Gpu, g: &Gguf<S>, n_ctx: usize, adapters: &[Adapter<A>]) -> Result<Self, BackendError> {
        let config = ModelConfig::from_gguf(g)?;
        if n_ctx == 0 || n_ctx > config.n_ctx_train {
            return Err(BackendError::BadContextSize { n_ctx, n_ctx_train: config.n_ctx_train });
        }
        let c = &config;
        for (what, dim) in [("head dimension", c.head_dim), ("value head dimension", c.head_dim_v)] {
            if dim > 512 {
                return Err(BackendError::Gpu(format!("a {what} of {dim} is more than the GPU kernels' 512")));
            }
        }
        // The batch is bounded by what one binding holds: the logits of every token of the batch.
        let per_token = 4 * c.n_vocab as u64;
        let max_batch = DEFAULT_MAX_BATCH.min((gpu.max_binding / per_token) as usize);
        if max_batch == 0 {
            return Err(BackendError::Gpu(format!(
                "one token's logits ({per_token} bytes) do not fit in a GPU storage binding ({} bytes)",
                gpu.max_binding
            )));
        }
        let kv_element_bytes = if gpu.kv_f16 { 2 } else { 4 };
        let kv_bytes = kv_element_bytes * c.n_layer as u64 * n_ctx as u64 * (c.k_dim() + c.v_dim()) as u64;
        let layer_kv = kv_element_bytes * n_ctx as u64 * c.k_dim().max(c.v_dim()) as u64;
        if layer_kv > gpu.max_binding {
            return Err(BackendError::OutOfMemory { needed: kv_bytes, limit: gpu.max_binding * c.n_layer as u64 });
        }
        let mut weights = DecoderWeights::load(g, c, |info| GpuTensor::load(&gpu, g, info))?;
        let deltas = Deltas::load(g, c, adapters, |a, info| GpuTensor::load(&gpu, a, info))?;
        fuse_projections(&gpu, &mut weights);
        let b = max_batch as u64;
        let d = &gpu.device;
        let f = |label: &str, n: u64| storage(d, label, 4 * n, wgpu::BufferUsages::empty());
        let buffers = Buffers {
            x: f("x", b * c.n_embd as u64),
            xb: f("xb", b * c.n_embd as u64),
            xb2: f("xb2", b * c.n_embd as u64),
            qkv: f("qkv", b * (c.q_dim() + c.k_dim() + c.v_dim()) as u64),
            qkv_bias: weights.layers.iter().map(|l| qkv_bias(d, c, l)).collect(),
            att: f("att", b * (c.n_head * c.head_dim_v) as u64),
            attn_partials: f("attn_partials", (c.n_head * MAX_ATTENTION_SPLITS * (c.head_dim_v + 2)) as u64),
            gate: f("gate", b * c.n_ff as u64),
            up: f("up", b * c.n_ff as u64),
            logits: f("logits", b * c.n_vocab as u64),
            lora_ax: f("lora_ax", b * deltas.max_rank().max(1) as u64),
            tokens: f("tokens", b),
            targets: f("targets", b),
            // (cos, sin) of each (token, frequency), then each token's query scale (Mistral 3).
            angles_full: f("angles", b * (c.n_rot as u64 + 2)),
            angles_swa: f("angles_swa", b * (c.n_rot as u64 + 2)),
            token_scores: f("token_scores", 4 * b),
            score_partials: f("score_partials", 4 * b * c.n_vocab.div_ceil(SCORE_CHUNK) as u64),
            top_k: [0, 1].map(|_| f("top_k", 2 * (c.n_vocab.div_ceil(TOP_K_ITEMS_PER_GROUP) * MAX_GPU_TOP_K) as u64)),
            step: d.create_buffer(&wgpu::BufferDescriptor {
                label: Some("step"),
                size: 16,
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }),
            k_cache: (0..c.n_layer).map(|_| storage(d, "k_cache", kv_element_bytes * (n_ctx * c.k_dim()) as u64, wgpu::BufferUsages::empty())).collect(),
            v_cache: (0..c.n_layer).map(|_| storage(d, "v_cache", kv_element_bytes * (n_ctx * c.v_dim()) as u64, wgpu::BufferUsages::empty())).collect(),
            readback: d.create_buffer(&wgpu::BufferDescriptor {
                label: Some("readback"),
                size: (4 * b * c.n_vocab as u64).max(16 * b),
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }),
        };
        let logits_host = Vec::new();
        let angles_host = vec![0.0; max_batch * (c.n_rot + 2)];
        let mut backend = WgpuBackend {
            config,
            weights,
            deltas,
            kernels: Kernels::new(&gpu),
            buffers,
            plan: Vec::new(),
            score_dispatch: 0,
            top_k_plans: HashMap::new(),
            kv_len: 0,
            n_ctx,
            max_batch,
            logits_host,
            angles_host,
            gpu,
        };
        let mut planner = Planner::new(&backend.gpu.device, &mut backend.kernels, &backend.buffers.step);
        let model = (&backend.config, &backend.weights, &backend.deltas);
        backend.score_dispatch = plan_forward(&mut planner, model, &backend.buffers, n_ctx, max_batch);
        backend.plan = planner.plan;
        backend.settle()?;
        Ok(backend)
    }

    /// The device this backend runs on.
    pub fn gpu(&self) -> &Gpu {
        &self.gpu
    }

    /// GPU buffers holding weight matrices: more than one per matrix where it is split, one for
    /// a layer's q, k and v and one for its gate and up where they are fused at load.
    pub fn weight_buffers(&self) -> usize {
        let w = &self.weights;
        let parts = |t: &GpuTensor| match t {
            GpuTensor::Matrix(m) => 1 + m.parts.windows(2).filter(|p| p[0].buffer != p[1].buffer).count(),
            GpuTensor::Vector { .. } => 0,
        };
        let mut n = parts(&w.token_embd) + w.output.as_ref().map_or(0, parts);
        for l in &w.layers {
            n += match &l.qkv {
                Qkv::Separate { q, k, v } => parts(q) + parts(k) + parts(v),
                Qkv::Fused(m) => parts(m),
            };
            n += parts(&l.attn_output) + parts(&l.ffn_down);
            n += match &l.ffn_gate_up {
                GateUp::Separate { gate, up } => parts(gate) + parts(up),
                GateUp::Fused(m) => parts(m),
            };
        }
        n
    }

    /// Dispatches recorded for one forward pass (decode: one token, logits wanted).
    pub fn dispatches_per_token(&self) -> usize {
        self.score_dispatch
    }

    /// Waits for the device and reports any error it raised.
    fn settle(&self) -> Result<(), BackendError> {
        #[cfg(not(target_arch = "wasm32"))]
        self.gpu.device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| BackendError::Gpu(e.to_string()))?;
        match self.gpu.failure() {
            Some(message) => Err(BackendError::Gpu(message)),
            None => Ok(()),
        }
    }

    /// Waits until the device has run everything submitted so far and returns the error it
    /// raised, if any (an allocation that failed, a lost device). In the browser errors arrive
    /// from the event loop, so a load is confirmed by awaiting a small read-back.
    pub async fn synchronize(&self) -> Result<(), BackendError> {
        let encoder = self.gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("synchronize") });
        read_back(&self.gpu, &self.buffers.readback, encoder, &self.buffers.token_scores, 16).await.map(|_| ())
    }

    /// The (x, y, z) workgroup counts of `work` for a batch of `n` tokens, `n_logits` wanted.
    /// `None`: the dispatch has nothing to do at this batch size (the split-KV combine outside
    /// decode). `p0` is the number of tokens already cached.
    fn grid(work: &Work, n: u32, n_logits: u32, p0: u32) -> Option<(&'static str, Formats, [u32; 3])> {
        const MAX: u32 = 65535;
        let spread = |groups: u32| -> [u32; 3] {
            let x = groups.clamp(1, MAX);
            [x, groups.div_ceil(x).max(1), 1]
        };
        Some(match *work {
            Work::Embed { format, chunks } => ("embed", Some([format, format]), spread((n * chunks).div_ceil(64))),
            Work::Matmul { formats, rows, logits } => {
                let count = if logits { n_logits } else { n };
                if count <= 2 {
                    // Four rows a workgroup (matvec.wgsl).
                    let [x, y, _] = spread(rows.div_ceil(4));
                    ("matvec", Some(formats), [x, y, count])
                } else {
                    // 64 rows x 16 tokens a workgroup (matmul_tiled.wgsl).
                    ("matmul_tiled", Some(formats), [rows.div_ceil(64), count.div_ceil(16), 1])
                }
            }
            Work::Norm { logits } => ("rms_norm", None, [if logits { n_logits } else { n }, 1, 1]),
            Work::Heads { op, heads } => (op, None, [heads, n, 1]),
            // Decode splits the visible keys over workgroups; a batch takes a workgroup a token.
            Work::Attention { heads, window } if n == 1 => ("attention_split", None, [heads, attention_splits(p0, window), 1]),
            Work::Attention { heads, .. } => ("attention", None, [heads, n, 1]),
            Work::AttentionCombine { heads } if n == 1 => ("attention_combine", None, [heads, 1, 1]),
            Work::AttentionCombine { .. } => return None,
            Work::Elements { op, per_token, logits } => {
                let count = if logits { n_logits } else { n };
                (op, None, spread((count * per_token).div_ceil(64)))
            }
            Work::Score { chunks } => ("logits_score", None, [n_logits, chunks, 1]),
            Work::ScoreCombine => ("logits_score_combine", None, [n_logits, 1, 1]),
            Work::TopK { groups } => ("top_k", None, [groups, 1, 1]),
        })
    }

    /// Writes the step's inputs and records the planned dispatches (`upto` of them), then the
    /// top-k passes for `top_k` if given.
    fn encode(&mut self, tokens: &[u32], n_logits: usize, upto: usize, top_k: Option<usize>) -> wgpu::CommandEncoder {
        let c = &self.config;
        let n = tokens.len();
        let p0 = self.kv_len;
        let q = &self.gpu.queue;
        let b = &self.buffers;
        q.write_buffer(&b.tokens, 0, bytemuck::cast_slice(tokens));
        q.write_buffer(&b.step, 0, bytemuck::cast_slice(&[n as u32, n_logits as u32, p0 as u32, 0]));
        // RoPE angles as the CPU backend computes them, for full and sliding-window layers.
        let half = c.n_rot / 2;
        if half > 0 {
            let factors = self.weights.rope_freqs.as_ref().map(|f| match f {
                GpuTensor::Vector { host, .. } => host.as_slice(),
                GpuTensor::Matrix(_) => unreachable!("rope_freqs is a vector"),
            });
            let mut cs = vec![(0f32, 0f32); half];
            for (base, scale, buffer) in
                [(c.rope_base, c.rope_freq_scale, &b.angles_full), (c.rope_base_swa, c.rope_freq_scale_swa, &b.angles_swa)]
            {
                for t in 0..n {
                    crate::backend::cpu::ops::rope_angles(p0 + t, c.n_rot, base, scale, factors, c.rope_yarn.as_ref(), &mut cs);
                    for (i, &(cos, sin)) in cs.iter().enumerate() {
                        self.angles_host[2 * (t * half + i)] = cos;
                        self.angles_host[2 * (t * half + i) + 1] = sin;
                    }
                }
                q.write_buffer(buffer, 0, bytemuck::cast_slice(&self.angles_host[..2 * n * half]));
            }
        }
        // Each token's query scale (Mistral 3's attention temperature) after the angles.
        if c.attn_temp_scale != 0.0 {
            let scales: Vec<f32> = (0..n).flat_map(|t| [c.query_scale(p0 + t), 0.0]).collect();
            let at = (8 * self.max_batch * half) as u64;
            for buffer in [&b.angles_full, &b.angles_swa] {
                q.write_buffer(buffer, at, bytemuck::cast_slice(&scales));
            }
        }
        let mut encoder = self.gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("forward") });
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("forward"), timestamp_writes: None });
            let top_k_passes = top_k.map_or(&[][..], |k| &self.top_k_plans[&k].0[..]);
            for d in self.plan[..upto].iter().chain(top_k_passes) {
                let Some((op, format, [x, y, z])) = Self::grid(&d.work, n as u32, n_logits as u32, p0 as u32) else { continue };
                pass.set_pipeline(self.kernels.pipeline(op, format));
                pass.set_bind_group(0, &d.bind_group, &[]);
                pass.dispatch_workgroups(x, y, z);
            }
        }
        encoder
    }

    fn check_batch(&self, tokens: &[u32], n_logits: usize) -> Result<(), BackendError> {
        let n = tokens.len();
        assert!(n <= self.max_batch && n_logits <= n && n > 0, "forward: batch of {n} (max {}), {n_logits} logits", self.max_batch);
        if self.kv_len + n > self.n_ctx {
            return Err(BackendError::ContextFull { needed: self.kv_len + n, n_ctx: self.n_ctx });
        }
        if let Some(&id) = tokens.iter().find(|&&id| id as usize >= self.config.n_vocab) {
            return Err(BackendError::TokenOutOfRange { id, n_vocab: self.config.n_vocab });
        }
        Ok(())
    }

    async fn finish(&mut self, encoder: wgpu::CommandEncoder, src: &wgpu::Buffer, bytes: u64) -> Result<Vec<u8>, BackendError> {
        read_back(&self.gpu, &self.buffers.readback, encoder, src, bytes).await
    }

    /// The logits of the last `n_logits` tokens, row-major, read back from the GPU.
    async fn logits(&mut self, tokens: &[u32], n_logits: usize) -> Result<&[f32], BackendError> {
        self.check_batch(tokens, n_logits)?;
        let encoder = self.encode(tokens, n_logits, self.score_dispatch, None);
        let nv = self.config.n_vocab;
        let bytes = (4 * n_logits * nv) as u64;
        let logits = self.buffers.logits.clone();
        let out = self.finish(encoder, &logits, bytes.max(4)).await?;
        self.kv_len += tokens.len();
        if self.logits_host.len() < n_logits * nv {
            self.logits_host.resize(n_logits * nv, 0.0);
        }
        let dst = &mut self.logits_host[..n_logits * nv];
        dst.copy_from_slice(bytemuck::cast_slice(&out[..n_logits * nv * 4]));
        Ok(dst)
    }

    /// Per position the target's log-probability and the argmax, reduced on the GPU.
    async fn scores(&mut self, tokens: &[u32], targets: &[u32]) -> Result<Vec<TokenScore>, BackendError> {
        let n_logits = targets.len();
        self.check_batch(tokens, n_logits)?;
        let mut padded = targets.to_vec();
        padded.resize(tokens.len(), 0);
        self.gpu.queue.write_buffer(&self.buffers.targets, 0, bytemuck::cast_slice(&padded));
        // With no target the pass stops before the logits: only the cache is wanted.
        let upto = if n_logits == 0 { self.score_dispatch } else { self.plan.len() };
        let encoder = self.encode(tokens, n_logits, upto, None);
        let scores = self.buffers.token_scores.clone();
        let out = self.finish(encoder, &scores, (16 * n_logits.max(1)) as u64).await?;
        self.kv_len += tokens.len();
        Ok(token_scores_from(&out, n_logits))
    }

    /// The `k` most likely tokens after the last of `tokens`, selected on the GPU: the logits
    /// stay there and 8 bytes a candidate come back.
    async fn top_k(&mut self, tokens: &[u32], k: usize) -> Result<Vec<Candidate>, BackendError> {
        let n_vocab = self.config.n_vocab;
        if k == 0 || k > MAX_GPU_TOP_K || k >= n_vocab {
            let logits = self.logits(tokens, 1).await?;
            return Ok(crate::backend::logits::top_k(logits, k));
        }
        self.check_batch(tokens, 1)?;
        if !self.top_k_plans.contains_key(&k) {
            let mut planner = Planner::new(&self.gpu.device, &mut self.kernels, &self.buffers.step);
            let b = &self.buffers;
            let unused = planner.dummy_read.clone();
            let result = plan_top_k(&mut planner, &b.logits, &b.top_k, &unused, n_vocab, k);
            self.top_k_plans.insert(k, (planner.plan, result));
        }
        let encoder = self.encode(tokens, 1, self.score_dispatch, Some(k));
        let result = self.buffers.top_k[self.top_k_plans[&k].1].clone();
        let out = self.finish(encoder, &result, 8 * k as u64).await?;
        self.kv_len += tokens.len();
        Ok(candidates_from(&out))
    }

    /// Measures the device's streaming read bandwidth in GB/s over a `bytes`-byte buffer.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn stream_bandwidth(&mut self, bytes: u64, repeats: usize) -> Result<f64, BackendError> {
        let device = self.gpu.device.clone();
        let bytes = bytes.min(self.gpu.max_binding) / 16 * 16;
        let data = storage(&device, "stream", bytes, wgpu::BufferUsages::empty());
        let groups = 1024u32;
        let threads = groups * 256;
        let out = storage(&device, "stream_out", 4 * threads as u64, wgpu::BufferUsages::empty());
        let n_vec4 = (bytes / 16) as u32;
        let p = uniform(&device, "stream", &[n_vec4, n_vec4.div_ceil(threads)]);
        self.kernels.prepare(&device, "stream_read", None);
        let bg = self.kernels.bind_group(&device, "stream_read", &[&data, &out, &p]);
        let run = |k: &Kernels, times: usize| {
            let mut e = device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("stream") });
            {
                let mut pass = e.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("stream"), timestamp_writes: None });
                pass.set_pipeline(k.pipeline("stream_read", None));
                pass.set_bind_group(0, &bg, &[]);
                for _ in 0..times {
                    pass.dispatch_workgroups(groups, 1, 1);
                }
            }
            self.gpu.queue.submit([e.finish()]);
            device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| BackendError::Gpu(e.to_string()))
        };
        run(&self.kernels, 1)?; // warm-up
        let t0 = std::time::Instant::now();
        run(&self.kernels, repeats)?;
        let seconds = t0.elapsed().as_secs_f64();
        self.settle()?;
        Ok(bytes as f64 * repeats as f64 / seconds / 1e9)
    }
}

/// Builds the dispatches of a forward pass: kernels compiled, uniforms and bind groups made.
struct Planner<'a> {
    device: &'a wgpu::Device,
    kernels: &'a mut Kernels,
    step: &'a wgpu::Buffer,
    plan: Vec<Dispatch>,
    /// Bound where a kernel's optional input or output is absent (one for read and one for
    /// read-write bindings: one buffer may not be both in a dispatch).
    dummy_read: wgpu::Buffer,
    dummy_write: wgpu::Buffer,
}

impl<'a> Planner<'a> {
    fn new(device: &'a wgpu::Device, kernels: &'a mut Kernels, step: &'a wgpu::Buffer) -> Self {
        let dummy = |label| storage(device, label, 16, wgpu::BufferUsages::empty());
        Planner { device, kernels, step, plan: Vec::new(), dummy_read: dummy("dummy_read"), dummy_write: dummy("dummy_write") }
    }

    /// Plans `work` running `op` over `buffers` then `params` (a new uniform) and the step.
    fn push(&mut self, work: Work, op: &'static str, format: Formats, buffers: &[&wgpu::Buffer], params: &[u32]) {
        self.kernels.prepare(self.device, op, format);
        let p = uniform(self.device, op, params);
        let mut all: Vec<&wgpu::Buffer> = buffers.to_vec();
        all.push(&p);
        all.push(self.step);
        let bind_group = self.kernels.bind_group(self.device, op, &all);
        self.plan.push(Dispatch { work, bind_group });
    }

    /// `y[.., view rows] = W[view rows] x` (or `+=` with `accumulate`): one dispatch for each
    /// two parts of one buffer the rows fall in (a fused q|k|v in two block formats is one).
    fn matmul(&mut self, m: MatView, x: &wgpu::Buffer, y: &wgpu::Buffer, logits: bool, accumulate: bool) {
        self.matmul_scaled(m, x, y, logits, accumulate, 1.0);
    }

    /// [`Self::matmul`] with each result multiplied by `scale` as it is stored.
    fn matmul_scaled(&mut self, m: MatView, x: &wgpu::Buffer, y: &wgpu::Buffer, logits: bool, accumulate: bool, scale: f32) {
        let mat = m.matrix;
        let parts: Vec<_> = mat.parts_in(m.row_begin, m.row_end).collect();
        let mut i = 0;
        while i < parts.len() {
            let a = parts[i];
            let rows_a = a.2 - a.1;
            let (b, rows) = match parts.get(i + 1).filter(|b| b.0.buffer == a.0.buffer) {
                Some(&b) => (b, rows_a + b.2 - b.1),
                None => (a, rows_a),
            };
            i += if rows > rows_a { 2 } else { 1 };
            let y_base = m.y_offset + a.1 - m.row_begin;
            let product = Product { a, b, rows, rows_a, cols: mat.cols, y_base, y_stride: m.y_stride, gated: 0, scale };
            self.product(product, x, y, logits, accumulate);
        }
    }

    /// `y[rows of the view] += extra · s · B (A x)` for each LoRA update of a product (two
    /// products each; `A x` goes through `ax`, the second adds itself as it stores). `b_rows`
    /// picks the rows of B (all but where a fused update is split over two outputs).
    #[allow(clippy::too_many_arguments)]
    fn deltas(&mut self, deltas: &[Delta<GpuTensor>], x: &wgpu::Buffer, ax: &wgpu::Buffer, y: &wgpu::Buffer, place: DeltaPlace, logits: bool, extra: f32) {
        for d in deltas {
            let (a, b) = (d.a.matrix(), d.b.matrix());
            self.matmul(MatView { matrix: a, row_begin: 0, row_end: a.rows, y_stride: d.rank, y_offset: 0 }, x, ax, logits, false);
            let (row_begin, row_end) = place.b_rows.unwrap_or((0, b.rows));
            let view = MatView { matrix: b, row_begin, row_end, y_stride: place.y_stride.unwrap_or(row_end - row_begin), y_offset: place.y_offset };
            self.matmul_scaled(view, ax, y, logits, true, extra * d.scale);
        }
    }

    /// `y = act(W_gate x) * (W_up x)` in one dispatch where the two views lie in one part each of
    /// one buffer (as `fuse_projections` leaves them); otherwise the two products and the
    /// activation (into `up` for the up projection).
    fn gated(&mut self, gate: MatView, up: MatView, x: &wgpu::Buffer, y: &wgpu::Buffer, up_buffer: &wgpu::Buffer, gelu: bool) {
        fn one<'m>(v: &MatView<'m>) -> Option<(&'m MatrixPart, usize, usize)> {
            let parts: Vec<_> = v.matrix.parts_in(v.row_begin, v.row_end).collect();
            (parts.len() == 1).then(|| parts[0])
        }
        let (rows, cols) = (gate.row_end - gate.row_begin, gate.matrix.cols);
        match (one(&gate), one(&up)) {
            (Some(a), Some(b)) if a.0.buffer == b.0.buffer => {
                let product = Product { a, b, rows, rows_a: rows, cols, y_base: 0, y_stride: rows, gated: 1 + u32::from(gelu), scale: 1.0 };
                self.product(product, x, y, false, false);
            }
            _ => {
                self.matmul(gate, x, y, false, false);
                self.matmul(up, x, up_buffer, false, false);
                let work = Work::Elements { op: "ffn_gated", per_token: rows as u32, logits: false };
                self.push(work, "ffn_gated", None, &[y, up_buffer], &[rows as u32, u32::from(gelu)]);
            }
        }
    }

    /// Plans one product dispatch (matmul_params.wgsl).
    fn product(&mut self, p: Product, x: &wgpu::Buffer, y: &wgpu::Buffer, logits: bool, accumulate: bool) {
        let (a, a_lo, _) = p.a;
        let (b, b_lo, _) = p.b;
        let formats = [a.format, b.format];
        // Decode and prefill pick different kernels for the same bind group.
        self.kernels.prepare(self.device, "matvec", Some(formats));
        let params = [
            p.rows as u32,
            p.cols as u32,
            a.row_bytes as u32,
            (a.base + (a_lo - a.first_row) * a.row_bytes) as u32,
            0,
            p.cols as u32,
            p.y_base as u32,
            p.y_stride as u32,
            u32::from(logits),
            u32::from(accumulate),
            p.rows_a as u32,
            b.row_bytes as u32,
            (b.base + (b_lo - b.first_row) * b.row_bytes) as u32,
            p.gated,
            p.scale.to_bits(),
            0,
        ];
        let work = Work::Matmul { formats, rows: p.rows as u32, logits };
        self.push(work, "matmul_tiled", Some(formats), &[&a.buffer, x, y], &params);
    }

    /// `y = rmsnorm(x) * w`, or `y += ...` with `accumulate`; over the logits rows with `logits`;
    /// and with `then`, `z = rmsnorm(y) * w2` of the rows of y it leaves, in the same pass.
    #[allow(clippy::too_many_arguments)]
    fn norm(&mut self, c: &ModelConfig, x: &wgpu::Buffer, y: &wgpu::Buffer, w: &GpuTensor, accumulate: bool, logits: bool, then: Option<(&wgpu::Buffer, &GpuTensor)>) {
        let params = [c.n_embd as u32, c.rms_eps.to_bits(), u32::from(accumulate), u32::from(logits), u32::from(then.is_some()), 0, 0, 0];
        let (dummy_write, dummy_read) = (self.dummy_write.clone(), self.dummy_read.clone());
        let (z, w2) = then.map_or((&dummy_write, &dummy_read), |(z, w2)| (z, w2.vector()));
        self.push(Work::Norm { logits }, "rms_norm", None, &[x, y, w.vector(), z, w2], &params);
    }

    /// `x += [rmsnorm(W h) * post_norm]`: a sub-layer's output projection into the residual
    /// stream, then `xb = rmsnorm(x) * next_norm` for the next sub-layer (when there is one).
    /// Without a post-norm the product adds itself to `x` as it stores, so the residual add
    /// costs no dispatch; Gemma normalizes the projection (in `scratch`) first, and that pass
    /// also makes the next sub-layer's input.
    #[allow(clippy::too_many_arguments)]
    fn project_to_residual(
        &mut self,
        c: &ModelConfig,
        (w, deltas): (&GpuTensor, &[Delta<GpuTensor>]),
        h: &wgpu::Buffer,
        (x, ax): (&wgpu::Buffer, &wgpu::Buffer),
        scratch: &wgpu::Buffer,
        post_norm: &Option<GpuTensor>,
        next: Option<(&wgpu::Buffer, &GpuTensor)>,
    ) {
        // A scaled residual branch with a post-norm is no family's (config.rs); it would need
        // the scale after the norm.
        debug_assert!(post_norm.is_none() || c.residual_scale == 1.0);
        match post_norm {
            Some(pn) => {
                self.matmul(MatView::whole(w.matrix()), h, scratch, false, false);
                self.deltas(deltas, h, ax, scratch, DeltaPlace::default(), false, 1.0);
                self.norm(c, scratch, x, pn, true, false, next);
            }
            None => {
                self.matmul_scaled(MatView::whole(w.matrix()), h, x, false, true, c.residual_scale);
                self.deltas(deltas, h, ax, x, DeltaPlace::default(), false, c.residual_scale);
                if let Some((xb, norm)) = next {
                    self.norm(c, x, xb, norm, false, false, None);
                }
            }
        }
    }
}

/// Where a LoRA update's `B (A x)` lands in its output: rows `b_rows` of B (default all) at
/// `y_offset` in rows of `y_stride` (default the rows taken).
#[derive(Clone, Copy, Default)]
struct DeltaPlace {
    b_rows: Option<(usize, usize)>,
    y_offset: usize,
    y_stride: Option<usize>,
}

/// One product dispatch: rows from part `a` (the part, and the rows of it) then from part `b`
/// of the same buffer (`b` = `a` for one part); with `gated` 1 (SiLU) or 2 (GELU), `rows` rows
/// of gate from `a` and of up from `b`.
struct Product<'a> {
    a: (&'a MatrixPart, usize, usize),
    b: (&'a MatrixPart, usize, usize),
    rows: usize,
    rows_a: usize,
    cols: usize,
    y_base: usize,
    y_stride: usize,
    gated: u32,
    scale: f32,
}

/// Each token's q|k|v bias as one row, where the layer has any (zeros for a missing part).
fn qkv_bias(device: &wgpu::Device, c: &ModelConfig, l: &LayerWeights<GpuTensor>) -> Option<wgpu::Buffer> {
    let parts = [(&l.q_bias, c.q_dim()), (&l.k_bias, c.k_dim()), (&l.v_bias, c.v_dim())];
    if parts.iter().all(|(b, _)| b.is_none()) {
        return None;
    }
    let mut row = Vec::with_capacity(c.q_dim() + c.k_dim() + c.v_dim());
    for (bias, n) in parts {
        match bias {
            Some(GpuTensor::Vector { host, .. }) => row.extend_from_slice(host),
            _ => row.resize(row.len() + n, 0.0),
        }
    }
    let words: Vec<u32> = row.iter().map(|v| v.to_bits()).collect();
    Some(self::words(device, "qkv_bias", &words, wgpu::BufferUsages::STORAGE))
}

/// Fuses each layer's separate q, k, v projections into one matrix of one buffer, and its gate
/// and up projections likewise, so a layer's projections take one dispatch each: the buffers
/// are copied on the GPU (no weight sits twice once the copies are done) and the parts keep
/// their own block formats. Matrices split over several buffers, or too large together for one
/// binding, stay as they are.
fn fuse_projections(gpu: &Gpu, w: &mut DecoderWeights<GpuTensor>) {
    for l in &mut w.layers {
        if let Qkv::Separate { q, k, v } = &l.qkv {
            if let Some(m) = fuse_rows(gpu, &[q.matrix(), k.matrix(), v.matrix()]) {
                l.qkv = Qkv::Fused(GpuTensor::Matrix(m));
            }
        }
        if let GateUp::Separate { gate, up } = &l.ffn_gate_up {
            if let Some(m) = fuse_rows(gpu, &[gate.matrix(), up.matrix()]) {
                l.ffn_gate_up = GateUp::Fused(GpuTensor::Matrix(m));
            }
        }
    }
}

/// `matrices` stacked by rows into one buffer, or `None` where one is split or the stack is
/// larger than a binding. Neighbours of one format whose bytes meet become one part.
fn fuse_rows(gpu: &Gpu, matrices: &[&GpuMatrix]) -> Option<GpuMatrix> {
    let cols = matrices[0].cols;
    if matrices.iter().any(|m| m.parts.len() != 1 || m.cols != cols) {
        return None;
    }
    let mut base = 0usize;
    let mut layout = Vec::new();
    for m in matrices {
        layout.push(base);
        base = (base + m.bytes() as usize).next_multiple_of(4);
    }
    if base as u64 > gpu.max_weight_part.min(1 << 31) {
        return None;
    }
    let buffer = storage(&gpu.device, "fused", base as u64, wgpu::BufferUsages::empty());
    let mut encoder = gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("fuse") });
    let mut parts: Vec<MatrixPart> = Vec::new();
    let mut first_row = 0;
    for (m, &at) in matrices.iter().zip(&layout) {
        let part = &m.parts[0];
        let bytes = (part.rows * part.row_bytes) as u64;
        encoder.copy_buffer_to_buffer(&part.buffer, part.base as u64, &buffer, at as u64, bytes.next_multiple_of(4));
        match parts.last_mut() {
            Some(last) if last.format == part.format && last.base + last.rows * last.row_bytes == at => last.rows += part.rows,
            _ => parts.push(MatrixPart { buffer: buffer.clone(), base: at, first_row, rows: part.rows, format: part.format, row_bytes: part.row_bytes }),
        }
        first_row += part.rows;
    }
    gpu.queue.submit([encoder.finish()]);
    Some(GpuMatrix { rows: first_row, cols, parts })
}

/// Records the whole forward pass once; it reads like the model. Returns the index of the
/// scoring dispatch (the plan before it ends at the logits).
fn plan_forward(p: &mut Planner, (c, w, lora): (&ModelConfig, &DecoderWeights<GpuTensor>, &Deltas<GpuTensor>), bf: &Buffers, n_ctx: usize, max_batch: usize) -> usize {
    let (qd, kd, vd) = (c.q_dim(), c.k_dim(), c.v_dim());

    // x = embed(tokens) * embd_scale, from each part of the table
    let embd = w.token_embd.matrix();
    for part in &embd.parts {
        // The table is never fused, so its parts start their buffers.
        debug_assert_eq!(part.base, 0);
        let params = [part.rows as u32, part.first_row as u32, embd.cols as u32, part.row_bytes as u32, c.embd_scale.to_bits()];
        let work = Work::Embed { format: part.format, chunks: c.n_embd.div_ceil(32) as u32 };
        p.push(work, "embed", Some([part.format, part.format]), &[&part.buffer, &bf.tokens, &bf.x], &params);
    }
    // x += embd_scale s B a[tokens]: the rows of A (a row per token) gathered as embeddings are.
    for d in &lora.token_embd {
        let a = d.a.matrix();
        for part in &a.parts {
            let params = [part.rows as u32, part.first_row as u32, a.cols as u32, part.row_bytes as u32, 1f32.to_bits()];
            let work = Work::Embed { format: part.format, chunks: a.cols.div_ceil(32) as u32 };
            p.push(work, "embed", Some([part.format, part.format]), &[&part.buffer, &bf.tokens, &bf.lora_ax], &params);
        }
        p.matmul_scaled(MatView::whole(d.b.matrix()), &bf.lora_ax, &bf.x, false, true, c.embd_scale * d.scale);
    }

    // xb = rmsnorm(x) * attn_norm (later layers' come with the previous layer's residual add);
    // without input norms (OLMo 2) the sub-layers read x itself.
    if let Some(norm) = w.layers.first().and_then(|l| l.attn_norm.as_ref()) {
        p.norm(c, &bf.x, &bf.xb, norm, false, false, None);
    }
    let attn_input = if c.pre_norms { &bf.xb } else { &bf.x };
    let qkv_dim = qd + kd + vd;
    for (il, l) in w.layers.iter().enumerate() {
        let ld = &lora.layers[il];
        // q|k|v = W_qkv xb (+ each LoRA update at its place in the row)
        // (Separate only where fuse_projections could not stack them: each at its place in the row.)
        fn into_row(m: &GpuTensor, at: usize, rows: usize, stride: usize) -> MatView<'_> {
            MatView { matrix: m.matrix(), row_begin: 0, row_end: rows, y_stride: stride, y_offset: at }
        }
        match &l.qkv {
            Qkv::Separate { q, k, v } => {
                for (m, at, rows) in [(q, 0, qd), (k, qd, kd), (v, qd + kd, vd)] {
                    p.matmul(into_row(m, at, rows, qkv_dim), attn_input, &bf.qkv, false, false);
                }
            }
            Qkv::Fused(m) => p.matmul(into_row(m, 0, qkv_dim, qkv_dim), attn_input, &bf.qkv, false, false),
        }
        for (deltas, at) in [(&ld.q, 0), (&ld.k, qd), (&ld.v, qd + kd), (&ld.qkv, 0)] {
            let place = DeltaPlace { b_rows: None, y_offset: at, y_stride: Some(qkv_dim) };
            p.deltas(deltas, attn_input, &bf.lora_ax, &bf.qkv, place, false, 1.0);
        }
        // OLMo 2: all query heads normalized together, and all key heads, first.
        let (q_head_norm, k_head_norm) = if c.qk_norm_full {
            // Its weights are loaded without biases (weights.rs), which would come first.
            debug_assert!(bf.qkv_bias[il].is_none());
            let dummy = p.dummy_read.clone();
            let norms = [l.q_norm.as_ref().map_or(&dummy, GpuTensor::vector), l.k_norm.as_ref().map_or(&dummy, GpuTensor::vector)];
            let params = [qd as u32, kd as u32, qkv_dim as u32, qd as u32, c.rms_eps.to_bits(), 0, 0, 0];
            p.push(Work::Heads { op: "qk_norm", heads: 2 }, "qk_norm", None, &[&bf.qkv, norms[0], norms[1]], &params);
            (None, None)
        } else {
            (l.q_norm.as_ref(), l.k_norm.as_ref())
        };
        // Each head: + bias, per-head RMSNorm, RoPE; keys and values into the cache.
        let swa = c.is_swa_layer(il);
        let angles = if swa { &bf.angles_swa } else { &bf.angles_full };
        let params = [
            c.head_dim as u32,
            c.head_dim_v as u32,
            c.n_head as u32,
            c.n_head_kv as u32,
            // SmolLM3 leaves every fourth layer unrotated.
            if c.uses_rope(il) { c.n_rot as u32 } else { 0 },
            u32::from(c.rope_layout == RopeLayout::Interleaved),
            u32::from(q_head_norm.is_some()),
            u32::from(k_head_norm.is_some()),
            u32::from(bf.qkv_bias[il].is_some()),
            c.rms_eps.to_bits(),
            qkv_dim as u32,
            qd as u32,
            (qd + kd) as u32,
            // Where each token's query scale sits in the angles buffer, and whether there is one.
            (max_batch * (c.n_rot / 2)) as u32,
            u32::from(c.attn_temp_scale != 0.0),
            0,
        ];
        let dummy = p.dummy_read.clone();
        let buffers = [
            &bf.qkv,
            &bf.k_cache[il],
            &bf.v_cache[il],
            q_head_norm.map_or(&dummy, GpuTensor::vector),
            k_head_norm.map_or(&dummy, GpuTensor::vector),
            bf.qkv_bias[il].as_ref().unwrap_or(&dummy),
            angles,
        ];
        let heads = (c.n_head + 2 * c.n_head_kv) as u32;
        p.push(Work::Heads { op: "rope", heads }, "rope", None, &buffers, &params);
        // att = softmax(scale q k^T, causal [+ sliding window]) v
        let window = if swa { c.sliding_window } else { 0 };
        let params = [
            c.head_dim as u32,
            c.head_dim_v as u32,
            c.n_head as u32,
            (c.n_head / c.n_head_kv) as u32,
            c.attn_scale.to_bits(),
            c.attn_softcap.to_bits(),
            window as u32,
            n_ctx as u32,
            qkv_dim as u32,
            kd as u32,
            vd as u32,
            (c.n_head * c.head_dim_v) as u32,
        ];
        let buffers = [&bf.qkv, &bf.k_cache[il], &bf.v_cache[il], &bf.att, &bf.attn_partials];
        let heads = c.n_head as u32;
        p.kernels.prepare(p.device, "attention_split", None);
        p.push(Work::Attention { heads, window: window as u32 }, "attention", None, &buffers, &params);
        p.push(Work::AttentionCombine { heads }, "attention_combine", None, &[&bf.attn_partials, &bf.att], &params);
        // x += [rmsnorm *] Wo att; xb = rmsnorm(x) * ffn_norm
        let ffn_norm = l.ffn_norm.as_ref().map(|g| (&bf.xb, g));
        p.project_to_residual(c, (&l.attn_output, &ld.attn_output), &bf.att, (&bf.x, &bf.lora_ax), &bf.xb2, &l.post_attention_norm, ffn_norm);
        let ffn_input = if c.pre_norms { &bf.xb } else { &bf.x };
        // h = act(W_gate xb) * (W_up xb); x += [rmsnorm *] W_down h; xb = rmsnorm(x) * the next attn_norm
        let f = c.n_ff;
        let gelu = c.activation == Activation::Gelu;
        let (gate, up) = match &l.ffn_gate_up {
            GateUp::Separate { gate, up } => (MatView::whole(gate.matrix()), MatView::whole(up.matrix())),
            GateUp::Fused(m) => (MatView::rows(m.matrix(), 0, f), MatView::rows(m.matrix(), f, 2 * f)),
        };
        if ld.gate.is_empty() && ld.up.is_empty() {
            p.gated(gate, up, ffn_input, &bf.gate, &bf.up, gelu);
        } else {
            // Adapted: gate and up apart, each with its updates, then the activation. A fused
            // gate|up weight's update (Phi-3's ffn_up) spans both: its B's first n_ff rows update
            // the gate, the rest the up projection.
            p.matmul(gate, ffn_input, &bf.gate, false, false);
            p.matmul(up, ffn_input, &bf.up, false, false);
            p.deltas(&ld.gate, ffn_input, &bf.lora_ax, &bf.gate, DeltaPlace::default(), false, 1.0);
            for d in &ld.up {
                let one = std::slice::from_ref(d);
                if d.b.matrix().rows == 2 * f {
                    p.deltas(one, ffn_input, &bf.lora_ax, &bf.gate, DeltaPlace { b_rows: Some((0, f)), ..DeltaPlace::default() }, false, 1.0);
                    p.deltas(one, ffn_input, &bf.lora_ax, &bf.up, DeltaPlace { b_rows: Some((f, 2 * f)), ..DeltaPlace::default() }, false, 1.0);
                } else {
                    p.deltas(one, ffn_input, &bf.lora_ax, &bf.up, DeltaPlace::default(), false, 1.0);
                }
            }
            let work = Work::Elements { op: "ffn_gated", per_token: f as u32, logits: false };
            p.push(work, "ffn_gated", None, &[&bf.gate, &bf.up], &[f as u32, u32::from(gelu)]);
        }
        let next = w.layers.get(il + 1).and_then(|n| n.attn_norm.as_ref()).map(|g| (&bf.xb, g));
        p.project_to_residual(c, (&l.ffn_down, &ld.down), &bf.gate, (&bf.x, &bf.lora_ax), &bf.xb2, &l.post_ffw_norm, next);
    }

    // logits = W_out (rmsnorm(x) * output_norm), for the last n_logits positions only
    p.norm(c, &bf.x, &bf.xb, &w.output_norm, false, true, None);
    p.matmul_scaled(MatView::whole(w.output_matrix().matrix()), &bf.xb, &bf.logits, true, false, c.logit_multiplier);
    p.deltas(&lora.output, &bf.xb, &bf.lora_ax, &bf.logits, DeltaPlace::default(), true, c.logit_multiplier);
    if c.final_softcap > 0.0 {
        let work = Work::Elements { op: "softcap", per_token: c.n_vocab as u32, logits: true };
        p.push(work, "softcap", None, &[&bf.logits], &[c.n_vocab as u32, c.final_softcap.to_bits()]);
    }
    let score_dispatch = p.plan.len();
    plan_scores(p, &bf.logits, &bf.score_partials, &bf.targets, &bf.token_scores, c.n_vocab);
    score_dispatch
}

/// The scoring path: per logits position the max, the sum of exponentials, the argmax and the
/// target's logit, a chunk of the vocabulary a workgroup, then merged (16 bytes a position).
fn plan_scores(p: &mut Planner, logits: &wgpu::Buffer, partials: &wgpu::Buffer, targets: &wgpu::Buffer, out: &wgpu::Buffer, n_vocab: usize) {
    let chunks = n_vocab.div_ceil(SCORE_CHUNK) as u32;
    let params = [n_vocab as u32, SCORE_CHUNK as u32, chunks];
    p.push(Work::Score { chunks }, "logits_score", None, &[logits, partials], &params);
    p.push(Work::ScoreCombine, "logits_score_combine", None, &[partials, logits, targets, out], &params);
}

/// The scoring kernels' 16 bytes a position as scores.
fn token_scores_from(bytes: &[u8], n: usize) -> Vec<TokenScore> {
    let v: &[f32] = bytemuck::cast_slice(bytes);
    v.chunks_exact(4)
        .take(n)
        .map(|r| {
            let (max, sum, argmax, target) = (r[0], r[1], r[2].to_bits(), r[3]);
            TokenScore { logprob: f64::from(target - max) - f64::from(sum).ln(), argmax }
        })
        .collect()
}

/// Plans the passes of `top_k.wgsl` that take the last logits row to its `k` best: each pass
/// keeps `k` of every 4096 items, until one workgroup is left. Returns which `top_k` buffer the
/// last pass writes.
fn plan_top_k(p: &mut Planner, logits: &wgpu::Buffer, candidates: &[wgpu::Buffer; 2], unused: &wgpu::Buffer, n_vocab: usize, k: usize) -> usize {
    let mut n = n_vocab;
    let mut groups = n.div_ceil(TOP_K_ITEMS_PER_GROUP);
    let params = [n as u32, k as u32, 0, n_vocab as u32];
    p.push(Work::TopK { groups: groups as u32 }, "top_k", None, &[logits, unused, &candidates[0]], &params);
    let mut written = 0;
    while groups > 1 {
        n = groups * k;
        groups = n.div_ceil(TOP_K_ITEMS_PER_GROUP);
        let params = [n as u32, k as u32, 1, n_vocab as u32];
        let buffers = [unused, &candidates[written], &candidates[1 - written]];
        p.push(Work::TopK { groups: groups as u32 }, "top_k", None, &buffers, &params);
        written = 1 - written;
    }
    written
}

/// The top-k passes' (key, id) pairs as candidates; a key is the logit's bits made to sort as
/// f32::total_cmp does (`order_key` in top_k.wgsl), undone here.
fn candidates_from(bytes: &[u8]) -> Vec<Candidate> {
    let logit = |key: u32| f32::from_bits(if key & 0x8000_0000 != 0 { key & 0x7fff_ffff } else { !key });
    bytemuck::cast_slice::<u8, u32>(bytes).chunks_exact(2).map(|c| Candidate { logit: logit(c[0]), id: c[1] }).collect()
}

/// Submits `encoder` after copying `bytes` of `src` into `readback`, waits for the device and
/// returns the bytes, or the error the device raised. Natively it polls the device until the
/// copy is done; in the browser the mapping resolves from the event loop, so it must be awaited.
async fn read_back(
    gpu: &Gpu,
    readback: &wgpu::Buffer,
    mut encoder: wgpu::CommandEncoder,
    src: &wgpu::Buffer,
    bytes: u64,
) -> Result<Vec<u8>, BackendError> {
    encoder.copy_buffer_to_buffer(src, 0, readback, 0, bytes);
    gpu.queue.submit([encoder.finish()]);
    let slice = readback.slice(..bytes);
    let (tx, rx) = futures_channel::oneshot::channel();
    slice.map_async(wgpu::MapMode::Read, move |r| {
        let _ = tx.send(r);
    });
    #[cfg(not(target_arch = "wasm32"))]
    gpu.device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| BackendError::Gpu(e.to_string()))?;
    let mapped = rx.await;
    if let Some(message) = gpu.failure() {
        return Err(BackendError::Gpu(message));
    }
    match mapped {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(BackendError::Gpu(format!("cannot read results back from the GPU: {e}"))),
        Err(_) => return Err(BackendError::Gpu("the GPU never answered the read-back".into())),
    }
    let out = slice.get_mapped_range().map_err(|e| BackendError::Gpu(e.to_string()))?.to_vec();
    readback.unmap();
    Ok(out)
}

/// Runs one product `y = W x` of `n_tokens` rows of `x` through the planned kernels (the
/// matrix-vector kernel for one or two tokens, the tiled one beyond), split into parts of at
/// most `part_bytes`: what the kernel tests compare with the CPU backend.
pub async fn matmul_once(
    gpu: &Gpu,
    ty: crate::quant::GgmlType,
    weights: &[u8],
    (rows, cols): (usize, usize),
    x: &[f32],
    n_tokens: usize,
    part_bytes: usize,
) -> Result<Vec<f32>, BackendError> {
    let bad = |problem: String| BackendError::Gpu(problem);
    let format = shaders::format_name(ty).ok_or_else(|| bad(format!("{} has no GPU kernel", ty.name())))?;
    let row_bytes = ty.row_bytes(cols).ok_or_else(|| bad(format!("{cols} columns are not whole {} blocks", ty.name())))?;
    if weights.len() != rows * row_bytes || x.len() != n_tokens * cols {
        return Err(bad("matmul_once: the weight or activation length does not match the shape".into()));
    }
    let device = &gpu.device;
    let rows_per_part = (part_bytes / row_bytes).max(1);
    let parts: Vec<MatrixPart> = (0..rows)
        .step_by(rows_per_part)
        .map(|first_row| {
            let n = rows_per_part.min(rows - first_row);
            let mut bytes = weights[first_row * row_bytes..(first_row + n) * row_bytes].to_vec();
            bytes.resize(bytes.len().max(16).next_multiple_of(4), 0);
            let buffer = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("weights"),
                contents: &bytes,
                usage: wgpu::BufferUsages::STORAGE,
            });
            MatrixPart { buffer, base: 0, first_row, rows: n, format, row_bytes }
        })
        .collect();
    let matrix = GpuMatrix { rows, cols, parts };
    let xb = storage(device, "x", 4 * x.len() as u64, wgpu::BufferUsages::empty());
    gpu.queue.write_buffer(&xb, 0, bytemuck::cast_slice(x));
    let out_bytes = (4 * rows * n_tokens) as u64;
    let y = storage(device, "y", out_bytes, wgpu::BufferUsages::empty());
    let step = uniform(device, "step", &[n_tokens as u32, n_tokens as u32, 0, 0]);
    let mut kernels = Kernels::new(gpu);
    let mut planner = Planner::new(device, &mut kernels, &step);
    planner.matmul(MatView::whole(&matrix), &xb, &y, false, false);
    let plan = planner.plan;
    let out = run_once(gpu, &kernels, &plan, n_tokens as u32, &y, out_bytes).await?;
    Ok(bytemuck::cast_slice(&out).to_vec())
}

/// The `k` largest of `logits` (one row) with their ids, selected by the planned top-k passes:
/// what the kernel tests compare with the CPU's `logits::top_k`.
pub async fn top_k_once(gpu: &Gpu, logits: &[f32], k: usize) -> Result<Vec<Candidate>, BackendError> {
    if k == 0 || k > MAX_GPU_TOP_K || k > logits.len() {
        return Err(BackendError::Gpu(format!("top_k_once: k = {k} is not in 1..={}", MAX_GPU_TOP_K.min(logits.len()))));
    }
    let device = &gpu.device;
    let n = logits.len();
    let row = storage(device, "logits", 4 * n as u64, wgpu::BufferUsages::empty());
    gpu.queue.write_buffer(&row, 0, bytemuck::cast_slice(logits));
    let size = 8 * (n.div_ceil(TOP_K_ITEMS_PER_GROUP) * k) as u64;
    let candidates = [0, 1].map(|_| storage(device, "top_k", size, wgpu::BufferUsages::empty()));
    let unused = storage(device, "unused", 16, wgpu::BufferUsages::empty());
    let step = uniform(device, "step", &[1, 1, 0, 0]);
    let mut kernels = Kernels::new(gpu);
    let mut planner = Planner::new(device, &mut kernels, &step);
    let result = plan_top_k(&mut planner, &row, &candidates, &unused, n, k);
    let plan = planner.plan;
    let out = run_once(gpu, &kernels, &plan, 1, &candidates[result], 8 * k as u64).await?;
    Ok(candidates_from(&out))
}

/// Per row of `logits` (one row a target), the log-probability of the row's target and the
/// argmax, reduced by the planned scoring kernels: what the kernel tests compare with the CPU's
/// `logits::log_softmax_at`.
pub async fn scores_once(gpu: &Gpu, logits: &[f32], targets: &[u32]) -> Result<Vec<TokenScore>, BackendError> {
    let rows = targets.len();
    if rows == 0 || logits.is_empty() || !logits.len().is_multiple_of(rows) {
        return Err(BackendError::Gpu("scores_once: the logits are not one row a target".into()));
    }
    let n_vocab = logits.len() / rows;
    let device = &gpu.device;
    let row_buffer = storage(device, "logits", 4 * logits.len() as u64, wgpu::BufferUsages::empty());
    gpu.queue.write_buffer(&row_buffer, 0, bytemuck::cast_slice(logits));
    let target_buffer = storage(device, "targets", 4 * rows as u64, wgpu::BufferUsages::empty());
    gpu.queue.write_buffer(&target_buffer, 0, bytemuck::cast_slice(targets));
    let partials = storage(device, "score_partials", 16 * (rows * n_vocab.div_ceil(SCORE_CHUNK)) as u64, wgpu::BufferUsages::empty());
    let out = storage(device, "token_scores", 16 * rows as u64, wgpu::BufferUsages::empty());
    let step = uniform(device, "step", &[rows as u32, rows as u32, 0, 0]);
    let mut kernels = Kernels::new(gpu);
    let mut planner = Planner::new(device, &mut kernels, &step);
    plan_scores(&mut planner, &row_buffer, &partials, &target_buffer, &out, n_vocab);
    let plan = planner.plan;
    let bytes = run_once(gpu, &kernels, &plan, rows as u32, &out, 16 * rows as u64).await?;
    Ok(token_scores_from(&bytes, rows))
}

/// Records `plan` for a batch of `n_tokens` (all of them with logits, none cached), runs it
/// and reads back `bytes` of `src`: the kernel tests' one-off passes.
async fn run_once(gpu: &Gpu, kernels: &Kernels, plan: &[Dispatch], n_tokens: u32, src: &wgpu::Buffer, bytes: u64) -> Result<Vec<u8>, BackendError> {
    let device = &gpu.device;
    let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("once") });
    {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("once"), timestamp_writes: None });
        for d in plan {
            let Some((op, format, [gx, gy, gz])) = WgpuBackend::grid(&d.work, n_tokens, n_tokens, 0) else { continue };
            pass.set_pipeline(kernels.pipeline(op, format));
            pass.set_bind_group(0, &d.bind_group, &[]);
            pass.dispatch_workgroups(gx, gy, gz);
        }
    }
    let readback = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("readback"),
        size: bytes.max(16).next_multiple_of(4),
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    read_back(gpu, &readback, encoder, src, bytes).await
}

/// Rows `row_begin..row_end` of a matrix, written as rows of `y_stride` values from value
/// `y_offset` of each.
struct MatView<'a> {
    matrix: &'a GpuMatrix,
    row_begin: usize,
    row_end: usize,
    y_stride: usize,
    y_offset: usize,
}

impl<'a> MatView<'a> {
    fn whole(m: &'a GpuMatrix) -> Self {
        MatView { matrix: m, row_begin: 0, row_end: m.rows, y_stride: m.rows, y_offset: 0 }
    }
    /// A block of rows written into its own buffer (a fused projection's gate or up).
    fn rows(m: &'a GpuMatrix, begin: usize, end: usize) -> Self {
        MatView { matrix: m, row_begin: begin, row_end: end, y_stride: end - begin, y_offset: 0 }
    }
}

impl Backend for WgpuBackend {
    fn config(&self) -> &ModelConfig {
        &self.config
    }

    fn describe(&self) -> String {
        format!("wgpu on {}", self.gpu.describe())
    }

    fn n_ctx(&self) -> usize {
        self.n_ctx
    }

    fn max_batch(&self) -> usize {
        self.max_batch
    }

    fn kv_len(&self) -> usize {
        self.kv_len
    }

    fn truncate_kv(&mut self, len: usize) {
        self.kv_len = self.kv_len.min(len);
    }

    fn weight_bytes_per_token(&self) -> u64 {
        let w = &self.weights;
        let bytes = |t: &GpuTensor| match t {
            GpuTensor::Matrix(m) => m.bytes(),
            GpuTensor::Vector { host, .. } => 4 * host.len() as u64,
        };
        let mut total = bytes(w.output_matrix()) + w.token_embd.matrix().parts[0].row_bytes as u64;
        for l in &w.layers {
            total += match &l.qkv {
                Qkv::Separate { q, k, v } => bytes(q) + bytes(k) + bytes(v),
                Qkv::Fused(m) => bytes(m),
            };
            total += bytes(&l.attn_output) + bytes(&l.ffn_down);
            total += match &l.ffn_gate_up {
                GateUp::Separate { gate, up } => bytes(gate) + bytes(up),
                GateUp::Fused(m) => bytes(m),
            };
        }
        total + self.deltas.all().map(|d| bytes(&d.a) + bytes(&d.b)).sum::<u64>()
    }

    fn forward<'a>(&'a mut self, tokens: &'a [u32], n_logits: usize) -> Pending<'a, &'a [f32]> {
        Box::pin(self.logits(tokens, n_logits))
    }

    fn forward_scores<'a>(&'a mut self, tokens: &'a [u32], targets: &'a [u32]) -> Pending<'a, Vec<TokenScore>> {
        Box::pin(self.scores(tokens, targets))
    }

    fn forward_top_k<'a>(&'a mut self, tokens: &'a [u32], k: usize) -> Pending<'a, Vec<Candidate>> {
        Box::pin(self.top_k(tokens, k))
    }
}
