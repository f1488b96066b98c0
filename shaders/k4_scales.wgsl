// The eight 6-bit (scale, min) pairs of a Q4_K / Q5_K super-block at byte b (scales at b + 4),
// as llama.cpp's get_scale_min_k4 unpacks them.
fn scale_min_k4(b: u32, k: u32) -> vec2<f32> {
    let s = b + 4u;
    if (k < 4u) {
        return vec2<f32>(f32(w_byte(s + k) & 63u), f32(w_byte(s + k + 4u) & 63u));
    }
    let sc = (w_byte(s + k + 4u) & 15u) | ((w_byte(s + k - 4u) >> 6u) << 4u);
    let mn = (w_byte(s + k + 4u) >> 4u) | ((w_byte(s + k) >> 6u) << 4u);
    return vec2<f32>(f32(sc), f32(mn));
}
