// BF16: the top half of an f32.
fn chunk(row: u32, j: u32, cols: u32) -> array<f32, 32> {
    var out: array<f32, 32>;
    for (var l = 0u; l < 32u; l++) {
        let c = j * 32u + l;
        if (c < cols) {
            out[l] = bitcast<f32>(w_u16(row + 2u * c) << 16u);
        }
    }
    return out;
}
