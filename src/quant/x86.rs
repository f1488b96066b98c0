//! Hand-vectorized dot products for x86-64 with AVX2 and FMA, for the formats where the portable
//! kernels in [`super::dot`] are compute-bound rather than memory-bound.
//!
//! Q5_0's fifth bits defeat LLVM's auto-vectorizer (it decodes them two floats at a time), and
//! Q5_0 is a third of Gemma 3 270M Q4_K_M's decode time with the portable kernel. Here each
//! 32-element block is decoded to signed bytes in two registers' worth of integer operations,
//! then widened to floats eight at a time. The block's scale is factored out of its sum.
//! Layout as in ggml-common.h (`block_q5_0`): f16 `d`, u32 `qh` (bit j is the fifth bit of
//! element j), 16 bytes `qs` (low nibbles: elements 0..16, high nibbles: elements 16..32);
//! weight j = d * ((nibble_j | fifth_bit_j << 4) - 16).
//!
//! Compiled only when the target has AVX2 and FMA (`-C target-cpu=native` on such a machine);
//! tests compare it with [`super::dot_reference`] like every other kernel.

use std::arch::x86_64::*;

use super::f16_to_f32;

const Q5_0_BYTES: usize = 22;

/// Q5_0 row times an f32 vector.
pub fn dot_q5_0(row: &[u8], x: &[f32]) -> f32 {
    debug_assert_eq!(row.len() / Q5_0_BYTES * 32, x.len());
    // SAFETY: this module is compiled only when the target has AVX2 and FMA (see `super`), and
    // every load below reads inside `b` (22 bytes) or `xs` (32 floats).
    unsafe {
        let mut acc0 = _mm256_setzero_ps();
        let mut acc1 = _mm256_setzero_ps();
        // Byte j of the 32-byte broadcast holds byte j / 8 of qh; the mask picks bit j % 8.
        let byte_of_bit = _mm256_setr_epi8(
            0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, //
            2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3,
        );
        let bit_in_byte = _mm256_set1_epi64x(0x8040_2010_0804_0201u64 as i64);
        let low_nibble = _mm_set1_epi8(0x0F);
        let minus_16 = _mm256_set1_epi8(-16);
        for (b, xs) in row.chunks_exact(Q5_0_BYTES).zip(x.chunks_exact(32)) {
            let d = f16_to_f32(u16::from_le_bytes([b[0], b[1]]));
            let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
            let qs = _mm_loadu_si128(b.as_ptr().add(6) as *const __m128i);
            // Nibbles as bytes: elements 0..16 in the low half, 16..32 in the high half.
            let lo = _mm_and_si128(qs, low_nibble);
            let hi = _mm_and_si128(_mm_srli_epi16(qs, 4), low_nibble);
            let nibbles = _mm256_set_m128i(hi, lo);
            // 0xFF in byte j where bit j of qh is set.
            let spread = _mm256_shuffle_epi8(_mm256_set1_epi32(qh as i32), byte_of_bit);
            let fifth = _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit_in_byte), bit_in_byte);
            // (nibble | bit << 4) - 16: a clear fifth bit leaves nibble - 16, i.e. 0xF0 | nibble.
            let q = _mm256_or_si256(nibbles, _mm256_andnot_si256(fifth, minus_16));
            let q_lo = _mm256_castsi256_si128(q);
            let q_hi = _mm256_extracti128_si256(q, 1);
            let widen = |v: __m128i| _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v));
            let xp = xs.as_ptr();
            let mut s = _mm256_mul_ps(widen(q_lo), _mm256_loadu_ps(xp));
            s = _mm256_fmadd_ps(widen(_mm_srli_si128(q_lo, 8)), _mm256_loadu_ps(xp.add(8)), s);
            s = _mm256_fmadd_ps(widen(q_hi), _mm256_loadu_ps(xp.add(16)), s);
            s = _mm256_fmadd_ps(widen(_mm_srli_si128(q_hi, 8)), _mm256_loadu_ps(xp.add(24)), s);
            // Two accumulators so consecutive blocks do not wait on each other's FMA.
            std::mem::swap(&mut acc0, &mut acc1);
            acc0 = _mm256_fmadd_ps(_mm256_set1_ps(d), s, acc0);
        }
        horizontal_sum(_mm256_add_ps(acc0, acc1))
    }
}

const Q8_0_BYTES: usize = 34;

/// Q8_0 row times an f32 vector (`block_q8_0`: f16 `d`, 32 signed bytes; weight j = d * q_j).
/// The output projection of small models is Q8_0, so this kernel should run at memory speed.
pub fn dot_q8_0(row: &[u8], x: &[f32]) -> f32 {
    debug_assert_eq!(row.len() / Q8_0_BYTES * 32, x.len());
    // SAFETY: compiled only with AVX2 and FMA; loads stay inside `b` (34 bytes) and `xs` (32).
    unsafe {
        let mut acc0 = _mm256_setzero_ps();
        let mut acc1 = _mm256_setzero_ps();
        for (b, xs) in row.chunks_exact(Q8_0_BYTES).zip(x.chunks_exact(32)) {
            let d = f16_to_f32(u16::from_le_bytes([b[0], b[1]]));
            let q = b.as_ptr().add(2);
            let widen = |p: *const u8| _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(p as *const __m128i)));
            let xp = xs.as_ptr();
            let mut s = _mm256_mul_ps(widen(q), _mm256_loadu_ps(xp));
            s = _mm256_fmadd_ps(widen(q.add(8)), _mm256_loadu_ps(xp.add(8)), s);
            s = _mm256_fmadd_ps(widen(q.add(16)), _mm256_loadu_ps(xp.add(16)), s);
            s = _mm256_fmadd_ps(widen(q.add(24)), _mm256_loadu_ps(xp.add(24)), s);
            std::mem::swap(&mut acc0, &mut acc1);
            acc0 = _mm256_fmadd_ps(_mm256_set1_ps(d), s, acc0);
        }
        horizontal_sum(_mm256_add_ps(acc0, acc1))
    }
}

/// Sum of the eight lanes.
#[inline(always)]
unsafe fn horizontal_sum(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_movehdup_ps(s));
    _mm_cvtss_f32(s)
}
