//! A self-check of the CPU product kernels wherever they run: every block format's
//! [`quant::dot`] on random blocks against the float64 reference of its dequantized weights,
//! with the GPU check's blocks and bar. Natively a test runs it; the page runs it when its engine
//! starts, because its WebAssembly kernels (`quant::wasm`) compile only for the browser and no
//! native test can reach them.

use crate::backend::wgpu::check::{random_weights, FormatCheck, MAX_RELATIVE_ERROR};
use crate::quant::{self, GgmlType};
use crate::rng::SplitMix64;

/// Rows a format is checked on (as the GPU check: no tile divides it).
const ROWS: usize = 37;

/// Every supported format's row-times-vector kernel against the reference.
pub fn check_kernels() -> Vec<FormatCheck> {
    GgmlType::SUPPORTED.into_iter().enumerate().map(|(i, ty)| check_format(ty, 41 + i as u64)).collect()
}

fn check_format(ty: GgmlType, seed: u64) -> FormatCheck {
    // An odd number of blocks a row; 45 columns for the float types (not whole chunks).
    let cols = match ty.block_size() {
        1 => 45,
        32 => 7 * 32,
        _ => 3 * 256,
    };
    let weights = random_weights(ty, ROWS, cols, seed);
    let mut rng = SplitMix64::new(seed ^ 0x5eed);
    let x: Vec<f32> = (0..cols).map(|_| (rng.next_f64() * 2.0 - 1.0) as f32).collect();
    let mut w = vec![0f32; cols];
    let mut worst = 0f64;
    for row in weights.chunks_exact(ty.row_bytes(cols).unwrap_or(weights.len().max(1))) {
        if quant::dequantize(ty, row, &mut w).is_err() {
            worst = f64::INFINITY;
            continue;
        }
        let got = f64::from(quant::dot(ty, row, &x));
        let want: f64 = w.iter().zip(&x).map(|(&a, &b)| f64::from(a) * f64::from(b)).sum();
        let scale: f64 = w.iter().zip(&x).map(|(&a, &b)| (f64::from(a) * f64::from(b)).abs()).sum();
        let err = (got - want).abs() / scale.max(1e-30);
        // NaN compares false: count it as the worst error.
        worst = if err.is_nan() { f64::INFINITY } else { worst.max(err) };
    }
    FormatCheck { format: ty.name().to_string(), max_relative_error: worst, ok: worst <= MAX_RELATIVE_ERROR }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cpu_kernel_agrees_with_the_reference() {
        let checks = check_kernels();
        assert_eq!(checks.len(), GgmlType::SUPPORTED.len());
        let failed: Vec<_> = checks.iter().filter(|c| !c.ok).collect();
        assert!(failed.is_empty(), "{failed:?}");
    }
}
