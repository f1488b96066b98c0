//! GGML block formats: what a tensor's bytes mean.
//!
//! Owns the list of tensor element types a GGUF file can hold ([`GgmlType`]), their block
//! geometry ([`GgmlType::block_size`], [`GgmlType::block_bytes`], [`GgmlType::row_bytes`]),
//! bit-exact dequantization ([`dequantize`], checked against PyPI `gguf`'s
//! `gguf.quants.dequantize` by `tests/quant.rs`) and the dot products the CPU backend's
//! matrix-vector and matrix-matrix paths are built on ([`dot`](fn@dot), with the scalar
//! [`dot_reference`] it is tested against). It knows nothing of files or models: callers hand
//! it byte slices, one row of a tensor at a time.
//!
//! - [`blocks`]: one `#[repr(C)]` struct per block format, its byte layout, and its decoder
//!   (`weights`), the single statement of the layout that both dequantization and the dot
//!   kernels use;
//! - [`dot`](mod@dot): the per-format dot kernels, written over fixed-size arrays so that LLVM
//!   vectorizes them on every target (AVX2/AVX-512, SSE2, NEON, wasm32 SIMD128) without
//!   `unsafe` or per-target intrinsics;
//! - this file: the type table, errors, and the row-level entry points.
//!
//! Activations stay `f32`: unlike llama.cpp's CPU backend, [`dot`](fn@dot) does not quantize
//! `x` to Q8_0/Q8_K first, so its result is the f32 dot product of the dequantized row with `x`
//! up to summation order (see [`dot_reference`]).

pub mod blocks;
pub mod dot;
pub(crate) mod iq_grids;
#[cfg(all(target_arch = "x86_64", target_feature = "avx2", target_feature = "fma"))]
mod x86;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub(crate) mod wasm;

use std::fmt;

/// Elements in one super-block of the K-quants (`QK_K` in ggml).
pub const QK_K: usize = 256;

/// A ggml tensor element type, as stored in a GGUF tensor info (`ggml_type` in ggml.h).
///
/// Every type ggml and PyPI `gguf` 0.19 know is listed, so a file holding an exotic type is
/// reported by name; only the types [`GgmlType::is_supported`] says can be dequantized and
/// multiplied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(non_camel_case_types)]
pub enum GgmlType {
    F32,
    F16,
    Q4_0,
    Q4_1,
    Q5_0,
    Q5_1,
    Q8_0,
    Q8_1,
    Q2K,
    Q3K,
    Q4K,
    Q5K,
    Q6K,
    Q8K,
    IQ2_XXS,
    IQ2_XS,
    IQ3_XXS,
    IQ1_S,
    IQ4_NL,
    IQ3_S,
    IQ2_S,
    IQ4_XS,
    I8,
    I16,
    I32,
    I64,
    F64,
    IQ1_M,
    BF16,
    TQ1_0,
    TQ2_0,
    MXFP4,
    NVFP4,
    Q1_0,
}

/// One row of the type table: (type, ggml id, name, elements per block, bytes per block).
///
/// Ids and names from ggml.h's `enum ggml_type` and PyPI `gguf` 0.19 `GGMLQuantizationType`;
/// block geometry from ggml-common.h's block structs (llama.cpp, ggml/src/ggml-common.h at
/// commit 01243c587feceaa5d6a6c2305535ef2f549c48b8) and `gguf.constants.GGML_QUANT_SIZES`.
/// Ids 4, 5 (Q4_2, Q4_3) and 31..=33, 36..=38 (repacked Q4_0/IQ4_NL) were removed from ggml
/// and are unknown here.
const TYPES: [(GgmlType, u32, &str, usize, usize); 34] = [
    (GgmlType::F32, 0, "F32", 1, 4),
    (GgmlType::F16, 1, "F16", 1, 2),
    (GgmlType::Q4_0, 2, "Q4_0", 32, 18),
    (GgmlType::Q4_1, 3, "Q4_1", 32, 20),
    (GgmlType::Q5_0, 6, "Q5_0", 32, 22),
    (GgmlType::Q5_1, 7, "Q5_1", 32, 24),
    (GgmlType::Q8_0, 8, "Q8_0", 32, 34),
    // ggml-common.h: `block_q8_1 { ggml_half d; ggml_half s; int8_t qs[32]; }` = 36 bytes.
    // PyPI gguf still says 4 + 4 + 32 from when d and s were f32; Q8_1 is an intermediate
    // format of the dot products and never appears in a file.
    (GgmlType::Q8_1, 9, "Q8_1", 32, 36),
    (GgmlType::Q2K, 10, "Q2_K", QK_K, 84),
    (GgmlType::Q3K, 11, "Q3_K", QK_K, 110),
    (GgmlType::Q4K, 12, "Q4_K", QK_K, 144),
    (GgmlType::Q5K, 13, "Q5_K", QK_K, 176),
    (GgmlType::Q6K, 14, "Q6_K", QK_K, 210),
    (GgmlType::Q8K, 15, "Q8_K", QK_K, 292),
    (GgmlType::IQ2_XXS, 16, "IQ2_XXS", QK_K, 66),
    (GgmlType::IQ2_XS, 17, "IQ2_XS", QK_K, 74),
    (GgmlType::IQ3_XXS, 18, "IQ3_XXS", QK_K, 98),
    (GgmlType::IQ1_S, 19, "IQ1_S", QK_K, 50),
    (GgmlType::IQ4_NL, 20, "IQ4_NL", 32, 18),
    (GgmlType::IQ3_S, 21, "IQ3_S", QK_K, 110),
    (GgmlType::IQ2_S, 22, "IQ2_S", QK_K, 82),
    (GgmlType::IQ4_XS, 23, "IQ4_XS", QK_K, 136),
    (GgmlType::I8, 24, "I8", 1, 1),
    (GgmlType::I16, 25, "I16", 1, 2),
    (GgmlType::I32, 26, "I32", 1, 4),
    (GgmlType::I64, 27, "I64", 1, 8),
    (GgmlType::F64, 28, "F64", 1, 8),
    (GgmlType::IQ1_M, 29, "IQ1_M", QK_K, 56),
    (GgmlType::BF16, 30, "BF16", 1, 2),
    (GgmlType::TQ1_0, 34, "TQ1_0", QK_K, 54),
    (GgmlType::TQ2_0, 35, "TQ2_0", QK_K, 66),
    (GgmlType::MXFP4, 39, "MXFP4", 32, 17),
    (GgmlType::NVFP4, 40, "NVFP4", 64, 36),
    (GgmlType::Q1_0, 41, "Q1_0", 128, 18),
];

impl GgmlType {
    /// Every type in the table, in id order.
    pub const ALL: [GgmlType; 34] = {
        let mut all = [GgmlType::F32; 34];
        let mut i = 0;
        while i < TYPES.len() {
            all[i] = TYPES[i].0;
            i += 1;
        }
        all
    };

    /// The types this module can dequantize and take dot products of.
    pub const SUPPORTED: [GgmlType; 25] = [
        GgmlType::F32,
        GgmlType::F16,
        GgmlType::BF16,
        GgmlType::Q4_0,
        GgmlType::Q4_1,
        GgmlType::Q5_0,
        GgmlType::Q5_1,
        GgmlType::Q8_0,
        GgmlType::Q2K,
        GgmlType::Q3K,
        GgmlType::Q4K,
        GgmlType::Q5K,
        GgmlType::Q6K,
        GgmlType::IQ4_NL,
        GgmlType::IQ4_XS,
        GgmlType::MXFP4,
        GgmlType::TQ1_0,
        GgmlType::TQ2_0,
        GgmlType::IQ3_XXS,
        GgmlType::IQ3_S,
        GgmlType::IQ2_XXS,
        GgmlType::IQ2_XS,
        GgmlType::IQ2_S,
        GgmlType::IQ1_S,
        GgmlType::IQ1_M,
    ];

    fn entry(self) -> &'static (GgmlType, u32, &'static str, usize, usize) {
        // The enum is declared in table order, so the discriminant indexes the table
        // (checked by the `table_is_in_declaration_order` test below).
        &TYPES[self as usize]
    }

    /// The type with ggml id `id`, or `None` for an id ggml never had or has removed.
    pub fn from_id(id: u32) -> Option<GgmlType> {
        TYPES.iter().find(|e| e.1 == id).map(|e| e.0)
    }

    /// The ggml id stored in GGUF tensor infos.
    pub fn id(self) -> u32 {
        self.entry().1
    }

    /// The name as PyPI `gguf` and llama.cpp's logs print it: `"F32"`, `"Q4_K"`, `"IQ2_XXS"`.
    pub fn name(self) -> &'static str {
        self.entry().2
    }

    /// Elements per block: 1 for the plain number types, 32 for the legacy quants, 256 for the
    /// K-quants.
    pub fn block_size(self) -> usize {
        self.entry().3
    }

    /// Bytes per block.
    pub fn block_bytes(self) -> usize {
        self.entry().4
    }

    /// Bytes taken by `n_elements` elements, or `None` when `n_elements` is not a multiple of
    /// [`block_size`](Self::block_size) (or the byte count overflows `usize`).
    pub fn row_bytes(self, n_elements: usize) -> Option<usize> {
        if !n_elements.is_multiple_of(self.block_size()) {
            return None;
        }
        (n_elements / self.block_size()).checked_mul(self.block_bytes())
    }

    /// Whether [`dequantize`] and [`dot`](fn@dot) accept this type: the 13 types a llama.cpp
    /// Q4_K_M / Q5_K_M / Q8_0 file can hold (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0,
    /// Q2_K, Q3_K, Q4_K, Q5_K, Q6_K), the i-quants IQ4_NL, IQ4_XS, IQ3_XXS, IQ3_S, IQ2_XXS,
    /// IQ2_XS, IQ2_S, IQ1_S and IQ1_M, MXFP4,
    /// and the ternary TQ1_0 and TQ2_0.
    pub fn is_supported(self) -> bool {
        Self::SUPPORTED.contains(&self)
    }
}

impl fmt::Display for GgmlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a row could not be dequantized.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QuantError {
    /// The type is known but this module has no dequantization for it.
    #[error(
        "tensor type {ty} (ggml id {}) is not supported: only F32, F16, BF16, Q4_0, Q4_1, \
         Q5_0, Q5_1, Q8_0, Q2_K..Q6_K, IQ4_NL, IQ4_XS, IQ3_XXS, IQ3_S, IQ2_XXS, IQ2_XS, IQ2_S, IQ1_S, IQ1_M, MXFP4, TQ1_0 and TQ2_0 are",
        ty.id()
    )]
    Unsupported { ty: GgmlType },
    /// The element count does not fill whole blocks.
    #[error("{elements} elements of {ty} do not fill whole blocks of {block_size}")]
    PartialBlock {
        ty: GgmlType,
        elements: usize,
        block_size: usize,
    },
    /// The byte slice does not hold exactly the requested number of elements.
    #[error("{elements} elements of {ty} take {bytes_expected} bytes, got {bytes_got}")]
    LengthMismatch {
        ty: GgmlType,
        elements: usize,
        bytes_expected: usize,
        bytes_got: usize,
    },
}

/// Checks that `src` holds exactly `elements` elements of a supported `ty`.
fn check_row(ty: GgmlType, src: &[u8], elements: usize) -> Result<(), QuantError> {
    if !ty.is_supported() {
        return Err(QuantError::Unsupported { ty });
    }
    let Some(bytes_expected) = ty.row_bytes(elements) else {
        return Err(QuantError::PartialBlock {
            ty,
            elements,
            block_size: ty.block_size(),
        });
    };
    if src.len() != bytes_expected {
        return Err(QuantError::LengthMismatch {
            ty,
            elements,
            bytes_expected,
            bytes_got: src.len(),
        });
    }
    Ok(())
}

/// Dequantizes `dst.len()` elements from `src`; `src.len()` must equal
/// `ty.row_bytes(dst.len())`.
///
/// Bit-exact with llama.cpp's `dequantize_row_*` (ggml/src/ggml-quants.c) and PyPI `gguf`'s
/// `gguf.quants.dequantize`: every element is computed with the same f32 operations in the same
/// order (for example Q4_K's `(d * sc) * q - (dmin * m)`), and nothing is fused into an FMA.
pub fn dequantize(ty: GgmlType, src: &[u8], dst: &mut [f32]) -> Result<(), QuantError> {
    check_row(ty, src, dst.len())?;
    match ty {
        GgmlType::F32 => {
            for (y, b) in dst.iter_mut().zip(src.as_chunks::<4>().0) {
                *y = f32::from_le_bytes(*b);
            }
        }
        GgmlType::F16 => {
            for (y, b) in dst.iter_mut().zip(src.as_chunks::<2>().0) {
                *y = f16_to_f32(u16::from_le_bytes(*b));
            }
        }
        GgmlType::BF16 => {
            for (y, b) in dst.iter_mut().zip(src.as_chunks::<2>().0) {
                *y = bf16_to_f32(u16::from_le_bytes(*b));
            }
        }
        GgmlType::Q4_0 => {
            dequantize_blocks::<18, 32>(src, dst, |b| blocks::BlockQ4_0::from_bytes(b).weights())
        }
        GgmlType::Q4_1 => {
            dequantize_blocks::<20, 32>(src, dst, |b| blocks::BlockQ4_1::from_bytes(b).weights())
        }
        #[cfg(all(target_arch = "x86_64", target_feature = "avx2", target_feature = "fma"))]
        GgmlType::Q5_0 => x86::dequantize_q5_0(src, dst),
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        GgmlType::Q5_0 => wasm::dequantize_q5_0(src, dst),
        #[cfg(not(any(all(target_arch = "x86_64", target_feature = "avx2", target_feature = "fma"), all(target_arch = "wasm32", target_feature = "simd128"))))]
        GgmlType::Q5_0 => {
            dequantize_blocks::<22, 32>(src, dst, |b| blocks::BlockQ5_0::from_bytes(b).weights())
        }
        GgmlType::Q5_1 => {
            dequantize_blocks::<24, 32>(src, dst, |b| blocks::BlockQ5_1::from_bytes(b).weights())
        }
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        GgmlType::Q8_0 => wasm::dequantize_q8_0(src, dst),
        #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
        GgmlType::Q8_0 => {
            dequantize_blocks::<34, 32>(src, dst, |b| blocks::BlockQ8_0::from_bytes(b).weights())
        }
        GgmlType::Q2K => {
            dequantize_blocks::<84, QK_K>(src, dst, |b| blocks::BlockQ2K::from_bytes(b).weights())
        }
        GgmlType::Q3K => {
            dequantize_blocks::<110, QK_K>(src, dst, |b| blocks::BlockQ3K::from_bytes(b).weights())
        }
        GgmlType::Q4K => {
            dequantize_blocks::<144, QK_K>(src, dst, |b| blocks::BlockQ4K::from_bytes(b).weights())
        }
        GgmlType::Q5K => {
            dequantize_blocks::<176, QK_K>(src, dst, |b| blocks::BlockQ5K::from_bytes(b).weights())
        }
        GgmlType::Q6K => {
            dequantize_blocks::<210, QK_K>(src, dst, |b| blocks::BlockQ6K::from_bytes(b).weights())
        }
        GgmlType::IQ4_NL => {
            dequantize_blocks::<18, 32>(src, dst, |b| blocks::BlockIQ4NL::from_bytes(b).weights())
        }
        GgmlType::IQ4_XS => {
            dequantize_blocks::<136, QK_K>(src, dst, |b| blocks::BlockIQ4XS::from_bytes(b).weights())
        }
        GgmlType::MXFP4 => {
            dequantize_blocks::<17, 32>(src, dst, |b| blocks::BlockMXFP4::from_bytes(b).weights())
        }
        GgmlType::TQ1_0 => {
            dequantize_blocks::<54, QK_K>(src, dst, |b| blocks::BlockTQ1_0::from_bytes(b).weights())
        }
        GgmlType::TQ2_0 => {
            dequantize_blocks::<66, QK_K>(src, dst, |b| blocks::BlockTQ2_0::from_bytes(b).weights())
        }
        GgmlType::IQ3_XXS => {
            dequantize_blocks::<98, QK_K>(src, dst, |b| blocks::BlockIQ3XXS::from_bytes(b).weights())
        }
        GgmlType::IQ3_S => {
            dequantize_blocks::<110, QK_K>(src, dst, |b| blocks::BlockIQ3S::from_bytes(b).weights())
        }
        GgmlType::IQ2_XXS => {
            dequantize_blocks::<66, QK_K>(src, dst, |b| blocks::BlockIQ2XXS::from_bytes(b).weights())
        }
        GgmlType::IQ2_XS => {
            dequantize_blocks::<74, QK_K>(src, dst, |b| blocks::BlockIQ2XS::from_bytes(b).weights())
        }
        GgmlType::IQ2_S => {
            dequantize_blocks::<82, QK_K>(src, dst, |b| blocks::BlockIQ2S::from_bytes(b).weights())
        }
        GgmlType::IQ1_S => {
            dequantize_blocks::<50, QK_K>(src, dst, |b| blocks::BlockIQ1S::from_bytes(b).weights())
        }
        GgmlType::IQ1_M => {
            dequantize_blocks::<56, QK_K>(src, dst, |b| blocks::BlockIQ1M::from_bytes(b).weights())
        }
        // `check_row` rejected every other type.
        _ => return Err(QuantError::Unsupported { ty }),
    }
    Ok(())
}

/// Walks `src` block by block (`B` bytes, `N` elements), writing each block's weights.
#[inline(always)]
fn dequantize_blocks<const B: usize, const N: usize>(
    src: &[u8],
    dst: &mut [f32],
    weights: impl Fn(&[u8; B]) -> [f32; N],
) {
    for (b, y) in src
        .as_chunks::<B>()
        .0
        .iter()
        .zip(dst.as_chunks_mut::<N>().0)
    {
        *y = weights(b);
    }
}

/// Asks the memory system for the weights `PREFETCH_AHEAD` bytes past `block` (a decode step
/// streams every weight once, in order, and the kernels' arithmetic leaves the core too few
/// loads in flight to stream at memory speed; llama.cpp's lighter int8 kernels do not need it).
/// A hint only: it never faults, and where there is no prefetch instruction it does nothing.
#[inline(always)]
fn prefetch_ahead(block: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint that never faults, whatever the address.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(block.as_ptr().wrapping_add(PREFETCH_AHEAD) as *const i8);
        if block.len() > 64 {
            _mm_prefetch::<_MM_HINT_T0>(block.as_ptr().wrapping_add(PREFETCH_AHEAD + 64) as *const i8);
        }
        if block.len() > 128 {
            _mm_prefetch::<_MM_HINT_T0>(block.as_ptr().wrapping_add(PREFETCH_AHEAD + 128) as *const i8);
        }
        if block.len() > 192 {
            _mm_prefetch::<_MM_HINT_T0>(block.as_ptr().wrapping_add(PREFETCH_AHEAD + 192) as *const i8);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = block;
}

/// How far ahead of the block being read [`prefetch_ahead`] asks for: measured on Gemma 3 270M
/// decode, 768 to 3072 bytes all gave the same speed, 384 less.
#[cfg(target_arch = "x86_64")]
const PREFETCH_AHEAD: usize = 1536;

/// Dot product of one stored row (`row` = `ty.row_bytes(x.len())` bytes) with an f32 vector.
///
/// The decode hot path: no allocation and no `Result`. Each format's kernel decodes one block
/// into a fixed-size array on the stack (the same values [`dequantize`] writes) and accumulates
/// `w_i * x_i` in [`dot::LANES`] independent f32 lanes, so the result equals [`dot_reference`]
/// up to summation order (tested to 1e-6 of `sum |w_i * x_i|`).
///
/// # Panics
///
/// If `ty` is not [supported](GgmlType::is_supported) or `row.len() != ty.row_bytes(x.len())`:
/// callers check both when they load a tensor. The length check is one comparison per row and
/// stays on in release builds, because a wrong length would otherwise silently truncate.
pub fn dot(ty: GgmlType, row: &[u8], x: &[f32]) -> f32 {
    let expected = ty.row_bytes(x.len());
    assert!(
        expected == Some(row.len()),
        "quant::dot: {} elements of {ty} need {expected:?} bytes, row has {}",
        x.len(),
        row.len()
    );
    dot_kernel(ty)(row, x)
}

/// A row-times-vector kernel: [`dot`](fn@dot) without its per-call length check.
pub type DotKernel = fn(&[u8], &[f32]) -> f32;

/// The kernel [`dot`](fn@dot) runs for `ty`, for a caller that checks the row length once and
/// then multiplies many rows (a decode step's output product is 262,144 rows of 20 blocks for
/// Gemma 3; a check and a dispatch each, with a division, cost a fortieth of the step). Each
/// kernel expects `row.len() == ty.row_bytes(x.len())`; every kernel walks whole blocks of
/// both slices together, so a caller that breaks this gets a wrong sum, never a read out of
/// bounds.
///
/// # Panics
///
/// If `ty` is not [supported](GgmlType::is_supported).
pub fn dot_kernel(ty: GgmlType) -> DotKernel {
    match ty {
        GgmlType::F32 => dot::dot_f32,
        GgmlType::F16 => dot::dot_f16,
        GgmlType::BF16 => dot::dot_bf16,
        GgmlType::Q4_0 => dot::dot_q4_0,
        GgmlType::Q4_1 => dot::dot_q4_1,
        #[cfg(all(target_arch = "x86_64", target_feature = "avx2", target_feature = "fma"))]
        GgmlType::Q5_0 => x86::dot_q5_0,
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        GgmlType::Q5_0 => wasm::dot_q5_0,
        #[cfg(not(any(all(target_arch = "x86_64", target_feature = "avx2", target_feature = "fma"), all(target_arch = "wasm32", target_feature = "simd128"))))]
        GgmlType::Q5_0 => dot::dot_q5_0,
        GgmlType::Q5_1 => dot::dot_q5_1,
        #[cfg(all(target_arch = "x86_64", target_feature = "avx2", target_feature = "fma"))]
        GgmlType::Q8_0 => x86::dot_q8_0,
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        GgmlType::Q8_0 => wasm::dot_q8_0,
        #[cfg(not(any(all(target_arch = "x86_64", target_feature = "avx2", target_feature = "fma"), all(target_arch = "wasm32", target_feature = "simd128"))))]
        GgmlType::Q8_0 => dot::dot_q8_0,
        GgmlType::Q2K => dot::dot_q2_k,
        GgmlType::Q3K => dot::dot_q3_k,
        #[cfg(all(target_arch = "x86_64", target_feature = "avx2", target_feature = "fma"))]
        GgmlType::Q4K => x86::dot_q4_k,
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        GgmlType::Q4K => wasm::dot_q4_k,
        #[cfg(not(any(all(target_arch = "x86_64", target_feature = "avx2", target_feature = "fma"), all(target_arch = "wasm32", target_feature = "simd128"))))]
        GgmlType::Q4K => dot::dot_q4_k,
        GgmlType::Q5K => dot::dot_q5_k,
        #[cfg(all(target_arch = "x86_64", target_feature = "avx2", target_feature = "fma"))]
        GgmlType::Q6K => x86::dot_q6_k,
        #[cfg(not(all(target_arch = "x86_64", target_feature = "avx2", target_feature = "fma")))]
        GgmlType::Q6K => dot::dot_q6_k,
        GgmlType::IQ4_NL => dot::dot_iq4_nl,
        GgmlType::IQ4_XS => dot::dot_iq4_xs,
        GgmlType::MXFP4 => dot::dot_mxfp4,
        GgmlType::TQ1_0 => dot::dot_tq1_0,
        GgmlType::TQ2_0 => dot::dot_tq2_0,
        GgmlType::IQ3_XXS => dot::dot_iq3_xxs,
        GgmlType::IQ3_S => dot::dot_iq3_s,
        GgmlType::IQ2_XXS => dot::dot_iq2_xxs,
        GgmlType::IQ2_XS => dot::dot_iq2_xs,
        GgmlType::IQ2_S => dot::dot_iq2_s,
        GgmlType::IQ1_S => dot::dot_iq1_s,
        GgmlType::IQ1_M => dot::dot_iq1_m,
        _ => panic!("quant::dot: tensor type {ty} is not supported"),
    }
}


/// The scalar reference for [`dot`](fn@dot): dequantizes the row into a `Vec` with
/// [`dequantize`], then sums `w_i * x_i` in order in f64 (each product of two f32 is exact in
/// f64) and rounds the sum to f32 once. Slow and allocating; for tests and for checking the
/// kernels.
pub fn dot_reference(ty: GgmlType, row: &[u8], x: &[f32]) -> Result<f32, QuantError> {
    let mut w = vec![0.0f32; x.len()];
    dequantize(ty, row, &mut w)?;
    let sum: f64 = w
        .iter()
        .zip(x)
        .map(|(&w, &x)| f64::from(w) * f64::from(x))
        .sum();
    Ok(sum as f32)
}

/// IEEE half (binary16) bits to f32, exactly (NaN payloads are kept, with the quiet bit as
/// stored).
///
/// Branch-free integer arithmetic so that loops over it vectorize (a version with `if`s ran 8x
/// slower in the F16 dot kernel): normal numbers are rebiased by an integer add on the exponent,
/// subnormals are built as `0.5 + m * 2^-24` and then have 0.5 subtracted (so no f32 subnormal
/// arithmetic is needed), and Inf/NaN get the exponent forced to all ones.
#[inline(always)]
pub fn f16_to_f32(h: u16) -> f32 {
    let h = u32::from(h);
    let sign = (h & 0x8000) << 16;
    let abs = h & 0x7fff;
    let exp = abs >> 10;
    // Normal: exponent bias 15 -> 127 is +112 on the exponent field.
    let normal = (abs << 13) + (112 << 23);
    // Subnormal (and zero): value m * 2^-24, as (0.5 + m * 2^-24) - 0.5; exact, since m < 2^10.
    let subnormal = (f32::from_bits((126 << 23) | abs) - 0.5).to_bits();
    // All ones where the exponent field is 0 (subnormal) or 31 (Inf/NaN).
    let is_subnormal = u32::from(exp == 0).wrapping_neg();
    let is_inf_nan = u32::from(exp == 31).wrapping_neg();
    let bits = (normal & !is_subnormal) | (subnormal & is_subnormal);
    // Inf/NaN: exponent 31 + 112 -> 255 needs another +112.
    f32::from_bits(sign | (bits + (is_inf_nan & (112 << 23))))
}

/// bfloat16 bits to f32: the upper half of an f32, so this is exact for every value.
#[inline(always)]
pub fn bf16_to_f32(h: u16) -> f32 {
    f32::from_bits(u32::from(h) << 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q5_0_dequantization_by_simd_equals_the_blocks() {
        // Random blocks, every f16 scale bit pattern but infinities and NaNs among them.
        let mut rng = crate::rng::SplitMix64::new(0x9E37_79B9_7F4A_7C15);
        let n_blocks = 4096;
        let mut row = vec![0u8; n_blocks * 22];
        row.iter_mut().for_each(|b| *b = rng.next_u64() as u8);
        for blk in row.chunks_exact_mut(22) {
            if blk[1] & 0x7C == 0x7C {
                blk[1] &= !0x40; // not all exponent bits: a finite scale
            }
        }
        let mut got = vec![0f32; n_blocks * 32];
        dequantize(GgmlType::Q5_0, &row, &mut got).unwrap();
        for (blk, ys) in row.as_chunks::<22>().0.iter().zip(got.chunks_exact(32)) {
            let want = blocks::BlockQ5_0::from_bytes(blk).weights();
            for (w, y) in want.iter().zip(ys) {
                assert_eq!(w.to_bits(), y.to_bits(), "block {blk:?}");
            }
        }
    }

    #[test]
    fn table_is_in_declaration_order() {
        for (i, e) in TYPES.iter().enumerate() {
            assert_eq!(e.0 as usize, i, "{} is out of place in TYPES", e.2);
        }
    }

    #[test]
    fn f16_conversion_matches_half_for_every_value() {
        for h in 0..=u16::MAX {
            let ours = f16_to_f32(h);
            let theirs = half::f16::from_bits(h).to_f32();
            if theirs.is_nan() {
                assert!(ours.is_nan(), "{h:#06x}");
                // Same sign and payload, whatever each does with the quiet bit.
                assert_eq!(ours.to_bits() & 0x803f_ffff, theirs.to_bits() & 0x803f_ffff);
            } else {
                assert_eq!(ours.to_bits(), theirs.to_bits(), "{h:#06x}");
            }
        }
    }
}
