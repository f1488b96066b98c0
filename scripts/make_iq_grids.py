#!/usr/bin/env python3
"""Writes the grids and sign table of the 1-, 2- and 3-bit i-quants, held once in
src/quant/iq_grids.rs, from PyPI `gguf`'s copy of ggml-common.h's tables (gguf.quants:
`grid_hex` unpacked through `grid_map`, `ksigns`). The CPU reads them there; the GPU reads the
same arrays, which src/backend/wgpu/shaders.rs lays one after another into one storage buffer
that every weight kernel binds (so no kernel copies a grid into each invocation's memory);
this script also writes the small WGSL helpers that unpack an entry (shaders/grid4.wgsl,
grid8.wgsl):

    python3 scripts/make_iq_grids.py

iq3xxs_grid: 256 entries of four magnitudes; iq3s_grid: 512; iq2xxs_grid, iq2xs_grid, iq2s_grid:
256, 512 and 1024 entries of eight; ksigns_iq2xs: 128 sign bytes (7 bits of index give 8 signs
with even parity). Each grid entry is written as u32s whose bytes are its magnitudes, as ggml
stores them (a u64 for the 2-bit grids: two u32s, low first). iq1s_grid (IQ1_S and IQ1_M): 2048
entries of eight values in {-1, 0, 1}, each written as 2 bits (value + 1, value j at bits 2j..),
a u16 an entry, as gguf's `grid_hex` packs them (ggml stores them as int8 in a u64).
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


def grid_words8(cls):
    """Two u32 words (low, high) an entry of an eight-magnitude grid."""
    cls.init_grid()
    g = np.asarray(cls.grid, dtype=np.float32).reshape(cls.grid_shape)
    assert g.shape[1] == 8 and np.all(g == np.round(g)) and g.max() < 256
    b = [[int(v) for v in r] for r in g]
    out = []
    for r in b:
        out.append(r[0] | (r[1] << 8) | (r[2] << 16) | (r[3] << 24))
        out.append(r[4] | (r[5] << 8) | (r[6] << 16) | (r[7] << 24))
    return out


def grid_iq1():
    """The IQ1 grid, a u16 an entry: value j + 1 at bits 2j..2j+2."""
    cls = quants.IQ1_S
    cls.init_grid()
    g = np.asarray(cls.grid, dtype=np.float32).reshape(cls.grid_shape)
    assert g.shape == (2048, 8) and set(np.unique(g)) <= {-1.0, 0.0, 1.0}
    return [int(sum(int(v + 1) << (2 * j) for j, v in enumerate(r))) for r in g]


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
    iq1 = grid_iq1()
    iq2 = [("IQ2XXS_GRID", "iq2xxs_grid", grid_words8(quants.IQ2_XXS)),
           ("IQ2XS_GRID", "iq2xs_grid", grid_words8(quants.IQ2_XS)),
           ("IQ2S_GRID", "iq2s_grid", grid_words8(quants.IQ2_S))]
    for name, ggml, words in iq2:
        rs += [f"/// `{ggml}`: eight magnitudes a byte each, as two words (low four first).",
               f"pub const {name}: [u32; {len(words)}] = ["]
        rs += ["    " + r for r in rows(words, 8, lambda v: f"0x{v:08x}")]
        rs += ["];", ""]
    rs += ["/// `iq1s_grid` (IQ1_S and IQ1_M): eight values in {-1, 0, 1} an entry, value j stored as",
           "/// j + 1 in bits 2j..2j+2.", f"pub const IQ1S_GRID: [u16; {len(iq1)}] = ["]
    rs += ["    " + r for r in rows(iq1, 12, lambda v: f"0x{v:04x}")]
    rs += ["];", ""]
    with open(os.path.join(ROOT, "src", "quant", "iq_grids.rs"), "w") as f:
        f.write("\n".join(rs))

    # The GPU reads the same tables from one storage buffer that src/backend/wgpu/shaders.rs
    # builds from iq_grids.rs (binding 5 of the weight kernels); here only the pure helpers.
    helpers = {
        "grid4": ["// Magnitude m (0..4) of a 3-bit grid entry, a byte each.", "fn grid_byte(entry: u32, m: u32) -> f32 {",
                  "    return f32((entry >> (8u * m)) & 0xffu);", "}", ""],
    }
    for file, lines in helpers.items():
        with open(os.path.join(ROOT, "shaders", f"{file}.wgsl"), "w") as f:
            f.write("\n".join(lines))
    w8 = ["// Magnitude m (0..8) of a 2-bit grid entry given as its two words.",
          "fn grid8_byte(lo: u32, hi: u32, m: u32) -> f32 {",
          "    return f32((select(lo, hi, m >= 4u) >> (8u * (m % 4u))) & 0xffu);", "}", ""]
    with open(os.path.join(ROOT, "shaders", "grid8.wgsl"), "w") as f:
        f.write("\n".join(w8))
    print(f"iq_grids.rs and shaders/: {len(iq1)} 1-bit, {len(xxs)} + {len(s)} 3-bit grid entries, {len(ksigns)} sign bytes, "
          f"{' + '.join(str(len(w) // 2) for _, _, w in iq2)} 2-bit grid entries")


if __name__ == "__main__":
    main()
