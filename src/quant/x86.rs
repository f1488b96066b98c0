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

/// Shuffle orders for a register holding the same sixteen bytes in both halves: `first` puts
/// bytes 0..8 and `second` bytes 8..16, in order, into the top bytes of the eight 32-bit lanes
/// (lane k of the low half takes byte k or 8 + k; of the high half, byte 4 + k or 12 + k),
/// zeroing the rest. An in-lane shuffle where a sign or zero extension would cross lanes.
#[cfg(not(target_feature = "avx512f"))]
#[inline(always)]
unsafe fn top_byte_orders() -> (__m256i, __m256i) {
    let z = -128i8; // a shuffle index that writes zero
    #[rustfmt::skip]
    let first = _mm256_setr_epi8(z, z, z, 0, z, z, z, 1, z, z, z, 2, z, z, z, 3, z, z, z, 4, z, z, z, 5, z, z, z, 6, z, z, z, 7);
    #[rustfmt::skip]
    let second = _mm256_setr_epi8(z, z, z, 8, z, z, z, 9, z, z, z, 10, z, z, z, 11, z, z, z, 12, z, z, z, 13, z, z, z, 14, z, z, z, 15);
    (first, second)
}

/// Eight bytes of `q` moved by `order` (from [`top_byte_orders`]) into the top bytes of their
/// lanes, as floats: each lane is `q * 2^24` for its byte read as signed, converted exactly.
#[cfg(not(target_feature = "avx512f"))]
#[inline(always)]
unsafe fn eight_top(q: __m256i, order: __m256i) -> __m256 {
    _mm256_cvtepi32_ps(_mm256_shuffle_epi8(q, order))
}

/// 2^-24, which takes [`eight_top`]'s factor back out of a block's scale (exactly).
#[cfg(not(target_feature = "avx512f"))]
const UNSCALE_TOP: f32 = 1.0 / 16_777_216.0;

const Q5_0_BYTES: usize = 22;

/// A Q5_0 block's 32 quants as signed bytes `q - 16`: elements 0..16 in the first register,
/// 16..32 in the second.
///
/// # Safety
/// The target has AVX2 (this module's condition); `b` is one block (22 bytes).
#[inline(always)]
unsafe fn q5_0_quants(b: &[u8]) -> (__m128i, __m128i) {
    // Byte j of the 32-byte broadcast holds byte j / 8 of qh; the mask picks bit j % 8.
    let byte_of_bit = _mm256_setr_epi8(
        0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, //
        2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3,
    );
    let bit_in_byte = _mm256_set1_epi64x(0x8040_2010_0804_0201u64 as i64);
    let low_nibble = _mm_set1_epi8(0x0F);
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
    let q = _mm256_or_si256(nibbles, _mm256_andnot_si256(fifth, _mm256_set1_epi8(-16)));
    (_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1))
}

/// Q5_0 row times an f32 vector, with AVX-512: sixteen lanes at a time halve the widening and
/// multiply-add work, and the fifth bits are a mask register's bits as they stand (a masked OR
/// a half) where AVX2 spreads them over bytes with a shuffle, an AND and a compare: 2.56 -> 2.21
/// ns a block on Zen 4 (one thread, rows in cache), the same weights in the same lanes.
#[cfg(target_feature = "avx512f")]
pub fn dot_q5_0(row: &[u8], x: &[f32]) -> f32 {
    debug_assert_eq!(row.len() / Q5_0_BYTES * 32, x.len());
    // SAFETY: compiled only with AVX-512F (and AVX2, FMA: see `super`); every load below reads
    // inside `b` (22 bytes) or `xs` (32 floats).
    unsafe {
        let (mut acc0, mut acc1) = (_mm512_setzero_ps(), _mm512_setzero_ps());
        let (low_nibble, minus_16) = (_mm512_set1_epi32(0x0F), _mm512_set1_epi32(-16));
        let table = f16_table();
        for (b, xs) in row.chunks_exact(Q5_0_BYTES).zip(x.chunks_exact(32)) {
            super::prefetch_ahead(b);
            let d = scale16(table, b[0], b[1]);
            // The sixteen quant bytes widened to 32-bit lanes: low nibbles are elements 0..16,
            // high nibbles 16..32. Bit j of qh, as a mask, marks the lanes whose fifth bit is set:
            // the others take (nibble | 0) - 16, i.e. the nibble with every higher bit set.
            let qs = _mm512_cvtepu8_epi32(_mm_loadu_si128(b.as_ptr().add(6) as *const __m128i));
            let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
            let q_lo = _mm512_and_si512(qs, low_nibble);
            let q_lo = _mm512_mask_or_epi32(q_lo, !(qh as u16), q_lo, minus_16);
            let q_hi = _mm512_srli_epi32(qs, 4);
            let q_hi = _mm512_mask_or_epi32(q_hi, !((qh >> 16) as u16), q_hi, minus_16);
            let xp = xs.as_ptr();
            let s = _mm512_mul_ps(_mm512_cvtepi32_ps(q_lo), _mm512_loadu_ps(xp));
            let s = _mm512_fmadd_ps(_mm512_cvtepi32_ps(q_hi), _mm512_loadu_ps(xp.add(16)), s);
            // Two accumulators so consecutive blocks do not wait on each other's FMA.
            std::mem::swap(&mut acc0, &mut acc1);
            acc0 = _mm512_fmadd_ps(d, s, acc0);
        }
        _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1))
    }
}

/// Q5_0 row times an f32 vector, with AVX2.
///
/// The sixteen quant bytes are loaded into both halves of a register, so that each group of
/// eight weights is one in-lane byte shuffle away from eight 32-bit lanes: the shuffle puts a
/// weight's signed byte `q` in its lane's top byte, the lane then reads `q * 2^24` as an
/// integer, converted to float exactly, and the block's scale carries the `2^-24` back (exact:
/// a power of two, with `d` an f16). The cross-lane sign extensions of the plain way were a
/// sixth slower (measured on Zen 3: 3.8 against 4.5 ns a block). The scaling changes nothing
/// but the exponent of every product and partial sum, so the sum is the one the plain way
/// computes, unless a product `|q x| 2^24` passes f32's range (activations above 10^29).
#[cfg(not(target_feature = "avx512f"))]
pub fn dot_q5_0(row: &[u8], x: &[f32]) -> f32 {
    debug_assert_eq!(row.len() / Q5_0_BYTES * 32, x.len());
    // SAFETY: compiled only with AVX2 and FMA (see `super`); every load below reads inside `b`
    // (22 bytes) or `xs` (32 floats).
    unsafe {
        let (first, second) = top_byte_orders();
        // Byte j of a spread holds qh's byte j / 8 (elements 0..16) or 2 + j / 8 (16..32),
        // in both halves; the mask picks bit j % 8.
        #[rustfmt::skip]
        let spread_lo = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
        #[rustfmt::skip]
        let spread_hi = _mm256_setr_epi8(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
        let bit_in_byte = _mm256_set1_epi64x(0x8040_2010_0804_0201u64 as i64);
        let low_nibble = _mm256_set1_epi8(0x0F);
        let minus_16 = _mm256_set1_epi8(-16);
        let unscale = _mm256_set1_ps(UNSCALE_TOP);
        let (mut acc0, mut acc1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        for (b, xs) in row.chunks_exact(Q5_0_BYTES).zip(x.chunks_exact(32)) {
            super::prefetch_ahead(b);
            let d = _mm256_mul_ps(scale8(b[0], b[1]), unscale);
            let qs = _mm256_broadcastsi128_si256(_mm_loadu_si128(b.as_ptr().add(6) as *const __m128i));
            let qh = _mm256_set1_epi32(i32::from_le_bytes([b[2], b[3], b[4], b[5]]));
            let fifth = |spread| _mm256_cmpeq_epi8(_mm256_and_si256(_mm256_shuffle_epi8(qh, spread), bit_in_byte), bit_in_byte);
            // (nibble | bit << 4) - 16: a clear fifth bit leaves nibble - 16, i.e. 0xF0 | nibble.
            let q_lo = _mm256_or_si256(_mm256_and_si256(qs, low_nibble), _mm256_andnot_si256(fifth(spread_lo), minus_16));
            let q_hi = _mm256_or_si256(
                _mm256_and_si256(_mm256_srli_epi16(qs, 4), low_nibble),
                _mm256_andnot_si256(fifth(spread_hi), minus_16),
            );
            let eight = |q, order| eight_top(q, order);
            let xp = xs.as_ptr();
            let mut s = _mm256_mul_ps(eight(q_lo, first), _mm256_loadu_ps(xp));
            s = _mm256_fmadd_ps(eight(q_lo, second), _mm256_loadu_ps(xp.add(8)), s);
            s = _mm256_fmadd_ps(eight(q_hi, first), _mm256_loadu_ps(xp.add(16)), s);
            s = _mm256_fmadd_ps(eight(q_hi, second), _mm256_loadu_ps(xp.add(24)), s);
            // Two accumulators so consecutive blocks do not wait on each other's FMA.
            std::mem::swap(&mut acc0, &mut acc1);
            acc0 = _mm256_fmadd_ps(d, s, acc0);
        }
        horizontal_sum(_mm256_add_ps(acc0, acc1))
    }
}

/// A Q5_0 row dequantized into `dst` (32 floats a block), bit for bit as the portable
/// `BlockQ5_0::weights`: each weight is `(q - 16) as f32 * d`, exact integer conversion and one
/// rounding, in both. Prefill dequantizes every weight row once per product; this is four times
/// the portable speed, whose fifth-bit decoding LLVM does not vectorize.
pub fn dequantize_q5_0(row: &[u8], dst: &mut [f32]) {
    debug_assert_eq!(row.len() / Q5_0_BYTES * 32, dst.len());
    // SAFETY: compiled only with AVX2 (see `super`); loads read inside `b` (22 bytes), stores
    // write inside `ys` (32 floats).
    unsafe {
        for (b, ys) in row.chunks_exact(Q5_0_BYTES).zip(dst.chunks_exact_mut(32)) {
            let d = _mm256_set1_ps(scale(b[0], b[1]));
            let (q_lo, q_hi) = q5_0_quants(b);
            let widen = |v: __m128i| _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v));
            let yp = ys.as_mut_ptr();
            _mm256_storeu_ps(yp, _mm256_mul_ps(widen(q_lo), d));
            _mm256_storeu_ps(yp.add(8), _mm256_mul_ps(widen(_mm_srli_si128(q_lo, 8)), d));
            _mm256_storeu_ps(yp.add(16), _mm256_mul_ps(widen(q_hi), d));
            _mm256_storeu_ps(yp.add(24), _mm256_mul_ps(widen(_mm_srli_si128(q_hi, 8)), d));
        }
    }
}

const Q8_0_BYTES: usize = 34;

/// Q8_0 row times an f32 vector (`block_q8_0`: f16 `d`, 32 signed bytes; weight j = d * q_j).
/// The output projection of small models is Q8_0, so this kernel should run at memory speed:
/// with AVX-512 a block is two sixteen-wide widen-and-multiply-adds.
pub fn dot_q8_0(row: &[u8], x: &[f32]) -> f32 {
    debug_assert_eq!(row.len() / Q8_0_BYTES * 32, x.len());
    // SAFETY: compiled only with AVX2 and FMA (AVX-512F where that path is compiled); loads stay
    // inside `b` (34 bytes) and `xs` (32 floats); a prefetch never faults.
    unsafe {
        #[cfg(target_feature = "avx512f")]
        {
            let (mut acc0, mut acc1) = (_mm512_setzero_ps(), _mm512_setzero_ps());
            let widen = |p: *const u8| _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(p as *const __m128i)));
            let table = f16_table();
            for (b, xs) in row.chunks_exact(Q8_0_BYTES).zip(x.chunks_exact(32)) {
                super::prefetch_ahead(b);
                let d = scale16(table, b[0], b[1]);
                let (q, xp) = (b.as_ptr().add(2), xs.as_ptr());
                let s = _mm512_mul_ps(widen(q), _mm512_loadu_ps(xp));
                let s = _mm512_fmadd_ps(widen(q.add(16)), _mm512_loadu_ps(xp.add(16)), s);
                // Two accumulators so consecutive blocks do not wait on each other's FMA.
                std::mem::swap(&mut acc0, &mut acc1);
                acc0 = _mm512_fmadd_ps(d, s, acc0);
            }
            _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1))
        }
        #[cfg(not(target_feature = "avx512f"))]
        {
            let mut acc0 = _mm256_setzero_ps();
            let mut acc1 = _mm256_setzero_ps();
            let widen = |p: *const u8| _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(p as *const __m128i)));
            for (b, xs) in row.chunks_exact(Q8_0_BYTES).zip(x.chunks_exact(32)) {
                super::prefetch_ahead(b);
                let d = scale8(b[0], b[1]);
                let (q, xp) = (b.as_ptr().add(2), xs.as_ptr());
                let mut s = _mm256_mul_ps(widen(q), _mm256_loadu_ps(xp));
                s = _mm256_fmadd_ps(widen(q.add(8)), _mm256_loadu_ps(xp.add(8)), s);
                s = _mm256_fmadd_ps(widen(q.add(16)), _mm256_loadu_ps(xp.add(16)), s);
                s = _mm256_fmadd_ps(widen(q.add(24)), _mm256_loadu_ps(xp.add(24)), s);
                std::mem::swap(&mut acc0, &mut acc1);
                acc0 = _mm256_fmadd_ps(d, s, acc0);
            }
            horizontal_sum(_mm256_add_ps(acc0, acc1))
        }
    }
}

/// A block's f16 scale from its two little-endian bytes: one F16C instruction where the target
/// has it (the portable conversion is a dozen integer operations a block).
#[inline(always)]
fn scale(lo: u8, hi: u8) -> f32 {
    let h = u16::from_le_bytes([lo, hi]);
    #[cfg(target_feature = "f16c")]
    {
        // SAFETY: compiled only where the target has F16C; the conversion is exact.
        unsafe { _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(i32::from(h)))) }
    }
    #[cfg(not(target_feature = "f16c"))]
    {
        super::f16_to_f32(h)
    }
}

/// Every f16 bit pattern's f32 value (256 KB, built once by the exact conversion of [`scale`]).
/// The Q8_0 and Q5_0 kernels read a block's scale from it with a broadcast load: the load unit
/// does what a conversion instruction did on the vector pipes, which those kernels keep busy
/// (about six vector operations a block). Only the scales a model uses are ever touched.
/// Measured on Zen 4 with AVX-512, one thread, over Gemma 3 270M Q4_K_M's own tensors (in huge
/// pages, as the CPU backend keeps them): the Q8_0 output matrix, 180 MB from memory, 1.80 ->
/// 1.68 ns a block; a Q5_0 `ffn_gate` from cache 2.21 -> 2.11. (Before it, a conversion
/// of a broadcast, not `scale` and a broadcast, which compiled to an insert into whichever
/// register LLVM picked, often an accumulator, chaining every block to the one before.)
#[cfg(target_feature = "avx512f")]
fn f16_table() -> &'static [f32; 65536] {
    static TABLE: std::sync::OnceLock<Box<[f32; 65536]>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = Box::new([0f32; 65536]);
        for (h, v) in table.iter_mut().enumerate() {
            let [lo, hi] = (h as u16).to_le_bytes();
            *v = scale(lo, hi);
        }
        table
    })
}

/// A block's f16 scale, from [`f16_table`], in all sixteen lanes.
#[cfg(target_feature = "avx512f")]
#[inline(always)]
unsafe fn scale16(table: &[f32; 65536], lo: u8, hi: u8) -> __m512 {
    // SAFETY (of the unchecked read): a u16 indexes a 65536-entry table.
    _mm512_set1_ps(*table.get_unchecked(usize::from(u16::from_le_bytes([lo, hi]))))
}

/// A block's f16 scale in all eight lanes, converted from a broadcast: `scale` feeds the
/// conversion through an insert into a register the compiler picks freely, which chained each
/// block to the previous block's accumulator (a false dependency; about a tenth of Q8_0's time).
/// (Reading it from [`f16_table`] as the AVX-512 kernels do gained nothing here: AVX2 code built
/// for Zen 3 and run on Zen 4, Q8_0 1.65 -> 1.63 ns a block from cache, 1.94 -> 2.01 from memory.)
#[cfg(not(target_feature = "avx512f"))]
#[inline(always)]
unsafe fn scale8(lo: u8, hi: u8) -> __m256 {
    #[cfg(target_feature = "f16c")]
    {
        _mm256_cvtph_ps(_mm_set1_epi16(i16::from_le_bytes([lo, hi])))
    }
    #[cfg(not(target_feature = "f16c"))]
    {
        _mm256_set1_ps(super::f16_to_f32(u16::from_le_bytes([lo, hi])))
    }
}

const Q4_K_BYTES: usize = 144;
const Q6_K_BYTES: usize = 210;

/// `sum_i q_i * x_i` for eight signed bytes (the low 8 of `q`) and eight floats.
#[inline(always)]
unsafe fn dot8_i8(q: __m128i, x: *const f32, acc: __m256) -> __m256 {
    _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)), _mm256_loadu_ps(x), acc)
}

/// Q4_K row times an f32 vector (`block_q4_K`: 8 sub-blocks of 32 with 6-bit scales and mins;
/// weight = sc * q - mn), with AVX-512. A sub-block has only sixteen distinct weights: one
/// multiply-subtract makes all of them, `sc * q - mn` in lane q, and a permute indexed by the
/// quants (widened to 32-bit lanes by one zero-extending load) picks sixteen weights at a time,
/// which then meet `x` in one multiply-add. The vector pipes that bound these kernels on Zen 4
/// see one operation for sixteen weights, where converting the quants and scaling takes three.
/// Every weight is the one `fmsub(q, sc, mn)` rounds, whichever lane computes it. On Zen 4, one
/// thread, Gemma 3 270M's `attn_output` (640 x 1024, in cache): 2.97 (AVX2 kernel) -> 2.14 ns
/// per 32 weights; the scales unpacked as a vector ([`k4_scales_mins16`]) are part of that.
#[cfg(target_feature = "avx512f")]
pub fn dot_q4_k(row: &[u8], x: &[f32]) -> f32 {
    debug_assert_eq!(row.len() / Q4_K_BYTES * 256, x.len());
    // SAFETY: compiled only with AVX-512F; loads stay inside `b` (qs at 16..144) and `xs` (256
    // floats).
    unsafe {
        // Four accumulators: a sub-block's two halves and the two sub-blocks of a chunk each
        // have their own, so no multiply-add waits on the one before it.
        let mut acc = [_mm512_setzero_ps(); 4];
        let levels = _mm512_setr_ps(0., 1., 2., 3., 4., 5., 6., 7., 8., 9., 10., 11., 12., 13., 14., 15.);
        for (b, xs) in row.chunks_exact(Q4_K_BYTES).zip(x.chunks_exact(256)) {
            super::prefetch_ahead(b);
            let blk: &[u8; Q4_K_BYTES] = b.try_into().unwrap_or_else(|_| unreachable!());
            let scales_mins = k4_scales_mins16(blk);
            let (sc, mn) = scales_mins.split_at(8);
            for c in 0..4 {
                // A chunk of 32 bytes: low nibbles are sub-block 2c, high nibbles 2c + 1. A
                // permute reads only an index's low four bits, so the low nibble needs no mask.
                let at = blk.as_ptr().add(16 + 32 * c);
                let front = _mm512_cvtepu8_epi32(_mm_loadu_si128(at as *const __m128i));
                let back = _mm512_cvtepu8_epi32(_mm_loadu_si128(at.add(16) as *const __m128i));
                for h in 0..2 {
                    let sub = 2 * c + h;
                    let (q0, q1) = match h {
                        0 => (front, back),
                        _ => (_mm512_srli_epi32(front, 4), _mm512_srli_epi32(back, 4)),
                    };
                    // The sub-block's sixteen possible weights `sc * q - mn`, one per lane q.
                    let weights = _mm512_fmsub_ps(levels, _mm512_set1_ps(sc[sub]), _mm512_set1_ps(mn[sub]));
                    let xp = xs.as_ptr().add(32 * sub);
                    let (w0, w1) = (_mm512_permutexvar_ps(q0, weights), _mm512_permutexvar_ps(q1, weights));
                    acc[2 * h] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(xp), acc[2 * h]);
                    acc[2 * h + 1] = _mm512_fmadd_ps(w1, _mm512_loadu_ps(xp.add(16)), acc[2 * h + 1]);
                }
            }
        }
        _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])))
    }
}

/// A Q4_K/Q5_K block's eight sub-block scales `d * sc` (lanes 0..8) and mins `dmin * m` (8..16),
/// equal to [`super::blocks::k4_scales_mins`]: the 6-bit fields are moved into bytes by four
/// 32-bit word operations (ggml's `kmask` way) and converted and scaled sixteen at a time. The
/// field-by-field unpacking with its sixteen scalar conversions was as long as the block's
/// vector work.
#[cfg(target_feature = "avx512f")]
#[inline(always)]
unsafe fn k4_scales_mins16(blk: &[u8; Q4_K_BYTES]) -> [f32; 16] {
    const LOW6: u32 = 0x3F3F_3F3F;
    const LOW4: u32 = 0x0F0F_0F0F;
    const LOW2: u32 = 0x0303_0303;
    let word = |i: usize| u32::from_le_bytes([blk[4 + 4 * i], blk[5 + 4 * i], blk[6 + 4 * i], blk[7 + 4 * i]]);
    let (w0, w1, w2) = (word(0), word(1), word(2));
    // Scales 0..4 are the low six bits of bytes 0..4, mins 0..4 of bytes 4..8; scales 4..8 take
    // their low four bits from the low nibbles of bytes 8..12 and their top two from the top of
    // bytes 0..4, mins 4..8 from the high nibbles of 8..12 and the top of bytes 4..8.
    let bytes = [
        w0 & LOW6,
        (w2 & LOW4) | (((w0 >> 6) & LOW2) << 4),
        w1 & LOW6,
        ((w2 >> 4) & LOW4) | (((w1 >> 6) & LOW2) << 4),
    ];
    let fields = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(bytes.as_ptr() as *const __m128i)));
    let factors = _mm512_mask_blend_ps(0xFF00, _mm512_set1_ps(scale(blk[0], blk[1])), _mm512_set1_ps(scale(blk[2], blk[3])));
    let mut out = [0f32; 16];
    _mm512_storeu_ps(out.as_mut_ptr(), _mm512_mul_ps(fields, factors));
    out
}

/// Q4_K row times an f32 vector, with AVX2. Per sub-block this computes
/// `sc * sum(q x) - mn * sum(x)`.
#[cfg(not(target_feature = "avx512f"))]
pub fn dot_q4_k(row: &[u8], x: &[f32]) -> f32 {
    debug_assert_eq!(row.len() / Q4_K_BYTES * 256, x.len());
    // SAFETY: compiled only with AVX2 and FMA; loads stay inside `b` (qs at 16..144) and `xs`.
    unsafe {
        // Separate accumulators for the scaled sums and the mins, two of each for the two
        // halves of a 32-byte load: one shared accumulator made every sub-block wait on the
        // previous one's two multiply-adds.
        let (mut acc_q, mut acc_m) = ([_mm256_setzero_ps(); 2], [_mm256_setzero_ps(); 2]);
        let mask = _mm256_set1_epi8(0x0F);
        let (first, second) = top_byte_orders();
        for (b, xs) in row.chunks_exact(Q4_K_BYTES).zip(x.chunks_exact(256)) {
            super::prefetch_ahead(b);
            let blk: &[u8; Q4_K_BYTES] = b.try_into().unwrap_or_else(|_| unreachable!());
            let scales: &[u8; 12] = blk[4..16].try_into().unwrap_or_else(|_| unreachable!());
            let (sc, mn) = super::blocks::k4_scales_mins([blk[0], blk[1]], [blk[2], blk[3]], scales);
            for c in 0..4 {
                // The chunk's two 16-byte halves, each in both halves of a register (see
                // `top_byte_orders`). Low nibbles are sub-block 2c, high nibbles 2c + 1.
                let at = blk.as_ptr().add(16 + 32 * c);
                let front = _mm256_broadcastsi128_si256(_mm_loadu_si128(at as *const __m128i));
                let back = _mm256_broadcastsi128_si256(_mm_loadu_si128(at.add(16) as *const __m128i));
                let nibbles = |v: __m256i, h: usize| match h {
                    0 => _mm256_and_si256(v, mask),
                    _ => _mm256_and_si256(_mm256_srli_epi16(v, 4), mask),
                };
                for h in 0..2 {
                    let sub = 2 * c + h;
                    let xp = xs.as_ptr().add(32 * sub);
                    let (q0, q1) = (nibbles(front, h), nibbles(back, h));
                    let mut qx_lo = _mm256_mul_ps(eight_top(q0, first), _mm256_loadu_ps(xp));
                    qx_lo = _mm256_fmadd_ps(eight_top(q0, second), _mm256_loadu_ps(xp.add(8)), qx_lo);
                    let mut qx_hi = _mm256_mul_ps(eight_top(q1, first), _mm256_loadu_ps(xp.add(16)));
                    qx_hi = _mm256_fmadd_ps(eight_top(q1, second), _mm256_loadu_ps(xp.add(24)), qx_hi);
                    let sx = _mm256_add_ps(
                        _mm256_add_ps(_mm256_loadu_ps(xp), _mm256_loadu_ps(xp.add(8))),
                        _mm256_add_ps(_mm256_loadu_ps(xp.add(16)), _mm256_loadu_ps(xp.add(24))),
                    );
                    // sc * 2^-24 is exact (sc is d * a 6-bit scale, d an f16).
                    let sc_top = _mm256_set1_ps(sc[sub] * UNSCALE_TOP);
                    acc_q[h] = _mm256_fmadd_ps(sc_top, _mm256_add_ps(qx_lo, qx_hi), acc_q[h]);
                    acc_m[h] = _mm256_fnmadd_ps(_mm256_set1_ps(mn[sub]), sx, acc_m[h]);
                }
            }
        }
        horizontal_sum(_mm256_add_ps(_mm256_add_ps(acc_q[0], acc_q[1]), _mm256_add_ps(acc_m[0], acc_m[1])))
    }
}

/// Q6_K row times an f32 vector (`block_q6_K`: `ql` 128 bytes of low nibbles, `qh` 64 bytes of
/// top-two-bit pairs, 16 signed 8-bit scales, f16 `d`; 16 weights per scale, q in -32..32).
pub fn dot_q6_k(row: &[u8], x: &[f32]) -> f32 {
    debug_assert_eq!(row.len() / Q6_K_BYTES * 256, x.len());
    // SAFETY: compiled only with AVX2 and FMA; loads stay inside `b` (ql 0..128, qh 128..192)
    // and `xs`.
    unsafe {
        // One accumulator per scale of a group: a single one made each group wait on the
        // previous group's two multiply-adds.
        let mut acc = [_mm256_setzero_ps(); 2];
        let m4 = _mm256_set1_epi8(0x0F);
        let m2 = _mm256_set1_epi8(0x03);
        let bias = _mm256_set1_epi8(32);
        for (b, xs) in row.chunks_exact(Q6_K_BYTES).zip(x.chunks_exact(256)) {
            super::prefetch_ahead(b);
            let d = scale(b[208], b[209]);
            for h in 0..2 {
                let p = b.as_ptr();
                let a = _mm256_loadu_si256(p.add(64 * h) as *const __m256i);
                let bb = _mm256_loadu_si256(p.add(64 * h + 32) as *const __m256i);
                let hb = _mm256_loadu_si256(p.add(128 + 32 * h) as *const __m256i);
                let top = |shift: i32| -> __m256i {
                    let t = match shift {
                        0 => hb,
                        2 => _mm256_srli_epi16(hb, 2),
                        4 => _mm256_srli_epi16(hb, 4),
                        _ => _mm256_srli_epi16(hb, 6),
                    };
                    _mm256_slli_epi16(_mm256_and_si256(t, m2), 4)
                };
                // The four groups of 32 weights of this half, each as signed bytes q - 32.
                let groups = [
                    _mm256_and_si256(a, m4),
                    _mm256_and_si256(bb, m4),
                    _mm256_and_si256(_mm256_srli_epi16(a, 4), m4),
                    _mm256_and_si256(_mm256_srli_epi16(bb, 4), m4),
                ];
                for (g, low) in groups.into_iter().enumerate() {
                    let q = _mm256_sub_epi8(_mm256_or_si256(low, top(2 * g as i32)), bias);
                    let xp = xs.as_ptr().add(128 * h + 32 * g);
                    let (lo, hi) = (_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
                    // Elements 0..16 and 16..32 of the group have their own scales.
                    let s0 = dot8_i8(_mm_srli_si128(lo, 8), xp.add(8), dot8_i8(lo, xp, _mm256_setzero_ps()));
                    let s1 = dot8_i8(_mm_srli_si128(hi, 8), xp.add(24), dot8_i8(hi, xp.add(16), _mm256_setzero_ps()));
                    let sc0 = d * f32::from(b[192 + 8 * h + 2 * g] as i8);
                    let sc1 = d * f32::from(b[192 + 8 * h + 2 * g + 1] as i8);
                    acc[0] = _mm256_fmadd_ps(_mm256_set1_ps(sc0), s0, acc[0]);
                    acc[1] = _mm256_fmadd_ps(_mm256_set1_ps(sc1), s1, acc[1]);
                }
            }
        }
        horizontal_sum(_mm256_add_ps(acc[0], acc[1]))
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
