// Q6_K (210 bytes / 256): ql[128], qh[64], scales[16] (signed), d: f16.
// Chunk k: h = k / 4, q4 = k % 4; low nibble q4 / 2 of ql[64h + 32 (q4 % 2) + l], high two bits
// from qh[32h + l] >> 2 q4; scale 8h + 2 q4 + l / 16; w = d scale (q - 32).
fn chunk(row: u32, j: u32, cols: u32) -> array<f32, 32> {
    let b = row + (j / 8u) * 210u;
    let k = j % 8u;
    let h = k / 4u;
    let q4 = k % 4u;
    let d = w_f16(b + 208u);
    var out: array<f32, 32>;
    for (var l = 0u; l < 32u; l++) {
        let lo = (w_byte(b + 64u * h + 32u * (q4 % 2u) + l) >> (4u * (q4 / 2u))) & 15u;
        let hi = (w_byte(b + 128u + 32u * h + l) >> (2u * q4)) & 3u;
        let scale = d * w_i8(b + 192u + 8u * h + 2u * q4 + l / 16u);
        out[l] = scale * f32(i32(lo | (hi << 4u)) - 32);
    }
    return out;
}
