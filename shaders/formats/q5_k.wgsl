// Q5_K (176 bytes / 256): d, dmin: f16, scales[12], qh[32] (bit k of qh[l] is chunk k's fifth
// bit), qs[128]; w = d sc_k q - dmin mn_k.
#include k4_scales

fn chunk(row: u32, j: u32, cols: u32) -> array<f32, 32> {
    let b = row + (j / 8u) * 176u;
    let k = j % 8u;
    let sm = scale_min_k4(b, k);
    let sc = w_f16(b) * sm.x;
    let mn = w_f16(b + 2u) * sm.y;
    let shift = 4u * (k % 2u);
    var out: array<f32, 32>;
    for (var l = 0u; l < 32u; l++) {
        let lo = (w_byte(b + 48u + 32u * (k / 2u) + l) >> shift) & 15u;
        let hi = (w_byte(b + 16u + l) >> k) & 1u;
        out[l] = sc * f32(lo | (hi << 4u)) - mn;
    }
    return out;
}
