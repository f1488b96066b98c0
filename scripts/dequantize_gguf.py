#!/usr/bin/env python3
"""Writes a copy of a GGUF model with every tensor dequantized to F32 (same metadata).

    python3 scripts/dequantize_gguf.py MODEL.gguf OUT-f32.gguf

Dequantization is PyPI gguf's `gguf.quants.dequantize`, which our block formats match bit for
bit; llama.cpp on the copy is then the like-for-like reference for our engine on the original.
"""
import sys

import gguf
import numpy as np
from gguf.quants import dequantize


def dequantize_copy(src, dst):
    """Writes `dst`: every tensor of `src` as F32, same metadata. Returns {tensor name: the
    source's type name}."""
    r = gguf.GGUFReader(src)
    w = gguf.GGUFWriter(dst, r.fields["general.architecture"].contents())
    for key, field in r.fields.items():
        if key.startswith("GGUF.") or key == "general.architecture":
            continue
        vtype = field.types[0]
        sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        w.add_key_value(key, field.contents(), vtype, sub)
    types = {}
    for t in r.tensors:
        types[t.name] = t.tensor_type.name
        shape = [int(x) for x in reversed(t.shape)]
        w.add_tensor(t.name, dequantize(t.data, t.tensor_type).astype(np.float32).reshape(shape))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return types


def main():
    dequantize_copy(sys.argv[1], sys.argv[2])


if __name__ == "__main__":
    main()
