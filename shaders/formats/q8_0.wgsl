// Q8_0 (34 bytes / 32): d: f16, qs: 32 signed bytes; w = q d. The quants are read a word
// (four of them) at a time.
fn chunk(row: u32, j: u32, cols: u32) -> array<f32, 32> {
    let b = row + j * 34u;
    let d = w_f16(b);
    var out: array<f32, 32>;
    for (var g = 0u; g < 8u; g++) {
        let q = w_u32(b + 2u + 4u * g);
        for (var i = 0u; i < 4u; i++) {
            out[4u * g + i] = f32(bitcast<i32>(q << (24u - 8u * i)) >> 24u) * d;
        }
    }
    return out;
}
