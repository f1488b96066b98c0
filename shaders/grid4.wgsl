// Magnitude m (0..4) of a 3-bit grid entry, a byte each.
fn grid_byte(entry: u32, m: u32) -> f32 {
    return f32((entry >> (8u * m)) & 0xffu);
}
