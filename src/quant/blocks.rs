//! One `#[repr(C)]` struct per GGML block format, with its byte layout and its decoding.
//!
//! Sources, read for the layouts (nothing here is a copy): llama.cpp's
//! `ggml/src/ggml-common.h` (block structs, commit 01243c587feceaa5d6a6c2305535ef2f549c48b8)
//! and `ggml/src/ggml-quants.c` (`dequantize_row_*`, commit
//! 36491e4024b3016e6e2d21afc140add042b44bec), cross-checked against PyPI `gguf` 0.19.0's
//! `gguf/quants.py` (`dequantize_blocks`), which the fixtures in `tests/fixtures/quant/` come
//! from.
//!
//! Every field is a byte array, so each struct has alignment 1, no padding, and `size_of` equal
//! to the on-disk block size (asserted at compile time). A block is read by copying its bytes
//! out of the row (`from_bytes`): no pointer casts, no `unsafe`, and after inlining LLVM reads
//! the fields straight from the row. f16 fields are stored as their little-endian bits.
//!
//! Each block has one decoder, `weights`, which returns the block's dequantized values computed
//! with the same f32 operations, in the same order, as llama.cpp (for example Q4_K's
//! `(d * sc) * q - (dmin * m)`; Rust never fuses them into an FMA). Both
//! [`super::dequantize`] and the dot kernels in [`super::dot`](mod@super::dot) are built on it,
//! so there is a single statement of each layout.
//!
//! The decoders are written for LLVM's SLP vectorizer, which is easily put off: fixed trip
//! counts, several outputs per input byte, integer-to-float conversions through `i16`, and
//! indexed loops or `array::from_fn` rather than `array::map`. Measured here, `array::map` or a
//! direct `i8 -> f32` conversion made LLVM vectorize two floats at a time, 2-3x slower.

use super::iq_grids::{IQ1S_GRID, IQ2S_GRID, IQ2XS_GRID, IQ2XXS_GRID, IQ3S_GRID, IQ3XXS_GRID, KSIGNS};
use super::{f16_to_f32, QK_K};
use std::mem::size_of;

/// Copies the next `N` bytes of `b` from `*at`, advancing `*at`.
///
/// Called with constant offsets from the `from_bytes` functions below; after inlining the
/// bounds checks fold away.
#[inline(always)]
fn take<const N: usize>(b: &[u8], at: &mut usize) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&b[*at..*at + N]);
    *at += N;
    out
}

/// Defines `BYTES` and `from_bytes` for a block struct whose fields are byte arrays, read in
/// declaration order (which is the `#[repr(C)]` order: no padding, as every field has
/// alignment 1).
macro_rules! from_bytes {
    ($block:ident, [$($field:ident),+ $(,)?]) => {
        impl $block {
            /// Bytes per block on disk.
            pub const BYTES: usize = size_of::<$block>();

            /// Reads one block from its bytes.
            #[inline(always)]
            pub fn from_bytes(b: &[u8; Self::BYTES]) -> Self {
                let mut at = 0;
                let block = Self { $($field: take(b, &mut at)),+ };
                debug_assert_eq!(at, Self::BYTES);
                block
            }
        }
    };
}

/// An f16 field's value.
#[inline(always)]
fn half(bits: [u8; 2]) -> f32 {
    f16_to_f32(u16::from_le_bytes(bits))
}

/// A small integer as f32 (exact), through `i16` so that the conversion vectorizes.
#[inline(always)]
fn level(v: i16) -> f32 {
    f32::from(v)
}

/// An `i8` quant (given as its byte) as f32, exactly, in the form that vectorizes best on the
/// target: a sign extension through `i16` natively ([`i8_level_sext`]), the float-bits trick on
/// wasm32 ([`i8_level_biased`]), where LLVM converts the former lane by lane. Both give the same
/// value for every byte (tested).
#[inline(always)]
fn i8_level(b: u8) -> f32 {
    #[cfg(target_arch = "wasm32")]
    {
        i8_level_biased(b)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        i8_level_sext(b)
    }
}

/// `b as i8` as f32 through `i16`.
#[inline(always)]
#[cfg_attr(target_arch = "wasm32", allow(dead_code))]
fn i8_level_sext(b: u8) -> f32 {
    level(i16::from(b as i8))
}

/// `b as i8` as f32 through integer ops only: the f32 with bits `2^23 + (b ^ 0x80)` is
/// `2^23 + (b as i8) + 128` exactly, and subtracting `2^23 + 128` is exact.
#[inline(always)]
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
fn i8_level_biased(b: u8) -> f32 {
    f32::from_bits(0x4b00_0000 | u32::from(b ^ 0x80)) - 8_388_736.0
}

// ---------------------------------------------------------------------------------------------
// Legacy quants: 32 elements per block, one scale (and for *_1 one min) per block.
// ---------------------------------------------------------------------------------------------

/// Q4_0: 32 weights `w = (q - 8) * d`, `q` in 0..16.
///
/// ggml-common.h `block_q4_0`; ggml-quants.c `dequantize_row_q4_0`.
/// Layout: `d` f16 @0, `qs` @2 (element `j` in the low nibble of `qs[j]`, element `j + 16` in
/// its high nibble).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BlockQ4_0 {
    /// Scale, f16 bits (little-endian).
    pub d: [u8; 2],
    /// Two 4-bit quants per byte.
    pub qs: [u8; 16],
}
const _: () = assert!(size_of::<BlockQ4_0>() == 18);
from_bytes!(BlockQ4_0, [d, qs]);

impl BlockQ4_0 {
    /// The 32 dequantized weights.
    #[inline(always)]
    pub fn weights(&self) -> [f32; 32] {
        let d = half(self.d);
        let mut w = [0.0; 32];
        for l in 0..16 {
            let b = self.qs[l];
            w[l] = level(i16::from(b & 0x0f) - 8) * d;
            w[l + 16] = level(i16::from(b >> 4) - 8) * d;
        }
        w
    }
}

/// Q4_1: 32 weights `w = q * d + m`, `q` in 0..16.
///
/// ggml-common.h `block_q4_1`; ggml-quants.c `dequantize_row_q4_1`.
/// Layout: `d` f16 @0, `m` f16 @2, `qs` @4 (nibbles as in Q4_0).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BlockQ4_1 {
    /// Scale, f16 bits.
    pub d: [u8; 2],
    /// Min (added), f16 bits.
    pub m: [u8; 2],
    /// Two 4-bit quants per byte.
    pub qs: [u8; 16],
}
const _: () = assert!(size_of::<BlockQ4_1>() == 20);
from_bytes!(BlockQ4_1, [d, m, qs]);

impl BlockQ4_1 {
    /// The 32 dequantized weights.
    #[inline(always)]
    pub fn weights(&self) -> [f32; 32] {
        let (d, m) = (half(self.d), half(self.m));
        let mut w = [0.0; 32];
        for l in 0..16 {
            let b = self.qs[l];
            w[l] = level(i16::from(b & 0x0f)) * d + m;
            w[l + 16] = level(i16::from(b >> 4)) * d + m;
        }
        w
    }
}

/// The fifth bit of element `j` of a Q5_0/Q5_1 block, as 0 or 16: bit `j` of `qh` (a
/// little-endian u32).
#[inline(always)]
fn q5_high_bit(qh: u32, j: usize) -> i16 {
    (((qh >> j) & 1) << 4) as i16
}

/// Q5_0: 32 weights `w = (q - 16) * d`, `q` in 0..32.
///
/// ggml-common.h `block_q5_0`; ggml-quants.c `dequantize_row_q5_0`.
/// Layout: `d` f16 @0, `qh` @2 (u32 little-endian: bit `j` is bit 4 of element `j`), `qs` @6
/// (low 4 bits, nibbles as in Q4_0).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BlockQ5_0 {
    /// Scale, f16 bits.
    pub d: [u8; 2],
    /// Fifth bits of the 32 quants.
    pub qh: [u8; 4],
    /// Low four bits, two quants per byte.
    pub qs: [u8; 16],
}
const _: () = assert!(size_of::<BlockQ5_0>() == 22);
from_bytes!(BlockQ5_0, [d, qh, qs]);

impl BlockQ5_0 {
    /// The 32 dequantized weights.
    #[inline(always)]
    pub fn weights(&self) -> [f32; 32] {
        let (d, qh) = (half(self.d), u32::from_le_bytes(self.qh));
        let mut w = [0.0; 32];
        for l in 0..16 {
            let b = self.qs[l];
            w[l] = level((i16::from(b & 0x0f) | q5_high_bit(qh, l)) - 16) * d;
            w[l + 16] = level((i16::from(b >> 4) | q5_high_bit(qh, l + 16)) - 16) * d;
        }
        w
    }
}

/// Q5_1: 32 weights `w = q * d + m`, `q` in 0..32.
///
/// ggml-common.h `block_q5_1`; ggml-quants.c `dequantize_row_q5_1`.
/// Layout: `d` f16 @0, `m` f16 @2, `qh` @4 (as in Q5_0), `qs` @8.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BlockQ5_1 {
    /// Scale, f16 bits.
    pub d: [u8; 2],
    /// Min (added), f16 bits.
    pub m: [u8; 2],
    /// Fifth bits of the 32 quants.
    pub qh: [u8; 4],
    /// Low four bits, two quants per byte.
    pub qs: [u8; 16],
}
const _: () = assert!(size_of::<BlockQ5_1>() == 24);
from_bytes!(BlockQ5_1, [d, m, qh, qs]);

impl BlockQ5_1 {
    /// The 32 dequantized weights.
    #[inline(always)]
    pub fn weights(&self) -> [f32; 32] {
        let (d, m, qh) = (half(self.d), half(self.m), u32::from_le_bytes(self.qh));
        let mut w = [0.0; 32];
        for l in 0..16 {
            let b = self.qs[l];
            w[l] = level(i16::from(b & 0x0f) | q5_high_bit(qh, l)) * d + m;
            w[l + 16] = level(i16::from(b >> 4) | q5_high_bit(qh, l + 16)) * d + m;
        }
        w
    }
}

/// Q8_0: 32 weights `w = q * d`, `q` an `i8`.
///
/// ggml-common.h `block_q8_0`; ggml-quants.c `dequantize_row_q8_0`.
/// Layout: `d` f16 @0, `qs` @2 (one `i8` per element).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BlockQ8_0 {
    /// Scale, f16 bits.
    pub d: [u8; 2],
    /// The quants, `i8` bits.
    pub qs: [u8; 32],
}
const _: () = assert!(size_of::<BlockQ8_0>() == 34);
from_bytes!(BlockQ8_0, [d, qs]);

impl BlockQ8_0 {
    /// The 32 dequantized weights.
    #[inline(always)]
    pub fn weights(&self) -> [f32; 32] {
        let d = half(self.d);
        std::array::from_fn(|l| i8_level(self.qs[l]) * d)
    }
}

// ---------------------------------------------------------------------------------------------
// K-quants: super-blocks of QK_K = 256 elements split into sub-blocks of 16 or 32, each with
// its own quantized scale (and min) times a super-block f16 scale.
// ---------------------------------------------------------------------------------------------

/// Q2_K: 256 weights in 16 sub-blocks of 16, `w = (d * sc) * q - dmin * m`, `q` in 0..4.
///
/// ggml-common.h `block_q2_K`; ggml-quants.c `dequantize_row_q2_K`.
/// Layout: `scales` @0 (sub-block `s`: `sc` = low nibble, `m` = high nibble of `scales[s]`),
/// `qs` @16, `d` f16 @80, `dmin` f16 @82. Element `e = 128 * h + 32 * j + l` (`h` in 0..2,
/// `j` in 0..4, `l` in 0..32) is bits `2j..2j+2` of `qs[32 * h + l]`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BlockQ2K {
    /// Per sub-block: 4-bit scale (low nibble) and 4-bit min (high nibble).
    pub scales: [u8; 16],
    /// Four 2-bit quants per byte.
    pub qs: [u8; 64],
    /// Super-block scale for the scales, f16 bits.
    pub d: [u8; 2],
    /// Super-block scale for the mins, f16 bits.
    pub dmin: [u8; 2],
}
const _: () = assert!(size_of::<BlockQ2K>() == 84);
from_bytes!(BlockQ2K, [scales, qs, d, dmin]);

impl BlockQ2K {
    /// The 256 dequantized weights.
    #[inline(always)]
    pub fn weights(&self) -> [f32; QK_K] {
        let (d, dmin) = (half(self.d), half(self.dmin));
        let sc: [f32; 16] = std::array::from_fn(|s| d * f32::from(self.scales[s] & 0x0f));
        let mn: [f32; 16] = std::array::from_fn(|s| dmin * f32::from(self.scales[s] >> 4));
        let mut w = [0.0; QK_K];
        for h in 0..2 {
            let (w, qs) = (&mut w[128 * h..][..128], &self.qs[32 * h..][..32]);
            let (sc, mn) = (&sc[8 * h..][..8], &mn[8 * h..][..8]);
            for l in 0..32 {
                let (b, k) = (qs[l], l / 16);
                w[l] = sc[k] * level(i16::from(b & 3)) - mn[k];
                w[32 + l] = sc[2 + k] * level(i16::from((b >> 2) & 3)) - mn[2 + k];
                w[64 + l] = sc[4 + k] * level(i16::from((b >> 4) & 3)) - mn[4 + k];
                w[96 + l] = sc[6 + k] * level(i16::from(b >> 6)) - mn[6 + k];
            }
        }
        w
    }
}

/// Q3_K: 256 weights in 16 sub-blocks of 16, `w = (d * (sc - 32)) * q`, `q` in -4..4.
///
/// ggml-common.h `block_q3_K`; ggml-quants.c `dequantize_row_q3_K`.
/// Layout: `hmask` @0, `qs` @32, `scales` @96, `d` f16 @108. Element `e = 128 * h + 32 * j + l`
/// has low bits `2j..2j+2` of `qs[32 * h + l]` and high bit `e / 32` of `hmask[l]`; a *clear*
/// high bit subtracts 4 (`q = low - 4 * !high`). The 16 six-bit scales `sc` are packed as: low
/// nibble of `scales[s]` for `s < 8`, high nibble of `scales[s - 8]` for `s >= 8`; top two bits
/// from bits `2 * (s / 4)..` of `scales[8 + s % 4]`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BlockQ3K {
    /// High bit of each quant.
    pub hmask: [u8; 32],
    /// Low two bits, four quants per byte.
    pub qs: [u8; 64],
    /// Sixteen packed 6-bit scales.
    pub scales: [u8; 12],
    /// Super-block scale, f16 bits.
    pub d: [u8; 2],
}
const _: () = assert!(size_of::<BlockQ3K>() == 110);
from_bytes!(BlockQ3K, [hmask, qs, scales, d]);

impl BlockQ3K {
    /// The 16 six-bit sub-block scales minus 32, in -32..32.
    #[inline(always)]
    pub fn sub_scales(&self) -> [i16; 16] {
        let s = &self.scales;
        std::array::from_fn(|i| {
            let low = if i < 8 { s[i] & 0x0f } else { s[i - 8] >> 4 };
            let high = (s[8 + i % 4] >> (2 * (i / 4))) & 3;
            i16::from(low | (high << 4)) - 32
        })
    }

    /// The 256 dequantized weights.
    #[inline(always)]
    pub fn weights(&self) -> [f32; QK_K] {
        let d = half(self.d);
        let sub = self.sub_scales();
        let sc: [f32; 16] = std::array::from_fn(|s| d * f32::from(sub[s]));
        // `q = low - 4 + 4 * high`, with the high bit of chunk `4h + j` at bit `4h + j`.
        let q = |low: u8, hm: u8, bit: u32| {
            level(i16::from(low & 3) - 4 + 4 * i16::from((hm >> bit) & 1))
        };
        let mut w = [0.0; QK_K];
        for h in 0..2 {
            let (w, qs) = (&mut w[128 * h..][..128], &self.qs[32 * h..][..32]);
            let sc = &sc[8 * h..][..8];
            for l in 0..32 {
                // The half's four high bits, moved down to bits 0..4.
                let (b, hm, k) = (qs[l], self.hmask[l] >> (4 * h), l / 16);
                w[l] = sc[k] * q(b, hm, 0);
                w[32 + l] = sc[2 + k] * q(b >> 2, hm, 1);
                w[64 + l] = sc[4 + k] * q(b >> 4, hm, 2);
                w[96 + l] = sc[6 + k] * q(b >> 6, hm, 3);
            }
        }
        w
    }
}

/// The 6-bit scale and min of sub-block `j` (0..8) of a Q4_K/Q5_K block: `get_scale_min_k4`
/// in ggml-quants.c. Bytes 0..4 hold scales 0..4 (low 6 bits) and the top 2 bits of scales
/// 4..8; bytes 4..8 the same for the mins; bytes 8..12 the low nibbles of scales 4..8 (low
/// nibble) and mins 4..8 (high nibble).
#[inline(always)]
fn scale_min_k4(j: usize, q: &[u8; 12]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        (
            (q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4),
            (q[j + 4] >> 4) | ((q[j] >> 6) << 4),
        )
    }
}

/// Per sub-block of 32 of a Q4_K/Q5_K block: the scale `d * sc` and the min `dmin * m`.
#[inline(always)]
pub(crate) fn k4_scales_mins(d: [u8; 2], dmin: [u8; 2], scales: &[u8; 12]) -> ([f32; 8], [f32; 8]) {
    let (d, dmin) = (half(d), half(dmin));
    let mut sc = [0.0; 8];
    let mut mn = [0.0; 8];
    for j in 0..8 {
        let (s, m) = scale_min_k4(j, scales);
        sc[j] = d * f32::from(s);
        mn[j] = dmin * f32::from(m);
    }
    (sc, mn)
}

/// Q4_K: 256 weights in 8 sub-blocks of 32, `w = (d * sc) * q - dmin * m`, `q` in 0..16.
///
/// ggml-common.h `block_q4_K`; ggml-quants.c `dequantize_row_q4_K` and `get_scale_min_k4`.
/// Layout: `d` f16 @0, `dmin` f16 @2, `scales` @4 (see `scale_min_k4`), `qs` @16. Element
/// `e = 64 * c + 32 * h + l` (`c` in 0..4, `h` in 0..2) is nibble `h` of `qs[32 * c + l]`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BlockQ4K {
    /// Super-block scale for the scales, f16 bits.
    pub d: [u8; 2],
    /// Super-block scale for the mins, f16 bits.
    pub dmin: [u8; 2],
    /// Eight 6-bit scales and eight 6-bit mins, packed.
    pub scales: [u8; 12],
    /// Two 4-bit quants per byte.
    pub qs: [u8; 128],
}
const _: () = assert!(size_of::<BlockQ4K>() == 144);
from_bytes!(BlockQ4K, [d, dmin, scales, qs]);

impl BlockQ4K {
    /// The 256 dequantized weights.
    #[inline(always)]
    pub fn weights(&self) -> [f32; QK_K] {
        let (sc, mn) = k4_scales_mins(self.d, self.dmin, &self.scales);
        let mut w = [0.0; QK_K];
        for c in 0..4 {
            let (w, qs) = (&mut w[64 * c..][..64], &self.qs[32 * c..][..32]);
            let (s0, m0, s1, m1) = (sc[2 * c], mn[2 * c], sc[2 * c + 1], mn[2 * c + 1]);
            for l in 0..32 {
                let b = qs[l];
                w[l] = s0 * level(i16::from(b & 0x0f)) - m0;
                w[32 + l] = s1 * level(i16::from(b >> 4)) - m1;
            }
        }
        w
    }
}

/// Q5_K: 256 weights in 8 sub-blocks of 32, `w = (d * sc) * q - dmin * m`, `q` in 0..32.
///
/// ggml-common.h `block_q5_K`; ggml-quants.c `dequantize_row_q5_K`.
/// Layout: `d` f16 @0, `dmin` f16 @2, `scales` @4 (as Q4_K), `qh` @16, `qs` @48. The low four
/// bits are laid out as Q4_K's; element `e`'s fifth bit is bit `e / 32` of `qh[e % 32]`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BlockQ5K {
    /// Super-block scale for the scales, f16 bits.
    pub d: [u8; 2],
    /// Super-block scale for the mins, f16 bits.
    pub dmin: [u8; 2],
    /// Eight 6-bit scales and eight 6-bit mins, packed.
    pub scales: [u8; 12],
    /// Fifth bit of each quant.
    pub qh: [u8; 32],
    /// Low four bits, two quants per byte.
    pub qs: [u8; 128],
}
const _: () = assert!(size_of::<BlockQ5K>() == 176);
from_bytes!(BlockQ5K, [d, dmin, scales, qh, qs]);

impl BlockQ5K {
    /// The 256 dequantized weights.
    #[inline(always)]
    pub fn weights(&self) -> [f32; QK_K] {
        let (sc, mn) = k4_scales_mins(self.d, self.dmin, &self.scales);
        let mut w = [0.0; QK_K];
        for c in 0..4 {
            let (w, qs) = (&mut w[64 * c..][..64], &self.qs[32 * c..][..32]);
            let (s0, m0, s1, m1) = (sc[2 * c], mn[2 * c], sc[2 * c + 1], mn[2 * c + 1]);
            for l in 0..32 {
                // Fifth bits of sub-blocks 2c and 2c + 1.
                let (b, h) = (qs[l], self.qh[l] >> (2 * c));
                w[l] = s0 * level(i16::from((b & 0x0f) | ((h & 1) << 4))) - m0;
                w[32 + l] = s1 * level(i16::from((b >> 4) | ((h & 2) << 3))) - m1;
            }
        }
        w
    }
}

/// Q6_K: 256 weights in 16 sub-blocks of 16, `w = (d * sc) * (q - 32)`, `q` in 0..64, `sc` an
/// `i8`.
///
/// ggml-common.h `block_q6_K`; ggml-quants.c `dequantize_row_q6_K`.
/// Layout: `ql` @0, `qh` @128, `scales` @192 (`i8`), `d` f16 @208. Element
/// `e = 128 * h + 32 * j + l` (`h` in 0..2, `j` in 0..4, `l` in 0..32) has its low four bits in
/// nibble `j / 2` of `ql[64 * h + 32 * (j % 2) + l]` and its top two bits at bits `2j..2j+2` of
/// `qh[32 * h + l]`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BlockQ6K {
    /// Low four bits, two quants per byte.
    pub ql: [u8; 128],
    /// Top two bits, four quants per byte.
    pub qh: [u8; 64],
    /// Sub-block scales, `i8` bits.
    pub scales: [u8; 16],
    /// Super-block scale, f16 bits.
    pub d: [u8; 2],
}
const _: () = assert!(size_of::<BlockQ6K>() == 210);
from_bytes!(BlockQ6K, [ql, qh, scales, d]);

impl BlockQ6K {
    /// The 256 dequantized weights.
    #[inline(always)]
    pub fn weights(&self) -> [f32; QK_K] {
        let d = half(self.d);
        let sc: [f32; 16] = std::array::from_fn(|s| d * f32::from(self.scales[s] as i8));
        let q = |low: u8, high: u8| level(i16::from((low & 0x0f) | ((high & 3) << 4)) - 32);
        let mut w = [0.0; QK_K];
        for h in 0..2 {
            let w = &mut w[128 * h..][..128];
            let (ql, qh, sc) = (
                &self.ql[64 * h..][..64],
                &self.qh[32 * h..][..32],
                &sc[8 * h..][..8],
            );
            for l in 0..32 {
                let (a, b, hb, k) = (ql[l], ql[32 + l], qh[l], l / 16);
                w[l] = sc[k] * q(a, hb);
                w[32 + l] = sc[2 + k] * q(b, hb >> 2);
                w[64 + l] = sc[4 + k] * q(a >> 4, hb >> 4);
                w[96 + l] = sc[6 + k] * q(b >> 4, hb >> 6);
            }
        }
        w
    }
}

/// The sixteen non-uniform levels of IQ4_NL and IQ4_XS (ggml-common.h `kvalues_iq4nl`).
pub const IQ4_LEVELS: [i8; 16] = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

/// IQ4_NL: 32 weights `w = d * IQ4_LEVELS[q]`, `q` a 4-bit index (Q4_0's layout with a
/// non-uniform grid).
///
/// ggml-common.h `block_iq4_nl`; ggml-quants.c `dequantize_row_iq4_nl`.
/// Layout: `d` f16 @0, `qs` @2 (low nibbles are weights 0..16, high nibbles 16..32).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BlockIQ4NL {
    /// Scale, f16 bits.
    pub d: [u8; 2],
    /// Two 4-bit level indices per byte.
    pub qs: [u8; 16],
}
const _: () = assert!(size_of::<BlockIQ4NL>() == 18);
from_bytes!(BlockIQ4NL, [d, qs]);

impl BlockIQ4NL {
    /// The 32 dequantized weights.
    #[inline(always)]
    pub fn weights(&self) -> [f32; 32] {
        let d = half(self.d);
        let mut w = [0.0; 32];
        for l in 0..16 {
            let b = self.qs[l];
            w[l] = d * level(i16::from(IQ4_LEVELS[usize::from(b & 0x0f)]));
            w[l + 16] = d * level(i16::from(IQ4_LEVELS[usize::from(b >> 4)]));
        }
        w
    }
}

/// IQ4_XS: 256 weights in eight sub-blocks of 32, `w = d * (ls - 32) * IQ4_LEVELS[q]` with a
/// 6-bit sub-block scale `ls` (low 4 bits in `scales_l`, high 2 in `scales_h`).
///
/// ggml-common.h `block_iq4_xs`; ggml-quants.c `dequantize_row_iq4_xs`.
/// Layout: `d` f16 @0, `scales_h` u16 @2, `scales_l` @4, `qs` @8 (16 bytes a sub-block, nibbles
/// as in IQ4_NL).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BlockIQ4XS {
    /// Super-block scale, f16 bits.
    pub d: [u8; 2],
    /// The high two bits of the eight sub-block scales, little-endian.
    pub scales_h: [u8; 2],
    /// The low four bits of the sub-block scales, two a byte (even sub-block low nibble).
    pub scales_l: [u8; 4],
    /// Level indices, 16 bytes a sub-block.
    pub qs: [u8; 128],
}
const _: () = assert!(size_of::<BlockIQ4XS>() == 136);
from_bytes!(BlockIQ4XS, [d, scales_h, scales_l, qs]);

impl BlockIQ4XS {
    /// The 256 dequantized weights.
    #[inline(always)]
    pub fn weights(&self) -> [f32; QK_K] {
        let d = half(self.d);
        let scales_h = u16::from_le_bytes(self.scales_h);
        let mut w = [0.0; QK_K];
        for ib in 0..8 {
            let low = (self.scales_l[ib / 2] >> (4 * (ib % 2))) & 0x0f;
            let high = ((scales_h >> (2 * ib)) & 3) as u8;
            let ls = i16::from(low | (high << 4));
            let dl = d * level(ls - 32);
            for l in 0..16 {
                let b = self.qs[16 * ib + l];
                w[32 * ib + l] = dl * level(i16::from(IQ4_LEVELS[usize::from(b & 0x0f)]));
                w[32 * ib + l + 16] = dl * level(i16::from(IQ4_LEVELS[usize::from(b >> 4)]));
            }
        }
        w
    }
}

/// The sixteen FP4 (E2M1) values of MXFP4, doubled to integers (ggml-common.h `kvalues_mxfp4`);
/// the block scale is halved to match ([`e8m0_half`]).
pub const MXFP4_LEVELS: [i8; 16] = [0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12];

/// An E8M0 scale (a power of two, `2^(e - 127)`) halved, as f32 bits exactly as ggml-impl.h's
/// `ggml_e8m0_to_fp32_half`: subnormal for `e` < 2.
#[inline(always)]
pub fn e8m0_half(e: u8) -> f32 {
    let e = u32::from(e);
    f32::from_bits(if e < 2 { 0x0020_0000 << e } else { (e - 1) << 23 })
}

/// MXFP4: 32 weights `w = e8m0_half(e) * MXFP4_LEVELS[q]`, `q` a 4-bit index.
///
/// ggml-common.h `block_mxfp4`; ggml-quants.c `dequantize_row_mxfp4`.
/// Layout: `e` u8 @0, `qs` @1 (low nibbles are weights 0..16, high nibbles 16..32).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BlockMXFP4 {
    /// Shared E8M0 exponent.
    pub e: [u8; 1],
    /// Two 4-bit level indices per byte.
    pub qs: [u8; 16],
}
const _: () = assert!(size_of::<BlockMXFP4>() == 17);
from_bytes!(BlockMXFP4, [e, qs]);

impl BlockMXFP4 {
    /// The 32 dequantized weights.
    #[inline(always)]
    pub fn weights(&self) -> [f32; 32] {
        let d = e8m0_half(self.e[0]);
        let mut w = [0.0; 32];
        for l in 0..16 {
            let b = self.qs[l];
            w[l] = d * level(i16::from(MXFP4_LEVELS[usize::from(b & 0x0f)]));
            w[l + 16] = d * level(i16::from(MXFP4_LEVELS[usize::from(b >> 4)]));
        }
        w
    }
}

/// A ternary digit stored base-3 in a byte (TQ1_0): the byte times `3^k` (wrapping in 8 bits)
/// brings digit k to the top, and `(byte * 3) >> 8` reads it, as ggml's `dequantize_row_tq1_0`.
#[inline(always)]
fn trit(byte: u8, pow3: u8) -> f32 {
    let q = byte.wrapping_mul(pow3);
    level(((u16::from(q) * 3) >> 8) as i16 - 1)
}

/// TQ1_0: 256 ternary weights `w = d * t`, `t` in {-1, 0, 1}, five a byte (1.6875 bits each).
///
/// ggml-common.h `block_tq1_0`; ggml-quants.c `dequantize_row_tq1_0`.
/// Layout: `qs` @0 (48 bytes: the first 32 hold weights 0..160, five digits a byte, digit k of
/// byte m being weight 32k + m; the next 16 weights 160..240 likewise in rows of 16), `qh` @48
/// (4 bytes, weights 240..256, four digits a byte), `d` f16 @52.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BlockTQ1_0 {
    pub qs: [u8; 48],
    pub qh: [u8; 4],
    /// Scale, f16 bits.
    pub d: [u8; 2],
}
const _: () = assert!(size_of::<BlockTQ1_0>() == 54);
from_bytes!(BlockTQ1_0, [qs, qh, d]);

const POW3: [u8; 5] = [1, 3, 9, 27, 81];

impl BlockTQ1_0 {
    /// The 256 dequantized weights.
    #[inline(always)]
    pub fn weights(&self) -> [f32; QK_K] {
        let d = half(self.d);
        let mut w = [0.0; QK_K];
        for (k, &p) in POW3.iter().enumerate() {
            for m in 0..32 {
                w[32 * k + m] = d * trit(self.qs[m], p);
            }
            for m in 0..16 {
                w[160 + 16 * k + m] = d * trit(self.qs[32 + m], p);
            }
        }
        for (k, &p) in POW3[..4].iter().enumerate() {
            for m in 0..4 {
                w[240 + 4 * k + m] = d * trit(self.qh[m], p);
            }
        }
        w
    }
}

/// TQ2_0: 256 weights `w = d * (q - 1)`, `q` a 2-bit value, four a byte.
///
/// ggml-common.h `block_tq2_0`; ggml-quants.c `dequantize_row_tq2_0`.
/// Layout: `qs` @0 (64 bytes: bits 2l..2l+2 of byte 32j + m are weight 128j + 32l + m), `d` f16 @64.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BlockTQ2_0 {
    pub qs: [u8; 64],
    /// Scale, f16 bits.
    pub d: [u8; 2],
}
const _: () = assert!(size_of::<BlockTQ2_0>() == 66);
from_bytes!(BlockTQ2_0, [qs, d]);

impl BlockTQ2_0 {
    /// The 256 dequantized weights.
    #[inline(always)]
    pub fn weights(&self) -> [f32; QK_K] {
        let d = half(self.d);
        let mut w = [0.0; QK_K];
        for j in 0..2 {
            for l in 0..4 {
                for m in 0..32 {
                    let q = (self.qs[32 * j + m] >> (2 * l)) & 3;
                    w[128 * j + 32 * l + m] = d * level(i16::from(q) - 1);
                }
            }
        }
        w
    }
}

/// The value of magnitude `m` (0..4) of a grid entry, negated where sign bit `bit` of `signs`
/// is set.
#[inline(always)]
fn signed_grid(db: f32, entry: u32, m: usize, signs: u8, bit: usize) -> f32 {
    let w = db * level(((entry >> (8 * m)) & 0xff) as i16);
    if signs & (1 << bit) != 0 {
        -w
    } else {
        w
    }
}

/// The eight weights of entry `index` of a 2-bit grid (two words an entry), scaled by `db` and
/// negated where the bit of `signs` is set.
#[inline(always)]
fn grid8(grid: &[u32], index: usize, db: f32, signs: u8, out: &mut [f32]) {
    for (m, w) in out.iter_mut().enumerate().take(8) {
        *w = signed_grid(db, grid[2 * index + m / 4], m % 4, signs, m);
    }
}

/// IQ2_XXS: 256 weights in eight sub-blocks of 32; each group of eight is an entry of
/// `IQ2XXS_GRID` (an 8-bit index) with signs from `KSIGNS` (a 7-bit index), and a sub-block's
/// scale is `d (0.5 + s) / 4` with a 4-bit `s`.
///
/// ggml-common.h `block_iq2_xxs`; ggml-quants.c `dequantize_row_iq2_xxs`.
/// Layout: `d` f16 @0, then two u32 a sub-block @2: the first four grid indices, the second
/// four 7-bit sign indices (bits 7l..) and the scale (bits 28..32).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BlockIQ2XXS {
    /// Super-block scale, f16 bits.
    pub d: [u8; 2],
    /// Grid indices, signs and scales, eight bytes a sub-block.
    pub qs: [u8; 64],
}
const _: () = assert!(size_of::<BlockIQ2XXS>() == 66);
from_bytes!(BlockIQ2XXS, [d, qs]);

impl BlockIQ2XXS {
    /// The 256 dequantized weights.
    #[inline(always)]
    pub fn weights(&self) -> [f32; QK_K] {
        let d = half(self.d);
        let mut w = [0.0; QK_K];
        for ib in 0..8 {
            let aux1 = u32::from_le_bytes(self.qs[8 * ib + 4..8 * ib + 8].try_into().unwrap());
            let db = d * (0.5 + (aux1 >> 28) as f32) * 0.25;
            for l in 0..4 {
                let signs = KSIGNS[((aux1 >> (7 * l)) & 127) as usize];
                let index = usize::from(self.qs[8 * ib + l]);
                grid8(&IQ2XXS_GRID, index, db, signs, &mut w[32 * ib + 8 * l..32 * ib + 8 * l + 8]);
            }
        }
        w
    }
}

/// IQ2_XS: 256 weights in 32 groups of eight, each a u16: a 9-bit index into `IQ2XS_GRID` and a
/// 7-bit `KSIGNS` index; groups of sixteen share a 4-bit scale `s`, `d (0.5 + s) / 4`.
///
/// ggml-common.h `block_iq2_xs`; ggml-quants.c `dequantize_row_iq2_xs`.
/// Layout: `d` f16 @0, `qs` @2 (32 u16), `scales` @66 (two 4-bit scales a byte, low first).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BlockIQ2XS {
    /// Super-block scale, f16 bits.
    pub d: [u8; 2],
    /// Grid and sign indices, little-endian u16s.
    pub qs: [u8; 64],
    /// Scales of the sixteen groups of sixteen weights.
    pub scales: [u8; 8],
}
const _: () = assert!(size_of::<BlockIQ2XS>() == 74);
from_bytes!(BlockIQ2XS, [d, qs, scales]);

impl BlockIQ2XS {
    /// The 256 dequantized weights.
    #[inline(always)]
    pub fn weights(&self) -> [f32; QK_K] {
        let d = half(self.d);
        let mut w = [0.0; QK_K];
        for g in 0..32 {
            let q = u16::from_le_bytes([self.qs[2 * g], self.qs[2 * g + 1]]);
            let s = (self.scales[g / 4] >> (4 * ((g / 2) % 2))) & 0x0f;
            let db = d * (0.5 + f32::from(s)) * 0.25;
            grid8(&IQ2XS_GRID, usize::from(q & 511), db, KSIGNS[usize::from(q >> 9)], &mut w[8 * g..8 * g + 8]);
        }
        w
    }
}

/// The shift of every IQ1 weight: `dl (g + delta)` with `g` in {-1, 0, 1}, `delta` +-1/8.
const IQ1S_DELTA: f32 = 0.125;

/// Eight weights of the IQ1 grid's entry `index`: `dl (g_m + delta)`, as ggml computes them
/// (the sum exact, one rounding in the product).
#[inline(always)]
fn grid1(index: usize, dl: f32, delta: f32, out: &mut [f32]) {
    let entry = IQ1S_GRID[index];
    for (m, w) in out.iter_mut().enumerate().take(8) {
        let g = f32::from((entry >> (2 * m)) & 3) - 1.0;
        *w = dl * (g + delta);
    }
}

/// IQ1_S: 256 weights in eight sub-blocks of 32, each group of eight an entry of `IQ1S_GRID`
/// (values -1, 0, 1) chosen by an 11-bit index (a byte of `qs`, three bits of the sub-block's
/// `qh`), shifted by +-1/8 (bit 15 of `qh`) and scaled by `d (2 s + 1)` with the 3-bit `s` in
/// bits 12..15 of `qh`.
///
/// ggml-common.h `block_iq1_s`; ggml-quants.c `dequantize_row_iq1_s`.
/// Layout: `d` f16 @0, `qs` @2, `qh` @34 (eight little-endian u16).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BlockIQ1S {
    /// Super-block scale, f16 bits.
    pub d: [u8; 2],
    /// Low eight bits of the grid indices, four a sub-block.
    pub qs: [u8; 32],
    /// Per sub-block: the indices' high bits (three each), the scale and the shift's sign.
    pub qh: [u8; 16],
}
const _: () = assert!(size_of::<BlockIQ1S>() == 50);
from_bytes!(BlockIQ1S, [d, qs, qh]);

impl BlockIQ1S {
    /// The 256 dequantized weights.
    #[inline(always)]
    pub fn weights(&self) -> [f32; QK_K] {
        let d = half(self.d);
        let mut w = [0.0; QK_K];
        for ib in 0..8 {
            let qh = u16::from_le_bytes([self.qh[2 * ib], self.qh[2 * ib + 1]]);
            let dl = d * f32::from(2 * ((qh >> 12) & 7) + 1);
            let delta = if qh & 0x8000 != 0 { -IQ1S_DELTA } else { IQ1S_DELTA };
            for l in 0..4 {
                let index = usize::from(self.qs[4 * ib + l]) | (usize::from((qh >> (3 * l)) & 7) << 8);
                grid1(index, dl, delta, &mut w[32 * ib + 8 * l..32 * ib + 8 * l + 8]);
            }
        }
        w
    }
}

/// IQ1_M: as IQ1_S with no block scale field: the f16 `d` is spread over the top nibbles of the
/// four u16 of `scales`, whose low twelve bits hold four 3-bit scales `s` (`d (2 s + 1)` for each
/// sixteen weights); each group of eight has its own 3 index bits and shift sign (a nibble of
/// `qh`).
///
/// ggml-common.h `block_iq1_m`; ggml-quants.c `dequantize_row_iq1_m`.
/// Layout: `qs` @0, `qh` @32 (a nibble a group, low first), `scales` @48 (four u16).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BlockIQ1M {
    /// Low eight bits of the grid indices.
    pub qs: [u8; 32],
    /// Per group of eight: three high index bits and the shift's sign.
    pub qh: [u8; 16],
    /// Sixteen 3-bit scales and the block scale's nibbles.
    pub scales: [u8; 8],
}
const _: () = assert!(size_of::<BlockIQ1M>() == 56);
from_bytes!(BlockIQ1M, [qs, qh, scales]);

impl BlockIQ1M {
    /// The 256 dequantized weights.
    #[inline(always)]
    pub fn weights(&self) -> [f32; QK_K] {
        let sc: [u16; 4] = std::array::from_fn(|k| u16::from_le_bytes([self.scales[2 * k], self.scales[2 * k + 1]]));
        let d = f16_to_f32((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) | ((sc[2] >> 4) & 0x0f00) | (sc[3] & 0xf000));
        let mut w = [0.0; QK_K];
        for g in 0..32 {
            let nibble = (self.qh[g / 2] >> (4 * (g % 2))) & 0x0f;
            let index = usize::from(self.qs[g]) | (usize::from(nibble & 7) << 8);
            let delta = if nibble & 0x08 != 0 { -IQ1S_DELTA } else { IQ1S_DELTA };
            // Scale k of sixteen weights: three bits of scales u16 k / 4 from 3 (k % 4).
            let k = g / 2;
            let s = (sc[k / 4] >> (3 * (k % 4))) & 7;
            let dl = d * f32::from(2 * s + 1);
            grid1(index, dl, delta, &mut w[8 * g..8 * g + 8]);
        }
        w
    }
}

/// IQ2_S: 256 weights in 32 groups of eight: a 10-bit index into `IQ2S_GRID` (a byte of `qs`
/// and two bits of `qh`), a sign byte each, and a 4-bit scale `s` for each sixteen weights,
/// `d (0.5 + s) / 4`.
///
/// ggml-common.h `block_iq2_s`; ggml-quants.c `dequantize_row_iq2_s`.
/// Layout: `d` f16 @0, `qs` @2, `signs` @34, `qh` @66 (two bits an index, four indices a byte),
/// `scales` @74 (two a byte, low first).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BlockIQ2S {
    /// Super-block scale, f16 bits.
    pub d: [u8; 2],
    /// Low eight bits of the grid indices.
    pub qs: [u8; 32],
    /// A sign byte a group of eight (bit m: weight m).
    pub signs: [u8; 32],
    /// High two bits of the grid indices.
    pub qh: [u8; 8],
    /// Scales of the sixteen groups of sixteen weights.
    pub scales: [u8; 8],
}
const _: () = assert!(size_of::<BlockIQ2S>() == 82);
from_bytes!(BlockIQ2S, [d, qs, signs, qh, scales]);

impl BlockIQ2S {
    /// The 256 dequantized weights.
    #[inline(always)]
    pub fn weights(&self) -> [f32; QK_K] {
        let d = half(self.d);
        let mut w = [0.0; QK_K];
        for g in 0..32 {
            let index = usize::from(self.qs[g]) | (usize::from((self.qh[g / 4] >> (2 * (g % 4))) & 3) << 8);
            let s = (self.scales[g / 4] >> (4 * ((g / 2) % 2))) & 0x0f;
            let db = d * (0.5 + f32::from(s)) * 0.25;
            grid8(&IQ2S_GRID, index, db, self.signs[g], &mut w[8 * g..8 * g + 8]);
        }
        w
    }
}

/// IQ3_XXS: 256 weights in eight sub-blocks of 32; each group of four is an entry of
/// `IQ3XXS_GRID` (an 8-bit index), each group of eight takes its signs from `KSIGNS` (a 7-bit
/// index), and a sub-block's scale is `d (0.5 + s) / 2` with a 4-bit `s`.
///
/// ggml-common.h `block_iq3_xxs`; ggml-quants.c `dequantize_row_iq3_xxs`.
/// Layout: `d` f16 @0, `qs` @2 (64 grid indices), then eight u32 @66: bits 0..28 four 7-bit
/// sign indices, 28..32 the scale.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BlockIQ3XXS {
    /// Super-block scale, f16 bits.
    pub d: [u8; 2],
    /// Grid indices, eight a sub-block.
    pub qs: [u8; 64],
    /// Signs and scale of each sub-block, little-endian u32s.
    pub scales_and_signs: [u8; 32],
}
const _: () = assert!(size_of::<BlockIQ3XXS>() == 98);
from_bytes!(BlockIQ3XXS, [d, qs, scales_and_signs]);

impl BlockIQ3XXS {
    /// The 256 dequantized weights.
    #[inline(always)]
    pub fn weights(&self) -> [f32; QK_K] {
        let d = half(self.d);
        let mut w = [0.0; QK_K];
        for ib in 0..8 {
            let aux = u32::from_le_bytes(self.scales_and_signs[4 * ib..4 * ib + 4].try_into().unwrap());
            let db = d * (0.5 + (aux >> 28) as f32) * 0.5;
            for l in 0..4 {
                let signs = KSIGNS[((aux >> (7 * l)) & 127) as usize];
                let g1 = IQ3XXS_GRID[usize::from(self.qs[8 * ib + 2 * l])];
                let g2 = IQ3XXS_GRID[usize::from(self.qs[8 * ib + 2 * l + 1])];
                for m in 0..4 {
                    w[32 * ib + 8 * l + m] = signed_grid(db, g1, m, signs, m);
                    w[32 * ib + 8 * l + m + 4] = signed_grid(db, g2, m, signs, m + 4);
                }
            }
        }
        w
    }
}

/// IQ3_S: 256 weights in eight sub-blocks of 32; each group of four is an entry of `IQ3S_GRID`
/// (a 9-bit index: a byte of `qs` and a bit of `qh`), each weight has its own sign bit, and a
/// sub-block's scale is `d (1 + 2 s)` with a 4-bit `s`.
///
/// ggml-common.h `block_iq3_s`; ggml-quants.c `dequantize_row_iq3_s`.
/// Layout: `d` f16 @0, `qs` @2, `qh` @66 (a byte a sub-block), `signs` @74 (four bytes a
/// sub-block), `scales` @106 (two 4-bit scales a byte, even sub-block low).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BlockIQ3S {
    /// Super-block scale, f16 bits.
    pub d: [u8; 2],
    /// Low eight bits of the grid indices, eight a sub-block.
    pub qs: [u8; 64],
    /// Ninth bits of the grid indices, a byte a sub-block (bit k: index k).
    pub qh: [u8; 8],
    /// A sign bit a weight.
    pub signs: [u8; 32],
    /// Sub-block scales, 4 bits each.
    pub scales: [u8; 4],
}
const _: () = assert!(size_of::<BlockIQ3S>() == 110);
from_bytes!(BlockIQ3S, [d, qs, qh, signs, scales]);

impl BlockIQ3S {
    /// The 256 dequantized weights.
    #[inline(always)]
    pub fn weights(&self) -> [f32; QK_K] {
        let d = half(self.d);
        let mut w = [0.0; QK_K];
        for ib in 0..8 {
            let s = (self.scales[ib / 2] >> (4 * (ib % 2))) & 0x0f;
            let db = d * level(1 + 2 * i16::from(s));
            for k in 0..8 {
                let index = usize::from(self.qs[8 * ib + k]) | (usize::from((self.qh[ib] >> k) & 1) << 8);
                let entry = IQ3S_GRID[index];
                for m in 0..4 {
                    let v = 4 * k + m;
                    w[32 * ib + v] = signed_grid(db, entry, m, self.signs[4 * ib + v / 8], v % 8);
                }
            }
        }
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Q3_K's scale packing, checked on hand-built bytes: scale `s` must come back as
    /// `s_value - 32` wherever the packing puts its six bits.
    #[test]
    fn q3k_scales_unpack_each_position() {
        for s in 0..16usize {
            for value in [0u8, 1, 15, 16, 33, 63] {
                let mut scales = [0u8; 12];
                let (low, high) = (value & 0x0f, value >> 4);
                if s < 8 {
                    scales[s] |= low;
                } else {
                    scales[s - 8] |= low << 4;
                }
                scales[8 + s % 4] |= high << (2 * (s / 4));
                let b = BlockQ3K {
                    hmask: [0; 32],
                    qs: [0; 64],
                    scales,
                    d: [0; 2],
                };
                let got = b.sub_scales();
                for (i, &g) in got.iter().enumerate() {
                    let want = if i == s { i16::from(value) - 32 } else { -32 };
                    assert_eq!(g, want, "scale {i} with scale {s} = {value}");
                }
            }
        }
    }

    /// Q4_K/Q5_K's scale/min packing, checked on hand-built bytes.
    #[test]
    fn k4_scale_min_unpack_each_position() {
        for j in 0..8usize {
            for (sc, m) in [(0u8, 63u8), (63, 0), (17, 46), (32, 1)] {
                let mut q = [0u8; 12];
                if j < 4 {
                    q[j] = sc;
                    q[j + 4] = m;
                } else {
                    q[j + 4] = (sc & 0x0f) | ((m & 0x0f) << 4);
                    q[j - 4] = (sc >> 4) << 6;
                    q[j] = (m >> 4) << 6;
                }
                for k in 0..8 {
                    let want = if k == j { (sc, m) } else { (0, 0) };
                    assert_eq!(scale_min_k4(k, &q), want, "sub-block {k}, packed {j}");
                }
            }
        }
    }

    #[test]
    fn i8_levels_agree_for_every_byte() {
        for b in 0..=255u8 {
            let want = f32::from(b as i8);
            assert_eq!(i8_level_sext(b).to_bits(), want.to_bits(), "{b}");
            assert_eq!(i8_level_biased(b).to_bits(), want.to_bits(), "{b}");
        }
    }

    /// Q3_K's inverted high bit: a set bit means `q = low`, a clear one `q = low - 4`.
    #[test]
    fn q3k_high_bit_is_inverted() {
        // d = 1.0 (f16 0x3c00); every scale 33 - 32 = 1: low nibbles 1, high bits 0b10.
        let mut scales = [0x11u8; 12];
        scales[8..].fill(0b1010_1010);
        let mut b = BlockQ3K {
            hmask: [0; 32],
            qs: [0; 64],
            scales,
            d: 0x3c00u16.to_le_bytes(),
        };
        assert!(b.weights().iter().all(|&w| w == -4.0));
        b.hmask = [0xff; 32];
        b.qs = [0xff; 64];
        assert!(b.weights().iter().all(|&w| w == 3.0));
    }
}
