//! The CPU backend's batched product (`ops::matmul_tiled`, the page's prefill and batched decode)
//! with its row dequantization, and the one-token product (decode), exported bare for `run.mjs` to time in V8. One matrix at a time:
//! `setup` makes it (random blocks, as the kernel check's), `matmul` and `dequantize` run it.

use clinicbench::backend::cpu::ops::{self, matmul_tiled, QMatrix};
use clinicbench::quant::GgmlType;
use std::cell::RefCell;

struct Case {
    w: QMatrix,
    x: Vec<f32>,
    y: Vec<f32>,
    tokens: usize,
}

thread_local! {
    static CASE: RefCell<Option<Case>> = const { RefCell::new(None) };
}

/// Makes a `rows x cols` matrix of format `format` (0 Q8_0, 1 Q4_K, 2 Q6_K, 3 Q5_0, else F32) and
/// `tokens` rows of activations.
#[no_mangle]
pub extern "C" fn setup(format: u32, rows: usize, cols: usize, tokens: usize) {
    let ty = match format {
        0 => GgmlType::Q8_0,
        1 => GgmlType::Q4K,
        2 => GgmlType::Q6K,
        3 => GgmlType::Q5_0,
        _ => GgmlType::F32,
    };
    let data = clinicbench::backend::wgpu::check::random_weights(ty, rows, cols, 7);
    let row_bytes = data.len() / rows;
    let x = (0..tokens * cols).map(|i| (i * 7919 % 1000) as f32 / 1000.0 - 0.5).collect();
    let w = QMatrix { ty, rows, cols, row_bytes, data };
    CASE.with(|c| *c.borrow_mut() = Some(Case { w, x, y: vec![0.0; tokens * rows], tokens }));
}

/// One product of the matrix with every token; returns an output (so it is not optimized away).
#[no_mangle]
pub extern "C" fn matmul() -> f32 {
    CASE.with(|c| {
        let mut c = c.borrow_mut();
        let Some(c) = c.as_mut() else { return f32::NAN };
        matmul_tiled(&c.w, &c.x, &mut c.y, c.tokens);
        c.y[0]
    })
}

/// The first token alone through the one-token kernels (`quant::dot`: decode one at a time).
#[no_mangle]
pub extern "C" fn matvec() -> f32 {
    CASE.with(|c| {
        let mut c = c.borrow_mut();
        let Some(c) = c.as_mut() else { return f32::NAN };
        let (rows, cols) = (c.w.rows, c.w.cols);
        ops::matmul(&c.w, &c.x[..cols], &mut c.y[..rows], 1);
        c.y[0]
    })
}

/// Every row dequantized once (the part of `matmul` that does not grow with the tokens).
#[no_mangle]
pub extern "C" fn dequantize() -> f32 {
    CASE.with(|c| {
        let mut c = c.borrow_mut();
        let Some(c) = c.as_mut() else { return f32::NAN };
        let cols = c.w.cols;
        (0..c.w.rows).map(|r| {
            c.w.dequantize_row(r, &mut c.y[..cols]);
            c.y[0]
        }).sum()
    })
}
