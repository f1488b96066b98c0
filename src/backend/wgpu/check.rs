//! A self-check of the GPU kernels that runs wherever the backend runs: every block format's
//! product kernels on random blocks against the CPU reference (`quant::dequantize` and a float64
//! dot product). The native tests run it on lavapipe and the page runs it on the browser's
//! WebGPU adapter, so the same kernels are held to the same bar on both.

use super::{matmul_once, BackendError, Gpu};
use crate::quant::{dequantize, GgmlType};
use crate::rng::SplitMix64;
use serde::{Deserialize, Serialize};

/// One block format's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FormatCheck {
    pub format: String,
    /// Largest |gpu - reference| over the outputs, relative to the sum of |w x| of that output.
    pub max_relative_error: f64,
    pub ok: bool,
}

/// The bar: f32 accumulation in a different order than the reference.
pub const MAX_RELATIVE_ERROR: f64 = 1e-5;

/// 37 rows (no tile or workgroup divides it) and 3 or 17 tokens (the matrix-vector kernel and
/// the tiled one with a partial tile).
const ROWS: usize = 37;

/// Uniform in [-1, 1) with 24 bits, from the project's seeded generator.
fn unit(rng: &mut SplitMix64) -> f32 {
    (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
}

/// Byte offsets of a block's f16 scale fields, which random bytes would make inf or NaN.
fn half_fields(ty: GgmlType) -> &'static [usize] {
    match ty {
        GgmlType::Q4_0 | GgmlType::Q5_0 | GgmlType::Q8_0 | GgmlType::IQ4_NL | GgmlType::IQ4_XS | GgmlType::IQ3_XXS | GgmlType::IQ3_S => &[0],
        GgmlType::IQ2_XXS | GgmlType::IQ2_XS | GgmlType::IQ2_S | GgmlType::IQ1_S => &[0],
        GgmlType::Q4_1 | GgmlType::Q5_1 | GgmlType::Q4K | GgmlType::Q5K => &[0, 2],
        GgmlType::Q2K => &[80, 82],
        GgmlType::Q3K => &[108],
        GgmlType::Q6K => &[208],
        GgmlType::TQ1_0 => &[52],
        GgmlType::TQ2_0 => &[64],
        _ => &[],
    }
}

/// `rows` x `cols` random weights of `ty`: random quant bits with scales in [-0.1, 0.1] for
/// the block formats, random values in [-1, 1] for the float types.
pub fn random_weights(ty: GgmlType, rows: usize, cols: usize, seed: u64) -> Vec<u8> {
    let mut rng = SplitMix64::new(seed);
    match ty {
        GgmlType::F32 => (0..rows * cols).flat_map(|_| unit(&mut rng).to_le_bytes()).collect(),
        GgmlType::F16 => (0..rows * cols).flat_map(|_| half::f16::from_f32(unit(&mut rng)).to_le_bytes()).collect(),
        GgmlType::BF16 => (0..rows * cols).flat_map(|_| half::bf16::from_f32(unit(&mut rng)).to_le_bytes()).collect(),
        _ => {
            let n_blocks = rows * cols / ty.block_size();
            let mut out = Vec::with_capacity(n_blocks * ty.block_bytes());
            for _ in 0..n_blocks {
                let mut block: Vec<u8> = (0..ty.block_bytes()).map(|_| rng.next_u64() as u8).collect();
                for &at in half_fields(ty) {
                    let d = half::f16::from_f32(0.1 * unit(&mut rng));
                    block[at..at + 2].copy_from_slice(&d.to_le_bytes());
                }
                if ty == GgmlType::IQ1_M {
                    // No f16 field: d is the top nibbles of the four u16 scales @48.
                    let d = half::f16::from_f32(0.1 * unit(&mut rng)).to_bits();
                    for k in 0..4 {
                        let at = 48 + 2 * k + 1;
                        block[at] = (block[at] & 0x0f) | ((((d >> (4 * k)) & 0xf) as u8) << 4);
                    }
                }
                if ty == GgmlType::MXFP4 {
                    // An E8M0 exponent for scales of 2^-8..2^-1 (a random byte is as often inf).
                    block[0] = 119 + (rng.next_u64() % 8) as u8;
                }
                out.extend_from_slice(&block);
            }
            out
        }
    }
}

/// Runs every supported block format's kernels on the GPU and compares them with the CPU.
pub async fn check_kernels(gpu: &Gpu) -> Result<Vec<FormatCheck>, BackendError> {
    let mut out = Vec::new();
    for (i, ty) in GgmlType::SUPPORTED.into_iter().enumerate() {
        // An odd number of blocks a row; 45 columns for the float types (not whole chunks).
        let cols = match ty.block_size() {
            1 => 45,
            32 => 7 * 32,
            _ => 3 * 256,
        };
        let weights = random_weights(ty, ROWS, cols, 11 + i as u64);
        let mut w = vec![0f32; ROWS * cols];
        dequantize(ty, &weights, &mut w).map_err(|e| BackendError::Gpu(e.to_string()))?;
        let row_bytes = ty.row_bytes(cols).unwrap_or(1);
        let mut worst = 0f64;
        for n in [1, 3, 17] {
            let mut rng = SplitMix64::new(97 + n as u64);
            let x: Vec<f32> = (0..n * cols).map(|_| unit(&mut rng)).collect();
            let got = matmul_once(gpu, ty, &weights, (ROWS, cols), &x, n, 5 * row_bytes).await?;
            for t in 0..n {
                for r in 0..ROWS {
                    let (wr, xt) = (&w[r * cols..(r + 1) * cols], &x[t * cols..(t + 1) * cols]);
                    let want: f64 = wr.iter().zip(xt).map(|(&a, &b)| f64::from(a) * f64::from(b)).sum();
                    let scale: f64 = wr.iter().zip(xt).map(|(&a, &b)| (f64::from(a) * f64::from(b)).abs()).sum();
                    let err = (f64::from(got[t * ROWS + r]) - want).abs() / scale.max(1e-30);
                    // NaN compares false: count it as the worst error.
                    worst = if err.is_nan() { f64::INFINITY } else { worst.max(err) };
                }
            }
        }
        out.push(FormatCheck { format: ty.name().to_string(), max_relative_error: worst, ok: worst <= MAX_RELATIVE_ERROR });
    }
    Ok(out)
}

/// Selects the top k of a 70001-logit row (two passes of the kernel) on the GPU and compares
/// it with the CPU's `logits::top_k`: the ids and logits in the same order, ties (a third of
/// the row shares eight values) broken by id. Returns the first disagreement, if any.
pub async fn check_top_k(gpu: &Gpu) -> Result<Option<String>, BackendError> {
    let mut rng = SplitMix64::new(23);
    let row: Vec<f32> = (0..70_001)
        .map(|_| match rng.next_u64() % 3 {
            0 => (rng.next_u64() % 8) as f32 - 2.0,
            _ => 4.0 * unit(&mut rng),
        })
        .collect();
    for k in [1, 40, 256] {
        let got = super::top_k_once(gpu, &row, k).await?;
        let want = crate::backend::logits::top_k(&row, k);
        if let Some(i) = (0..k).find(|&i| got.get(i).map(|c| (c.id, c.logit.to_bits())) != Some((want[i].id, want[i].logit.to_bits()))) {
            return Ok(Some(format!("top-{k} candidate {i} is {:?} on the GPU, {:?} on the CPU", got.get(i), want[i])));
        }
    }
    Ok(None)
}

/// Runs a few tokens of `g` through the GPU backend and the CPU backend (a 5-token prefill with
/// every position's logits, then two decode steps) and returns the largest |difference| of
/// their logits relative to the largest |logit|: the whole forward pass, every op of the
/// model's family, on this adapter.
pub async fn compare_forward<S: crate::gguf::ByteSource>(gpu: Gpu, g: &crate::gguf::Gguf<S>) -> Result<f64, BackendError> {
    use crate::backend::Backend;
    let n_ctx = 32.min(crate::model::ModelConfig::from_gguf(g)?.n_ctx_train);
    let mut cpu = crate::backend::cpu::CpuBackend::load(g, n_ctx)?;
    let mut gpu = super::WgpuBackend::load_on(gpu, g, n_ctx)?;
    let n_vocab = cpu.config().n_vocab as u32;
    let mut rng = SplitMix64::new(5);
    let prompt: Vec<u32> = (0..5).map(|_| (rng.next_u64() % u64::from(n_vocab)) as u32).collect();
    let steps: [&[u32]; 3] = [&prompt, &prompt[..1], &prompt[1..2]];
    let (mut worst, mut scale) = (0f64, 0f64);
    for tokens in steps {
        let want = cpu.forward_sync(tokens, tokens.len())?.to_vec();
        let got = gpu.forward(tokens, tokens.len()).await?;
        for (a, b) in got.iter().zip(&want) {
            let d = f64::from((a - b).abs());
            worst = if d.is_nan() { f64::INFINITY } else { worst.max(d) };
            scale = scale.max(f64::from(b.abs()));
        }
    }
    Ok(worst / scale.max(1e-30))
}
