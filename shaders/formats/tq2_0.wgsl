// TQ2_0 (66 bytes / 256): qs[64], d: f16 @64. Chunk k (32 weights) is bits 2l..2l+2 of bytes
// 32j..32j+32 with j = k / 4, l = k % 4; w = d (q - 1).
fn chunk(row: u32, j: u32, cols: u32) -> array<f32, 32> {
    let b = row + (j / 8u) * 66u;
    let k = j % 8u;
    let d = w_f16(b + 64u);
    let qs = b + 32u * (k / 4u);
    let shift = 2u * (k % 4u);
    var out: array<f32, 32>;
    for (var g = 0u; g < 8u; g++) {
        let q = w_u32(qs + 4u * g);
        for (var i = 0u; i < 4u; i++) {
            out[4u * g + i] = d * f32(i32((q >> (8u * i + shift)) & 3u) - 1);
        }
    }
    return out;
}
