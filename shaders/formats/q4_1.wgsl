// Q4_1 (20 bytes / 32): d, m: f16, qs: 16 bytes; w = q d + m.
fn chunk(row: u32, j: u32, cols: u32) -> array<f32, 32> {
    let b = row + j * 20u;
    let d = w_f16(b);
    let m = w_f16(b + 2u);
    var out: array<f32, 32>;
    for (var l = 0u; l < 16u; l++) {
        let q = w_byte(b + 4u + l);
        out[l] = f32(q & 15u) * d + m;
        out[l + 16u] = f32(q >> 4u) * d + m;
    }
    return out;
}
