#!/usr/bin/env python3
"""Seed corpus for fuzz_tflite and the synthetic models of tests/test_tflite.c.

Writes small TFLite flatbuffers (schema v3) with a minimal hand-written flatbuffer
serializer, valid ones and deliberately corrupt ones, into fuzz/corpus/tflite/, and prints
the C table of expected outputs that tests/test_tflite.c embeds (between the markers
"BEGIN generated" / "END generated"). The reference outputs are computed here in NHWC with
plain NumPy loops, independently of the importer's NHWC -> NCHW conversion.

Run from the repository root: /usr/bin/python3 fuzz/gen_corpus_tflite.py
"""
import os
import struct
import sys

import numpy as np

OUT = "fuzz/corpus/tflite"

# ---------------------------------------------------------------- flatbuffer writer
# Objects are laid out front to back: a uoffset must point forward, so every child is
# written after the slot that refers to it. Tables: vtable first, then the table.


class Table:
    def __init__(self, fields):
        self.fields = fields  # list of (field id, kind, value)


SCALAR = {"u8": "B", "i8": "b", "bool": "B", "i16": "h", "u16": "H", "i32": "i", "u32": "I", "f32": "f", "i64": "q", "u64": "Q"}


class Writer:
    def __init__(self):
        self.b = bytearray()
        self.vtables = {}

    def align(self, n):
        while len(self.b) % n:
            self.b.append(0)

    def table(self, t):
        fields = sorted(t.fields, key=lambda f: f[0])
        # inline layout: soffset, then fields (8-byte scalars aligned within the table)
        inline = []
        pos = 4
        for fid, kind, val in fields:
            size = struct.calcsize("<" + SCALAR[kind]) if kind in SCALAR else 4
            while pos % size:
                pos += 1
            inline.append((fid, kind, val, pos, size))
            pos += size
        tsize = pos
        nslots = (max(f[0] for f in fields) + 1) if fields else 0
        vt = [4 + 2 * nslots, tsize] + [0] * nslots
        for fid, kind, val, off, size in inline:
            vt[2 + fid] = off
        vt_bytes = struct.pack("<%dH" % len(vt), *vt)
        vt_pos = self.vtables.get(vt_bytes)  # shared vtables, as flatc does
        if vt_pos is None:
            self.align(2)
            vt_pos = len(self.b)
            self.b += vt_bytes
            self.vtables[vt_bytes] = vt_pos
        self.align(8)
        tpos = len(self.b)
        self.b += bytes(tsize)
        struct.pack_into("<i", self.b, tpos, tpos - vt_pos)
        children = []
        for fid, kind, val, off, size in inline:
            if kind in SCALAR:
                struct.pack_into("<" + SCALAR[kind], self.b, tpos + off, val)
            else:
                children.append((tpos + off, kind, val))
        for slot, kind, val in children:
            target = self.obj(kind, val)
            struct.pack_into("<I", self.b, slot, target - slot)
        return tpos

    def obj(self, kind, val):
        if kind == "table":
            return self.table(val)
        if kind == "str":
            self.align(4)
            p = len(self.b)
            data = val.encode()
            self.b += struct.pack("<I", len(data)) + data + b"\0"
            return p
        if kind == "bytes":
            # 16-aligned contents (force_align: 16)
            while (len(self.b) + 4) % 16:
                self.b.append(0)
            p = len(self.b)
            self.b += struct.pack("<I", len(val)) + bytes(val)
            return p
        if kind == "same":  # a vector of n offsets to one table (a file may share tables)
            t, n = val
            self.align(4)
            p = len(self.b)
            self.b += struct.pack("<I", n) + bytes(4 * n)
            target = self.table(t)
            for i in range(n):
                slot = p + 4 + 4 * i
                struct.pack_into("<I", self.b, slot, target - slot)
            return p
        if kind == "tables":
            self.align(4)
            p = len(self.b)
            self.b += struct.pack("<I", len(val)) + bytes(4 * len(val))
            for i, t in enumerate(val):
                target = self.table(t)
                slot = p + 4 + 4 * i
                struct.pack_into("<I", self.b, slot, target - slot)
            return p
        fmt = {"ints": "i", "floats": "f", "longs": "q"}[kind]
        self.align(8 if fmt == "q" else 4)
        if fmt == "q" and len(self.b) % 8 != 4:
            self.b += bytes(4)
        p = len(self.b)
        self.b += struct.pack("<I", len(val)) + struct.pack("<%d%s" % (len(val), fmt), *val)
        return p

    def finish(self, root):
        self.b = bytearray(8)
        self.b[4:8] = b"TFL3"
        r = self.table(root)
        struct.pack_into("<I", self.b, 0, r)
        return bytes(self.b)


# ---------------------------------------------------------------- model description

F32, F16, I32, U8, I8 = 0, 1, 2, 3, 9
CONV_2D, DEPTHWISE, AVG_POOL, MAX_POOL, FC, ADD, MUL, CONCAT = 3, 4, 1, 17, 9, 0, 18, 2
RESHAPE, SOFTMAX, PAD, MEAN, DEQUANTIZE, LSTM = 22, 25, 34, 40, 6, 44
SAME, VALID = 0, 1
NONE, RELU, RELU6 = 0, 1, 3


class Model:
    def __init__(self):
        self.tensors = []
        self.buffers = [b""]
        self.ops = []
        self.codes = []

    def tensor(self, name, shape, ttype=F32, data=None, scale=None, zp=None, qdim=0):
        buf = 0
        if data is not None:
            self.buffers.append(bytes(data))
            buf = len(self.buffers) - 1
        fields = [(0, "ints", list(shape)), (1, "i8", ttype), (2, "u32", buf), (3, "str", name)]
        if scale is not None:
            q = [(2, "floats", list(scale)), (3, "longs", list(zp if zp is not None else [0] * len(scale))), (6, "i32", qdim)]
            fields.append((4, "table", Table(q)))
        self.tensors.append(Table(fields))
        return len(self.tensors) - 1

    def op(self, code, inputs, outputs, opt_type=0, opt=None):
        if code not in self.codes:
            self.codes.append(code)
        f = [(0, "u32", self.codes.index(code)), (1, "ints", inputs), (2, "ints", outputs)]
        if opt_type:
            f += [(3, "u8", opt_type), (4, "table", Table(opt or []))]
        self.ops.append(Table(f))

    def build(self, inputs, outputs, version=3):
        codes = [Table([(0, "i8", min(c, 127)), (2, "i32", 1), (3, "i32", c)]) for c in self.codes]
        sg = Table([(0, "tables", self.tensors), (1, "ints", inputs), (2, "ints", outputs), (3, "tables", self.ops), (4, "str", "g")])
        bufs = [Table([(0, "bytes", b)] if b else []) for b in self.buffers]
        root = Table([(0, "u32", version), (1, "tables", codes), (2, "tables", [sg]), (3, "str", "ft test"), (4, "tables", bufs)])
        return Writer().finish(root)


def f32(a):
    return np.asarray(a, np.float32).tobytes()


# ---------------------------------------------------------------- NHWC reference ops


def same_pad(n, k, s, d=1):
    out = (n + s - 1) // s
    need = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
    return need // 2, need - need // 2


def conv_nhwc(x, w, b, stride, pad, depthwise=False):
    # x [H,W,C] (batch 1), w OHWI or [1,KH,KW,C*m]
    H, W, C = x.shape
    if pad == SAME:
        pt, pb = same_pad(H, w.shape[1], stride)
        pl, pr = same_pad(W, w.shape[2], stride)
    else:
        pt = pb = pl = pr = 0
    xp = np.zeros((H + pt + pb, W + pl + pr, C))
    xp[pt:pt + H, pl:pl + W] = x
    KH, KW = w.shape[1], w.shape[2]
    Ho, Wo = (xp.shape[0] - KH) // stride + 1, (xp.shape[1] - KW) // stride + 1
    O = w.shape[3] if depthwise else w.shape[0]
    y = np.zeros((Ho, Wo, O))
    for i in range(Ho):
        for j in range(Wo):
            patch = xp[i * stride:i * stride + KH, j * stride:j * stride + KW]
            for o in range(O):
                if depthwise:
                    c = o // (O // C)
                    y[i, j, o] = np.sum(patch[:, :, c] * w[0, :, :, o])
                else:
                    y[i, j, o] = np.sum(patch * w[o])
    return y + b


def pool_nhwc(x, k, stride, pad, avg):
    H, W, C = x.shape
    if pad == SAME:
        pt, pb = same_pad(H, k, stride)
        pl, pr = same_pad(W, k, stride)
    else:
        pt = pb = pl = pr = 0
    Ho, Wo = (H + pt + pb - k) // stride + 1, (W + pl + pr - k) // stride + 1
    y = np.zeros((Ho, Wo, C))
    for i in range(Ho):
        for j in range(Wo):
            r0, c0 = i * stride - pt, j * stride - pl
            r = slice(max(r0, 0), min(r0 + k, H))
            c = slice(max(c0, 0), min(c0 + k, W))
            win = x[r, c]
            y[i, j] = win.mean(axis=(0, 1)) if avg else win.max(axis=(0, 1))
    return y


# ---------------------------------------------------------------- the valid models


def model_mixed(rng):
    """float input 9x9x3: int8 per-channel conv (SAME, stride 2, asymmetric pad) + RELU,
    float16 depthwise (multiplier 2) through DEQUANTIZE + RELU6, max pool SAME, PAD,
    avg pool, MUL by a per-channel constant, CONCATENATION on channels, ADD, MEAN over H,
    RESHAPE needing NHWC order, uint8 FULLY_CONNECTED, SOFTMAX."""
    m = Model()
    x = rng.uniform(-1, 1, (9, 9, 3))
    t_in = m.tensor("input", [1, 9, 9, 3])
    # conv: int8 per-channel weights [4,3,3,3]
    wq = rng.integers(-127, 128, (4, 3, 3, 3)).astype(np.int8)
    ws = rng.uniform(0.002, 0.02, 4).astype(np.float32)
    w = wq.astype(np.float64) * ws[:, None, None, None]
    b = rng.uniform(-0.1, 0.1, 4).astype(np.float32)
    t_w = m.tensor("n/conv1/Conv2D", [4, 3, 3, 3], I8, wq.tobytes(), ws, [0] * 4, 0)
    t_b = m.tensor("n/conv1/bias", [4], F32, f32(b))
    t_c1 = m.tensor("n/conv1/Relu", [1, 5, 5, 4])
    m.op(CONV_2D, [t_in, t_w, t_b], [t_c1], 1, [(0, "i8", SAME), (1, "i32", 2), (2, "i32", 2), (3, "i8", RELU)])
    y = np.maximum(conv_nhwc(x, w, b, 2, SAME), 0)
    # depthwise via DEQUANTIZE of float16 weights [1,3,3,8]
    dw = rng.uniform(-0.5, 0.5, (1, 3, 3, 8)).astype(np.float16)
    db = rng.uniform(-0.1, 0.1, 8).astype(np.float32)
    t_dw16 = m.tensor("n/dw/depthwise_f16", [1, 3, 3, 8], F16, dw.tobytes())
    t_dw = m.tensor("n/dw/depthwise", [1, 3, 3, 8])
    m.op(DEQUANTIZE, [t_dw16], [t_dw])
    t_db = m.tensor("n/dw/bias", [8], F32, f32(db))
    t_d1 = m.tensor("n/dw/Relu6", [1, 5, 5, 8])
    m.op(DEPTHWISE, [t_c1, t_dw, t_db], [t_d1], 2, [(0, "i8", SAME), (1, "i32", 1), (2, "i32", 1), (3, "i32", 2), (4, "i8", RELU6)])
    y = np.clip(conv_nhwc(y, dw.astype(np.float64), db, 1, SAME, True), 0, 6)
    # max pool SAME 2x2/2 -> 3x3
    t_mp = m.tensor("n/pool/MaxPool", [1, 3, 3, 8])
    m.op(MAX_POOL, [t_d1], [t_mp], 5, [(0, "i8", SAME), (1, "i32", 2), (2, "i32", 2), (3, "i32", 2), (4, "i32", 2)])
    y = pool_nhwc(y, 2, 2, SAME, False)
    # pad top 1, right 1 -> 4x4
    t_pads = m.tensor("n/pad/paddings", [4, 2], I32, np.array([[0, 0], [1, 0], [0, 1], [0, 0]], np.int32).tobytes())
    t_pd = m.tensor("n/pad/Pad", [1, 4, 4, 8])
    m.op(PAD, [t_mp, t_pads], [t_pd])
    y = np.pad(y, ((1, 0), (0, 1), (0, 0)))
    # avg pool VALID 2x2/2 -> 2x2
    t_ap = m.tensor("n/pool2/AvgPool", [1, 2, 2, 8])
    m.op(AVG_POOL, [t_pd, ], [t_ap], 5, [(0, "i8", VALID), (1, "i32", 2), (2, "i32", 2), (3, "i32", 2), (4, "i32", 2)])
    y = pool_nhwc(y, 2, 2, VALID, True)
    # mul by per-channel constant [8]
    mc = rng.uniform(0.5, 2, 8).astype(np.float32)
    t_mc = m.tensor("n/scale/y", [8], F32, f32(mc))
    t_mul = m.tensor("n/scale/mul", [1, 2, 2, 8])
    m.op(MUL, [t_ap, t_mc], [t_mul], 21, [(0, "i8", NONE)])
    ym = y * mc
    # concat on channels -> 16
    t_cat = m.tensor("n/concat", [1, 2, 2, 16])
    m.op(CONCAT, [t_ap, t_mul], [t_cat], 10, [(0, "i32", 3), (1, "i8", NONE)])
    y = np.concatenate([y, ym], axis=2)
    # add to itself with RELU
    t_add = m.tensor("n/add", [1, 2, 2, 16])
    m.op(ADD, [t_cat, t_cat], [t_add], 11, [(0, "i8", RELU)])
    y = np.maximum(y + y, 0)
    # mean over H, keep dims -> [1,1,2,16]
    t_axes = m.tensor("n/mean/axes", [1], I32, np.array([1], np.int32).tobytes())
    t_mean = m.tensor("n/mean", [1, 1, 2, 16])
    m.op(MEAN, [t_add, t_axes], [t_mean], 27, [(0, "bool", 1)])
    y = y.mean(axis=0, keepdims=True)
    # reshape to [1, 32] (NHWC order: w then c)
    t_shape = m.tensor("n/flatten/shape", [2], I32, np.array([1, 32], np.int32).tobytes())
    t_flat = m.tensor("n/flatten/Reshape", [1, 32])
    m.op(RESHAPE, [t_mean, t_shape], [t_flat], 17, [(0, "ints", [1, 32])])
    y = y.reshape(-1)
    # uint8 fully connected [5, 32], zero point 7
    fq = rng.integers(0, 256, (5, 32)).astype(np.uint8)
    fs = 0.01
    fb = rng.uniform(-0.2, 0.2, 5).astype(np.float32)
    t_fw = m.tensor("n/logits/MatMul", [5, 32], U8, fq.tobytes(), [fs], [7])
    t_fb = m.tensor("n/logits/bias", [5], F32, f32(fb))
    t_lg = m.tensor("n/logits/BiasAdd", [1, 5])
    m.op(FC, [t_flat, t_fw, t_fb], [t_lg], 8, [(0, "i8", NONE)])
    logits = (fq.astype(np.float64) - 7) * np.float32(fs) @ y + fb
    t_sm = m.tensor("n/probs", [1, 5])
    m.op(SOFTMAX, [t_lg], [t_sm], 9, [(0, "f32", 1.0)])
    x_nchw = x.transpose(2, 0, 1)
    return m.build([t_in], [t_sm]), x_nchw.reshape(-1), logits


def model_quant(rng):
    """uint8 input like Coral's (scale 1/128, zero point 128): uint8 conv VALID with an
    int32 bias that has no scale of its own (input_scale * weight_scale), MEAN over H,W."""
    m = Model()
    xq = rng.integers(0, 256, (6, 6, 3))
    xr = (xq - 128) / 128.0
    t_in = m.tensor("image", [1, 6, 6, 3], U8, None, [1 / 128], [128])
    wq = rng.integers(0, 256, (2, 3, 3, 3)).astype(np.uint8)
    ws, wz = 0.02, 120
    w = (wq.astype(np.float64) - wz) * np.float32(ws)
    bq = rng.integers(-2000, 2000, 2).astype(np.int32)
    b = bq * (np.float32(1 / 128) * np.float32(ws))
    t_w = m.tensor("q/conv/weights", [2, 3, 3, 3], U8, wq.tobytes(), [ws], [wz])
    t_b = m.tensor("q/conv/bias", [2], I32, bq.tobytes())
    t_c = m.tensor("q/conv/out", [1, 4, 4, 2], U8, None, [0.05], [10])
    m.op(CONV_2D, [t_in, t_w, t_b], [t_c], 1, [(0, "i8", VALID), (1, "i32", 1), (2, "i32", 1)])
    y = conv_nhwc(xr, w, b, 1, VALID)
    t_axes = m.tensor("q/mean/axes", [2], I32, np.array([1, 2], np.int32).tobytes())
    t_mean = m.tensor("q/mean", [1, 2], U8, None, [0.05], [10])
    m.op(MEAN, [t_c, t_axes], [t_mean], 27, [(0, "bool", 0)])
    y = y.mean(axis=(0, 1))
    return m.build([t_in], [t_mean]), xr.transpose(2, 0, 1).reshape(-1), y


def model_unsupported_lstm(rng):
    m = Model()
    t_in = m.tensor("seq", [1, 4, 3])
    t_o = m.tensor("lstm/out", [1, 4, 2])
    m.op(LSTM, [t_in], [t_o], 71, [(0, "i8", 4), (1, "f32", 10.0)])
    return m.build([t_in], [t_o])


def model_lstm():
    """UNIDIRECTIONAL_SEQUENCE_LSTM in its 24-input form (4 steps of 3 features, 2 cells; optional
    peephole/projection/layer-norm inputs -1, zero state tensors), then RESHAPE to [1, 8]."""
    g = np.random.default_rng(44)
    m = Model()
    t_in = m.tensor("seq", [1, 4, 3])
    w = lambda name, shape: m.tensor(name, shape, F32, f32(g.uniform(-0.5, 0.5, shape)))
    wi = [w("lstm/w_i%d" % k, [2, 3]) for k in range(4)]
    wh = [w("lstm/w_h%d" % k, [2, 2]) for k in range(4)]
    bs = [w("lstm/b%d" % k, [2]) for k in range(4)]
    h0, c0 = m.tensor("lstm/h0", [1, 2]), m.tensor("lstm/c0", [1, 2])
    t_o = m.tensor("lstm/out", [1, 4, 2])
    m.op(LSTM, [t_in] + wi + wh + [-1, -1, -1] + bs + [-1, -1, h0, c0, -1, -1, -1, -1], [t_o], 71,
         [(0, "i8", 4), (1, "f32", 10.0)])
    t_shape = m.tensor("flat/shape", [2], I32, np.array([1, 8], np.int32).tobytes())
    t_flat = m.tensor("flat", [1, 8])
    m.op(RESHAPE, [t_o, t_shape], [t_flat], 17, [(0, "ints", [1, 8])])
    return m.build([t_in], [t_flat])


def model_repeated(n):
    """One RELU operator table referenced n times: n nodes that all want the name "y"."""
    m = Model()
    t_in = m.tensor("x", [1, 4])
    t_out = m.tensor("y", [1, 4])
    op = Table([(0, "u32", 0), (1, "ints", [t_in]), (2, "ints", [t_out])])
    codes = [Table([(0, "i8", 19), (2, "i32", 1), (3, "i32", 19)])]
    sg = Table([(0, "tables", m.tensors), (1, "ints", [t_in]), (2, "ints", [t_out]), (3, "same", (op, n))])
    root = Table([(0, "u32", 3), (1, "tables", codes), (2, "tables", [sg]), (4, "tables", [Table([])])])
    return Writer().finish(root)


def c_array(v):
    return "{" + ", ".join("%.9gf" % float(a) for a in v) + "}"


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(7)
    mixed, mx, my = model_mixed(rng)
    quant, qx, qy = model_quant(rng)
    files = {"valid_mixed.tflite": mixed, "valid_quant.tflite": quant, "unsupported_op.tflite": model_unsupported_lstm(rng),
             "valid_repeated_ops.tflite": model_repeated(900), "valid_lstm.tflite": model_lstm()}

    # corrupt variants of the mixed model
    b = bytearray(mixed)
    b[0:4] = struct.pack("<I", 0x7FFFFFF0)
    files["bad_root_offset.tflite"] = bytes(b)
    b = bytearray(mixed)
    root = struct.unpack_from("<I", b, 0)[0]
    struct.pack_into("<i", b, root, -0x10000)  # vtable far past the end
    files["bad_vtable.tflite"] = bytes(b)
    files["truncated_header.tflite"] = mixed[:6]
    files["truncated_half.tflite"] = mixed[: len(mixed) // 2]
    files["bad_version.tflite"] = Model_with(lambda m: None, version=2)
    files["bad_tensor_index.tflite"] = Model_with(lambda m: m.op(ADD, [0, 99], [1], 11, [(0, "i8", NONE)]))
    files["bad_opcode_index.tflite"] = Model_with(lambda m: m.ops.append(Table([(0, "u32", 9), (1, "ints", [0]), (2, "ints", [1])])))
    files["bad_buffer_size.tflite"] = Model_with(lambda m: m.tensor("short", [4], F32, b"\0" * 7))
    # a string whose length runs past the end: patch the description length
    b = bytearray(mixed)
    desc = b"ft test"
    at = b.find(desc) - 4
    struct.pack_into("<I", b, at, 0xFFFFFF)
    files["bad_string.tflite"] = bytes(b)
    for name, data in files.items():
        assert len(data) < 4096, (name, len(data))
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)

    print("/* BEGIN generated by fuzz/gen_corpus_tflite.py */")
    print("static const float mixed_x[] = %s;" % c_array(mx))
    print("static const float mixed_y[] = %s;" % c_array(my))
    print("static const float quant_x[] = %s;" % c_array(qx))
    print("static const float quant_y[] = %s;" % c_array(qy))
    print("static const struct { const char *file; const float *x, *y; int n_in, n_out; } synth[] = {")
    print('    {"valid_mixed.tflite", mixed_x, mixed_y, %d, %d},' % (len(mx), len(my)))
    print('    {"valid_quant.tflite", quant_x, quant_y, %d, %d},' % (len(qx), len(qy)))
    print("};")
    print("/* END generated */")


def Model_with(extra, version=3):
    """A two-tensor float model (input -> RELU) with one extra edit."""
    m = Model()
    t_in = m.tensor("x", [1, 4])
    t_out = m.tensor("y", [1, 4])
    m.op(19, [t_in], [t_out])
    extra(m)
    return m.build([t_in], [t_out], version)


if __name__ == "__main__":
    sys.exit(main())
