//! Dot products of one stored row with an f32 vector, one kernel per format.
//!
//! Portable by construction: every kernel walks the row block by block with `as_chunks`, decodes
//! each block into a fixed-size stack array of weights with the block's `weights()` (the same
//! decoder [`super::dequantize`] uses, see [`super::blocks`]), and adds `w_i * x_i` into
//! [`LANES`] independent f32 accumulators, element-wise. Element-wise loops over fixed-size
//! arrays are what LLVM's SLP vectorizer turns into full-width SIMD without fast-math, so the
//! same source becomes AVX2/AVX-512 or SSE2 on x86-64, NEON on aarch64 and SIMD128 on wasm32
//! (`-C target-feature=+simd128`, set in `.cargo/config.toml`), with no `cfg` and no `unsafe`.
//! The lanes are summed once, at the end of the row.
//!
//! The weights are exactly [`super::dequantize`]'s values, so a kernel differs from
//! [`super::dot_reference`] only in the order of the additions.
//!
//! Measured here (2-core Xeon with AVX-512, `-C target-cpu=native`, one thread, 32768-row
//! matrices): Q8_0 about 10 G elements/s (near the memory bandwidth), Q4_K about 9, Q6_K about
//! 6. Decoding a block into levels and factoring the scales out of lane-wise partial sums was
//! 2-3x slower: LLVM vectorized it two floats at a time.

use super::blocks::{
    BlockIQ1M, BlockIQ1S,
    BlockIQ2S, BlockIQ2XS, BlockIQ2XXS, BlockIQ3S, BlockIQ3XXS, BlockIQ4NL, BlockIQ4XS, BlockMXFP4, BlockTQ1_0, BlockTQ2_0, BlockQ2K, BlockQ3K, BlockQ4K, BlockQ4_0, BlockQ4_1, BlockQ5K, BlockQ5_0,
    BlockQ5_1, BlockQ6K, BlockQ8_0,
};
use super::{bf16_to_f32, f16_to_f32, QK_K};

/// Independent accumulators per kernel: one AVX-512 register, two AVX2 registers, four
/// SSE/NEON/SIMD128 registers.
pub const LANES: usize = 16;

/// Lane-wise partial sums.
type Lanes = [f32; LANES];

/// `acc[i] += sum over k of w[i + LANES * k] * x[i + LANES * k]`, for `N` a multiple of
/// [`LANES`].
#[inline(always)]
fn accumulate<const N: usize>(acc: &mut Lanes, w: &[f32; N], x: &[f32; N]) {
    for (w, x) in w.as_chunks::<32>().0.iter().zip(x.as_chunks::<32>().0) {
        for i in 0..LANES {
            acc[i] += w[i] * x[i] + w[i + LANES] * x[i + LANES];
        }
    }
    // N is 32 or 256 here; a 16-element remainder would be a new format.
    debug_assert_eq!(N % 32, 0);
}

/// Sum of the lanes, in order. (A pairwise tree here made LLVM vectorize the whole kernel two
/// floats at a time, 3x slower; the order of 16 additions does not matter for accuracy.)
#[inline(always)]
fn reduce(acc: Lanes) -> f32 {
    let mut sum = 0.0;
    for v in acc {
        sum += v;
    }
    sum
}

/// The kernel of every block format: `B`-byte blocks of `N` elements, decoded by `weights`.
/// Lengths are checked by the caller ([`super::dot`](fn@super::dot)).
#[inline(always)]
fn dot_blocks<const B: usize, const N: usize>(
    row: &[u8],
    x: &[f32],
    weights: impl Fn(&[u8; B]) -> [f32; N],
) -> f32 {
    debug_assert_eq!(row.len() / B * N, x.len());
    let mut acc = [0.0; LANES];
    for (b, x) in row.as_chunks::<B>().0.iter().zip(x.as_chunks::<N>().0) {
        super::prefetch_ahead(b);
        accumulate(&mut acc, &weights(b), x);
    }
    reduce(acc)
}

// ---------------------------------------------------------------------------------------------
// Plain number types: any length; 32 elements per step, then a scalar tail.
// ---------------------------------------------------------------------------------------------

/// Elements per step of the plain-number kernels.
const STEP: usize = 32;

/// Shared body of the F32/F16/BF16 kernels: `E` bytes per element (`B = E * STEP` per step),
/// `decode` per element.
#[inline(always)]
fn dot_plain<const E: usize, const B: usize>(
    row: &[u8],
    x: &[f32],
    decode: impl Fn([u8; E]) -> f32,
) -> f32 {
    debug_assert_eq!(B, E * STEP);
    debug_assert_eq!(row.len(), E * x.len());
    let (row_steps, row_tail) = row.as_chunks::<B>();
    let (x_steps, x_tail) = x.as_chunks::<STEP>();
    let mut acc = [0.0; LANES];
    for (b, x) in row_steps.iter().zip(x_steps) {
        let (elements, _) = b.as_chunks::<E>();
        let w: [f32; STEP] = std::array::from_fn(|i| decode(elements[i]));
        accumulate(&mut acc, &w, x);
    }
    let mut tail = 0.0;
    for (&e, &x) in row_tail.as_chunks::<E>().0.iter().zip(x_tail) {
        tail += decode(e) * x;
    }
    reduce(acc) + tail
}

/// F32 row.
pub fn dot_f32(row: &[u8], x: &[f32]) -> f32 {
    dot_plain::<4, { 4 * STEP }>(row, x, f32::from_le_bytes)
}

/// F16 row.
pub fn dot_f16(row: &[u8], x: &[f32]) -> f32 {
    dot_plain::<2, { 2 * STEP }>(row, x, |b| f16_to_f32(u16::from_le_bytes(b)))
}

/// BF16 row.
pub fn dot_bf16(row: &[u8], x: &[f32]) -> f32 {
    dot_plain::<2, { 2 * STEP }>(row, x, |b| bf16_to_f32(u16::from_le_bytes(b)))
}

// ---------------------------------------------------------------------------------------------
// Block formats.
// ---------------------------------------------------------------------------------------------

/// Q4_0 row.
pub fn dot_q4_0(row: &[u8], x: &[f32]) -> f32 {
    dot_blocks::<{ BlockQ4_0::BYTES }, 32>(row, x, |b| BlockQ4_0::from_bytes(b).weights())
}

/// Q4_1 row.
pub fn dot_q4_1(row: &[u8], x: &[f32]) -> f32 {
    dot_blocks::<{ BlockQ4_1::BYTES }, 32>(row, x, |b| BlockQ4_1::from_bytes(b).weights())
}

/// Q5_0 row.
pub fn dot_q5_0(row: &[u8], x: &[f32]) -> f32 {
    dot_blocks::<{ BlockQ5_0::BYTES }, 32>(row, x, |b| BlockQ5_0::from_bytes(b).weights())
}

/// Q5_1 row.
pub fn dot_q5_1(row: &[u8], x: &[f32]) -> f32 {
    dot_blocks::<{ BlockQ5_1::BYTES }, 32>(row, x, |b| BlockQ5_1::from_bytes(b).weights())
}

/// Q8_0 row.
pub fn dot_q8_0(row: &[u8], x: &[f32]) -> f32 {
    dot_blocks::<{ BlockQ8_0::BYTES }, 32>(row, x, |b| BlockQ8_0::from_bytes(b).weights())
}

/// IQ4_NL row.
pub fn dot_iq4_nl(row: &[u8], x: &[f32]) -> f32 {
    dot_blocks::<{ BlockIQ4NL::BYTES }, 32>(row, x, |b| BlockIQ4NL::from_bytes(b).weights())
}

/// IQ4_XS row.
pub fn dot_iq4_xs(row: &[u8], x: &[f32]) -> f32 {
    dot_blocks::<{ BlockIQ4XS::BYTES }, QK_K>(row, x, |b| BlockIQ4XS::from_bytes(b).weights())
}

/// MXFP4 row.
pub fn dot_mxfp4(row: &[u8], x: &[f32]) -> f32 {
    dot_blocks::<{ BlockMXFP4::BYTES }, 32>(row, x, |b| BlockMXFP4::from_bytes(b).weights())
}

/// TQ1_0 row.
pub fn dot_tq1_0(row: &[u8], x: &[f32]) -> f32 {
    dot_blocks::<{ BlockTQ1_0::BYTES }, QK_K>(row, x, |b| BlockTQ1_0::from_bytes(b).weights())
}

/// IQ2_XXS row.
pub fn dot_iq2_xxs(row: &[u8], x: &[f32]) -> f32 {
    dot_blocks::<{ BlockIQ2XXS::BYTES }, QK_K>(row, x, |b| BlockIQ2XXS::from_bytes(b).weights())
}

/// IQ2_XS row.
pub fn dot_iq2_xs(row: &[u8], x: &[f32]) -> f32 {
    dot_blocks::<{ BlockIQ2XS::BYTES }, QK_K>(row, x, |b| BlockIQ2XS::from_bytes(b).weights())
}

/// IQ1_S row.
pub fn dot_iq1_s(row: &[u8], x: &[f32]) -> f32 {
    dot_blocks::<{ BlockIQ1S::BYTES }, QK_K>(row, x, |b| BlockIQ1S::from_bytes(b).weights())
}

/// IQ1_M row.
pub fn dot_iq1_m(row: &[u8], x: &[f32]) -> f32 {
    dot_blocks::<{ BlockIQ1M::BYTES }, QK_K>(row, x, |b| BlockIQ1M::from_bytes(b).weights())
}

/// IQ2_S row.
pub fn dot_iq2_s(row: &[u8], x: &[f32]) -> f32 {
    dot_blocks::<{ BlockIQ2S::BYTES }, QK_K>(row, x, |b| BlockIQ2S::from_bytes(b).weights())
}

/// IQ3_XXS row.
pub fn dot_iq3_xxs(row: &[u8], x: &[f32]) -> f32 {
    dot_blocks::<{ BlockIQ3XXS::BYTES }, QK_K>(row, x, |b| BlockIQ3XXS::from_bytes(b).weights())
}

/// IQ3_S row.
pub fn dot_iq3_s(row: &[u8], x: &[f32]) -> f32 {
    dot_blocks::<{ BlockIQ3S::BYTES }, QK_K>(row, x, |b| BlockIQ3S::from_bytes(b).weights())
}

/// TQ2_0 row.
pub fn dot_tq2_0(row: &[u8], x: &[f32]) -> f32 {
    dot_blocks::<{ BlockTQ2_0::BYTES }, QK_K>(row, x, |b| BlockTQ2_0::from_bytes(b).weights())
}

/// Q2_K row.
pub fn dot_q2_k(row: &[u8], x: &[f32]) -> f32 {
    dot_blocks::<{ BlockQ2K::BYTES }, QK_K>(row, x, |b| BlockQ2K::from_bytes(b).weights())
}

/// Q3_K row.
pub fn dot_q3_k(row: &[u8], x: &[f32]) -> f32 {
    dot_blocks::<{ BlockQ3K::BYTES }, QK_K>(row, x, |b| BlockQ3K::from_bytes(b).weights())
}

/// Q4_K row.
pub fn dot_q4_k(row: &[u8], x: &[f32]) -> f32 {
    dot_blocks::<{ BlockQ4K::BYTES }, QK_K>(row, x, |b| BlockQ4K::from_bytes(b).weights())
}

/// Q5_K row.
pub fn dot_q5_k(row: &[u8], x: &[f32]) -> f32 {
    dot_blocks::<{ BlockQ5K::BYTES }, QK_K>(row, x, |b| BlockQ5K::from_bytes(b).weights())
}

/// Q6_K row.
pub fn dot_q6_k(row: &[u8], x: &[f32]) -> f32 {
    dot_blocks::<{ BlockQ6K::BYTES }, QK_K>(row, x, |b| BlockQ6K::from_bytes(b).weights())
}
