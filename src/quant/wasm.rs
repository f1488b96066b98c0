//! Hand-vectorized dot products for WebAssembly SIMD128: the page's CPU backend.
//!
//! The portable kernels of [`super::dot`] leave two formats slow in the browser, where a decode
//! step of Gemma 3 270M Q4_K_M spends most of its time on them: Q5_0 (the attention and
//! feed-forward inputs of models whose rows are not a multiple of 256), whose fifth bits LLVM
//! decodes a float or two at a time, 35 ns a block of 32 against 14 for Q8_0 under Node 20; and
//! Q8_0 (the tied output matrix, 171 of the 246 MB a token reads), which multiplies every weight
//! by its block's scale before the activation. Here a block's quants become signed bytes in
//! two vector registers with a few integer operations, are widened to floats four at a time,
//! and the block's scale multiplies their sum once. WebAssembly has no fused multiply-add, so
//! each product is rounded before its addition, as in the portable kernels.
//!
//! Layouts as in ggml-common.h: `block_q8_0` is f16 `d` and 32 signed bytes (weight j =
//! d * q_j); `block_q5_0` is f16 `d`, u32 `qh` (bit j is the fifth bit of element j) and 16
//! bytes `qs` (low nibbles: elements 0..16, high nibbles: 16..32), weight j = d * ((nibble_j |
//! fifth_bit_j << 4) - 16).
//!
//! Compiled only for wasm32 with SIMD128 (the page's builds); the page checks these kernels
//! against the float64 reference when it starts (`backend::cpu::check_kernels`, shown beside
//! the GPU's check), and the browser tests require every format to agree.

use core::arch::wasm32::*;

const Q5_0_BYTES: usize = 22;
const Q8_0_BYTES: usize = 34;

/// Sixteen bytes at `p`, unaligned.
///
/// # Safety
/// `p..p + 16` is readable.
#[inline(always)]
unsafe fn load16(p: *const u8) -> v128 {
    core::ptr::read_unaligned(p as *const v128)
}

/// Four floats at `p`, unaligned.
///
/// # Safety
/// `p..p + 4` is readable.
#[inline(always)]
unsafe fn load4(p: *const f32) -> v128 {
    core::ptr::read_unaligned(p as *const v128)
}

/// `sum_i q_i * x_i` for sixteen signed bytes and sixteen floats, as four lane sums (each
/// product rounded, then added in a fixed tree).
///
/// # Safety
/// `x..x + 16` is readable.
#[inline(always)]
unsafe fn dot16_i8(q: v128, x: *const f32) -> v128 {
    let (lo, hi) = (i16x8_extend_low_i8x16(q), i16x8_extend_high_i8x16(q));
    let product = |w: v128, at: usize| f32x4_mul(f32x4_convert_i32x4(w), load4(x.add(at)));
    let p0 = product(i32x4_extend_low_i16x8(lo), 0);
    let p1 = product(i32x4_extend_high_i16x8(lo), 4);
    let p2 = product(i32x4_extend_low_i16x8(hi), 8);
    let p3 = product(i32x4_extend_high_i16x8(hi), 12);
    f32x4_add(f32x4_add(p0, p1), f32x4_add(p2, p3))
}

/// The four lanes' sum.
#[inline(always)]
fn horizontal_sum(v: v128) -> f32 {
    (f32x4_extract_lane::<0>(v) + f32x4_extract_lane::<1>(v)) + (f32x4_extract_lane::<2>(v) + f32x4_extract_lane::<3>(v))
}

/// Q8_0 row times an f32 vector.
pub fn dot_q8_0(row: &[u8], x: &[f32]) -> f32 {
    debug_assert_eq!(row.len() / Q8_0_BYTES * 32, x.len());
    let mut acc = f32x4_splat(0.0);
    for (b, xs) in row.chunks_exact(Q8_0_BYTES).zip(x.chunks_exact(32)) {
        let d = super::f16_to_f32(u16::from_le_bytes([b[0], b[1]]));
        // SAFETY: the loads read b[2..18], b[18..34] (34 bytes) and xs[0..32] (32 floats).
        let s = unsafe {
            let (q, xp) = (b.as_ptr().add(2), xs.as_ptr());
            f32x4_add(dot16_i8(load16(q), xp), dot16_i8(load16(q.add(16)), xp.add(16)))
        };
        acc = f32x4_add(acc, f32x4_mul(f32x4_splat(d), s));
    }
    horizontal_sum(acc)
}

/// Q5_0 row times an f32 vector.
pub fn dot_q5_0(row: &[u8], x: &[f32]) -> f32 {
    debug_assert_eq!(row.len() / Q5_0_BYTES * 32, x.len());
    // Bit j % 8 of byte j / 8 of qh, for the sixteen elements of a half.
    let bit_in_byte = u64x2_splat(0x8040_2010_0804_0201);
    let low_nibble = u8x16_splat(0x0F);
    let minus_16 = i8x16_splat(-16);
    let mut acc = f32x4_splat(0.0);
    for (b, xs) in row.chunks_exact(Q5_0_BYTES).zip(x.chunks_exact(32)) {
        let d = super::f16_to_f32(u16::from_le_bytes([b[0], b[1]]));
        let qh = u32x4_splat(u32::from_le_bytes([b[2], b[3], b[4], b[5]]));
        // SAFETY: the load reads b[6..22] (22 bytes).
        let qs = unsafe { load16(b.as_ptr().add(6)) };
        // Byte j holds qh's byte j / 8 (elements 0..16), or byte 2 + j / 8 (elements 16..32).
        let spread_lo = i8x16_shuffle::<0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1>(qh, qh);
        let spread_hi = i8x16_shuffle::<2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3>(qh, qh);
        let fifth = |spread: v128| i8x16_eq(v128_and(spread, bit_in_byte), bit_in_byte);
        // (nibble | bit << 4) - 16: a clear fifth bit leaves nibble - 16, i.e. 0xF0 | nibble.
        let q_lo = v128_or(v128_and(qs, low_nibble), v128_andnot(minus_16, fifth(spread_lo)));
        let q_hi = v128_or(u8x16_shr(qs, 4), v128_andnot(minus_16, fifth(spread_hi)));
        // SAFETY: the loads read xs[0..32] (32 floats).
        let s = unsafe { f32x4_add(dot16_i8(q_lo, xs.as_ptr()), dot16_i8(q_hi, xs.as_ptr().add(16))) };
        acc = f32x4_add(acc, f32x4_mul(f32x4_splat(d), s));
    }
    horizontal_sum(acc)
}
