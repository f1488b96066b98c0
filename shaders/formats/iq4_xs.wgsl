// IQ4_XS (136 bytes / 256): d: f16, scales_h: u16, scales_l[4], qs[128]. Chunk k (a sub-block of
// 32) has the 6-bit scale ls = lo4(scales_l[k / 2] >> 4 (k % 2)) | (bits 2k, 2k+1 of scales_h) << 4
// and w = (d (ls - 32)) level(q), its 16 bytes of indices as IQ4_NL's.
#include iq4_levels

fn chunk(row: u32, j: u32, cols: u32) -> array<f32, 32> {
    let b = row + (j / 8u) * 136u;
    let k = j % 8u;
    let d = w_f16(b);
    let high = (w_u16(b + 2u) >> (2u * k)) & 3u;
    let low = (w_byte(b + 4u + k / 2u) >> (4u * (k % 2u))) & 15u;
    let dl = d * f32(i32(low | (high << 4u)) - 32);
    let qs = b + 8u + 16u * k;
    var out: array<f32, 32>;
    for (var g = 0u; g < 4u; g++) {
        let q = w_u32(qs + 4u * g);
        for (var i = 0u; i < 4u; i++) {
            let l = 4u * g + i;
            let byte = (q >> (8u * i)) & 0xffu;
            out[l] = dl * iq4_level(byte & 15u);
            out[l + 16u] = dl * iq4_level(byte >> 4u);
        }
    }
    return out;
}
