// IQ3_S (110 bytes / 256): d: f16, qs[64] @2, qh[8] @66, signs[32] @74, scales[4] @106. Chunk
// k is sub-block k: db = d (1 + 2 s), s the 4-bit scale (low nibble of scales[k / 2] for even
// k); weights 4i..4i+4 from IQ3S_GRID[qs[8k + i] | bit i of qh[k] << 8], weight v negated
// where bit v % 8 of signs[4k + v / 8] is set.
#include tables
#include grid4

fn chunk(row: u32, j: u32, cols: u32) -> array<f32, 32> {
    let b = row + (j / 8u) * 110u;
    let k = j % 8u;
    let d = w_f16(b);
    let s = (w_byte(b + 106u + k / 2u) >> (4u * (k % 2u))) & 15u;
    let db = d * f32(1u + 2u * s);
    let qh = w_byte(b + 66u + k);
    let signs = w_u32(b + 74u + 4u * k);
    var out: array<f32, 32>;
    for (var i = 0u; i < 8u; i++) {
        let entry = TABLES[IQ3S_GRID + (w_byte(b + 2u + 8u * k + i) | (((qh >> i) & 1u) << 8u))];
        for (var m = 0u; m < 4u; m++) {
            let v = 4u * i + m;
            out[v] = select(1.0, -1.0, ((signs >> v) & 1u) == 1u) * (db * grid_byte(entry, m));
        }
    }
    return out;
}
