// Q8_0 (34 bytes / 32): d: f16, qs: 32 signed bytes; w = q d.
fn chunk(row: u32, j: u32, cols: u32) -> array<f32, 32> {
    let b = row + j * 34u;
    let d = w_f16(b);
    var out: array<f32, 32>;
    for (var l = 0u; l < 32u; l++) {
        out[l] = w_i8(b + 2u + l) * d;
    }
    return out;
}
