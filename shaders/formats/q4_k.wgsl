// Q4_K (144 bytes / 256): d, dmin: f16, scales[12] (eight 6-bit scales and mins), qs[128].
// Chunk k reads nibble k % 2 of qs[32 (k / 2) + l]; w = d sc_k q - dmin mn_k.
#include k4_scales

fn chunk(row: u32, j: u32, cols: u32) -> array<f32, 32> {
    let b = row + (j / 8u) * 144u;
    let k = j % 8u;
    let sm = scale_min_k4(b, k);
    let sc = w_f16(b) * sm.x;
    let mn = w_f16(b + 2u) * sm.y;
    let shift = 4u * (k % 2u);
    var out: array<f32, 32>;
    for (var l = 0u; l < 32u; l++) {
        let q = (w_byte(b + 16u + 32u * (k / 2u) + l) >> shift) & 15u;
        out[l] = sc * f32(q) - mn;
    }
    return out;
}
