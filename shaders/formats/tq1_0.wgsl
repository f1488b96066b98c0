// TQ1_0 (54 bytes / 256): qs[48], qh[4], d: f16 @52; ternary digits stored base 3. Digit k of a
// byte is brought to the top by multiplying by 3^k (wrapping in 8 bits) and read as
// (byte * 3) >> 8, as ggml's dequantize_row_tq1_0. Weights 0..160 are digit k of qs[0..32]
// (weight 32k + m), 160..240 digit k of qs[32..48] (160 + 16k + m), 240..256 digit k of qh
// (240 + 4k + m); w = d (t - 1).
fn tq1_trit(o: u32, pow3: u32) -> f32 {
    let q = (w_byte(o) * pow3) & 0xffu;
    return f32(i32((q * 3u) >> 8u) - 1);
}

fn chunk(row: u32, j: u32, cols: u32) -> array<f32, 32> {
    let b = row + (j / 8u) * 54u;
    let k = j % 8u;
    let d = w_f16(b + 52u);
    let pow3 = array<u32, 5>(1u, 3u, 9u, 27u, 81u);
    var out: array<f32, 32>;
    for (var l = 0u; l < 32u; l++) {
        let e = 32u * k + l;
        var t: f32;
        if (e < 160u) {
            t = tq1_trit(b + e % 32u, pow3[e / 32u]);
        } else if (e < 240u) {
            t = tq1_trit(b + 32u + (e - 160u) % 16u, pow3[(e - 160u) / 16u]);
        } else {
            t = tq1_trit(b + 48u + (e - 240u) % 4u, pow3[(e - 240u) / 4u]);
        }
        out[l] = d * t;
    }
    return out;
}
