// MXFP4 (17 bytes / 32): e: u8, an E8M0 exponent; qs: 16 bytes of FP4 (E2M1) indices, low nibbles
// weights 0..16, high 16..32. w = e8m0_half(e) level(q), the levels doubled and the scale halved
// as ggml does (kvalues_mxfp4, ggml_e8m0_to_fp32_half). Blocks sit at odd byte offsets: the
// indices are read as unaligned words.
fn mxfp4_level(i: u32) -> f32 {
    let levels = array<f32, 16>(0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0,
                                0.0, -1.0, -2.0, -3.0, -4.0, -6.0, -8.0, -12.0);
    return levels[i];
}

fn chunk(row: u32, j: u32, cols: u32) -> array<f32, 32> {
    let b = row + j * 17u;
    let e = w_byte(b);
    var bits = (e - 1u) << 23u;
    if (e < 2u) {
        bits = 0x00200000u << e;
    }
    let d = bitcast<f32>(bits);
    var out: array<f32, 32>;
    for (var g = 0u; g < 4u; g++) {
        let q = w_u32(b + 1u + 4u * g);
        for (var i = 0u; i < 4u; i++) {
            let l = 4u * g + i;
            let byte = (q >> (8u * i)) & 0xffu;
            out[l] = d * mxfp4_level(byte & 15u);
            out[l + 16u] = d * mxfp4_level(byte >> 4u);
        }
    }
    return out;
}
