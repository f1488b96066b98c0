// IQ2_S (82 bytes / 256): d: f16, qs[32] @2, signs[32] @34, qh[8] @66, scales[8] @74. Group g
// of eight weights: IQ2S_GRID index qs[g] | (bits 2(g % 4).. of qh[g / 4]) << 8, sign byte
// signs[g]; a 4-bit s a group of sixteen (low nibble first), db = d (0.5 + s) / 4. Chunk k
// holds groups 4k..4k+4.
#include tables
#include grid8

fn chunk(row: u32, j: u32, cols: u32) -> array<f32, 32> {
    let b = row + (j / 8u) * 82u;
    let k = j % 8u;
    let d = w_f16(b);
    let scales = w_byte(b + 74u + k);
    let qh = w_byte(b + 66u + k);
    var out: array<f32, 32>;
    for (var l = 0u; l < 4u; l++) {
        let g = 4u * k + l;
        let db = d * (0.5 + f32((scales >> (4u * (l / 2u))) & 15u)) * 0.25;
        let signs = w_byte(b + 34u + g);
        let e = w_byte(b + 2u + g) | (((qh >> (2u * l)) & 3u) << 8u);
        let lo = TABLES[IQ2S_GRID + 2u * e];
        let hi = TABLES[IQ2S_GRID + 2u * e + 1u];
        for (var m = 0u; m < 8u; m++) {
            out[8u * l + m] = select(1.0, -1.0, ((signs >> m) & 1u) == 1u) * (db * grid8_byte(lo, hi, m));
        }
    }
    return out;
}
