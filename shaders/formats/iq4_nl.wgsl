// IQ4_NL (18 bytes / 32): d: f16, qs: 16 bytes of level indices; w[l] = d level(lo(qs[l])),
// w[l + 16] = d level(hi(qs[l])).
#include iq4_levels

fn chunk(row: u32, j: u32, cols: u32) -> array<f32, 32> {
    let b = row + j * 18u;
    let d = w_f16(b);
    var out: array<f32, 32>;
    for (var g = 0u; g < 4u; g++) {
        let q = w_u32(b + 2u + 4u * g);
        for (var i = 0u; i < 4u; i++) {
            let l = 4u * g + i;
            let byte = (q >> (8u * i)) & 0xffu;
            out[l] = d * iq4_level(byte & 15u);
            out[l + 16u] = d * iq4_level(byte >> 4u);
        }
    }
    return out;
}
