#!/usr/bin/env python3
"""Writes the seed corpus for fuzz/fuzz_safetensors.c into fuzz/corpus/safetensors/.

Standard library only. Valid files follow the reference layout (compact JSON header padded
with spaces to a multiple of 8 bytes); broken ones each carry one defect. Each file < 4 KB.
Run from the repository root: python3 fuzz/gen_corpus_safetensors.py
"""
import json
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "safetensors")
SIZES = {"F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I32": 4, "I64": 8, "U8": 1, "I8": 1, "BOOL": 1}


def header_bytes(hdr, pad=True):
    h = json.dumps(hdr, separators=(",", ":")).encode()
    if pad:
        h += b" " * (-len(h) % 8)
    return h


def image(tensors, meta=None, pad=True):
    """tensors: list of (name, dtype, shape, raw bytes)."""
    hdr, data = {}, b""
    if meta is not None:
        hdr["__metadata__"] = meta
    for name, dtype, shape, raw in tensors:
        hdr[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = header_bytes(hdr, pad)
    return struct.pack("<Q", len(h)) + h + data


def raw_header(text, data=b""):
    h = text.encode()
    return struct.pack("<Q", len(h)) + h + data


def main():
    os.makedirs(OUT, exist_ok=True)
    f32 = struct.pack("<4f", 1.0, -2.0, 0.5, 3.25)
    f16 = struct.pack("<6H", 0x3C00, 0xC000, 0x7BFF, 0x0001, 0x7C00, 0x7E00)
    bf16 = struct.pack("<4H", 0x3F80, 0xC040, 0x4049, 0x7F80)
    files = {
        "valid_f32": image([("fc.weight", "F32", [2, 2], f32)]),
        "valid_mixed_meta": image(
            [("h", "F16", [2, 3], f16), ("b", "BF16", [4], bf16),
             ("d", "F64", [1], struct.pack("<d", -2.5)), ("i", "I32", [2], struct.pack("<2i", -7, 9)),
             ("l", "I64", [1, 1], struct.pack("<q", 1 << 40)), ("u", "U8", [3], b"\x00\x7f\xff"),
             ("s", "I8", [2], b"\x80\x05"), ("z", "BOOL", [3], b"\x00\x01\x02")],
            meta={"format": "pt", "step": "12"}),
        "valid_scalar_empty": image([("step", "I64", [], struct.pack("<q", 3)), ("e", "F32", [0, 5], b"")]),
        "valid_meta_only": image([], meta={"k": "v"}),
        "valid_unpadded": image([("a", "F16", [1], struct.pack("<H", 0x3555))], pad=False),
        "bad_json": raw_header('{"a":{"dtype":"F32",'),
        "bad_not_object": raw_header("[1,2,3]"),
        "bad_past_end": raw_header('{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}', f32[:8]),
        "bad_overlap": raw_header('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
                                  '"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', f32[:12]),
        "bad_negative": raw_header('{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}', f32[:4]),
        "bad_nbytes": raw_header('{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', f32[:8]),
        "bad_dtype": raw_header('{"a":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}', b"\x00"),
        "bad_shape_overflow": raw_header('{"a":{"dtype":"F32","shape":[4294967296,4294967296,4],'
                                         '"data_offsets":[0,4]}}', f32[:4]),
        "bad_meta_value": raw_header('{"__metadata__":{"k":1}}'),
        "bad_huge_header_len": struct.pack("<Q", 1 << 62) + b"{}",
        "bad_trailing_bytes": raw_header('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"xyz"),
    }
    full = files["valid_mixed_meta"]
    files["bad_truncated"] = full[: len(full) - 5]
    for name, blob in files.items():
        assert len(blob) < 4096, name
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(blob)
    print(f"wrote {len(files)} files to {OUT}")


if __name__ == "__main__":
    main()
