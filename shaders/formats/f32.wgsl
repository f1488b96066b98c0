// F32: 4 bytes an element; a row need not be a whole number of 32-element chunks.
fn chunk(row: u32, j: u32, cols: u32) -> array<f32, 32> {
    var out: array<f32, 32>;
    for (var l = 0u; l < 32u; l++) {
        let c = j * 32u + l;
        if (c < cols) {
            out[l] = bitcast<f32>(W[(row >> 2u) + c]);
        }
    }
    return out;
}
