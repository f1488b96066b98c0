//! The WGSL sources in `shaders/`, embedded at build time, and the one templating mechanism
//! that makes a kernel's variants: a line `#include NAME` is replaced by `shaders/NAME.wgsl`,
//! and `#include format` by the block format's `shaders/formats/<type>.wgsl`, which defines
//! `chunk(row_byte, j, cols) -> array<f32, 32>`, the `j`-th 32 elements of a row.

use crate::quant::GgmlType;

/// Every shader source by the name `#include` uses.
const SOURCES: &[(&str, &str)] = &[
    ("add", include_str!("../../../shaders/add.wgsl")),
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
    ("matmul_params", include_str!("../../../shaders/matmul_params.wgsl")),
    ("matmul_tiled", include_str!("../../../shaders/matmul_tiled.wgsl")),
    ("matvec", include_str!("../../../shaders/matvec.wgsl")),
    ("matvec_dot", include_str!("../../../shaders/matvec_dot.wgsl")),
    ("matvec_subgroup", include_str!("../../../shaders/matvec_subgroup.wgsl")),
    ("rms_norm", include_str!("../../../shaders/rms_norm.wgsl")),
    ("rope", include_str!("../../../shaders/rope.wgsl")),
    ("softcap", include_str!("../../../shaders/softcap.wgsl")),
    ("step", include_str!("../../../shaders/step.wgsl")),
    ("stream_read", include_str!("../../../shaders/stream_read.wgsl")),
    ("top_k", include_str!("../../../shaders/top_k.wgsl")),
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
        _ => return None,
    })
}

fn source(name: &str) -> &'static str {
    SOURCES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, s)| *s)
        // The names come from this crate's own shaders, so a miss is a bug here.
        .unwrap_or_else(|| panic!("no shader named {name}"))
}

/// The complete WGSL of kernel `op`, with `format` (a [`format_name`]) for `#include format`.
/// Each file is included at most once, so shared pieces may be included by several files.
pub fn expand(op: &str, format: Option<&str>) -> String {
    let mut out = String::new();
    let mut seen = Vec::new();
    include(op, format, &mut seen, &mut out);
    out
}

fn include(name: &str, format: Option<&str>, seen: &mut Vec<String>, out: &mut String) {
    if seen.iter().any(|s| s == name) {
        return;
    }
    seen.push(name.to_string());
    for line in source(name).lines() {
        match line.trim().strip_prefix("#include ") {
            Some("format") => {
                let f = format.unwrap_or_else(|| panic!("shader {name} needs a block format"));
                include(f, format, seen, out);
            }
            Some(other) => include(other.trim(), format, seen, out),
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
        let src = expand("matvec", format_name(GgmlType::Q4K));
        assert!(!src.contains("#include"));
        assert_eq!(src.matches("fn scale_min_k4").count(), 1);
        assert_eq!(src.matches("struct Step").count(), 1);
        assert!(src.contains("144u"), "the Q4_K block size is in the kernel");
    }

    #[test]
    fn every_supported_type_has_a_format_file() {
        for ty in GgmlType::SUPPORTED {
            let name = format_name(ty).expect("a format file");
            assert!(expand("matvec", Some(name)).contains("fn chunk"));
        }
    }
}
