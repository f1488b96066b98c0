// IQ2_XS (74 bytes / 256): d: f16, qs: 32 u16 @2 (bits 0..9 an IQ2XS_GRID index, 9..16 a
// ksigns index, a group of eight weights each), scales[8] @66 (a 4-bit s a group of sixteen,
// low nibble first). Chunk k holds groups 4k..4k+4: db = d (0.5 + s) / 4.
#include tables
#include grid8

fn chunk(row: u32, j: u32, cols: u32) -> array<f32, 32> {
    let b = row + (j / 8u) * 74u;
    let k = j % 8u;
    let d = w_f16(b);
    let scales = w_byte(b + 66u + k);
    var out: array<f32, 32>;
    for (var l = 0u; l < 4u; l++) {
        let q = w_u16(b + 2u + 2u * (4u * k + l));
        let db = d * (0.5 + f32((scales >> (4u * (l / 2u))) & 15u)) * 0.25;
        let signs = ksigns(q >> 9u);
        let e = q & 511u;
        let lo = TABLES[IQ2XS_GRID + 2u * e];
        let hi = TABLES[IQ2XS_GRID + 2u * e + 1u];
        for (var m = 0u; m < 8u; m++) {
            out[8u * l + m] = select(1.0, -1.0, ((signs >> m) & 1u) == 1u) * (db * grid8_byte(lo, hi, m));
        }
    }
    return out;
}
