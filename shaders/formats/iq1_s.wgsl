// IQ1_S (50 bytes / 256): d: f16, qs[32] @2, qh[8] u16 @34. Sub-block k (chunk k) of 32
// weights: qh[k] holds three high index bits for each of its four groups of eight (bits 3l..),
// a 3-bit scale s (bits 12..15) and the shift's sign (bit 15). Group l is IQ1S_GRID entry
// qs[4k + l] | bits << 8 (values -1, 0, 1); w = dl (g + delta), dl = d (2 s + 1), delta = +-1/8.
#include tables

fn chunk(row: u32, j: u32, cols: u32) -> array<f32, 32> {
    let b = row + (j / 8u) * 50u;
    let k = j % 8u;
    let d = w_f16(b);
    let qh = w_u16(b + 34u + 2u * k);
    let dl = d * f32(2u * ((qh >> 12u) & 7u) + 1u);
    let delta = select(0.125, -0.125, (qh & 0x8000u) != 0u);
    var out: array<f32, 32>;
    for (var l = 0u; l < 4u; l++) {
        let e = w_byte(b + 2u + 4u * k + l) | (((qh >> (3u * l)) & 7u) << 8u);
        for (var m = 0u; m < 8u; m++) {
            out[8u * l + m] = dl * (iq1_value(e, m) + delta);
        }
    }
    return out;
}
