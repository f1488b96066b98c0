// Q6_K (210 bytes / 256): ql[128], qh[64], scales[16] (signed), d: f16.
// Chunk k: h = k / 4, q4 = k % 4; low nibble q4 / 2 of ql[64h + 32 (q4 % 2) + l], high two bits
// from qh[32h + l] >> 2 q4; scale 8h + 2 q4 + l / 16; w = d scale (q - 32).
fn chunk(row: u32, j: u32, cols: u32) -> array<f32, 32> {
    let b = row + (j / 8u) * 210u;
    let k = j % 8u;
    let h = k / 4u;
    let q4 = k % 4u;
    let d = w_f16(b + 208u);
    let scales = vec2<f32>(d * w_i8(b + 192u + 8u * h + 2u * q4), d * w_i8(b + 193u + 8u * h + 2u * q4));
    let lo_at = b + 64u * h + 32u * (q4 % 2u);
    let hi_at = b + 128u + 32u * h;
    let lo_shift = 4u * (q4 / 2u);
    let hi_shift = 2u * q4;
    var out: array<f32, 32>;
    for (var g = 0u; g < 8u; g++) {
        let ql = w_u32(lo_at + 4u * g);
        let qh = w_u32(hi_at + 4u * g);
        let scale = scales[g / 4u];
        for (var i = 0u; i < 4u; i++) {
            let lo = (ql >> (8u * i + lo_shift)) & 15u;
            let hi = (qh >> (8u * i + hi_shift)) & 3u;
            out[4u * g + i] = scale * f32(i32(lo | (hi << 4u)) - 32);
        }
    }
    return out;
}
