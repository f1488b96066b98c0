#!/usr/bin/env python3
"""Writes the grids and sign table of the 3-bit i-quants, held once each for the CPU
(src/quant/iq_grids.rs) and the GPU (shaders/iq3_grids.wgsl), from PyPI `gguf`'s copy of
ggml-common.h's tables (gguf.quants: `grid_hex` unpacked through `grid_map`, `ksigns`):

    python3 scripts/make_iq_grids.py

iq3xxs_grid: 256 entries of four magnitudes; iq3s_grid: 512; ksigns_iq2xs: 128 sign bytes
(7 bits of index give 8 signs with even parity). Each grid entry is written as one u32 whose
bytes are the four magnitudes, as ggml stores them.
"""

import os

import numpy as np
from gguf import quants

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def grid_words(cls):
    cls.init_grid()
    g = np.asarray(cls.grid, dtype=np.float32).reshape(cls.grid_shape)
    assert g.shape[1] == 4 and np.all(g == np.round(g)) and g.max() < 256
    b = g.astype(np.uint32)
    return [int(r[0] | (r[1] << 8) | (r[2] << 16) | (r[3] << 24)) for r in b]


def rows(values, per_line, fmt):
    return [", ".join(fmt(v) for v in values[i:i + per_line]) + "," for i in range(0, len(values), per_line)]


def main():
    xxs = grid_words(quants.IQ3_XXS)
    s = grid_words(quants.IQ3_S)
    ksigns = [int(v) for v in np.frombuffer(quants.IQ2_XXS.ksigns, dtype=np.uint8)]
    assert (len(xxs), len(s), len(ksigns)) == (256, 512, 128)
    header = "written by scripts/make_iq_grids.py from PyPI gguf's copy of ggml-common.h; do not edit"

    rs = [f"//! The grids and sign table of the 3-bit i-quants ({header}).", "",
          "/// `iq3xxs_grid`: four magnitudes a byte each.", "pub const IQ3XXS_GRID: [u32; 256] = ["]
    rs += ["    " + r for r in rows(xxs, 8, lambda v: f"0x{v:08x}")]
    rs += ["];", "", "/// `iq3s_grid`: four magnitudes a byte each.", "pub const IQ3S_GRID: [u32; 512] = ["]
    rs += ["    " + r for r in rows(s, 8, lambda v: f"0x{v:08x}")]
    rs += ["];", "", "/// `ksigns_iq2xs`: the eight signs (bit j set: negative) of a 7-bit index, the eighth",
           "/// making the parity even.", "pub const KSIGNS: [u8; 128] = ["]
    rs += ["    " + r for r in rows(ksigns, 16, lambda v: f"{int(v)}")]
    rs += ["];", ""]
    with open(os.path.join(ROOT, "src", "quant", "iq_grids.rs"), "w") as f:
        f.write("\n".join(rs))

    wg = [f"// The grids and sign table of the 3-bit i-quants ({header}).",
          "// Entries hold four magnitudes a byte each; ksigns four sign bytes a word.",
          "const IQ3XXS_GRID = array<u32, 256>("]
    wg += ["    " + r for r in rows(xxs, 8, lambda v: f"0x{v:08x}u")]
    wg += [");", "", "const IQ3S_GRID = array<u32, 512>("]
    wg += ["    " + r for r in rows(s, 8, lambda v: f"0x{v:08x}u")]
    ks_words = [int(ksigns[i] | (ksigns[i + 1] << 8) | (ksigns[i + 2] << 16) | (ksigns[i + 3] << 24)) for i in range(0, 128, 4)]
    wg += [");", "", "const KSIGNS = array<u32, 32>("]
    wg += ["    " + r for r in rows(ks_words, 8, lambda v: f"0x{v:08x}u")]
    wg += [");", "", "// The eight signs of a 7-bit index (bit j set: value j negative).",
           "fn ksigns(i: u32) -> u32 {", "    return (KSIGNS[i / 4u] >> (8u * (i % 4u))) & 0xffu;", "}",
           "", "// Magnitude m (0..4) of a grid entry.", "fn grid_byte(entry: u32, m: u32) -> f32 {",
           "    return f32((entry >> (8u * m)) & 0xffu);", "}", ""]
    with open(os.path.join(ROOT, "shaders", "iq3_grids.wgsl"), "w") as f:
        f.write("\n".join(wg))
    print(f"iq_grids.rs and iq3_grids.wgsl: {len(xxs)} + {len(s)} grid entries, {len(ksigns)} sign bytes")


if __name__ == "__main__":
    main()
