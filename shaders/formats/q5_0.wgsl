// Q5_0 (22 bytes / 32): d: f16, qh: u32 (bit l is element l's fifth bit), qs: 16 bytes;
// w = (q - 16) d.
fn chunk(row: u32, j: u32, cols: u32) -> array<f32, 32> {
    let b = row + j * 22u;
    let d = w_f16(b);
    let qh = w_u32(b + 2u);
    var out: array<f32, 32>;
    for (var g = 0u; g < 4u; g++) {
        let q = w_u32(b + 6u + 4u * g);
        for (var i = 0u; i < 4u; i++) {
            let l = 4u * g + i;
            let byte = (q >> (8u * i)) & 0xffu;
            out[l] = f32(i32((byte & 15u) | (((qh >> l) & 1u) << 4u)) - 16) * d;
            out[l + 16u] = f32(i32((byte >> 4u) | (((qh >> (l + 16u)) & 1u) << 4u)) - 16) * d;
        }
    }
    return out;
}
