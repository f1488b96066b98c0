// Q5_1 (24 bytes / 32): d, m: f16, qh: u32, qs: 16 bytes; w = q d + m.
fn chunk(row: u32, j: u32, cols: u32) -> array<f32, 32> {
    let b = row + j * 24u;
    let d = w_f16(b);
    let m = w_f16(b + 2u);
    let qh = w_u32(b + 4u);
    var out: array<f32, 32>;
    for (var l = 0u; l < 16u; l++) {
        let q = w_byte(b + 8u + l);
        out[l] = f32((q & 15u) | (((qh >> l) & 1u) << 4u)) * d + m;
        out[l + 16u] = f32((q >> 4u) | (((qh >> (l + 16u)) & 1u) << 4u)) * d + m;
    }
    return out;
}
