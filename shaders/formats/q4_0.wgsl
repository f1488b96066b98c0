// Q4_0 (18 bytes / 32): d: f16, qs: 16 bytes; w[l] = (lo(qs[l]) - 8) d, w[l + 16] = (hi(qs[l]) - 8) d.
fn chunk(row: u32, j: u32, cols: u32) -> array<f32, 32> {
    let b = row + j * 18u;
    let d = w_f16(b);
    var out: array<f32, 32>;
    for (var g = 0u; g < 4u; g++) {
        let q = w_u32(b + 2u + 4u * g);
        for (var i = 0u; i < 4u; i++) {
            let l = 4u * g + i;
            let byte = (q >> (8u * i)) & 0xffu;
            out[l] = f32(i32(byte & 15u) - 8) * d;
            out[l + 16u] = f32(i32(byte >> 4u) - 8) * d;
        }
    }
    return out;
}
