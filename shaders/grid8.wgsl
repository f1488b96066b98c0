// Magnitude m (0..8) of a 2-bit grid entry given as its two words.
fn grid8_byte(lo: u32, hi: u32, m: u32) -> f32 {
    return f32((select(lo, hi, m >= 4u) >> (8u * (m % 4u))) & 0xffu);
}
