// Q2_K (84 bytes / 256): scales[16] (low nibble scale, high nibble min), qs[64], d, dmin: f16.
// Chunk k of a super-block: half h = k / 4 reads qs[32h..], shifted by 2 (k % 4); each 16
// elements have their own scale byte 8h + 2 (k % 4) + l / 16. w = d sc q - dmin mn.
fn chunk(row: u32, j: u32, cols: u32) -> array<f32, 32> {
    let b = row + (j / 8u) * 84u;
    let k = j % 8u;
    let h = k / 4u;
    let shift = 2u * (k % 4u);
    let d = w_f16(b + 80u);
    let dmin = w_f16(b + 82u);
    var out: array<f32, 32>;
    for (var l = 0u; l < 32u; l++) {
        let s = w_byte(b + 8u * h + 2u * (k % 4u) + l / 16u);
        let q = (w_byte(b + 16u + 32u * h + l) >> shift) & 3u;
        out[l] = d * f32(s & 15u) * f32(q) - dmin * f32(s >> 4u);
    }
    return out;
}
