#!/usr/bin/env python3
"""Writes a GGUF model split into parts as PyPI gguf's writer splits them (the layout and names of
llama.cpp's gguf-split: NAME-00001-of-0000N.gguf ..., split.no / split.count / split.tensors.count,
the metadata in the first part), for the split-model tests.

    python3 scripts/split_gguf.py MODEL.gguf OUT_PREFIX MAX_TENSORS_A_PART

OUT_PREFIX "dir/name" gives dir/name-00001-of-0000N.gguf and so on; the tensors keep their
stored types and bytes.
"""
import sys

import gguf


def split_copy(src, prefix, max_tensors):
    r = gguf.GGUFReader(src)
    w = gguf.GGUFWriter(prefix + ".gguf", r.fields["general.architecture"].contents(),
                        split_max_tensors=max_tensors)
    for key, field in r.fields.items():
        if key.startswith("GGUF.") or key == "general.architecture" or key.startswith("split."):
            continue
        vtype = field.types[0]
        sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        w.add_key_value(key, field.contents(), vtype, sub)
    for t in r.tensors:
        w.add_tensor(t.name, t.data, raw_shape=t.data.shape, raw_dtype=t.tensor_type)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    split_copy(sys.argv[1], sys.argv[2], int(sys.argv[3]))
