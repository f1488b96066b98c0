// F16: 2 bytes an element.
fn chunk(row: u32, j: u32, cols: u32) -> array<f32, 32> {
    var out: array<f32, 32>;
    for (var l = 0u; l < 32u; l++) {
        let c = j * 32u + l;
        if (c < cols) {
            out[l] = w_f16(row + 2u * c);
        }
    }
    return out;
}
