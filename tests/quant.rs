//! Block formats against an implementation nobody here wrote: PyPI `gguf`'s
//! `gguf.quants.dequantize` (a port of llama.cpp's `dequantize_row_*`), through the fixtures
//! `scripts/make_quant_fixtures.py` wrote into `tests/fixtures/quant/`.
//!
//! - `dequantize` must be bit-exact with the fixtures for all 25 supported types;
//! - `dot` must agree with `dot_reference` (relative 1e-5 of `sum |w_i x_i|`) on rows built from
//!   the fixture blocks, and with the fixture values themselves (one-hot `x` picks out each
//!   element, so the kernels' element order is checked against gguf directly);
//! - the type table must match gguf's, and bad lengths and types must be reported.

use clinicbench::quant::{dequantize, dot, dot_reference, GgmlType, QuantError};
use std::path::PathBuf;

/// The 25 supported types, by the names the fixture files carry.
const SUPPORTED: [(GgmlType, &str); 25] = [
    (GgmlType::F32, "F32"),
    (GgmlType::F16, "F16"),
    (GgmlType::BF16, "BF16"),
    (GgmlType::Q4_0, "Q4_0"),
    (GgmlType::Q4_1, "Q4_1"),
    (GgmlType::Q5_0, "Q5_0"),
    (GgmlType::Q5_1, "Q5_1"),
    (GgmlType::Q8_0, "Q8_0"),
    (GgmlType::Q2K, "Q2_K"),
    (GgmlType::Q3K, "Q3_K"),
    (GgmlType::Q4K, "Q4_K"),
    (GgmlType::Q5K, "Q5_K"),
    (GgmlType::Q6K, "Q6_K"),
    (GgmlType::IQ4_NL, "IQ4_NL"),
    (GgmlType::IQ4_XS, "IQ4_XS"),
    (GgmlType::MXFP4, "MXFP4"),
    (GgmlType::TQ1_0, "TQ1_0"),
    (GgmlType::TQ2_0, "TQ2_0"),
    (GgmlType::IQ3_XXS, "IQ3_XXS"),
    (GgmlType::IQ3_S, "IQ3_S"),
    (GgmlType::IQ2_XXS, "IQ2_XXS"),
    (GgmlType::IQ2_XS, "IQ2_XS"),
    (GgmlType::IQ2_S, "IQ2_S"),
    (GgmlType::IQ1_S, "IQ1_S"),
    (GgmlType::IQ1_M, "IQ1_M"),
];

fn fixture_path(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/quant")
        .join(file)
}

/// One type's fixture: the stored bytes and gguf's dequantization of them.
struct Fixture {
    ty: GgmlType,
    bytes: Vec<u8>,
    expected: Vec<f32>,
}

impl Fixture {
    fn load(ty: GgmlType, name: &str) -> Fixture {
        let read = |file: String| {
            std::fs::read(fixture_path(&file))
                .unwrap_or_else(|e| panic!("{file}: {e} (run scripts/make_quant_fixtures.py)"))
        };
        let bytes = read(format!("{name}.bin"));
        let raw = read(format!("{name}.f32"));
        assert_eq!(raw.len() % 4, 0, "{name}.f32 is not whole f32s");
        let expected: Vec<f32> = raw
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        // A fixture must hold at least 3 blocks (or 64 elements of a plain type), and must
        // not be degenerate (all zeros would make every check below trivially pass).
        let min_elements = if ty.block_size() == 1 {
            64
        } else {
            3 * ty.block_size()
        };
        assert!(
            expected.len() >= min_elements,
            "{name}: only {} values",
            expected.len()
        );
        assert!(
            expected.iter().all(|v| v.is_finite()),
            "{name}: non-finite expected value"
        );
        let distinct: std::collections::HashSet<u32> =
            expected.iter().map(|v| v.to_bits()).collect();
        // Ternary types hold three values a block (-d, 0, d): what is enough there is every block's.
        // IQ1 weights take one of six values a sixteen (three scaled grid values, two shifts).
        let enough = match ty {
            GgmlType::TQ1_0 | GgmlType::TQ2_0 => 2 * expected.len() / ty.block_size(),
            GgmlType::IQ1_S | GgmlType::IQ1_M => expected.len() / 32,
            _ => expected.len() / 16,
        };
        assert!(distinct.len() > enough, "{name}: too few distinct values");
        Fixture {
            ty,
            bytes,
            expected,
        }
    }

    fn all() -> Vec<Fixture> {
        SUPPORTED
            .iter()
            .map(|&(ty, name)| Fixture::load(ty, name))
            .collect()
    }

    /// The fixture's blocks (single elements for the plain types).
    fn blocks(&self) -> Vec<(&[u8], &[f32])> {
        let (bb, bs) = (self.ty.block_bytes(), self.ty.block_size());
        self.bytes
            .chunks_exact(bb)
            .zip(self.expected.chunks_exact(bs))
            .collect()
    }
}

/// splitmix64: a small deterministic generator for test inputs.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform in [-1, 1), with an occasional larger value.
    fn activation(&mut self) -> f32 {
        let u = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0;
        if self.below(50) == 0 {
            u * 40.0
        } else {
            u
        }
    }

    /// Activations for the weights `w`. The plain-type fixtures hold random bit patterns up
    /// to 3e38; their products would overflow f32, so `x` is zero against weights above 1e6.
    fn activations_for(&mut self, w: &[f32]) -> Vec<f32> {
        w.iter()
            .map(|w| {
                if w.abs() > 1e6 {
                    0.0
                } else {
                    self.activation()
                }
            })
            .collect()
    }
}

/// `|got - want| <= rel * sum |w_i x_i|`, with the scale printed on failure.
fn assert_close(got: f32, want: f64, scale: f64, rel: f64, what: &str) {
    let err = (f64::from(got) - want).abs();
    assert!(
        err <= rel * scale,
        "{what}: got {got}, want {want} (error {err:e}, allowed {:e})",
        rel * scale
    );
}

#[test]
fn dequantize_is_bit_exact_with_gguf() {
    for f in Fixture::all() {
        let mut out = vec![f32::NAN; f.expected.len()];
        dequantize(f.ty, &f.bytes, &mut out).unwrap();
        let mismatches: Vec<usize> = (0..out.len())
            .filter(|&i| out[i].to_bits() != f.expected[i].to_bits())
            .collect();
        if let Some(&i) = mismatches.first() {
            panic!(
                "{}: {} of {} values differ; first at element {i} (block {}, offset {}): \
                 got {} ({:#010x}), gguf {} ({:#010x})",
                f.ty,
                mismatches.len(),
                out.len(),
                i / f.ty.block_size(),
                i % f.ty.block_size(),
                out[i],
                out[i].to_bits(),
                f.expected[i],
                f.expected[i].to_bits()
            );
        }
    }
}

#[test]
fn dequantize_block_by_block_matches_whole_row() {
    // Blocks are independent: dequantizing one block at a time gives the same values.
    for f in Fixture::all() {
        for (i, (bytes, expected)) in f.blocks().into_iter().enumerate() {
            let mut out = vec![0.0; expected.len()];
            dequantize(f.ty, bytes, &mut out).unwrap();
            let same = out
                .iter()
                .zip(expected)
                .all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "{} block {i} differs when dequantized alone", f.ty);
        }
    }
}

#[test]
fn dot_picks_out_each_element_in_gguf_order() {
    // With x a one-hot vector, dot(row, x) is the element itself: this ties every kernel's
    // element order and scale handling to gguf, independently of dequantize.
    for f in Fixture::all() {
        let mut x = vec![0.0f32; f.expected.len()];
        for i in 0..x.len() {
            x[i] = 1.0;
            let got = dot(f.ty, &f.bytes, &x);
            let want = f.expected[i];
            let tol = 1e-6 * f64::from(want.abs()) + 1e-30;
            assert_close(
                got,
                f64::from(want),
                tol,
                1.0,
                &format!("{} element {i}", f.ty),
            );
            x[i] = 0.0;
        }
    }
}

#[test]
fn dot_matches_gguf_values() {
    let mut rng = Rng(1);
    for f in Fixture::all() {
        for trial in 0..4 {
            let x = rng.activations_for(&f.expected);
            let want: f64 = f
                .expected
                .iter()
                .zip(&x)
                .map(|(&w, &x)| f64::from(w) * f64::from(x))
                .sum();
            let scale: f64 = f
                .expected
                .iter()
                .zip(&x)
                .map(|(&w, &x)| (f64::from(w) * f64::from(x)).abs())
                .sum();
            let got = dot(f.ty, &f.bytes, &x);
            assert_close(got, want, scale, 1e-5, &format!("{} trial {trial}", f.ty));
        }
    }
}

#[test]
fn dot_matches_dot_reference() {
    // Rows of 1 to 40 blocks drawn at random from the fixture's blocks (for the plain types,
    // lengths that are not multiples of the kernels' step, to exercise the tail), checked
    // against the scalar reference.
    let mut rng = Rng(2);
    let mut worst = 0.0f64;
    for f in Fixture::all() {
        let blocks = f.blocks();
        let mut counts = vec![1, 2, 3, 7, 40];
        if f.ty.block_size() == 1 {
            counts = vec![0, 1, 31, 32, 33, 95, 96, 257, 1000];
        }
        for n_blocks in counts {
            let mut row = Vec::new();
            let mut w = Vec::new();
            for _ in 0..n_blocks {
                let (bytes, values) = blocks[rng.below(blocks.len())];
                row.extend_from_slice(bytes);
                w.extend_from_slice(values);
            }
            let x = rng.activations_for(&w);
            let want = dot_reference(f.ty, &row, &x).unwrap();
            let exact: f64 = w
                .iter()
                .zip(&x)
                .map(|(&w, &x)| f64::from(w) * f64::from(x))
                .sum();
            let scale: f64 = w
                .iter()
                .zip(&x)
                .map(|(&w, &x)| (f64::from(w) * f64::from(x)).abs())
                .sum();
            // The reference itself is the f64 sum rounded once.
            assert_eq!(want, exact as f32, "{} reference", f.ty);
            let got = dot(f.ty, &row, &x);
            let what = format!("{} with {n_blocks} blocks", f.ty);
            assert_close(got, f64::from(want), scale, 1e-5, &what);
            if scale > 0.0 {
                worst = worst.max((f64::from(got) - f64::from(want)).abs() / scale);
            }
        }
    }
    // Far inside the budget: a kernel drifting towards it has an accuracy problem.
    assert!(worst < 1e-6, "worst relative error {worst:e}");
}

#[test]
fn dot_of_empty_row_is_zero() {
    for (ty, _) in SUPPORTED {
        assert_eq!(dot(ty, &[], &[]), 0.0, "{ty}");
    }
}

#[test]
fn type_table_matches_gguf() {
    let text = std::fs::read_to_string(fixture_path("types.json")).unwrap();
    let types: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(
        types.len(),
        GgmlType::ALL.len(),
        "gguf knows a different number of types"
    );
    for t in &types {
        let id = t["id"].as_u64().unwrap() as u32;
        let name = t["name"].as_str().unwrap();
        let ty = GgmlType::from_id(id).unwrap_or_else(|| panic!("id {id} ({name}) unknown"));
        assert_eq!(ty.id(), id);
        assert_eq!(ty.name(), name, "id {id}");
        assert_eq!(ty.to_string(), name);
        assert_eq!(
            ty.block_size() as u64,
            t["block_size"].as_u64().unwrap(),
            "{name}"
        );
        let bytes = t["block_bytes"].as_u64().unwrap();
        if ty == GgmlType::Q8_1 {
            // gguf still has the old f32 d and s (40 bytes); ggml-common.h's block_q8_1 has two
            // f16 (36 bytes). It never appears in a file.
            assert_eq!((ty.block_bytes(), bytes), (36, 40));
        } else {
            assert_eq!(ty.block_bytes() as u64, bytes, "{name}");
        }
    }
}

#[test]
fn from_id_rejects_unknown_and_removed_ids() {
    for id in [4, 5, 31, 32, 33, 36, 37, 38, 42, 100, u32::MAX] {
        assert_eq!(GgmlType::from_id(id), None, "id {id}");
    }
    for ty in GgmlType::ALL {
        assert_eq!(GgmlType::from_id(ty.id()), Some(ty));
    }
}

#[test]
fn supported_types_are_exactly_the_twenty_five() {
    let supported: Vec<GgmlType> = GgmlType::ALL
        .into_iter()
        .filter(|t| t.is_supported())
        .collect();
    let want: Vec<GgmlType> = SUPPORTED.iter().map(|&(t, _)| t).collect();
    assert_eq!(supported.len(), 25);
    for t in want {
        assert!(supported.contains(&t), "{t}");
    }
}

#[test]
fn row_bytes() {
    assert_eq!(GgmlType::F32.row_bytes(3), Some(12));
    assert_eq!(GgmlType::F16.row_bytes(640), Some(1280));
    assert_eq!(GgmlType::BF16.row_bytes(7), Some(14));
    assert_eq!(GgmlType::Q8_0.row_bytes(640), Some(680));
    assert_eq!(GgmlType::Q4_0.row_bytes(64), Some(36));
    assert_eq!(GgmlType::Q5_0.row_bytes(31), None);
    assert_eq!(GgmlType::Q4K.row_bytes(256), Some(144));
    assert_eq!(GgmlType::Q6K.row_bytes(2048), Some(1680));
    assert_eq!(GgmlType::Q4K.row_bytes(640), None);
    assert_eq!(GgmlType::Q2K.row_bytes(0), Some(0));
    assert_eq!(
        GgmlType::F64.row_bytes(usize::MAX),
        None,
        "overflow must not wrap"
    );
}

#[test]
fn dequantize_reports_bad_lengths_and_types() {
    let mut out = [0.0f32; 256];
    let err = dequantize(GgmlType::Q4K, &[0u8; 143], &mut out).unwrap_err();
    assert_eq!(
        err,
        QuantError::LengthMismatch {
            ty: GgmlType::Q4K,
            elements: 256,
            bytes_expected: 144,
            bytes_got: 143
        }
    );
    assert_eq!(
        err.to_string(),
        "256 elements of Q4_K take 144 bytes, got 143"
    );

    let err = dequantize(GgmlType::Q8_0, &[0u8; 34], &mut out[..31]).unwrap_err();
    assert_eq!(
        err,
        QuantError::PartialBlock {
            ty: GgmlType::Q8_0,
            elements: 31,
            block_size: 32
        }
    );
    assert!(err.to_string().contains("Q8_0"), "{err}");

    for ty in [
        GgmlType::Q8K,
        GgmlType::NVFP4,
        GgmlType::Q8_1,
        GgmlType::I32,
    ] {
        let bytes = vec![0u8; ty.row_bytes(256).unwrap()];
        let err = dequantize(ty, &bytes, &mut out).unwrap_err();
        assert_eq!(err, QuantError::Unsupported { ty });
        assert!(err.to_string().contains(ty.name()), "{err}");
    }
    assert!(dot_reference(GgmlType::Q6K, &[0u8; 209], &out).is_err());
}

#[test]
#[should_panic(expected = "need")]
fn dot_panics_on_length_mismatch() {
    dot(GgmlType::Q8_0, &[0u8; 33], &[0.0; 32]);
}

#[test]
#[should_panic(expected = "not supported")]
fn dot_panics_on_unsupported_type() {
    dot(GgmlType::Q8K, &[0u8; 292], &[0.0; 256]);
}
