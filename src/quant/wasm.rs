//! Hand-vectorized dot products for WebAssembly SIMD128: the page's CPU backend.
//!
//! The portable kernels of [`super::dot`] leave two formats slow in the browser, where a decode
//! step of Gemma 3 270M Q4_K_M spends most of its time on them: Q5_0 (the attention and
//! feed-forward inputs of models whose rows are not a multiple of 256), whose fifth bits LLVM
//! decodes a float or two at a time, 35 ns a block of 32 against 14 for Q8_0 under Node 20; and
//! Q8_0 (the tied output matrix, 171 of the 246 MB a token reads), which multiplies every weight
//! by its block's scale before the activation. Here a block's quants become signed bytes in
//! two vector registers with a few integer operations, are widened to floats four at a time,
//! and the block's scale multiplies their sum once. Q4_K (the attention outputs and half the
//! feed-forward outputs) the same way, `sc * sum(q x) - mn * sum(x)` per sub-block: 21-24 ns
//! per 32 weights portable, 12.6 here. SIMD128 has no fused multiply-add, so each product is
//! rounded before its addition, as in the portable kernels; the page's relaxed-SIMD builds
//! (`+relaxed-simd`, picked at load where the browser has it) multiply and add in one
//! instruction ([`madd`]).
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
const Q4_K_BYTES: usize = 144;

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

/// `a * b + c` lane by lane: `f32x4.relaxed_madd` in the relaxed-SIMD builds, which the browser
/// runs as one fused multiply-add where the machine has one (x86-64 with FMA3, ARM64) and as a
/// multiply then an add elsewhere; in the SIMD128 builds always a multiply then an add. Either
/// way the same program on the same machine gives the same bits every time, so a page's results
/// do not depend on its thread count; between a fused and an unfused machine they differ by
/// rounding, as the CLI's AVX kernels differ from these.
#[inline(always)]
pub(crate) fn madd(a: v128, b: v128, c: v128) -> v128 {
    #[cfg(target_feature = "relaxed-simd")]
    {
        f32x4_relaxed_madd(a, b, c)
    }
    #[cfg(not(target_feature = "relaxed-simd"))]
    {
        f32x4_add(f32x4_mul(a, b), c)
    }
}

/// `sum_i q_i * x_i` for sixteen signed bytes and sixteen floats, as four lane sums (in a fixed
/// tree, two of the products fused with their addition where [`madd`] fuses).
///
/// # Safety
/// `x..x + 16` is readable.
#[inline(always)]
unsafe fn dot16_i8(q: v128, x: *const f32) -> v128 {
    let (lo, hi) = (i16x8_extend_low_i8x16(q), i16x8_extend_high_i8x16(q));
    let w = |q: v128| f32x4_convert_i32x4(q);
    let p01 = madd(w(i32x4_extend_low_i16x8(lo)), load4(x), f32x4_mul(w(i32x4_extend_high_i16x8(lo)), load4(x.add(4))));
    let p23 = madd(w(i32x4_extend_low_i16x8(hi)), load4(x.add(8)), f32x4_mul(w(i32x4_extend_high_i16x8(hi)), load4(x.add(12))));
    f32x4_add(p01, p23)
}

/// `sum_i q_i * x_i` and `sum_i x_i` for sixteen unsigned bytes and sixteen floats, as four
/// lane sums each.
///
/// # Safety
/// `x..x + 16` is readable.
#[inline(always)]
unsafe fn dot16_u8_and_sum(q: v128, x: *const f32) -> (v128, v128) {
    let (lo, hi) = (u16x8_extend_low_u8x16(q), u16x8_extend_high_u8x16(q));
    let xs = [load4(x), load4(x.add(4)), load4(x.add(8)), load4(x.add(12))];
    let w = [u32x4_extend_low_u16x8(lo), u32x4_extend_high_u16x8(lo), u32x4_extend_low_u16x8(hi), u32x4_extend_high_u16x8(hi)];
    let f = |k: usize| f32x4_convert_i32x4(w[k]);
    let qx = f32x4_add(madd(f(0), xs[0], f32x4_mul(f(1), xs[1])), madd(f(2), xs[2], f32x4_mul(f(3), xs[3])));
    let sx = f32x4_add(f32x4_add(xs[0], xs[1]), f32x4_add(xs[2], xs[3]));
    (qx, sx)
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
        acc = madd(f32x4_splat(d), s, acc);
    }
    horizontal_sum(acc)
}

/// A Q5_0 block's 32 quants minus 16 (its levels, -16..16) as signed bytes: elements 0..16,
/// then 16..32.
#[inline(always)]
fn q5_0_levels(b: &[u8]) -> (v128, v128) {
    // Bit j % 8 of byte j / 8 of qh, for the sixteen elements of a half.
    let bit_in_byte = u64x2_splat(0x8040_2010_0804_0201);
    let low_nibble = u8x16_splat(0x0F);
    let minus_16 = i8x16_splat(-16);
    let qh = u32x4_splat(u32::from_le_bytes([b[2], b[3], b[4], b[5]]));
    // SAFETY: the load reads b[6..22] (a block is 22 bytes).
    let qs = unsafe { load16(b[6..22].as_ptr()) };
    // Byte j holds qh's byte j / 8 (elements 0..16), or byte 2 + j / 8 (elements 16..32).
    let spread_lo = i8x16_shuffle::<0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1>(qh, qh);
    let spread_hi = i8x16_shuffle::<2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3>(qh, qh);
    let fifth = |spread: v128| i8x16_eq(v128_and(spread, bit_in_byte), bit_in_byte);
    // (nibble | bit << 4) - 16: a clear fifth bit leaves nibble - 16, i.e. 0xF0 | nibble.
    let q_lo = v128_or(v128_and(qs, low_nibble), v128_andnot(minus_16, fifth(spread_lo)));
    let q_hi = v128_or(u8x16_shr(qs, 4), v128_andnot(minus_16, fifth(spread_hi)));
    (q_lo, q_hi)
}

/// Q5_0 row times an f32 vector.
pub fn dot_q5_0(row: &[u8], x: &[f32]) -> f32 {
    debug_assert_eq!(row.len() / Q5_0_BYTES * 32, x.len());
    let mut acc = f32x4_splat(0.0);
    for (b, xs) in row.chunks_exact(Q5_0_BYTES).zip(x.chunks_exact(32)) {
        let d = super::f16_to_f32(u16::from_le_bytes([b[0], b[1]]));
        let (q_lo, q_hi) = q5_0_levels(b);
        // SAFETY: the loads read xs[0..32] (32 floats).
        let s = unsafe { f32x4_add(dot16_i8(q_lo, xs.as_ptr()), dot16_i8(q_hi, xs.as_ptr().add(16))) };
        acc = madd(f32x4_splat(d), s, acc);
    }
    horizontal_sum(acc)
}

/// Sixteen signed bytes times `d`, stored as sixteen floats at `y`: each `q as f32 * d`, the
/// exact conversion and one rounding, as the portable `weights()` of every block type computes.
///
/// # Safety
/// `y..y + 16` is writable.
#[inline(always)]
unsafe fn store16_scaled(q: v128, d: v128, y: *mut f32) {
    let (lo, hi) = (i16x8_extend_low_i8x16(q), i16x8_extend_high_i8x16(q));
    let w = [i32x4_extend_low_i16x8(lo), i32x4_extend_high_i16x8(lo), i32x4_extend_low_i16x8(hi), i32x4_extend_high_i16x8(hi)];
    for (k, w) in w.into_iter().enumerate() {
        core::ptr::write_unaligned(y.add(4 * k) as *mut v128, f32x4_mul(f32x4_convert_i32x4(w), d));
    }
}

/// A Q5_0 row dequantized (the batched products' tiles; bit for bit `BlockQ5_0::weights`, whose
/// fifth bits LLVM decodes one at a time: 35 ns a block of 32 under Node 20, against 10 here).
pub fn dequantize_q5_0(row: &[u8], dst: &mut [f32]) {
    debug_assert_eq!(row.len() / Q5_0_BYTES * 32, dst.len());
    for (b, ys) in row.chunks_exact(Q5_0_BYTES).zip(dst.chunks_exact_mut(32)) {
        let d = f32x4_splat(super::f16_to_f32(u16::from_le_bytes([b[0], b[1]])));
        let (q_lo, q_hi) = q5_0_levels(b);
        // SAFETY: the stores write ys[0..32] (32 floats).
        unsafe {
            store16_scaled(q_lo, d, ys.as_mut_ptr());
            store16_scaled(q_hi, d, ys.as_mut_ptr().add(16));
        }
    }
}

/// A Q8_0 row dequantized (bit for bit `BlockQ8_0::weights`).
pub fn dequantize_q8_0(row: &[u8], dst: &mut [f32]) {
    debug_assert_eq!(row.len() / Q8_0_BYTES * 32, dst.len());
    for (b, ys) in row.chunks_exact(Q8_0_BYTES).zip(dst.chunks_exact_mut(32)) {
        let d = f32x4_splat(super::f16_to_f32(u16::from_le_bytes([b[0], b[1]])));
        // SAFETY: the loads read b[2..34] (a block is 34 bytes); the stores write ys[0..32].
        unsafe {
            store16_scaled(load16(b[2..18].as_ptr()), d, ys.as_mut_ptr());
            store16_scaled(load16(b[18..34].as_ptr()), d, ys.as_mut_ptr().add(16));
        }
    }
}

/// Q4_K row times an f32 vector (`block_q4_K`: f16 `d` and `dmin`, 12 bytes of 6-bit scales and
/// mins, 128 bytes of nibbles; 8 sub-blocks of 32, weight = sc * q - mn). Per sub-block this
/// computes `sc * sum(q x) - mn * sum(x)`, where the portable kernel formed every weight first.
pub fn dot_q4_k(row: &[u8], x: &[f32]) -> f32 {
    debug_assert_eq!(row.len() / Q4_K_BYTES * 256, x.len());
    let low_nibble = u8x16_splat(0x0F);
    let (mut acc_q, mut acc_m) = (f32x4_splat(0.0), f32x4_splat(0.0));
    for (b, xs) in row.as_chunks::<Q4_K_BYTES>().0.iter().zip(x.as_chunks::<256>().0) {
        let scales: &[u8; 12] = b[4..16].try_into().unwrap_or_else(|_| unreachable!());
        let (sc, mn) = super::blocks::k4_scales_mins([b[0], b[1]], [b[2], b[3]], scales);
        for c in 0..4 {
            // SAFETY: the loads read b[16 + 32c .. 48 + 32c] (inside 144 bytes) and 32 floats of
            // xs at 32 * sub (inside 256).
            unsafe {
                let at = b.as_ptr().add(16 + 32 * c);
                let (front, back) = (load16(at), load16(at.add(16)));
                // Low nibbles are sub-block 2c, high nibbles 2c + 1.
                for h in 0..2 {
                    let (q0, q1) = match h {
                        0 => (v128_and(front, low_nibble), v128_and(back, low_nibble)),
                        _ => (u8x16_shr(front, 4), u8x16_shr(back, 4)),
                    };
                    let sub = 2 * c + h;
                    let xp = xs.as_ptr().add(32 * sub);
                    let (qx0, sx0) = dot16_u8_and_sum(q0, xp);
                    let (qx1, sx1) = dot16_u8_and_sum(q1, xp.add(16));
                    acc_q = madd(f32x4_splat(sc[sub]), f32x4_add(qx0, qx1), acc_q);
                    acc_m = madd(f32x4_splat(mn[sub]), f32x4_add(sx0, sx1), acc_m);
                }
            }
        }
    }
    horizontal_sum(f32x4_sub(acc_q, acc_m))
}
