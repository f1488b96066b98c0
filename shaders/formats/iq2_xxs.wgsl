// IQ2_XXS (66 bytes / 256): d: f16, then two u32 a sub-block of 32 @2 + 8k: the first holds
// four IQ2XXS_GRID indices, the second four 7-bit ksigns indices (bits 7l..) and the scale s
// (bits 28..32). Chunk k is sub-block k: db = d (0.5 + s) / 4, weights 8l..8l+8 from entry l.
#include tables
#include grid8

fn chunk(row: u32, j: u32, cols: u32) -> array<f32, 32> {
    let b = row + (j / 8u) * 66u;
    let k = j % 8u;
    let d = w_f16(b);
    let indices = w_u32(b + 2u + 8u * k);
    let aux = w_u32(b + 6u + 8u * k);
    let db = d * (0.5 + f32(aux >> 28u)) * 0.25;
    var out: array<f32, 32>;
    for (var l = 0u; l < 4u; l++) {
        let signs = ksigns((aux >> (7u * l)) & 127u);
        let e = (indices >> (8u * l)) & 0xffu;
        let lo = TABLES[IQ2XXS_GRID + 2u * e];
        let hi = TABLES[IQ2XXS_GRID + 2u * e + 1u];
        for (var m = 0u; m < 8u; m++) {
            out[8u * l + m] = select(1.0, -1.0, ((signs >> m) & 1u) == 1u) * (db * grid8_byte(lo, hi, m));
        }
    }
    return out;
}
