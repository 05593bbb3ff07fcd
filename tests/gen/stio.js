/* Tiny safetensors writer/reader for the node fixture generators (the twin of stio.py).
 *
 * Format: 8-byte little-endian header length N, then N bytes of JSON
 *   {"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...,
 *    "__metadata__": {str: str}}
 * padded with spaces to a multiple of 8, then the raw little-endian tensor data.
 * Tensors are {dtype: "F32"|"I32"|"I64"|"U8", shape, data (a typed array or plain array)}
 * and are written in name order, so the output is byte-for-byte reproducible. */
"use strict";
const fs = require("fs");

const CTOR = { F32: Float32Array, I32: Int32Array, I64: BigInt64Array, U8: Uint8Array };

function toBytes(dtype, data) {
  const C = CTOR[dtype];
  if (!C) throw new Error("stio: unsupported dtype " + dtype);
  let a = data instanceof C ? data : C.from(dtype === "I64" ? Array.from(data, (v) => BigInt(v)) : data);
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

function save(file, tensors, meta) {
  const header = {};
  const blobs = [];
  let off = 0;
  for (const name of Object.keys(tensors).sort()) {
    const t = tensors[name];
    const dtype = t.dtype || "F32";
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== n) throw new Error(`stio: ${name}: ${t.data.length} values for shape [${t.shape}]`);
    const b = toBytes(dtype, t.data);
    header[name] = { dtype, shape: t.shape, data_offsets: [off, off + b.length] };
    blobs.push(b);
    off += b.length;
  }
  if (meta) {
    const m = {};
    for (const k of Object.keys(meta).sort()) {
      if (typeof meta[k] !== "string") throw new Error("stio: metadata must be str -> str");
      m[k] = meta[k];
    }
    header.__metadata__ = m;
  }
  let h = Buffer.from(JSON.stringify(header), "utf8");
  h = Buffer.concat([h, Buffer.alloc((8 - (h.length % 8)) % 8, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  const tmp = file + ".tmp." + process.pid;
  fs.writeFileSync(tmp, Buffer.concat([len, h, ...blobs]));
  fs.renameSync(tmp, file);
}

function load(file) {
  const buf = fs.readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.toString("utf8", 8, 8 + n));
  const meta = header.__metadata__ || {};
  delete header.__metadata__;
  const out = {};
  for (const [name, info] of Object.entries(header)) {
    const [b, e] = info.data_offsets;
    const C = CTOR[info.dtype];
    const bytes = buf.subarray(8 + n + b, 8 + n + e);
    const copy = new Uint8Array(bytes); /* aligned copy */
    out[name] = { dtype: info.dtype, shape: info.shape, data: new C(copy.buffer, 0, copy.byteLength / C.BYTES_PER_ELEMENT) };
  }
  return { tensors: out, meta };
}

/* lowbias32 (Chris Wellons): uint32 -> uint32; hashU01 gives [0, 1) with 24 bits. The same
 * function is in tests/gen/gen_tfjs_ref.js and the C tests (hash_u01). */
function hashU32(x) {
  x >>>= 0;
  x ^= x >>> 16; x = Math.imul(x, 0x7feb352d) >>> 0;
  x ^= x >>> 15; x = Math.imul(x, 0x846ca68b) >>> 0;
  x ^= x >>> 16;
  return x >>> 0;
}
function hashU01(i, seed) { return (hashU32((i + Math.imul(seed, 0x9e3779b9)) >>> 0) >>> 8) / 16777216; }

/* 16-bit PCM mono WAV -> Float32Array of the raw sample values (-32768..32767), and the rate. */
function readWav(file) {
  const b = fs.readFileSync(file);
  if (b.toString("ascii", 0, 4) !== "RIFF" || b.toString("ascii", 8, 12) !== "WAVE") throw new Error(file + ": not a WAV file");
  let off = 12, rate = 0, bits = 0, ch = 0;
  while (off + 8 <= b.length) {
    const id = b.toString("ascii", off, off + 4), size = b.readUInt32LE(off + 4);
    if (id === "fmt ") { ch = b.readUInt16LE(off + 10); rate = b.readUInt32LE(off + 12); bits = b.readUInt16LE(off + 22); }
    if (id === "data") {
      if (bits !== 16 || ch !== 1) throw new Error(`${file}: ${ch} channels of ${bits} bits, expected 16-bit mono`);
      const n = size / 2, a = new Float32Array(n);
      for (let i = 0; i < n; i++) a[i] = b.readInt16LE(off + 8 + 2 * i);
      return { rate, samples: a };
    }
    off += 8 + size + (size & 1);
  }
  throw new Error(file + ": no data chunk");
}

module.exports = { save, load, hashU32, hashU01, readWav };
