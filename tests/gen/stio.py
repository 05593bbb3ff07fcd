"""Tiny safetensors writer/reader for the fixture generators (no safetensors package here).

Format: 8-byte little-endian header length N, then N bytes of JSON
  {"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...,
   "__metadata__": {str: str}}
padded with spaces to a multiple of 8, then the raw little-endian tensor data
(offsets are relative to the start of the data section).

Tensors may be torch tensors or numpy arrays; they are written in name order so the
output is byte-for-byte reproducible.
"""
import json
import struct

import numpy as np

_NP_TO_ST = {
    np.dtype("float32"): "F32", np.dtype("float16"): "F16", np.dtype("float64"): "F64",
    np.dtype("int32"): "I32", np.dtype("int64"): "I64", np.dtype("uint8"): "U8",
    np.dtype("int8"): "I8", np.dtype("bool"): "BOOL",
}
_ST_TO_NP = {v: k for k, v in _NP_TO_ST.items()}


def _to_numpy(t):
    if hasattr(t, "detach"):  # torch tensor
        t = t.detach().cpu().contiguous().numpy()
    a = np.asarray(t)  # (np.ascontiguousarray would turn shape [] into [1])
    if not a.flags.c_contiguous:
        a = a.copy(order="C")
    if a.dtype not in _NP_TO_ST:
        raise TypeError("unsupported dtype %s" % a.dtype)
    return a.astype(a.dtype.newbyteorder("<"), copy=False)


def save(path, tensors, metadata=None):
    """tensors: dict name -> tensor/array; metadata: dict str -> str."""
    header = {}
    blobs = []
    off = 0
    for name in sorted(tensors):
        a = _to_numpy(tensors[name])
        b = a.tobytes()
        header[name] = {"dtype": _NP_TO_ST[a.dtype.newbyteorder("=")], "shape": list(a.shape),
                        "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError("metadata must be str -> str")
        header["__metadata__"] = dict(sorted(metadata.items()))
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def load(path):
    """Returns (dict name -> numpy array, metadata dict)."""
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    data = buf[8 + n:]
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        dt = _ST_TO_NP[info["dtype"]].newbyteorder("<")
        out[name] = np.frombuffer(data[b:e], dtype=dt).reshape(info["shape"]).copy()
    return out, meta
