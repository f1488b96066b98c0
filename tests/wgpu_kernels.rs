//! The GPU's block-format kernels against the CPU reference, for every supported type, at awkward sizes:
//! 37 rows (not a multiple of the 16-row tile or the 64-thread workgroup), an odd number of
//! blocks a row, 45 columns for the plain float types (not whole 32-element chunks), 1, 2, 3
//! and 17 tokens (the matrix-vector kernel, then the tiled kernel with a partial token tile),
//! and weights split into parts of 5 rows (as large matrices are split over bindings).
//!
//! Weight rows are made of blocks llama.cpp's quantizer wrote (`tests/fixtures/quant`, from
//! PyPI `gguf`), chosen at random, so every scale, min and high-bit field is exercised; the
//! reference is `quant::dequantize` (bit-exact with gguf) and a float64 dot product.
//! Natively on Mesa's lavapipe in CI; the forward pass as a whole is checked in families.rs.

mod common;

use clinicbench::backend::wgpu::{matmul_once, Gpu, GpuOptions};
use clinicbench::quant::{dequantize, GgmlType};
use clinicbench::rng::SplitMix64;

/// Row count of every product: a prime, so no tile or workgroup divides it.
const ROWS: usize = 37;
const TOKENS: [usize; 4] = [1, 2, 3, 17];

/// The project's seeded generator, with the two draws these tests take.
struct SplitMix(SplitMix64);
impl SplitMix {
    fn new(seed: u64) -> Self {
        SplitMix(SplitMix64::new(seed))
    }
    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }
    /// Uniform in [-1, 1), 24 bits.
    fn f32(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }
}

fn gpu() -> Option<Gpu> {
    gpu_with(&GpuOptions::default())
}

/// The device twice where it has optional features: with the kernels that use them, and with
/// the portable ones (what WebGPU in today's browsers runs).
fn both_kernel_paths() -> Vec<Gpu> {
    let portable = GpuOptions { portable_kernels: true, ..GpuOptions::default() };
    let mut out: Vec<Gpu> = gpu().into_iter().collect();
    if out.first().is_some_and(|g| g.features != Default::default()) {
        out.extend(gpu_with(&portable));
    }
    out
}

fn gpu_with(options: &GpuOptions) -> Option<Gpu> {
    match pollster::block_on(Gpu::open(options)) {
        Ok(g) => Some(g),
        Err(e) if !std::env::var("CI").is_ok_and(|v| v == "true") => {
            eprintln!("note: {e}; skipping the GPU kernel checks (install mesa-vulkan-drivers)");
            None
        }
        Err(e) => panic!("CI=true but {e}"),
    }
}

/// `ROWS` rows of `cols` elements of `ty`, from random blocks (or elements) of the fixture.
fn random_matrix(ty: GgmlType, name: &str, rng: &mut SplitMix) -> (Vec<u8>, usize) {
    let bytes = std::fs::read(common::fixture(&format!("quant/{name}.bin"))).unwrap();
    let (unit, per_row) = match ty.block_size() {
        1 => (ty.block_bytes(), 45),
        32 => (ty.block_bytes(), 7),
        _ => (ty.block_bytes(), 3),
    };
    let n_units = bytes.len() / unit;
    let mut out = Vec::with_capacity(ROWS * per_row * unit);
    for _ in 0..ROWS * per_row {
        let u = (rng.next() % n_units as u64) as usize;
        out.extend_from_slice(&bytes[u * unit..(u + 1) * unit]);
    }
    (out, per_row * ty.block_size())
}

#[test]
fn matmul_kernels_match_the_cpu_for_every_block_format() {
    for gpu in both_kernel_paths() {
        matmul_kernels_match_the_cpu_on(&gpu);
    }
}

fn matmul_kernels_match_the_cpu_on(gpu: &Gpu) {
    let what = gpu.describe();
    // Every supported format, by the name its fixture file carries, except MXFP4, whose fixture
    // holds the largest exponents that keep its levels finite, whose products overflow f32 sums
    // (its `chunk` is held to the CPU by the page's self-check below, and in whole models by
    // tests/families.rs).
    let types = GgmlType::SUPPORTED.into_iter().filter(|&ty| ty != GgmlType::MXFP4).map(|ty| (ty, ty.name()));
    let mut rng = SplitMix::new(7);
    for (ty, name) in types {
        let (weights, cols) = random_matrix(ty, name, &mut rng);
        let mut w = vec![0f32; ROWS * cols];
        dequantize(ty, &weights, &mut w).unwrap();
        let row_bytes = ty.row_bytes(cols).unwrap();
        for n in TOKENS {
            let x: Vec<f32> = (0..n * cols).map(|_| rng.f32()).collect();
            let got = pollster::block_on(matmul_once(gpu, ty, &weights, (ROWS, cols), &x, n, 5 * row_bytes)).unwrap();
            assert_eq!(got.len(), n * ROWS);
            for t in 0..n {
                for r in 0..ROWS {
                    let (wr, xt) = (&w[r * cols..(r + 1) * cols], &x[t * cols..(t + 1) * cols]);
                    let want: f64 = wr.iter().zip(xt).map(|(&a, &b)| f64::from(a) * f64::from(b)).sum();
                    let scale: f64 = wr.iter().zip(xt).map(|(&a, &b)| (f64::from(a) * f64::from(b)).abs()).sum();
                    let err = (f64::from(got[t * ROWS + r]) - want).abs();
                    assert!(
                        err <= 1e-5 * scale.max(1e-30),
                        "{what}: {name}, {n} tokens: y[{t}, {r}] = {} on the GPU, {want} on the CPU (|error| {err:e}, scale {scale:e})",
                        got[t * ROWS + r]
                    );
                }
            }
        }
    }
}

#[test]
fn bad_shapes_are_errors_not_panics() {
    let Some(gpu) = gpu() else { return };
    let run = |ty, w: &[u8], shape, x: &[f32]| pollster::block_on(matmul_once(&gpu, ty, w, shape, x, 1, 1 << 20)).unwrap_err();
    let e = run(GgmlType::Q4_0, &[0; 18], (1, 31), &[0.0; 31]);
    assert!(e.to_string().contains("not whole Q4_0 blocks"), "{e}");
    let e = run(GgmlType::Q8_0, &[0; 34], (2, 32), &[0.0; 32]);
    assert!(e.to_string().contains("does not match"), "{e}");
    let e = run(GgmlType::Q8K, &[0; 292], (1, 256), &[0.0; 256]);
    assert!(e.to_string().contains("no GPU kernel"), "{e}");
}

/// The self-check the page runs on the browser's WebGPU adapter passes here too, and it can
/// fail: its reference is the CPU's dequantization, not the kernels.
#[test]
fn the_pages_kernel_self_check_passes_on_this_adapter() {
    for gpu in both_kernel_paths() {
        let report = pollster::block_on(clinicbench::backend::wgpu::check::check_kernels(&gpu)).unwrap();
        assert_eq!(report.len(), GgmlType::SUPPORTED.len());
        for f in &report {
            assert!(f.ok, "{}: {}: relative error {:e}", gpu.describe(), f.format, f.max_relative_error);
        }
        let top_k = pollster::block_on(clinicbench::backend::wgpu::check::check_top_k(&gpu)).unwrap();
        assert_eq!(top_k, None, "{}", gpu.describe());
    }
}

/// The page's whole-pass comparison, on a synthetic model of each family.
#[test]
fn the_pages_forward_comparison_passes_on_every_family() {
    for name in ["llama_q4_k_m", "gemma2_q4_0", "phi3_q8_0", "qwen2_q5_k_m"] {
        let Some(gpu) = gpu() else { return };
        let path = common::fixture(&format!("families/{name}.gguf"));
        let g = clinicbench::gguf::Gguf::open(clinicbench::gguf::FileSource::open(&path).unwrap()).unwrap();
        let rel = pollster::block_on(clinicbench::backend::wgpu::check::compare_forward(gpu, &g)).unwrap();
        assert!(rel < 1e-4, "{name}: GPU logits differ from the CPU's by {rel:e} of the largest logit");
    }
}

/// A GPU that goes away mid-run (driver reset, a tab's device lost) gives an error for the
/// step, not a panic or a hang, and so does every step after it.
#[test]
fn a_lost_device_is_an_error_not_a_hang() {
    use clinicbench::backend::Backend;
    use clinicbench::engine::wait;
    let path = common::fixture("families/llama_q4_k_m.gguf");
    let g = clinicbench::gguf::Gguf::open(clinicbench::gguf::FileSource::open(&path).unwrap()).unwrap();
    let Some(mut b) = common::wgpu_backend(&g, 64, &GpuOptions::default()) else { return };
    assert!(wait(b.forward(&[1, 2, 3], 1)).is_ok());
    b.gpu().device.destroy();
    for _ in 0..2 {
        let e = wait(b.forward(&[4], 1)).unwrap_err().to_string();
        assert!(e.contains("GPU device was lost") && e.contains("reload the model"), "{e}");
        assert!(wait(b.forward_scores(&[4], &[0])).is_err());
    }
}

/// Attention at lengths where decode splits the keys over workgroups (64 keys a split, here up
/// to five splits) and the prefill kernel's online softmax runs over several 64-key tiles, with
/// grouped KV heads, sliding windows (Mistral-style, Gemma 2's with its softcap) and heads of
/// 128: every decoded token's logits and a late prefill batch's against the CPU backend.
#[test]
fn attention_over_long_contexts_splits_and_windows_matches_the_cpu() {
    use clinicbench::backend::{cpu::CpuBackend, wgpu::WgpuBackend, Backend};
    use clinicbench::engine::wait;
    for name in ["llama_q4_k_m", "mistral_q2_k", "gemma2_q4_0", "qwen3_q3_k_m"] {
        let Some(gpu) = gpu() else { return };
        let path = common::fixture(&format!("families/{name}.gguf"));
        let g = clinicbench::gguf::Gguf::open(clinicbench::gguf::FileSource::open(&path).unwrap()).unwrap();
        let n_ctx = 400;
        let mut cpu = CpuBackend::load(&g, n_ctx).unwrap();
        let mut gpu = WgpuBackend::load_on(gpu, &g, n_ctx).unwrap();
        let n_vocab = cpu.config().n_vocab as u64;
        let mut rng = SplitMix::new(11);
        let mut token = || (rng.next() % n_vocab) as u32;
        let mut worst = 0f64;
        let mut compare = |want: &[f32], got: &[f32]| {
            let scale = want.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
            for (a, b) in want.iter().zip(got) {
                let e = f64::from((a - b).abs() / scale);
                worst = if e.is_nan() { f64::INFINITY } else { worst.max(e) };
            }
        };
        // Prefill 200 positions in batches of 50 (tiles of 64 keys cross batch boundaries).
        for _ in 0..4 {
            let batch: Vec<u32> = (0..50).map(|_| token()).collect();
            let want = cpu.forward_sync(&batch, 50).unwrap().to_vec();
            let got = wait(gpu.forward(&batch, 50)).unwrap().to_vec();
            compare(&want, &got);
        }
        // Decode positions 200..330: one to six splits of the visible keys.
        for _ in 0..130 {
            let t = [token()];
            let want = cpu.forward_sync(&t, 1).unwrap().to_vec();
            let got = wait(gpu.forward(&t, 1)).unwrap().to_vec();
            compare(&want, &got);
        }
        assert!(worst < 1e-4, "{name}: GPU logits differ from the CPU's by {worst:e} of the largest logit");
    }
}

/// The GPU's top-k selection equals the CPU's `engine::top_k` exactly (ids, logits, order) on
/// rows of awkward lengths: shorter than k's workgroup, one item past a workgroup's 4096, and
/// Gemma 3's vocabulary plus three (three passes for k = 256), with values drawn from a few
/// levels so that ties are everywhere (broken by id), signed zeros and infinities among them.
#[test]
fn top_k_selection_matches_the_cpu_with_ties() {
    use clinicbench::backend::wgpu::top_k_once;
    use clinicbench::engine::top_k;
    let Some(gpu) = gpu() else { return };
    let mut rng = SplitMix::new(11);
    for (n, ks) in [(5, &[1, 5][..]), (300, &[1, 40, 256]), (4097, &[1, 7, 64]), (262_147, &[40, 256])] {
        let levels = [f32::NEG_INFINITY, -3.5, -1.0, -0.0, 0.0, 0.25, 2.0, 7.75, f32::INFINITY];
        let row: Vec<f32> = (0..n)
            .map(|_| match rng.next() % 4 {
                0 => levels[(rng.next() % levels.len() as u64) as usize],
                _ => rng.f32() * 10.0,
            })
            .collect();
        for &k in ks {
            let got = pollster::block_on(top_k_once(&gpu, &row, k)).unwrap();
            let want = top_k(&row, k);
            assert_eq!(got.len(), k, "n {n}, k {k}");
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!(
                    g.id == w.id && g.logit.to_bits() == w.logit.to_bits(),
                    "n {n}, k {k}: candidate {i} is id {} ({}) on the GPU, id {} ({}) on the CPU",
                    g.id,
                    g.logit,
                    w.id,
                    w.logit
                );
            }
        }
    }
    let e = pollster::block_on(top_k_once(&gpu, &[1.0; 10], 11)).unwrap_err();
    assert!(e.to_string().contains("not in 1..=10"), "{e}");
}

/// An f16 KV cache where shader-f16 is not to be used is refused with the reason, not
/// compiled into kernels that fail later.
#[test]
fn an_f16_cache_without_shader_f16_is_refused_clearly() {
    use clinicbench::backend::wgpu::KvCache;
    if gpu().is_none() {
        return;
    }
    let options = GpuOptions { portable_kernels: true, kv_cache: KvCache::F16, ..GpuOptions::default() };
    let e = pollster::block_on(Gpu::open(&options)).err().expect("refused");
    assert!(e.to_string().contains("needs shader-f16"), "{e}");
}

/// A random-weight decoder of `arch` at sizes no workgroup, chunk or tile divides: width 72
/// (three query heads of 24 and one KV head), feed-forward 100, vocabulary 301, two layers, so
/// every kernel besides the products (covered above for every block format) meets partial
/// workgroups: embedding, RMSNorm, RoPE, attention, the gated feed-forward, the residual add,
/// the softcap and the logits reduction. Weights are F32 and F16 (block formats need whole
/// blocks of 32 or 256; `families.rs` runs them through whole models), mixed within a layer.
fn awkward_model(arch: &str, seed: u64) -> Vec<u8> {
    let (d, heads, kv_heads, ff, vocab, layers) = (72usize, 3u32, 1u32, 100usize, 301usize, 2);
    let hd = d / heads as usize;
    let kv = kv_heads as usize * hd;
    let mut w = common::GgufWriter::new(3);
    let string = |v: &str| {
        let mut b = vec![];
        common::gguf_string(&mut b, v);
        b
    };
    let key = |k: &str| format!("{arch}.{k}");
    w.kv("general.architecture", 8, &string(arch))
        .kv(&key("embedding_length"), 4, &(d as u32).to_le_bytes())
        .kv(&key("block_count"), 4, &(layers as u32).to_le_bytes())
        .kv(&key("feed_forward_length"), 4, &(ff as u32).to_le_bytes())
        .kv(&key("attention.head_count"), 4, &heads.to_le_bytes())
        .kv(&key("attention.head_count_kv"), 4, &kv_heads.to_le_bytes())
        .kv(&key("attention.layer_norm_rms_epsilon"), 6, &1e-6f32.to_le_bytes());
    match arch {
        "gemma2" => {
            w.kv(&key("attention.sliding_window"), 4, &3u32.to_le_bytes())
                .kv(&key("attn_logit_softcapping"), 6, &4.0f32.to_le_bytes())
                .kv(&key("final_logit_softcapping"), 6, &3.0f32.to_le_bytes());
        }
        // Partial rotation: 18 of 24 dimensions.
        "qwen2" => {
            w.kv(&key("rope.dimension_count"), 4, &18u32.to_le_bytes());
        }
        _ => {}
    }
    let mut tokens = vec![];
    tokens.extend(8u32.to_le_bytes());
    tokens.extend((vocab as u64).to_le_bytes());
    for i in 0..vocab {
        common::gguf_string(&mut tokens, &format!("t{i}"));
    }
    w.kv("tokenizer.ggml.tokens", 9, &tokens);
    let mut rng = SplitMix::new(seed);
    // Values offset + scale * U(-1, 1); GGUF dims are (cols, rows); F32 is type 0, F16 type 1.
    fn put(w: &mut common::GgufWriter, rng: &mut SplitMix, name: &str, (rows, cols): (usize, usize), f16: bool, (scale, offset): (f32, f32)) {
        let values: Vec<f32> = (0..rows * cols).map(|_| offset + scale * rng.f32()).collect();
        let (ty, bytes) = if f16 {
            (1, values.iter().flat_map(|&v| half::f16::from_f32(v).to_le_bytes()).collect())
        } else {
            (0, values.iter().flat_map(|v| v.to_le_bytes()).collect())
        };
        let dims: Vec<u64> = if rows == 1 { vec![cols as u64] } else { vec![cols as u64, rows as u64] };
        w.tensor(name, &dims, ty, bytes);
    }
    let mut tensor = |w: &mut common::GgufWriter, name: &str, rows: usize, cols: usize, f16: bool, scale: f32, offset: f32| {
        put(w, &mut rng, name, (rows, cols), f16, (scale, offset))
    };
    tensor(&mut w, "token_embd.weight", vocab, d, false, 1.0, 0.0);
    tensor(&mut w, "output_norm.weight", 1, d, false, 0.2, 1.0);
    let gain = |cols: usize| 1.7 / (cols as f32).sqrt();
    for il in 0..layers {
        let n = |s: &str| format!("blk.{il}.{s}");
        let f16 = il == 1;
        tensor(&mut w, &n("attn_norm.weight"), 1, d, false, 0.2, 1.0);
        tensor(&mut w, &n("ffn_norm.weight"), 1, d, false, 0.2, 1.0);
        // Projections the backend stacks into one buffer in mixed formats, as Q4_K_M files have
        // them: layer 0's values and up projection in F16 beside F32 (two formats in one
        // product), layer 1's keys in F32 between F16 queries and values (three runs).
        tensor(&mut w, &n("attn_q.weight"), d, d, f16, gain(d), 0.0);
        tensor(&mut w, &n("attn_k.weight"), kv, d, false, gain(d), 0.0);
        tensor(&mut w, &n("attn_v.weight"), kv, d, true, gain(d), 0.0);
        tensor(&mut w, &n("attn_output.weight"), d, d, f16, gain(d), 0.0);
        tensor(&mut w, &n("ffn_gate.weight"), ff, d, f16, gain(d), 0.0);
        tensor(&mut w, &n("ffn_up.weight"), ff, d, true, gain(d), 0.0);
        tensor(&mut w, &n("ffn_down.weight"), d, ff, f16, gain(ff), 0.0);
        match arch {
            "qwen2" => {
                tensor(&mut w, &n("attn_q.bias"), 1, d, false, 0.5, 0.0);
                tensor(&mut w, &n("attn_k.bias"), 1, kv, false, 0.5, 0.0);
                tensor(&mut w, &n("attn_v.bias"), 1, kv, false, 0.5, 0.0);
            }
            "qwen3" => {
                tensor(&mut w, &n("attn_q_norm.weight"), 1, hd, false, 0.2, 1.0);
                tensor(&mut w, &n("attn_k_norm.weight"), 1, hd, false, 0.2, 1.0);
            }
            "gemma2" => {
                tensor(&mut w, &n("post_attention_norm.weight"), 1, d, false, 0.2, 1.0);
                tensor(&mut w, &n("post_ffw_norm.weight"), 1, d, false, 0.2, 1.0);
            }
            _ => {}
        }
    }
    w.bytes()
}

/// Every kernel at awkward sizes, on four families that together take every path of the
/// non-product kernels (normal and NeoX RoPE, partial rotation, biases, per-head norms, post-
/// norms, GELU and SiLU, softcaps, a sliding window), against the CPU backend: a prefill with
/// every position's logits and decode steps, with subgroups and with the portable kernels.
#[test]
fn every_kernel_at_awkward_sizes_matches_the_cpu() {
    use clinicbench::backend::{cpu::CpuBackend, wgpu::WgpuBackend, Backend};
    use clinicbench::engine::wait;
    use clinicbench::gguf::{Gguf, SliceSource};
    for (i, arch) in ["llama", "qwen2", "qwen3", "gemma2"].into_iter().enumerate() {
        let bytes = awkward_model(arch, 40 + i as u64);
        for gpu in both_kernel_paths() {
            let what = format!("{arch} on {}", gpu.describe());
            let g = Gguf::open(SliceSource(bytes.clone())).unwrap();
            let mut cpu = CpuBackend::load(&g, 40).unwrap();
            let mut gpu = WgpuBackend::load_on(gpu, &g, 40).unwrap();
            let mut rng = SplitMix::new(3);
            let prompt: Vec<u32> = (0..19).map(|_| (rng.next() % 301) as u32).collect();
            let steps: Vec<&[u32]> = vec![&prompt, &prompt[..1], &prompt[1..2], &prompt[2..3], &prompt[3..10]];
            let mut worst = 0f64;
            for tokens in steps {
                let want = cpu.forward_sync(tokens, tokens.len()).unwrap().to_vec();
                let got = wait(gpu.forward(tokens, tokens.len())).unwrap();
                let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
                assert!(scale > 0.1, "{what}: the logits are degenerate ({scale})");
                for (a, b) in got.iter().zip(&want) {
                    let e = f64::from((a - b).abs() / scale);
                    worst = if e.is_nan() { f64::INFINITY } else { worst.max(e) };
                }
            }
            assert!(worst < 1e-4, "{what}: logits differ from the CPU's by {worst:e} of the largest");
        }
    }
}

/// The scoring reduction (a workgroup per 4096-logit chunk, then merged) against the CPU's
/// `log_softmax_at`: rows of 1, 4095, 4097 and 262147 logits, the maximum tied across chunks
/// (the first id wins, as numpy's argmax), -inf logits and targets anywhere.
#[test]
fn logits_scores_match_the_cpu_across_chunks() {
    use clinicbench::backend::wgpu::scores_once;
    use clinicbench::engine::log_softmax_at;
    let Some(gpu) = gpu() else { return };
    let mut rng = SplitMix::new(17);
    for n_vocab in [1usize, 4095, 4097, 262_147] {
        let rows = 3;
        let mut logits: Vec<f32> = (0..rows * n_vocab).map(|_| 8.0 * rng.f32()).collect();
        // Row 0: its maximum at three ids in different chunks; row 1: a stretch of -inf.
        // (Ids 5 and n_vocab - 1 fall in chunks 0 and 64 of the largest row: one thread merges both.)
        for id in [n_vocab - 1, n_vocab / 2, 5.min(n_vocab - 1)] {
            logits[id] = 9.5;
        }
        for v in logits[n_vocab..n_vocab + n_vocab / 2].iter_mut() {
            *v = f32::NEG_INFINITY;
        }
        let targets: Vec<u32> = (0..rows).map(|_| (rng.next() % n_vocab as u64) as u32).collect();
        let got = pollster::block_on(scores_once(&gpu, &logits, &targets)).unwrap();
        for (r, (g, &t)) in got.iter().zip(&targets).enumerate() {
            let (logprob, argmax) = log_softmax_at(&logits[r * n_vocab..(r + 1) * n_vocab], t as usize);
            assert_eq!(g.argmax as usize, argmax, "{n_vocab} logits, row {r}: argmax");
            let agree = if logprob.is_finite() { (g.logprob - logprob).abs() <= 1e-5 * logprob.abs().max(1.0) } else { g.logprob == logprob };
            assert!(agree, "{n_vocab} logits, row {r}: log p = {} on the GPU, {logprob} on the CPU", g.logprob);
        }
    }
}
