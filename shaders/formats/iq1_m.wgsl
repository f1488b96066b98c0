// IQ1_M (56 bytes / 256): qs[32] @0, qh[16] @32, scales[4] u16 @48. The f16 block scale d is the
// top nibbles of the four scales u16 (nibble k of d in scales[k]). Group g of eight weights:
// IQ1S_GRID entry qs[g] | (nibble g of qh & 7) << 8, shift -1/8 where the nibble's bit 3 is set
// (+1/8 otherwise); a 3-bit scale s a sixteen (scales[g / 8], bits 3 ((g / 2) % 4)..), dl =
// d (2 s + 1); w = dl (g + delta). Chunk k holds groups 4k..4k+4.
#include tables

fn chunk(row: u32, j: u32, cols: u32) -> array<f32, 32> {
    let b = row + (j / 8u) * 56u;
    let k = j % 8u;
    let s0 = w_u16(b + 48u);
    let s1 = w_u16(b + 50u);
    let s2 = w_u16(b + 52u);
    let s3 = w_u16(b + 54u);
    let d = unpack2x16float((s0 >> 12u) | ((s1 >> 8u) & 0xf0u) | ((s2 >> 4u) & 0xf00u) | (s3 & 0xf000u)).x;
    var out: array<f32, 32>;
    for (var l = 0u; l < 4u; l++) {
        let g = 4u * k + l;
        let nibble = (w_byte(b + 32u + g / 2u) >> (4u * (g % 2u))) & 15u;
        let e = w_byte(b + g) | ((nibble & 7u) << 8u);
        let delta = select(0.125, -0.125, (nibble & 8u) != 0u);
        let half_block = g / 2u;
        let s = (w_u16(b + 48u + 2u * (half_block / 4u)) >> (3u * (half_block % 4u))) & 7u;
        let dl = d * f32(2u * s + 1u);
        for (var m = 0u; m < 8u; m++) {
            out[8u * l + m] = dl * (iq1_value(e, m) + delta);
        }
    }
    return out;
}
