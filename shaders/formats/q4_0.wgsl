// Q4_0 (18 bytes / 32): d: f16, qs: 16 bytes; w[l] = (lo(qs[l]) - 8) d, w[l + 16] = (hi(qs[l]) - 8) d.
fn chunk(row: u32, j: u32, cols: u32) -> array<f32, 32> {
    let b = row + j * 18u;
    let d = w_f16(b);
    var out: array<f32, 32>;
    for (var l = 0u; l < 16u; l++) {
        let q = w_byte(b + 2u + l);
        out[l] = f32(i32(q & 15u) - 8) * d;
        out[l + 16u] = f32(i32(q >> 4u) - 8) * d;
    }
    return out;
}
