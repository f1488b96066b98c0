#!/usr/bin/env python3
"""Writes the block-format fixtures in tests/fixtures/quant/ that tests/quant.rs checks against.

Run from the repository root (needs PyPI `gguf` and `numpy`; made with gguf 0.19.0):

    pip install gguf numpy
    python3 scripts/make_quant_fixtures.py

The reference is `gguf.quants.dequantize` (PyPI gguf, a port of llama.cpp's dequantize_row_*),
not our Rust code. For each supported type it writes:

- `<NAME>.bin`: a few blocks of seeded random bytes, with every f16 scale field (d, dmin, m)
  overwritten by a finite random f16 of sane magnitude so that no NaN or Inf appears (for F16,
  BF16 and F32 every element is a random finite value, subnormals included);
- `<NAME>.f32`: the dequantized values as raw little-endian f32 (bit-exact).

and `types.json`: gguf's id, name, elements per block and bytes per block for every type it knows,
which the tests compare with `GgmlType`'s table. The output is deterministic (fixed seed).
"""

import json
import pathlib

import numpy as np
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType
from gguf.quants import dequantize

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "quant"

# Byte offsets of the f16 scale fields in each block (ggml-common.h block structs).
F16_FIELDS = {
    "Q4_0": [0],  # d
    "Q4_1": [0, 2],  # d, m
    "Q5_0": [0],  # d
    "Q5_1": [0, 2],  # d, m
    "Q8_0": [0],  # d
    "Q2_K": [80, 82],  # d, dmin (after scales[16], qs[64])
    "Q3_K": [108],  # d (after hmask[32], qs[64], scales[12])
    "Q4_K": [0, 2],  # d, dmin
    "Q5_K": [0, 2],  # d, dmin
    "Q6_K": [208],  # d (after ql[128], qh[64], scales[16])
    "IQ4_NL": [0],  # d
    "IQ4_XS": [0],  # d (then scales_h, scales_l[4], qs[128])
    "TQ1_0": [52],  # d (after qs[48], qh[4])
    "TQ2_0": [64],  # d (after qs[64])
    "IQ3_XXS": [0],  # d (then qs[64], scales_and_signs[32])
    "IQ3_S": [0],  # d (then qs[64], qh[8], signs[32], scales[4])
    "IQ2_XXS": [0],  # d (then qs[32] u16)
    "IQ2_XS": [0],  # d (then qs[32] u16, scales[8])
    "IQ2_S": [0],  # d (then qs[32], signs[32], qh[8], scales[8])
    "IQ1_S": [0],  # d (then qs[32], qh[8] u16)
    "IQ1_M": [],  # no field: d is spread over the top nibbles of scales[4] u16 @48 (set_iq1m_d)
}

# Types whose fixtures also hold blocks with extreme scales: the largest f16 (either sign) and
# the smallest subnormal, beside the random ones.
EXTREME = {"IQ4_NL", "IQ4_XS", "IQ3_XXS", "IQ3_S", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ1_S", "IQ1_M"}
EXTREME_SCALES = np.array([65504.0, -65504.0, np.float16(2.0**-24)], dtype="<f2")

# Blocks per fixture: enough to cover every sub-block pattern several times.
BLOCKS_32 = 8  # legacy quants: 256 elements
BLOCKS_K = 4  # K-quants: 1024 elements
ELEMENTS_PLAIN = 96  # F32/F16/BF16


def random_scales(rng: np.random.Generator, n: int) -> np.ndarray:
    """n finite f16 values: magnitude log-uniform in [2^-14, 2^-1], random sign, ~5% zeros."""
    mag = np.exp2(rng.uniform(-14.0, -1.0, size=n))
    sign = rng.choice([-1.0, 1.0], size=n)
    vals = (mag * sign).astype(np.float16)
    vals[rng.random(n) < 0.05] = 0.0
    return vals


def finite_random_bits(rng: np.random.Generator, n: int, exp_mask: int, exp_shift: int,
                       width) -> np.ndarray:
    """n random bit patterns of an IEEE format, re-drawn while their exponent is all ones."""
    bits = rng.integers(0, np.iinfo(width).max, size=n, endpoint=True, dtype=width)
    while True:
        bad = ((bits >> exp_shift) & exp_mask) == exp_mask
        if not bad.any():
            return bits
        bits[bad] = rng.integers(0, np.iinfo(width).max, size=int(bad.sum()), endpoint=True,
                                 dtype=width)


def set_iq1m_d(blocks: np.ndarray, d: np.ndarray) -> None:
    """Writes f16 block scales `d` into IQ1_M blocks: nibble k of d's bits is the top nibble of
    the block's u16 scales[k] (bytes 48..56)."""
    bits = d.astype("<f2").view(np.uint16).astype(np.uint32)
    for k in range(4):
        lo, hi = 48 + 2 * k, 48 + 2 * k + 1
        blocks[:, hi] = (blocks[:, hi] & 0x0F) | (((bits >> (4 * k)) & 0xF) << 4).astype(np.uint8)


def make(name: str, rng: np.random.Generator) -> tuple[bytes, np.ndarray]:
    qtype = GGMLQuantizationType[name]
    block_size, type_size = GGML_QUANT_SIZES[qtype]
    if name == "F32":
        raw = finite_random_bits(rng, ELEMENTS_PLAIN, 0xFF, 23, np.uint32).astype("<u4").tobytes()
        data = np.frombuffer(raw, dtype=np.uint8)
    elif name == "F16":
        bits = finite_random_bits(rng, ELEMENTS_PLAIN, 0x1F, 10, np.uint16)
        bits[:4] = [0x0000, 0x8000, 0x0001, 0x83FF]  # +0, -0, smallest and largest subnormal
        data = np.frombuffer(bits.astype("<u2").tobytes(), dtype=np.uint8)
    elif name == "BF16":
        bits = finite_random_bits(rng, ELEMENTS_PLAIN, 0xFF, 7, np.uint16)
        bits[:4] = [0x0000, 0x8000, 0x0001, 0x807F]
        data = np.frombuffer(bits.astype("<u2").tobytes(), dtype=np.uint8)
    elif name == "MXFP4":
        # E8M0 exponents around 1 (2^-14..2^2), then the extremes: the smallest (subnormal halves)
        # and the largest whose doubled levels stay finite in f32.
        blocks = rng.integers(0, 256, size=(BLOCKS_32 + 3, type_size), dtype=np.uint8)
        blocks[:BLOCKS_32, 0] = rng.integers(113, 130, size=BLOCKS_32)
        blocks[BLOCKS_32:, 0] = [0, 1, 252]
        data = blocks.reshape(-1)
    else:
        n_blocks = BLOCKS_K if block_size == 256 else BLOCKS_32
        blocks = rng.integers(0, 256, size=(n_blocks, type_size), dtype=np.uint8)
        for off in F16_FIELDS[name]:
            scales = random_scales(rng, n_blocks).astype("<f2")
            blocks[:, off : off + 2] = scales.view(np.uint8).reshape(n_blocks, 2)
        if name == "IQ1_M":
            set_iq1m_d(blocks, random_scales(rng, n_blocks))
        if name in EXTREME:
            extreme = rng.integers(0, 256, size=(len(EXTREME_SCALES), type_size), dtype=np.uint8)
            if name == "IQ1_M":
                set_iq1m_d(extreme, EXTREME_SCALES)
            else:
                extreme[:, 0:2] = EXTREME_SCALES.view(np.uint8).reshape(-1, 2)
            blocks = np.concatenate([blocks, extreme])
        data = blocks.reshape(-1)

    expected = np.asarray(dequantize(data, qtype), dtype=np.float32).reshape(-1)
    expected = np.asarray(expected, dtype=np.float32).reshape(-1)
    n_elements = len(data) // type_size * block_size
    assert expected.shape == (n_elements,), (name, expected.shape, n_elements)
    assert np.isfinite(expected).all(), name
    return data.tobytes(), expected


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    names = ["F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0",
             "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS", "MXFP4", "TQ1_0", "TQ2_0",
             "IQ3_XXS", "IQ3_S", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ1_S", "IQ1_M"]
    for i, name in enumerate(names):
        rng = np.random.default_rng(20240501 + i)
        data, expected = make(name, rng)
        (OUT / f"{name}.bin").write_bytes(data)
        (OUT / f"{name}.f32").write_bytes(expected.astype("<f4").tobytes())
        print(f"{name}: {len(data)} bytes -> {len(expected)} values")

    types = [
        {"id": int(t), "name": t.name,
         "block_size": GGML_QUANT_SIZES[t][0], "block_bytes": GGML_QUANT_SIZES[t][1]}
        for t in GGMLQuantizationType
    ]
    (OUT / "types.json").write_text("[\n" + ",\n".join(json.dumps(t) for t in types) + "\n]\n")
    print(f"types.json: {len(types)} types")


if __name__ == "__main__":
    main()
