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
    let qs = b + 16u + 32u * (k / 2u);
    var out: array<f32, 32>;
    for (var g = 0u; g < 8u; g++) {
        let q = w_u32(qs + 4u * g);
        for (var i = 0u; i < 4u; i++) {
            out[4u * g + i] = sc * f32((q >> (8u * i + shift)) & 15u) - mn;
        }
    }
    return out;
}
