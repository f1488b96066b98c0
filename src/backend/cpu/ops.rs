//! The CPU backend's kernels: the reference every other backend is tested against.
//!
//! Numerics follow ggml's CPU kernels where they choose something (f64 accumulation of squared
//! sums and softmax denominators, RoPE angles built by repeated multiplication) so that our
//! logits stay within rounding of llama.cpp's.

use crate::model::Yarn;
use crate::quant::{self, GgmlType};

/// A weight matrix in its stored block format: `rows` rows of `cols` elements, row-major.
pub struct QMatrix {
    pub ty: GgmlType,
    pub rows: usize,
    pub cols: usize,
    pub row_bytes: usize,
    pub data: Vec<u8>,
}

impl QMatrix {
    /// The stored bytes of row `r`.
    #[inline]
    pub fn row(&self, r: usize) -> &[u8] {
        &self.data[r * self.row_bytes..(r + 1) * self.row_bytes]
    }

    /// Dequantizes row `r` into `dst` (`cols` long).
    pub fn dequantize_row(&self, r: usize, dst: &mut [f32]) {
        // Lengths are fixed at load, so this cannot fail for a matrix we built.
        let _ = quant::dequantize(self.ty, self.row(r), dst);
    }
}

/// An output buffer shared by parallel tasks that each write their own disjoint elements.
#[derive(Clone, Copy)]
pub struct SharedOut(*mut f32, usize);
// SAFETY: tasks write disjoint elements of a buffer that outlives the parallel loop (every use
// states which elements a task owns).
unsafe impl Send for SharedOut {}
unsafe impl Sync for SharedOut {}

impl SharedOut {
    pub fn new(buf: &mut [f32]) -> Self {
        SharedOut(buf.as_mut_ptr(), buf.len())
    }
    /// Writes element `i`.
    ///
    /// # Safety
    /// No other task may access element `i` during the parallel loop.
    #[inline]
    pub unsafe fn write(self, i: usize, v: f32) {
        assert!(i < self.1);
        *self.0.add(i) = v;
    }
    /// The elements `start..start + len` as a slice.
    ///
    /// # Safety
    /// No other task may access these elements during the parallel loop.
    #[inline]
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn slice(&self, start: usize, len: usize) -> &mut [f32] {
        assert!(start + len <= self.1);
        std::slice::from_raw_parts_mut(self.0.add(start), len)
    }
}

/// Runs `f(t, row)` on each `width`-long row of `buf` (one a token of the batch), a block of
/// [`TOKENS_PER_TASK`] rows a task across the threads: the norms, rotations and activations
/// between the products are a twentieth of a prefill's work, and ran on one thread while the
/// others waited. Each row is computed as it would be alone, so the results do not depend on
/// the threads.
pub(crate) fn for_each_row(buf: &mut [f32], width: usize, f: impl Fn(usize, &mut [f32]) + Send + Sync) {
    let n = buf.len() / width;
    if n <= TOKENS_PER_TASK {
        buf.chunks_exact_mut(width).enumerate().for_each(|(t, row)| f(t, row));
        return;
    }
    let out = SharedOut::new(buf);
    parallel_for(n.div_ceil(TOKENS_PER_TASK), |task| {
        for t in task * TOKENS_PER_TASK..((task + 1) * TOKENS_PER_TASK).min(n) {
            // SAFETY: row t belongs to this task only; t < n rows of `width` lie inside `buf`.
            f(t, unsafe { out.slice(t * width, width) });
        }
    });
}

/// Rows (tokens) a task of [`for_each_row`] takes.
const TOKENS_PER_TASK: usize = 16;

/// Rows handled by one task: enough to amortise scheduling, few enough to balance two cores,
/// and a multiple of every register tile's rows (3 and 4), so no tile is padded but the last.
const ROWS_PER_TASK: usize = 36;
/// Rows and tokens of the register tile in the batched path: each loaded vector of weights is
/// reused for `TILE_T` tokens and each loaded vector of activations for `TILE_R` rows, so the
/// kernel does two multiply-adds per load instead of one. With AVX-512's 32 vector registers a
/// 4 x 4 tile's sixteen accumulators stay in registers.
#[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
pub(crate) const TILE_R: usize = 4;
#[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
pub(crate) const TILE_T: usize = 4;
/// Elsewhere (AVX2's sixteen ymm registers) 3 rows x 4 tokens: twelve accumulators, three
/// loaded rows and one loaded token take the sixteen registers exactly. (4 x 4 and 4 x 3 need
/// seventeen or more; LLVM then kept accumulators on the stack inside the inner loop, and
/// prefill speed followed where the stack happened to lie.) The tile's shape does not change
/// any sum: each output is summed over its row in the same order whatever the tile.
#[cfg(not(all(target_arch = "x86_64", target_feature = "avx512f")))]
pub(crate) const TILE_R: usize = 3;
#[cfg(not(any(all(target_arch = "x86_64", target_feature = "avx512f"), target_arch = "wasm32")))]
pub(crate) const TILE_T: usize = 4;
/// In WebAssembly 3 rows x 3 tokens: the browser's JIT keeps one of the host's sixteen vector
/// registers for itself, so 3 x 4 (sixteen) spilled accumulators inside the inner loop. Under
/// Node 20 (V8, as Chromium), 640-wide rows: 3 x 4 ran at 24-25 GFLOP/s a core with or without
/// fused multiply-adds, 3 x 3 at 26 in SIMD128 and 34 with relaxed SIMD's fused ones (2 x 6, the
/// other shape that fits, at 23 and 35).
#[cfg(target_arch = "wasm32")]
pub(crate) const TILE_T: usize = 3;

/// `y[t, r] = sum_c w[r, c] * x[t, c]` for `t < n_tokens`: x is (n_tokens, cols), y is (n_tokens, rows).
///
/// One token (decode) takes the fused dequantize-and-dot path of [`quant::dot`]; several tokens
/// (prefill) dequantize a tile of rows once and multiply it with the tokens in register tiles.
pub fn matmul(w: &QMatrix, x: &[f32], y: &mut [f32], n_tokens: usize) {
    products(w, x, y, n_tokens, n_tokens == 1)
}

/// [`matmul`] by the batched path for one token too, so that a token's result is the same
/// whichever batch it is in and however many tokens that batch has (the tiles sum each output
/// in the same order for any token count; the one-token path sums in its own): what
/// [`super::Backend::forward_segments`] promises.
pub fn matmul_tiled(w: &QMatrix, x: &[f32], y: &mut [f32], n_tokens: usize) {
    products(w, x, y, n_tokens, false)
}

/// `y = W x` for `n_tokens` tokens, by the fused dequantize-and-dot kernel (`single`) or by
/// tiles of dequantized rows.
fn products(w: &QMatrix, x: &[f32], y: &mut [f32], n_tokens: usize, single: bool) {
    debug_assert_eq!(x.len(), n_tokens * w.cols);
    debug_assert_eq!(y.len(), n_tokens * w.rows);
    if n_tokens == 0 {
        // A batch that asks for no logits (a long context's batches before its first scored
        // token): the batched path below would still dequantize every row of the matrix.
        return;
    }
    let out = SharedOut::new(y);
    let (rows, cols) = (w.rows, w.cols);
    let n_tasks = rows.div_ceil(ROWS_PER_TASK);
    // Checked once here rather than per row (QMatrix's lengths are fixed at load).
    assert_eq!(w.ty.row_bytes(cols), Some(w.row_bytes), "matmul: a {} row of {cols} elements", w.ty);
    let dot = quant::dot_kernel(w.ty);
    let task = move |i: usize| {
        let out = out;
        let r0 = i * ROWS_PER_TASK;
        let r1 = (r0 + ROWS_PER_TASK).min(rows);
        if single {
            for r in r0..r1 {
                let v = dot(w.row(r), x);
                // SAFETY: each r belongs to exactly one task; r < rows = y.len().
                unsafe { out.write(r, v) };
            }
            return;
        }
        TILE.with(|tile| {
            let mut tile = tile.borrow_mut();
            if tile.len() < TILE_R * cols {
                tile.resize(TILE_R * cols, 0.0);
            }
            let mut r = r0;
            while r < r1 {
                let nr = TILE_R.min(r1 - r);
                for j in 0..TILE_R {
                    let dst = &mut tile[j * cols..(j + 1) * cols];
                    if j < nr {
                        w.dequantize_row(r + j, dst);
                    } else {
                        dst.fill(0.0); // padding rows of the last tile; their results are dropped
                    }
                }
                let wrows: [&[f32]; TILE_R] = std::array::from_fn(|j| &tile[j * cols..(j + 1) * cols]);
                let mut t = 0;
                while t < n_tokens {
                    let nt = TILE_T.min(n_tokens - t);
                    // Short token tiles repeat the last token; the repeats are not written.
                    let xrows: [&[f32]; TILE_T] = std::array::from_fn(|k| {
                        let tk = t + k.min(nt - 1);
                        &x[tk * cols..(tk + 1) * cols]
                    });
                    let acc = dot_tile(&wrows, &xrows);
                    for (k, acc_t) in acc.iter().enumerate().take(nt) {
                        for (j, &v) in acc_t.iter().enumerate().take(nr) {
                            // SAFETY: (t + k, r + j) is written by this task only; in bounds.
                            unsafe { out.write((t + k) * rows + r + j, v) };
                        }
                    }
                    t += nt;
                }
                r += nr;
            }
        });
    };
    parallel_for(n_tasks, task);
}

/// SIMD width the register tile is written for: one 256-bit register (LLVM prefers 256-bit
/// vectors even on AVX-512 parts; 16 lanes made it spill the tile's accumulators to the stack).
const LANES: usize = 8;

/// `a * b + c`, fused where the target has FMA (elsewhere `mul_add` is a slow library call).
#[inline(always)]
fn madd(a: f32, b: f32, c: f32) -> f32 {
    #[cfg(target_feature = "fma")]
    {
        a.mul_add(b, c)
    }
    #[cfg(not(target_feature = "fma"))]
    {
        a * b + c
    }
}

/// The `TILE_R x TILE_T` dot products of `w` rows with `x` rows, `acc[t][r]`.
///
/// On AVX-512 the 16 accumulators are written out as 512-bit registers: LLVM will not use
/// 512-bit vectors for the portable version (it prefers 256 bits on these parts), and the
/// explicit kernel doubles prefill speed.
#[inline(always)]
pub(crate) fn dot_tile(w: &[&[f32]; TILE_R], x: &[&[f32]; TILE_T]) -> [[f32; TILE_R]; TILE_T] {
    #[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
    {
        dot_tile_avx512(w, x)
    }
    #[cfg(all(target_arch = "x86_64", target_feature = "avx2", target_feature = "fma", not(target_feature = "avx512f")))]
    {
        dot_tile_avx2(w, x)
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        dot_tile_simd128(w, x)
    }
    #[cfg(not(any(
        all(target_arch = "x86_64", any(target_feature = "avx512f", all(target_feature = "avx2", target_feature = "fma"))),
        all(target_arch = "wasm32", target_feature = "simd128")
    )))]
    {
        dot_tile_portable(w, x)
    }
}

/// The tile in the browser: WebAssembly SIMD128 with one 4-lane register an accumulator, so
/// the nine accumulators, three rows and one token take thirteen registers, fewer than the
/// x86-64 host's JIT gives a function. (The portable tile compiled to wasm kept its accumulators in linear
/// memory, 24 stores every step of the inner loop.) Each step `acc + w * x` through
/// [`crate::quant::wasm::madd`]: one fused multiply-add in the relaxed-SIMD builds on a machine
/// that has one, a multiply then an add otherwise; lane sums in lane order.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
fn dot_tile_simd128(w: &[&[f32]; TILE_R], x: &[&[f32]; TILE_T]) -> [[f32; TILE_R]; TILE_T] {
    use std::arch::wasm32::*;
    const L: usize = 4;
    let n = w[0].len();
    let full = n / L * L;
    let mut acc = [[f32x4_splat(0.0); TILE_R]; TILE_T];
    let mut c = 0;
    while c < full {
        // SAFETY: every load reads `c..c + 4` with `c + 4 <= n`; all rows have length n (rows
        // of one matrix and activations of its width); v128_load has no alignment requirement.
        let wv: [v128; TILE_R] = std::array::from_fn(|j| unsafe { v128_load(w[j].as_ptr().add(c) as *const v128) });
        for k in 0..TILE_T {
            let xv = unsafe { v128_load(x[k].as_ptr().add(c) as *const v128) };
            for j in 0..TILE_R {
                acc[k][j] = crate::quant::wasm::madd(wv[j], xv, acc[k][j]);
            }
        }
        c += L;
    }
    let mut out = [[0f32; TILE_R]; TILE_T];
    for k in 0..TILE_T {
        for j in 0..TILE_R {
            let a = acc[k][j];
            let mut s = f32x4_extract_lane::<0>(a) + f32x4_extract_lane::<1>(a) + f32x4_extract_lane::<2>(a) + f32x4_extract_lane::<3>(a);
            for i in full..n {
                s = madd(w[j][i], x[k][i], s);
            }
            out[k][j] = s;
        }
    }
    out
}

/// The portable tile written out for AVX2 and FMA: LLVM kept the portable tile's accumulators
/// in a stack array, storing them on every step of the inner loop (40% of prefill time in
/// those stores). Here the 12 accumulators, 3 rows and one token vector take the 16 ymm
/// registers. Lane sums in the portable tile's order (`lane_sum`): the same results bit for bit.
#[cfg(all(target_arch = "x86_64", target_feature = "avx2", target_feature = "fma", not(target_feature = "avx512f")))]
#[inline(always)]
fn dot_tile_avx2(w: &[&[f32]; TILE_R], x: &[&[f32]; TILE_T]) -> [[f32; TILE_R]; TILE_T] {
    use std::arch::x86_64::*;
    let n = w[0].len();
    let full = n / LANES * LANES;
    let mut out = [[0f32; TILE_R]; TILE_T];
    // SAFETY: compiled only with AVX2 and FMA; every load reads `c..c + 8` with `c + 8 <= n`, and
    // all rows have length n (rows of one matrix and activations of its width).
    unsafe {
        let mut acc = [[_mm256_setzero_ps(); TILE_R]; TILE_T];
        let mut c = 0;
        while c < full {
            let wv: [__m256; TILE_R] = std::array::from_fn(|j| _mm256_loadu_ps(w[j].as_ptr().add(c)));
            for k in 0..TILE_T {
                let xv = _mm256_loadu_ps(x[k].as_ptr().add(c));
                for j in 0..TILE_R {
                    acc[k][j] = _mm256_fmadd_ps(wv[j], xv, acc[k][j]);
                }
            }
            c += LANES;
        }
        let sums = reduce_twelve(std::array::from_fn(|i| acc[i / TILE_R][i % TILE_R]));
        for k in 0..TILE_T {
            for j in 0..TILE_R {
                let mut s = sums[k * TILE_R + j];
                for i in full..n {
                    s = madd(w[j][i], x[k][i], s);
                }
                out[k][j] = s;
            }
        }
    }
    out
}

/// The lane sums of the AVX2 tile's twelve accumulators, transposed: horizontal adds pair
/// neighbouring lanes of two registers at once, then pairs of pairs, and one add joins the
/// halves, eight accumulators to a register (nine horizontal adds, two lane permutes, two adds
/// in all). Each sum is [`lane_sum`]'s, bit for bit. Summing each accumulator's lanes through
/// the stack, one after another, had cost a tenth of a 640-column tile.
#[cfg(all(target_arch = "x86_64", target_feature = "avx2", target_feature = "fma", not(target_feature = "avx512f")))]
#[inline(always)]
unsafe fn reduce_twelve(v: [std::arch::x86_64::__m256; 12]) -> [f32; 12] {
    use std::arch::x86_64::*;
    const _: () = assert!(TILE_R * TILE_T == 12);
    // quad(a, b, c, d) = [a, b, c, d lanes 0..4 summed; a, b, c, d lanes 4..8 summed].
    let quad = |a, b, c, d| _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));
    let (q0, q1, q2) = (quad(v[0], v[1], v[2], v[3]), quad(v[4], v[5], v[6], v[7]), quad(v[8], v[9], v[10], v[11]));
    let first = _mm256_add_ps(_mm256_permute2f128_ps::<0x20>(q0, q1), _mm256_permute2f128_ps::<0x31>(q0, q1));
    let last = _mm_add_ps(_mm256_castps256_ps128(q2), _mm256_extractf128_ps::<1>(q2));
    let mut out = [0f32; 12];
    _mm256_storeu_ps(out.as_mut_ptr(), first);
    _mm_storeu_ps(out.as_mut_ptr().add(8), last);
    out
}

#[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
#[inline(always)]
fn dot_tile_avx512(w: &[&[f32]; TILE_R], x: &[&[f32]; TILE_T]) -> [[f32; TILE_R]; TILE_T] {
    use std::arch::x86_64::*;
    const L: usize = 16;
    let n = w[0].len();
    let full = n / L * L;
    let mut out = [[0f32; TILE_R]; TILE_T];
    // SAFETY: compiled only with AVX-512F; every load reads `c..c + 16` with `c + 16 <= n`, and
    // all rows have length n (they are rows of the same matrix and activations of its width).
    unsafe {
        let mut acc = [[_mm512_setzero_ps(); TILE_R]; TILE_T];
        let mut c = 0;
        while c < full {
            let wv: [__m512; TILE_R] = std::array::from_fn(|j| _mm512_loadu_ps(w[j].as_ptr().add(c)));
            for k in 0..TILE_T {
                let xv = _mm512_loadu_ps(x[k].as_ptr().add(c));
                for j in 0..TILE_R {
                    acc[k][j] = _mm512_fmadd_ps(wv[j], xv, acc[k][j]);
                }
            }
            c += L;
        }
        let sums = reduce_sixteen(std::array::from_fn(|i| acc[i / TILE_R][i % TILE_R]));
        for k in 0..TILE_T {
            for j in 0..TILE_R {
                let mut s = sums[4 * j + k];
                for i in full..n {
                    s = madd(w[j][i], x[k][i], s);
                }
                out[k][j] = s;
            }
        }
    }
    out
}

/// The lane sums of sixteen vectors at once (lane `4 (i % 4) + i / 4` of the result is vector
/// `i`'s): halves, quarters, pairs and lanes of two vectors are added in one instruction each,
/// 15 additions and 30 shuffles where a horizontal sum a vector takes 16 x 7 operations. A
/// 4 x 4 tile over Gemma 3's 640 columns spends 40 steps of 16 multiply-adds on its sums, so
/// its sixteen horizontal sums were a tenth of the tile. Each lane sum is the usual tree
/// (lane i + lane i + 8, then + 4, + 2, + 1).
#[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
#[inline(always)]
unsafe fn reduce_sixteen(v: [std::arch::x86_64::__m512; 16]) -> [f32; 16] {
    use std::arch::x86_64::*;
    // Two vectors' 256-bit halves added: vector 2p in the low half, 2p + 1 in the high half.
    let halves: [__m512; 8] = std::array::from_fn(|p| {
        let (a, b) = (v[2 * p], v[2 * p + 1]);
        _mm512_add_ps(_mm512_shuffle_f32x4::<0x44>(a, b), _mm512_shuffle_f32x4::<0xEE>(a, b))
    });
    // Four vectors' 128-bit quarters: vector 4m + q in quarter q.
    let quarters: [__m512; 4] = std::array::from_fn(|m| {
        let (a, b) = (halves[2 * m], halves[2 * m + 1]);
        _mm512_add_ps(_mm512_shuffle_f32x4::<0x88>(a, b), _mm512_shuffle_f32x4::<0xDD>(a, b))
    });
    // Pairs of lanes: in quarter q, vector 8n + q in lanes 0 and 1, 8n + 4 + q in lanes 2 and 3.
    let pairs: [__m512; 2] = std::array::from_fn(|n| {
        let (a, b) = (quarters[2 * n], quarters[2 * n + 1]);
        _mm512_add_ps(_mm512_shuffle_ps::<0x44>(a, b), _mm512_shuffle_ps::<0xEE>(a, b))
    });
    // Single lanes: quarter q holds vectors q, 4 + q, 8 + q, 12 + q.
    let (a, b) = (pairs[0], pairs[1]);
    let sums = _mm512_add_ps(_mm512_shuffle_ps::<0x88>(a, b), _mm512_shuffle_ps::<0xDD>(a, b));
    let mut out = [0f32; 16];
    _mm512_storeu_ps(out.as_mut_ptr(), sums);
    out
}

/// The portable tile: `TILE_R * TILE_T` accumulators of [`LANES`] floats, which LLVM keeps in
/// registers and vectorizes.
#[cfg_attr(
    any(
        all(target_arch = "x86_64", any(target_feature = "avx512f", all(target_feature = "avx2", target_feature = "fma"))),
        all(target_arch = "wasm32", target_feature = "simd128")
    ),
    allow(dead_code)
)]
#[inline(always)]
fn dot_tile_portable(w: &[&[f32]; TILE_R], x: &[&[f32]; TILE_T]) -> [[f32; TILE_R]; TILE_T] {
    let n = w[0].len();
    let full = n / LANES * LANES;
    let mut acc = [[[0f32; LANES]; TILE_R]; TILE_T];
    let mut c = 0;
    while c < full {
        let wv: [[f32; LANES]; TILE_R] = std::array::from_fn(|j| w[j][c..c + LANES].try_into().unwrap());
        let xv: [[f32; LANES]; TILE_T] = std::array::from_fn(|k| x[k][c..c + LANES].try_into().unwrap());
        for k in 0..TILE_T {
            for j in 0..TILE_R {
                for i in 0..LANES {
                    acc[k][j][i] = madd(wv[j][i], xv[k][i], acc[k][j][i]);
                }
            }
        }
        c += LANES;
    }
    let mut out = [[0f32; TILE_R]; TILE_T];
    for k in 0..TILE_T {
        for j in 0..TILE_R {
            let mut s = lane_sum(&acc[k][j]);
            for i in full..n {
                s = madd(w[j][i], x[k][i], s);
            }
            out[k][j] = s;
        }
    }
    out
}

/// An accumulator's lanes summed in the order the AVX2 tile's transposed reduction adds them:
/// neighbours, then pairs of pairs, then the two halves.
#[inline(always)]
fn lane_sum(a: &[f32; LANES]) -> f32 {
    ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]))
}

/// Output values of a strip of [`weighted_values`]: two 8-lane accumulators for each of the
/// block's [`TILE_T`] queries (eight registers, as many as two FMA units of latency 4 keep busy).
pub(crate) const VALUE_STRIP: usize = 16;

/// `out[q] = sum_j probs[j][q] * v(j)` for a block of queries (`out.len() <= TILE_T`), over keys
/// `j < probs.len()` (a query's masked keys have probability zero), [`VALUE_STRIP`] output
/// values at a time: each key's values are loaded once for every query of the block, where a
/// query at a time reads every key's values once per query. Each output value is the fused sum
/// over the keys in key order. `v(j)` and each `out[q]` are `out[0].len()` long, a multiple of
/// [`VALUE_STRIP`].
pub(crate) fn weighted_values<'v>(probs: &[[f32; TILE_T]], v: impl Fn(usize) -> &'v [f32], out: &mut [&mut [f32]]) {
    let width = out[0].len();
    assert!(out.len() <= TILE_T && width % VALUE_STRIP == 0, "weighted_values: {} queries of {width}", out.len());
    let mut s = 0;
    #[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
    while s + WIDE_STRIP <= width {
        let acc = weighted_strip_wide(probs, |j| v(j)[s..s + WIDE_STRIP].try_into().unwrap());
        for (o, a) in out.iter_mut().zip(&acc) {
            o[s..s + WIDE_STRIP].copy_from_slice(a);
        }
        s += WIDE_STRIP;
    }
    while s < width {
        let acc = weighted_strip(probs, |j| v(j)[s..s + VALUE_STRIP].try_into().unwrap());
        for (o, a) in out.iter_mut().zip(&acc) {
            o[s..s + VALUE_STRIP].copy_from_slice(a);
        }
        s += VALUE_STRIP;
    }
}

/// Output values of a strip of [`weighted_values`] with AVX-512: four 16-lane accumulators for
/// each of the block's queries (sixteen of the 32 registers).
#[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
const WIDE_STRIP: usize = 64;

/// Keys ahead of the one being summed whose values [`weighted_strip_wide`] asks the memory system
/// for. Decode reads each key's values once per step from memory (the cache is past the L2 when
/// the context is long), a row of the cache a key, rows a head dimension's width apart.
#[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
const VALUE_PREFETCH_KEYS: usize = 8;

/// One [`WIDE_STRIP`] of [`weighted_values`]: the same fused sums over the keys in key order as
/// [`weighted_strip`], a key's 256 bytes of values at a time where that takes 64.
#[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
#[inline(always)]
fn weighted_strip_wide<'v>(probs: &[[f32; TILE_T]], v: impl Fn(usize) -> &'v [f32; WIDE_STRIP]) -> [[f32; WIDE_STRIP]; TILE_T] {
    let mut out = [[0f32; WIDE_STRIP]; TILE_T];
    // SAFETY: compiled only with AVX-512F; loads and stores of whole [f32; 64] arrays, 16 lanes at
    // offsets 0, 16, 32 and 48; a prefetch never faults.
    unsafe {
        use std::arch::x86_64::*;
        let mut acc = [[_mm512_setzero_ps(); 4]; TILE_T];
        for (j, p) in probs.iter().enumerate() {
            if j + VALUE_PREFETCH_KEYS < probs.len() {
                let ahead = v(j + VALUE_PREFETCH_KEYS).as_ptr();
                for line in 0..4 {
                    _mm_prefetch::<_MM_HINT_T0>(ahead.add(16 * line) as *const i8);
                }
            }
            let vs = v(j).as_ptr();
            let vals: [__m512; 4] = std::array::from_fn(|i| _mm512_loadu_ps(vs.add(16 * i)));
            for q in 0..TILE_T {
                let pq = _mm512_set1_ps(p[q]);
                for i in 0..4 {
                    acc[q][i] = _mm512_fmadd_ps(pq, vals[i], acc[q][i]);
                }
            }
        }
        for q in 0..TILE_T {
            for i in 0..4 {
                _mm512_storeu_ps(out[q].as_mut_ptr().add(16 * i), acc[q][i]);
            }
        }
    }
    out
}

/// One strip of [`weighted_values`].
#[inline(always)]
fn weighted_strip<'v>(probs: &[[f32; TILE_T]], v: impl Fn(usize) -> &'v [f32; VALUE_STRIP]) -> [[f32; VALUE_STRIP]; TILE_T] {
    let mut out = [[0f32; VALUE_STRIP]; TILE_T];
    #[cfg(all(target_arch = "x86_64", target_feature = "avx2", target_feature = "fma"))]
    // SAFETY: compiled only with AVX2 and FMA; loads and stores of whole [f32; 16] arrays, 8
    // lanes at offsets 0 and 8.
    unsafe {
        use std::arch::x86_64::*;
        let mut acc = [[_mm256_setzero_ps(); 2]; TILE_T];
        for (j, p) in probs.iter().enumerate() {
            let vs = v(j).as_ptr();
            let (v0, v1) = (_mm256_loadu_ps(vs), _mm256_loadu_ps(vs.add(8)));
            for q in 0..TILE_T {
                let pq = _mm256_set1_ps(p[q]);
                acc[q][0] = _mm256_fmadd_ps(pq, v0, acc[q][0]);
                acc[q][1] = _mm256_fmadd_ps(pq, v1, acc[q][1]);
            }
        }
        for q in 0..TILE_T {
            _mm256_storeu_ps(out[q].as_mut_ptr(), acc[q][0]);
            _mm256_storeu_ps(out[q].as_mut_ptr().add(8), acc[q][1]);
        }
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "avx2", target_feature = "fma")))]
    for (j, p) in probs.iter().enumerate() {
        let vs = v(j);
        for q in 0..TILE_T {
            for i in 0..VALUE_STRIP {
                out[q][i] = madd(p[q], vs[i], out[q][i]);
            }
        }
    }
    out
}

thread_local! {
    /// Per-thread scratch for dequantized row tiles (grown once, then reused).
    static TILE: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f(i)` for `i < n`, across rayon's threads natively and in the page's threaded build
/// (WebAssembly threads: one shared memory, a worker a thread), in order in the page's plain build.
pub fn parallel_for(n: usize, f: impl Fn(usize) + Send + Sync) {
    #[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
    {
        use rayon::prelude::*;
        (0..n).into_par_iter().for_each(f);
    }
    #[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
    {
        (0..n).for_each(f);
    }
}

/// Asks the memory system for every cache line of `data` (a hint: it never faults, and does
/// nothing where there is no prefetch instruction). Decode's attention reads the whole KV cache
/// once a step, a row at a time: rows a kilobyte or more apart, where the hardware prefetchers,
/// which follow one stream within a 4 KB page, fall behind.
#[inline(always)]
pub(crate) fn prefetch(data: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    for line in data.chunks(16) {
        // SAFETY: a prefetch is a hint that never faults.
        unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(line.as_ptr() as *const i8) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = data;
}

/// f32 dot product with independent accumulators, so LLVM vectorizes it.
#[inline]
pub fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    const L: usize = 16;
    let mut acc = [0f32; L];
    let ca = a.chunks_exact(L);
    let cb = b.chunks_exact(L);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (xa, xb) in ca.zip(cb) {
        for i in 0..L {
            acc[i] += xa[i] * xb[i];
        }
    }
    let mut s: f32 = acc.iter().sum();
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

/// RMSNorm: `out = x / sqrt(mean(x^2) + eps) * w` (ggml_rms_norm then ggml_mul).
pub fn rms_norm(x: &[f32], w: &[f32], eps: f32, out: &mut [f32]) {
    let sum: f64 = x.iter().map(|&v| (v as f64) * (v as f64)).sum();
    let mean = (sum / x.len() as f64) as f32;
    let scale = 1.0 / (mean + eps).sqrt();
    for ((o, &v), &g) in out.iter_mut().zip(x).zip(w) {
        *o = v * scale * g;
    }
}

/// RMSNorm in place.
pub fn rms_norm_inplace(x: &mut [f32], w: &[f32], eps: f32) {
    let sum: f64 = x.iter().map(|&v| (v as f64) * (v as f64)).sum();
    let mean = (sum / x.len() as f64) as f32;
    let scale = 1.0 / (mean + eps).sqrt();
    for (v, &g) in x.iter_mut().zip(w) {
        *v = *v * scale * g;
    }
}

/// The rotation angles' cosines and sines for one position: `n_rot / 2` pairs.
///
/// As ggml_rope builds them (`rope_yarn`): `theta_i = freq_scale * (pos * base^(-2i/n_rot) /
/// freq_factor_i)`, with the power taken by repeated multiplication in f32; under YaRN the
/// angle blends that with the unscaled one along a ramp over the pairs, and the cosine and sine
/// carry YaRN's magnitude.
pub fn rope_angles(
    pos: usize,
    n_rot: usize,
    base: f32,
    freq_scale: f32,
    factors: Option<&[f32]>,
    yarn: Option<&Yarn>,
    cs: &mut [(f32, f32)],
) {
    let theta_scale = base.powf(-2.0 / n_rot as f32);
    let (ext_factor, mut mscale, corr) = match yarn {
        Some(y) => (y.ext_factor, y.attn_factor, y.correction_dims(n_rot, base)),
        None => (0.0, 1.0, [0.0, 0.0]),
    };
    if ext_factor != 0.0 {
        mscale *= 1.0 + 0.1 * (1.0 / freq_scale).ln();
    }
    let mut theta = pos as f32;
    for (i, slot) in cs.iter_mut().enumerate().take(n_rot / 2) {
        let ff = factors.map_or(1.0, |f| f[i]);
        let extrapolated = theta / ff;
        let interpolated = freq_scale * extrapolated;
        let t = if ext_factor != 0.0 {
            let y = (i as f32 - corr[0]) / (corr[1] - corr[0]).max(0.001);
            let ramp_mix = (1.0 - y.clamp(0.0, 1.0)) * ext_factor;
            interpolated * (1.0 - ramp_mix) + extrapolated * ramp_mix
        } else {
            interpolated
        };
        *slot = (t.cos() * mscale, t.sin() * mscale);
        theta *= theta_scale;
    }
}

/// Rotates one head in place. `interleaved` pairs `(x[2i], x[2i+1])` (Llama); otherwise NeoX
/// pairs `(x[i], x[i + n_rot/2])` (Qwen, Gemma, Phi-3). Using the wrong layout silently
/// produces a model that runs and answers badly; see the unit test below.
pub fn rope_head(head: &mut [f32], cs: &[(f32, f32)], n_rot: usize, interleaved: bool) {
    let half = n_rot / 2;
    for (i, &(c, s)) in cs.iter().enumerate().take(half) {
        let (a, b) = if interleaved { (2 * i, 2 * i + 1) } else { (i, i + half) };
        let (x0, x1) = (head[a], head[b]);
        head[a] = x0 * c - x1 * s;
        head[b] = x0 * s + x1 * c;
    }
}

/// GELU, tanh approximation (ggml_gelu), with `tanh(y) = 1 - 2 / (exp(2y) + 1)`: GELU needs
/// tanh to an absolute error, which this form keeps within a few units of f32's last place.
#[inline(always)]
pub fn gelu(x: f32) -> f32 {
    const SQRT_2_OVER_PI: f32 = 0.797_884_6;
    const COEF_A: f32 = 0.044715;
    let y = SQRT_2_OVER_PI * x * (1.0 + COEF_A * x * x);
    // Past |y| = 9, tanh is +-1 in f32; the clamp keeps exp finite.
    let tanh = 1.0 - 2.0 / (exp(2.0 * y.clamp(-9.0, 9.0)) + 1.0);
    0.5 * x * (1.0 + tanh)
}

/// SiLU, `x * sigmoid(x)` (ggml_silu).
#[inline(always)]
pub fn silu(x: f32) -> f32 {
    x / (1.0 + exp(-x))
}

/// `gate = act(gate) * up`, the gated feed-forward's middle. Written over plain slices with the
/// activation inlined, so it vectorizes: libm's scalar `tanhf` made GELU an eighth of prefill.
pub fn gated_activation(gate: &mut [f32], up: &[f32], gelu_activation: bool) {
    if gelu_activation {
        gate.iter_mut().zip(up).for_each(|(g, u)| *g = gelu(*g) * u);
    } else {
        gate.iter_mut().zip(up).for_each(|(g, u)| *g = silu(*g) * u);
    }
}

/// `e^x` in f32 without a library call, so loops over it vectorize: `x = n ln 2 + r` with
/// `|r| <= ln 2 / 2`, `e^r` by its degree-7 Taylor polynomial (truncation below 2^-27), times
/// `2^n` made in two halves so every n an f32 result needs is in range. Within a few ulp of
/// `f32::exp`; past the ends of f32 it gives 0 or +inf by IEEE rounding, and NaN stays NaN.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    // ln 2 in two parts (Cephes'): LN2_HI has few mantissa bits, so `n * LN2_HI` is exact.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let x = x.clamp(-104.0, 89.0);
    let n = (x * LOG2_E).round();
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let p = 1.0
        + r * (1.0 + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    let n = n as i32; // in [-150, 129]
    let half = n >> 1;
    let pow2 = |e: i32| f32::from_bits(((e + 127) as u32) << 23);
    p * pow2(half) * pow2(n - half)
}

/// Softmax in place, with the max subtracted and the denominator summed in f64 (ggml_soft_max).
pub fn softmax_inplace(x: &mut [f32]) {
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0f64;
    for v in x.iter_mut() {
        *v = (*v - max).exp();
        sum += *v as f64;
    }
    let inv = (1.0 / sum) as f32;
    for v in x.iter_mut() {
        *v *= inv;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_within_a_few_ulp_and_saturates_like_ieee() {
        let ulps = |a: f32, b: f32| (a.to_bits() as i64 - b.to_bits() as i64).abs();
        let mut worst = 0;
        let mut x = -103.0f32;
        while x < 88.7 {
            let want = (x as f64).exp() as f32;
            if want.is_normal() {
                worst = worst.max(ulps(exp(x), want));
            }
            x += 0.0137;
        }
        assert!(worst <= 3, "exp is {worst} ulp off");
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(-200.0), 0.0);
        assert_eq!(exp(89.0), f32::INFINITY);
        assert!(exp(f32::NAN).is_nan());
    }

    #[test]
    fn gelu_and_silu_match_their_definitions() {
        let mut x = -20.0f64;
        while x < 20.0 {
            let y = (2.0 / std::f64::consts::PI).sqrt() * x * (1.0 + 0.044715 * x * x);
            let gelu_want = 0.5 * x * (1.0 + y.tanh());
            let silu_want = x / (1.0 + (-x).exp());
            assert!((f64::from(gelu(x as f32)) - gelu_want).abs() <= 4e-7 * (1.0 + x.abs()), "gelu({x})");
            assert!((f64::from(silu(x as f32)) - silu_want).abs() <= 4e-7 * (1.0 + x.abs()), "silu({x})");
            x += 0.01;
        }
    }

    #[test]
    fn rope_layouts_pair_different_dimensions() {
        let mut cs = vec![(0.0, 0.0); 2];
        rope_angles(1, 4, 10000.0, 1.0, None, None, &mut cs);
        // Position 1, pair 0 rotates by 1 radian; pair 1 by 10000^(-1/2) = 0.01 radians.
        assert!((cs[0].1 - 1f32.sin()).abs() < 1e-6);
        assert!((cs[1].1 - 0.01f32.sin()).abs() < 1e-6);
        let x = [1.0, 0.0, 0.0, 0.0];
        let mut neox = x;
        rope_head(&mut neox, &cs, 4, false);
        let mut inter = x;
        rope_head(&mut inter, &cs, 4, true);
        // NeoX pairs x[0] with x[2]; interleaved pairs x[0] with x[1].
        assert!((neox[2] - 1f32.sin()).abs() < 1e-6 && neox[1] == 0.0);
        assert!((inter[1] - 1f32.sin()).abs() < 1e-6 && inter[2] == 0.0);
    }

    #[test]
    fn rms_norm_matches_definition() {
        let x = [1.0, -2.0, 3.0, 0.5];
        let w = [1.0, 2.0, 0.5, 1.0];
        let mut out = [0.0; 4];
        rms_norm(&x, &w, 1e-6, &mut out);
        let rms = ((1.0 + 4.0 + 9.0 + 0.25) / 4.0f32 + 1e-6).sqrt();
        for i in 0..4 {
            assert!((out[i] - x[i] / rms * w[i]).abs() < 1e-6);
        }
    }

    /// The tile written for this machine's SIMD computes what the portable tile computes: bit
    /// for bit where the lane sums share its order (AVX2), within rounding where they do not
    /// (AVX-512's tree sum; the browser's SIMD128 tile, four lanes, is checked by the page test
    /// against the CLI).
    #[test]
    fn the_simd_tile_equals_the_portable_tile() {
        for n in [8, 61, 256, 643] {
            let rows: Vec<Vec<f32>> = (0..TILE_R).map(|j| (0..n).map(|i| (((i * 7919 + j * 104729) % 1013) as f32 - 506.0) / 77.0).collect()).collect();
            let toks: Vec<Vec<f32>> = (0..TILE_T).map(|k| (0..n).map(|i| (((i * 31 + k * 7741) % 977) as f32 - 488.0) / 131.0).collect()).collect();
            let w: [&[f32]; TILE_R] = std::array::from_fn(|j| rows[j].as_slice());
            let x: [&[f32]; TILE_T] = std::array::from_fn(|k| toks[k].as_slice());
            let (simd, portable) = (dot_tile(&w, &x), dot_tile_portable(&w, &x));
            for k in 0..TILE_T {
                for j in 0..TILE_R {
                    if cfg!(all(target_arch = "x86_64", target_feature = "avx512f")) {
                        assert!((simd[k][j] - portable[k][j]).abs() <= 1e-5 * portable[k][j].abs().max(1.0), "n {n} ({k},{j})");
                    } else {
                        assert_eq!(simd[k][j].to_bits(), portable[k][j].to_bits(), "n {n} ({k},{j})");
                    }
                }
            }
        }
    }

    #[test]
    fn weighted_values_are_each_querys_probability_weighted_sum() {
        // Widths of whole wide (AVX-512) strips, of narrow ones only, and of both (80, 144).
        for (keys, queries, width) in [(1, 1, 16), (5, 3, 32), (37, TILE_T, 256), (12, 2, 80), (40, TILE_T, 144)] {
            let v: Vec<Vec<f32>> = (0..keys).map(|j| (0..width).map(|i| ((i * 31 + j * 7) % 23) as f32 / 8.0 - 1.0).collect()).collect();
            // Causal masks: query q sees keys up to keys - queries + q (zero past it).
            let probs: Vec<[f32; TILE_T]> = (0..keys)
                .map(|j| std::array::from_fn(|q| if j + queries <= keys + q { ((j * 13 + q * 5) % 11) as f32 / 64.0 } else { 0.0 }))
                .collect();
            let mut bufs = vec![vec![f32::NAN; width]; queries];
            let mut out: Vec<&mut [f32]> = bufs.iter_mut().map(|b| b.as_mut_slice()).collect();
            weighted_values(&probs, |j| &v[j], &mut out);
            for (q, row) in bufs.iter().enumerate() {
                for (i, &got) in row.iter().enumerate() {
                    // Small integers over powers of two: every sum is exact whatever its order.
                    let want: f32 = (0..keys).map(|j| probs[j][q] * v[j][i]).sum();
                    assert_eq!(got, want, "{keys} keys, query {q}, value {i}");
                }
            }
        }
    }

    #[test]
    fn matmul_batched_equals_single_token() {
        let (rows, cols) = (37, 64);
        let w: Vec<f32> = (0..rows * cols).map(|i| ((i * 7919 % 113) as f32 - 56.0) / 50.0).collect();
        let m = QMatrix {
            ty: GgmlType::F32,
            rows,
            cols,
            row_bytes: cols * 4,
            data: w.iter().flat_map(|v| v.to_le_bytes()).collect(),
        };
        let x: Vec<f32> = (0..3 * cols).map(|i| ((i * 31 % 17) as f32 - 8.0) / 9.0).collect();
        let mut y = vec![0.0; 3 * rows];
        matmul(&m, &x, &mut y, 3);
        for t in 0..3 {
            let mut y1 = vec![0.0; rows];
            matmul(&m, &x[t * cols..(t + 1) * cols], &mut y1, 1);
            for r in 0..rows {
                let want: f32 = (0..cols).map(|c| w[r * cols + c] * x[t * cols + c]).sum();
                assert!((y[t * rows + r] - want).abs() < 1e-4, "batched ({t},{r})");
                assert!((y1[r] - want).abs() < 1e-4, "single ({t},{r})");
            }
        }
    }
}
