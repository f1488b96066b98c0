// Reading GGUF blocks from a weight buffer bound as `W: array<u32>`. Blocks keep their file
// layout (18, 22, 34, 84, 110, 144, 176, 210 bytes...), so fields sit at any byte offset; every
// f16 field of every format sits at an even offset, so a u16 never straddles two words.

fn w_byte(o: u32) -> u32 {
    return (W[o >> 2u] >> ((o & 3u) * 8u)) & 0xffu;
}

fn w_i8(o: u32) -> f32 {
    return f32(bitcast<i32>(w_byte(o) << 24u) >> 24u);
}

fn w_u16(o: u32) -> u32 {
    return (W[o >> 2u] >> ((o & 2u) * 8u)) & 0xffffu;
}

// A little-endian u32 at any byte offset (Q5_0's and Q5_1's high bits sit at offsets 2 and 4).
fn w_u32(o: u32) -> u32 {
    let s = (o & 3u) * 8u;
    let lo = W[o >> 2u];
    if (s == 0u) {
        return lo;
    }
    return (lo >> s) | (W[(o >> 2u) + 1u] << (32u - s));
}

// IEEE half to f32 without the shader-f16 feature (the browser's SwiftShader lacks it).
fn w_f16(o: u32) -> f32 {
    return unpack2x16float(w_u16(o)).x;
}
