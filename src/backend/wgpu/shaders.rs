//! The WGSL sources in `shaders/`, embedded at build time, and the one templating mechanism
//! that makes a kernel's variants: a line `#include NAME` is replaced by `shaders/NAME.wgsl`,
//! where NAME may be a slot the caller fills ([`Slots`]): `#include format` takes the block
//! format's `shaders/formats/<type>.wgsl`, which defines `chunk(row_byte, j, cols) ->
//! array<f32, 32>`, the `j`-th 32 elements of a row; `#include format_b` a second format's file
//! with its function named `chunk_b` (a buffer holding rows of two formats), and `#include
//! kv_element` the KV cache's element type, `kv_f32` or `kv_f16`. `enable` directives, which WGSL wants before anything
//! else, move to the top.

use crate::quant::GgmlType;

/// Every shader source by the name `#include` uses.
const SOURCES: &[(&str, &str)] = &[
    ("activation", include_str!("../../../shaders/activation.wgsl")),
    ("attention", include_str!("../../../shaders/attention.wgsl")),
    ("attention_combine", include_str!("../../../shaders/attention_combine.wgsl")),
    ("attention_params", include_str!("../../../shaders/attention_params.wgsl")),
    ("attention_split", include_str!("../../../shaders/attention_split.wgsl")),
    ("attention_splits", include_str!("../../../shaders/attention_splits.wgsl")),
    ("attention_tile", include_str!("../../../shaders/attention_tile.wgsl")),
    ("bytes", include_str!("../../../shaders/bytes.wgsl")),
    ("embed", include_str!("../../../shaders/embed.wgsl")),
    ("ffn_gated", include_str!("../../../shaders/ffn_gated.wgsl")),
    ("k4_scales", include_str!("../../../shaders/k4_scales.wgsl")),
    ("logits_score", include_str!("../../../shaders/logits_score.wgsl")),
    ("logits_score_combine", include_str!("../../../shaders/logits_score_combine.wgsl")),
    ("matmul_params", include_str!("../../../shaders/matmul_params.wgsl")),
    ("matmul_tiled", include_str!("../../../shaders/matmul_tiled.wgsl")),
    ("matvec", include_str!("../../../shaders/matvec.wgsl")),
    ("matvec_dot", include_str!("../../../shaders/matvec_dot.wgsl")),
    ("matvec_subgroup", include_str!("../../../shaders/matvec_subgroup.wgsl")),
    ("rms_norm", include_str!("../../../shaders/rms_norm.wgsl")),
    ("qk_norm", include_str!("../../../shaders/qk_norm.wgsl")),
    ("rope", include_str!("../../../shaders/rope.wgsl")),
    ("score_params", include_str!("../../../shaders/score_params.wgsl")),
    ("score_reduce", include_str!("../../../shaders/score_reduce.wgsl")),
    ("softcap", include_str!("../../../shaders/softcap.wgsl")),
    ("step", include_str!("../../../shaders/step.wgsl")),
    ("stream_read", include_str!("../../../shaders/stream_read.wgsl")),
    ("top_k", include_str!("../../../shaders/top_k.wgsl")),
    ("kv_f16", include_str!("../../../shaders/kv_f16.wgsl")),
    ("kv_f32", include_str!("../../../shaders/kv_f32.wgsl")),
    ("formats/f32", include_str!("../../../shaders/formats/f32.wgsl")),
    ("formats/f16", include_str!("../../../shaders/formats/f16.wgsl")),
    ("formats/bf16", include_str!("../../../shaders/formats/bf16.wgsl")),
    ("formats/q4_0", include_str!("../../../shaders/formats/q4_0.wgsl")),
    ("formats/q4_1", include_str!("../../../shaders/formats/q4_1.wgsl")),
    ("formats/q5_0", include_str!("../../../shaders/formats/q5_0.wgsl")),
    ("formats/q5_1", include_str!("../../../shaders/formats/q5_1.wgsl")),
    ("formats/q8_0", include_str!("../../../shaders/formats/q8_0.wgsl")),
    ("formats/q2_k", include_str!("../../../shaders/formats/q2_k.wgsl")),
    ("formats/q3_k", include_str!("../../../shaders/formats/q3_k.wgsl")),
    ("formats/q4_k", include_str!("../../../shaders/formats/q4_k.wgsl")),
    ("formats/q5_k", include_str!("../../../shaders/formats/q5_k.wgsl")),
    ("formats/q6_k", include_str!("../../../shaders/formats/q6_k.wgsl")),
    ("formats/iq4_nl", include_str!("../../../shaders/formats/iq4_nl.wgsl")),
    ("formats/iq4_xs", include_str!("../../../shaders/formats/iq4_xs.wgsl")),
    ("formats/mxfp4", include_str!("../../../shaders/formats/mxfp4.wgsl")),
    ("formats/tq1_0", include_str!("../../../shaders/formats/tq1_0.wgsl")),
    ("formats/tq2_0", include_str!("../../../shaders/formats/tq2_0.wgsl")),
    ("iq4_levels", include_str!("../../../shaders/iq4_levels.wgsl")),
    ("formats/iq3_xxs", include_str!("../../../shaders/formats/iq3_xxs.wgsl")),
    ("formats/iq3_s", include_str!("../../../shaders/formats/iq3_s.wgsl")),
    ("grid4", include_str!("../../../shaders/grid4.wgsl")),
    ("formats/iq2_xxs", include_str!("../../../shaders/formats/iq2_xxs.wgsl")),
    ("formats/iq2_xs", include_str!("../../../shaders/formats/iq2_xs.wgsl")),
    ("formats/iq2_s", include_str!("../../../shaders/formats/iq2_s.wgsl")),
    ("grid8", include_str!("../../../shaders/grid8.wgsl")),
    ("formats/iq1_s", include_str!("../../../shaders/formats/iq1_s.wgsl")),
    ("formats/iq1_m", include_str!("../../../shaders/formats/iq1_m.wgsl")),
];

/// The format file of a block type, or `None` for a type the kernels cannot read.
pub fn format_name(ty: GgmlType) -> Option<&'static str> {
    Some(match ty {
        GgmlType::F32 => "formats/f32",
        GgmlType::F16 => "formats/f16",
        GgmlType::BF16 => "formats/bf16",
        GgmlType::Q4_0 => "formats/q4_0",
        GgmlType::Q4_1 => "formats/q4_1",
        GgmlType::Q5_0 => "formats/q5_0",
        GgmlType::Q5_1 => "formats/q5_1",
        GgmlType::Q8_0 => "formats/q8_0",
        GgmlType::Q2K => "formats/q2_k",
        GgmlType::Q3K => "formats/q3_k",
        GgmlType::Q4K => "formats/q4_k",
        GgmlType::Q5K => "formats/q5_k",
        GgmlType::Q6K => "formats/q6_k",
        GgmlType::IQ4_NL => "formats/iq4_nl",
        GgmlType::IQ4_XS => "formats/iq4_xs",
        GgmlType::IQ3_XXS => "formats/iq3_xxs",
        GgmlType::IQ3_S => "formats/iq3_s",
        GgmlType::IQ2_XXS => "formats/iq2_xxs",
        GgmlType::IQ2_XS => "formats/iq2_xs",
        GgmlType::IQ2_S => "formats/iq2_s",
        GgmlType::IQ1_S => "formats/iq1_s",
        GgmlType::IQ1_M => "formats/iq1_m",
        GgmlType::MXFP4 => "formats/mxfp4",
        GgmlType::TQ1_0 => "formats/tq1_0",
        GgmlType::TQ2_0 => "formats/tq2_0",
        _ => return None,
    })
}

/// The i-quants' grids and sign table (`quant::iq_grids`, the arrays the CPU reads), laid one
/// after another into one read-only buffer that every weight kernel binds at binding 5: a
/// grid read from storage is cached like the weights, where a grid held as a private array is
/// copied into every invocation (on lavapipe that made a grid format's product 10 to 20 times
/// slower, and on a GPU it spills to local memory). Each: the WGSL constant naming its first
/// word, and its words.
fn grid_parts() -> Vec<(&'static str, Vec<u32>)> {
    use crate::quant::iq_grids::{IQ1S_GRID, IQ2S_GRID, IQ2XS_GRID, IQ2XXS_GRID, IQ3S_GRID, IQ3XXS_GRID, KSIGNS};
    vec![
        ("IQ3XXS_GRID", IQ3XXS_GRID.to_vec()),
        ("IQ3S_GRID", IQ3S_GRID.to_vec()),
        // Four sign bytes a word, the first lowest.
        ("KSIGNS", KSIGNS.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()),
        ("IQ2XXS_GRID", IQ2XXS_GRID.to_vec()),
        ("IQ2XS_GRID", IQ2XS_GRID.to_vec()),
        ("IQ2S_GRID", IQ2S_GRID.to_vec()),
        // Two entries a word, the even one low.
        ("IQ1S_GRID", IQ1S_GRID.chunks_exact(2).map(|c| u32::from(c[0]) | (u32::from(c[1]) << 16)).collect()),
    ]
}

/// The words of the grid buffer (see [`grid_parts`]).
pub fn grid_table_words() -> &'static [u32] {
    static WORDS: std::sync::OnceLock<Vec<u32>> = std::sync::OnceLock::new();
    WORDS.get_or_init(|| grid_parts().into_iter().flat_map(|(_, words)| words).collect())
}

/// `#include tables`: the grid buffer's binding, where each table starts, and the accessors
/// that need more than an index.
fn tables_source() -> &'static str {
    static SOURCE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SOURCE.get_or_init(|| {
        let mut s = String::from(
            "// The i-quants' grids and sign table, one after another (shaders.rs `grid_parts`, from\n\
             // quant/iq_grids.rs): bound to every weight kernel.\n\
             @group(0) @binding(5) var<storage, read> TABLES: array<u32>;\n",
        );
        let mut at = 0;
        for (name, words) in grid_parts() {
            s += &format!("const {name}: u32 = {at}u;\n");
            at += words.len();
        }
        s += "// The eight signs of a 7-bit index (bit j set: value j negative).\n\
              fn ksigns(i: u32) -> u32 {\n    return (TABLES[KSIGNS + i / 4u] >> (8u * (i % 4u))) & 0xffu;\n}\n\
              // Value m (0..8) of IQ1 grid entry e: -1, 0 or 1.\n\
              fn iq1_value(e: u32, m: u32) -> f32 {\n    return f32((TABLES[IQ1S_GRID + e / 2u] >> (16u * (e % 2u) + 2u * m)) & 3u) - 1.0;\n}\n";
        s
    })
}

fn source(name: &str) -> &'static str {
    if name == "tables" {
        return tables_source();
    }
    SOURCES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, s)| *s)
        // The names come from this crate's own shaders, so a miss is a bug here.
        .unwrap_or_else(|| panic!("no shader named {name}"))
}

/// What fills a kernel's slots.
#[derive(Debug, Clone, Copy, Default)]
pub struct Slots {
    /// `#include format`: a [`format_name`].
    pub format: Option<&'static str>,
    /// `#include format_b`: the second block format (the first where unset).
    pub format_b: Option<&'static str>,
    /// `#include kv_element`: the KV cache's element type (f32 when unset).
    pub kv_f16: bool,
}

impl Slots {
    fn fill(&self, name: &str, by: &str) -> &'static str {
        match name {
            "format" => self.format.unwrap_or_else(|| panic!("shader {by} needs a block format")),
            "format_b" => self.format_b.or(self.format).unwrap_or_else(|| panic!("shader {by} needs a block format")),
            "kv_element" if self.kv_f16 => "kv_f16",
            "kv_element" => "kv_f32",
            _ => unreachable!("not a slot: {name}"),
        }
    }
}

/// The complete WGSL of kernel `op` with its slots filled. Each file is included at most once,
/// so shared pieces may be included by several files.
pub fn expand(op: &str, slots: &Slots) -> String {
    let mut out = String::new();
    let mut directives = String::new();
    let mut seen = Vec::new();
    include(op, slots, &mut seen, &mut directives, &mut out);
    directives + &out
}

/// Where `#include format_b` names the file `#include format` took, its `chunk_b` is `chunk`.
const CHUNK_B_ALIAS: &str = "fn chunk_b(row: u32, j: u32, cols: u32) -> array<f32, 32> {\n    return chunk(row, j, cols);\n}\n";

fn include(name: &str, slots: &Slots, seen: &mut Vec<String>, directives: &mut String, out: &mut String) {
    include_as(name, slots, seen, directives, out, false)
}

/// Includes `name`; `as_b`: a format file included as the second format, its `chunk` renamed.
fn include_as(name: &str, slots: &Slots, seen: &mut Vec<String>, directives: &mut String, out: &mut String, as_b: bool) {
    let key = if as_b { format!("{name} as b") } else { name.to_string() };
    if seen.contains(&key) {
        return;
    }
    seen.push(key);
    if as_b && seen.iter().any(|s| s == name) {
        out.push_str(CHUNK_B_ALIAS);
        return;
    }
    for line in source(name).lines() {
        match line.trim().strip_prefix("#include ").map(str::trim) {
            Some("format_b") => include_as(slots.fill("format_b", name), slots, seen, directives, out, true),
            Some(slot @ ("format" | "kv_element")) => include(slots.fill(slot, name), slots, seen, directives, out),
            Some(other) => include(other, slots, seen, directives, out),
            None if as_b && line.starts_with("fn chunk(") => {
                out.push_str(&line.replacen("fn chunk(", "fn chunk_b(", 1));
                out.push('\n');
            }
            None if line.starts_with("enable ") => {
                directives.push_str(line);
                directives.push('\n');
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn includes_are_expanded_once_and_formats_substituted() {
        let src = expand("matvec", &Slots { format: format_name(GgmlType::Q4K), ..Slots::default() });
        assert!(!src.contains("#include"));
        assert_eq!(src.matches("fn scale_min_k4").count(), 1);
        assert_eq!(src.matches("struct Step").count(), 1);
        assert!(src.contains("144u"), "the Q4_K block size is in the kernel");
    }

    #[test]
    fn every_supported_type_has_a_format_file() {
        for ty in GgmlType::SUPPORTED {
            let name = format_name(ty).expect("a format file");
            assert!(expand("matvec", &Slots { format: Some(name), ..Slots::default() }).contains("fn chunk"));
        }
    }

    #[test]
    fn a_second_format_gets_its_own_chunk_and_the_same_format_an_alias() {
        let two = Slots { format: format_name(GgmlType::Q5_0), format_b: format_name(GgmlType::Q8_0), ..Slots::default() };
        let src = expand("matvec", &two);
        assert_eq!(src.matches("fn chunk(").count(), 1);
        assert_eq!(src.matches("fn chunk_b(").count(), 1);
        assert!(src.contains("22u") && src.contains("34u"), "both block sizes are in the kernel");
        assert!(!src.contains("return chunk(row, j, cols)"));
        let one = expand("matvec", &Slots { format: format_name(GgmlType::Q4K), ..Slots::default() });
        assert_eq!(one.matches("fn chunk(").count(), 1);
        assert!(one.contains("return chunk(row, j, cols)"), "chunk_b is chunk");
        // Two K-quants share their scale helper once.
        let k = Slots { format: format_name(GgmlType::Q4K), format_b: format_name(GgmlType::Q5K), ..Slots::default() };
        assert_eq!(expand("matmul_tiled", &k).matches("fn scale_min_k4").count(), 1);
    }

    #[test]
    fn the_kv_element_slot_picks_a_type_and_directives_go_first() {
        let f32_src = expand("attention", &Slots::default());
        assert!(f32_src.contains("alias KvElement = f32;") && !f32_src.contains("enable f16"));
        let f16_src = expand("attention", &Slots { kv_f16: true, ..Slots::default() });
        assert!(f16_src.starts_with("enable f16;\n"), "{}", &f16_src[..80]);
        assert!(f16_src.contains("alias KvElement = f16;"));
    }
}
