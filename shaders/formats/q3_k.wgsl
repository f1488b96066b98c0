// Q3_K (110 bytes / 256): hmask[32], qs[64], scales[12] (16 six-bit signed scales), d: f16.
// Chunk k: h = k / 4, two low bits from qs[32h + l] >> 2 (k % 4), the third from
// hmask[l] >> (4h + k % 4); w = d (scale - 32) (q - 4 + 4 bit).
fn chunk(row: u32, j: u32, cols: u32) -> array<f32, 32> {
    let b = row + (j / 8u) * 110u;
    let k = j % 8u;
    let h = k / 4u;
    let q4 = k % 4u;
    let d = w_f16(b + 108u);
    var out: array<f32, 32>;
    for (var l = 0u; l < 32u; l++) {
        let i = 8u * h + 2u * q4 + l / 16u;
        var low: u32;
        if (i < 8u) {
            low = w_byte(b + 96u + i) & 15u;
        } else {
            low = w_byte(b + 96u + i - 8u) >> 4u;
        }
        let high = (w_byte(b + 96u + 8u + i % 4u) >> (2u * (i / 4u))) & 3u;
        let scale = f32(i32(low | (high << 4u)) - 32);
        let lo = (w_byte(b + 32u + 32u * h + l) >> (2u * q4)) & 3u;
        let hbit = (w_byte(b + l) >> (4u * h + q4)) & 1u;
        out[l] = d * scale * f32(i32(lo) - 4 + 4 * i32(hbit));
    }
    return out;
}
