// IQ3_XXS (98 bytes / 256): d: f16, qs[64] (grid indices), then a u32 per sub-block of 32 @66:
// bits 7l..7l+7 the ksigns index of its group l of eight, bits 28..32 the scale s. Chunk k is
// sub-block k: db = d (0.5 + s) / 2, weights 8l..8l+4 from IQ3XXS_GRID[qs[8k + 2l]] and
// 8l+4..8l+8 from IQ3XXS_GRID[qs[8k + 2l + 1]], negated where the group's sign bit is set.
#include tables
#include grid4

fn chunk(row: u32, j: u32, cols: u32) -> array<f32, 32> {
    let b = row + (j / 8u) * 98u;
    let k = j % 8u;
    let d = w_f16(b);
    let aux = w_u32(b + 66u + 4u * k);
    let db = d * (0.5 + f32(aux >> 28u)) * 0.5;
    var out: array<f32, 32>;
    for (var l = 0u; l < 4u; l++) {
        let signs = ksigns((aux >> (7u * l)) & 127u);
        let g1 = TABLES[IQ3XXS_GRID + w_byte(b + 2u + 8u * k + 2u * l)];
        let g2 = TABLES[IQ3XXS_GRID + w_byte(b + 2u + 8u * k + 2u * l + 1u)];
        for (var m = 0u; m < 4u; m++) {
            out[8u * l + m] = select(1.0, -1.0, ((signs >> m) & 1u) == 1u) * (db * grid_byte(g1, m));
            out[8u * l + m + 4u] = select(1.0, -1.0, ((signs >> (m + 4u)) & 1u) == 1u) * (db * grid_byte(g2, m));
        }
    }
    return out;
}
