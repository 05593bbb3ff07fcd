#!/usr/bin/env node
/* Reference outputs for the TF.js importer (tests/test_tfjs.c), computed by TF.js itself.
 *
 * Writes, from the repository root:
 *   tests/fixtures/tfjs_tiny/model.json + weights.bin        a small Keras-style model built and
 *   tests/fixtures/tfjs_tiny/model_u8.json + weights_u8.bin  saved by tfjs-layers (float32, and the
 *                                                             same weights uint8-quantized)
 *   tests/fixtures/tfjs_ref.safetensors                      inputs and outputs (below)
 *
 * Needs @tensorflow/tfjs (pure JS, CPU backend) in a scratch folder outside the repo, and
 * scripts/fetch-nsfwjs.sh for the nsfwjs part (skipped when data-cache/nsfwjs is absent):
 *
 *   (mkdir -p /tmp/tfjs && cd /tmp/tfjs && npm init -y >/dev/null && npm install @tensorflow/tfjs@4.22.0)
 *   NODE_PATH=/tmp/tfjs/node_modules node tests/gen/gen_tfjs_ref.js [../shared]
 *
 * Deterministic: weights and inputs come from an integer hash (hash_u01 below, mirrored in
 * the C test), the tiny model is saved with fixed names, and tensors are written in name
 * order. Takes a few minutes (InceptionV3 in pure JS).
 *
 * Tensors (F32; images NHWC as TF.js sees them, outputs are [n, classes]):
 *   tiny.input [2,9,7,3]           hash_u01(i, 7) for the NHWC flat index i
 *   tiny_f32.logits / .probs [2,4]  model.json (the final softmax switched to linear for logits)
 *   tiny_u8.logits / .probs [2,4]   model_u8.json (TF.js dequantizes q * scale + min itself)
 *   <m>.logits / <m>.probs [3,5]    m = mobilenet_v2 (224), inception_v3 (299), images:
 *                                   0 = hash_u01(i, 11) noise, 1 = grace_hopper.bmp, 2 = cat.bmp, each
 *                                   RGB / 255 resized with tf.image.resizeBilinear(alignCorners=true),
 *                                   which is what nsfwjs's infer() does
 *   <m>.input_stats [3,2]          sum and sum of squares of each input (to check the C side's
 *                                   decode + resize before comparing logits)
 * Metadata: "tfjs_version", "layers" (the tiny model's layer classes), "images". */
"use strict";
const fs = require("fs");
const path = require("path");
const tf = require("@tensorflow/tfjs");

const root = path.resolve(__dirname, "../..");
const shared = path.resolve(root, process.argv[2] || "../shared");
const tinyDir = path.join(root, "tests/fixtures/tfjs_tiny");
const outFile = path.join(root, "tests/fixtures/tfjs_ref.safetensors");

/* lowbias32 (Chris Wellons): a uint32 -> uint32 hash; [0, 1) with 24 bits. Same in C. */
function hash_u32(x) {
  x >>>= 0;
  x ^= x >>> 16; x = Math.imul(x, 0x7feb352d) >>> 0;
  x ^= x >>> 15; x = Math.imul(x, 0x846ca68b) >>> 0;
  x ^= x >>> 16;
  return x >>> 0;
}
function hash_u01(i, seed) { return (hash_u32((i + Math.imul(seed, 0x9e3779b9)) >>> 0) >>> 8) / 16777216; }

function hashTensor(shape, seed, lo, hi) {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = lo + (hi - lo) * hash_u01(i, seed);
  return tf.tensor(v, shape);
}

/* ---------------- the tiny model ---------------- */
function buildTiny() {
  const L = tf.layers;
  const x = tf.input({ shape: [9, 7, 3], name: "x" });
  let a = L.conv2d({ name: "conv_a", filters: 4, kernelSize: [4, 3], strides: 2, padding: "same", activation: "relu" }).apply(x); // 5x4x4
  a = L.batchNormalization({ name: "bn_a", scale: false }).apply(a);
  a = L.reLU({ name: "relu_a", maxValue: 6 }).apply(a);
  const d = L.depthwiseConv2d({ name: "dw", kernelSize: 3, depthMultiplier: 2, padding: "same", useBias: true }).apply(a); // 5x4x8
  const b = L.batchNormalization({ name: "bn_b", epsilon: 0.01 }).apply(d);
  const r = L.activation({ name: "act_b", activation: "relu6" }).apply(b);
  const p = L.conv2d({ name: "conv_b", filters: 8, kernelSize: 1, useBias: false }).apply(b);
  const s = L.add({ name: "add" }).apply([r, p]);
  const mp = L.maxPooling2d({ name: "mp", poolSize: 3, strides: 1, padding: "same" }).apply(s);
  const ap = L.averagePooling2d({ name: "ap", poolSize: 3, strides: 1, padding: "same" }).apply(s);
  const cat = L.concatenate({ name: "cat", axis: -1 }).apply([mp, ap]); // 5x4x16
  const zp = L.zeroPadding2d({ name: "zp", padding: [[0, 1], [1, 0]] }).apply(cat); // 6x5x16
  const c = L.conv2d({ name: "conv_c", filters: 6, kernelSize: 2, strides: 2, padding: "valid", activation: "tanh" }).apply(zp); // 3x2x6
  const f1 = L.flatten({ name: "flat" }).apply(c); // 36, NHWC order
  let q = L.reshape({ name: "seq", targetShape: [6, 6] }).apply(c);
  q = L.dense({ name: "dense_seq", units: 5 }).apply(q); // [6, 5]
  const f2 = L.flatten({ name: "flat_seq" }).apply(q); // 30
  const g = L.globalAveragePooling2d({ name: "gap" }).apply(cat); // 16
  const cat2 = L.concatenate({ name: "cat2" }).apply([f1, f2, g]); // 82
  let h = L.dense({ name: "dense_1", units: 10, activation: "sigmoid" }).apply(cat2);
  h = L.dropout({ name: "drop", rate: 0.3 }).apply(h);
  const y = L.dense({ name: "dense_2", units: 4, activation: "softmax" }).apply(h);
  const model = tf.model({ inputs: x, outputs: y, name: "tiny" });
  /* Deterministic weights; BN variances positive. */
  let seed = 100;
  model.setWeights(model.weights.map((w) => {
    seed++;
    const pos = /moving_variance/.test(w.originalName || w.name);
    return hashTensor(w.shape, seed, pos ? 0.2 : -0.8, pos ? 1.5 : 0.8);
  }));
  return model;
}

async function saveArtifacts(model) {
  let art = null;
  await model.save(tf.io.withSaveHandler(async (a) => { art = a; return { modelArtifactsInfo: { dateSaved: new Date(0), modelTopologyType: "JSON" } }; }));
  return art;
}

/* tfjs-converter style affine uint8: value = q * scale + min. */
function quantizeU8(values) {
  let mn = Infinity, mx = -Infinity;
  for (const v of values) { mn = Math.min(mn, v); mx = Math.max(mx, v); }
  const scale = mx > mn ? (mx - mn) / 255 : 1;
  const q = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) q[i] = Math.max(0, Math.min(255, Math.round((values[i] - mn) / scale)));
  return { q, min: mn, scale };
}

function writeTiny(art) {
  fs.mkdirSync(tinyDir, { recursive: true });
  const f32 = new Float32Array(art.weightData);
  const model = {
    format: "layers-model", generatedBy: "TensorFlow.js tfjs-layers v" + tf.version.tfjs, convertedBy: null,
    modelTopology: art.modelTopology, /* tfjs-layers saves the model config itself (no "model_config") */
    weightsManifest: [{ paths: ["weights.bin"], weights: art.weightSpecs }],
  };
  fs.writeFileSync(path.join(tinyDir, "model.json"), JSON.stringify(model));
  fs.writeFileSync(path.join(tinyDir, "weights.bin"), Buffer.from(art.weightData));
  const specs = [], parts = [];
  let off = 0;
  for (const s of art.weightSpecs) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const { q, min, scale } = quantizeU8(f32.subarray(off, off + n));
    off += n;
    specs.push(Object.assign({}, s, { quantization: { dtype: "uint8", min, scale } }));
    parts.push(Buffer.from(q));
  }
  const mq = Object.assign({}, model, { weightsManifest: [{ paths: ["weights_u8.bin"], weights: specs }] });
  fs.writeFileSync(path.join(tinyDir, "model_u8.json"), JSON.stringify(mq));
  fs.writeFileSync(path.join(tinyDir, "weights_u8.bin"), Buffer.concat(parts));
}

/* ---------------- loading a standard model.json from disk ---------------- */
function topologyWithLinearOutput(topology) {
  const t = JSON.parse(JSON.stringify(topology));
  const mc = t.model_config || t;
  const outName = mc.config.output_layers[0][0];
  for (const l of mc.config.layers) if (l.name === outName || l.config.name === outName) l.config.activation = "linear";
  return t;
}

async function loadFromDisk(file, linearOutput) {
  const dir = path.dirname(file);
  const mj = JSON.parse(fs.readFileSync(file));
  const specs = [], bufs = [];
  for (const g of mj.weightsManifest) { for (const p of g.paths) bufs.push(fs.readFileSync(path.join(dir, p))); specs.push(...g.weights); }
  const data = Buffer.concat(bufs);
  const ab = data.buffer.slice(data.byteOffset, data.byteOffset + data.length);
  const topo = linearOutput ? topologyWithLinearOutput(mj.modelTopology) : mj.modelTopology;
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: topo, weightSpecs: specs, weightData: ab }));
}

/* 24-bit uncompressed BMP -> [H, W, 3] RGB in [0, 1] (what tf.browser.fromPixels / 255 gives). */
function readBmp(file) {
  const d = fs.readFileSync(file);
  if (d.toString("latin1", 0, 2) !== "BM") throw new Error(file + ": not a BMP");
  const off = d.readUInt32LE(10), w = d.readInt32LE(18), h0 = d.readInt32LE(22), bpp = d.readUInt16LE(28), comp = d.readUInt32LE(30);
  if (bpp !== 24 || comp !== 0) throw new Error(file + ": only 24-bit BI_RGB");
  const h = Math.abs(h0), stride = (w * 3 + 3) & ~3, v = new Float32Array(h * w * 3);
  for (let y = 0; y < h; y++) {
    const row = h0 > 0 ? h - 1 - y : y;
    for (let x = 0; x < w; x++) {
      const p = off + row * stride + x * 3;
      v[(y * w + x) * 3 + 0] = d[p + 2] / 255;
      v[(y * w + x) * 3 + 1] = d[p + 1] / 255;
      v[(y * w + x) * 3 + 2] = d[p + 0] / 255;
    }
  }
  return tf.tensor(v, [h, w, 3]);
}

/* ---------------- safetensors ---------------- */
function writeSafetensors(file, tensors, meta) {
  const header = {};
  const blobs = [];
  let off = 0;
  for (const name of Object.keys(tensors).sort()) {
    const { shape, data } = tensors[name];
    const b = Buffer.from(new Float32Array(data).buffer);
    header[name] = { dtype: "F32", shape, data_offsets: [off, off + b.length] };
    blobs.push(b);
    off += b.length;
  }
  const m = {};
  for (const k of Object.keys(meta).sort()) m[k] = meta[k];
  header.__metadata__ = m;
  let h = Buffer.from(JSON.stringify(header), "utf8");
  const pad = (8 - (h.length % 8)) % 8;
  h = Buffer.concat([h, Buffer.alloc(pad, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  fs.writeFileSync(file, Buffer.concat([len, h, ...blobs]));
}

async function outputs(modelFile, x) {
  const lin = await loadFromDisk(modelFile, true), soft = await loadFromDisk(modelFile, false);
  const logits = lin.predict(x), probs = soft.predict(x);
  const r = { logits: { shape: logits.shape, data: await logits.data() }, probs: { shape: probs.shape, data: await probs.data() } };
  tf.dispose([logits, probs]);
  lin.dispose();
  soft.dispose();
  return r;
}

(async () => {
  await tf.setBackend("cpu");
  const tensors = {};
  const meta = { tfjs_version: tf.version.tfjs };

  const tiny = buildTiny();
  const art = await saveArtifacts(tiny);
  writeTiny(art);
  meta.layers = JSON.stringify(tiny.layers.map((l) => l.getClassName()));
  const xt = hashTensor([2, 9, 7, 3], 7, 0, 1);
  tensors["tiny.input"] = { shape: xt.shape, data: await xt.data() };
  for (const [key, file] of [["tiny_f32", "model.json"], ["tiny_u8", "model_u8.json"]]) {
    const o = await outputs(path.join(tinyDir, file), xt);
    tensors[key + ".logits"] = o.logits;
    tensors[key + ".probs"] = o.probs;
    console.log(key, Array.from(o.probs.data).map((v) => v.toFixed(4)).join(" "));
  }

  const images = [path.join(shared, "models/coral-mobilenet/grace_hopper.bmp"), path.join(shared, "models/coral-mobilenet/cat.bmp")];
  meta.images = JSON.stringify(["hash_u01(i, 11)", "grace_hopper.bmp", "cat.bmp"]);
  for (const [name, size] of [["mobilenet_v2", 224], ["inception_v3", 299]]) {
    const file = path.join(root, "data-cache/nsfwjs", name, "model.json");
    if (!fs.existsSync(file)) { console.log(`SKIP ${name}: ${file} missing (run scripts/fetch-nsfwjs.sh)`); continue; }
    const xs = [hashTensor([1, size, size, 3], 11, 0, 1)];
    for (const f of images) {
      const img = readBmp(f);
      xs.push(tf.image.resizeBilinear(img, [size, size], true).reshape([1, size, size, 3]));
    }
    const x = tf.concat(xs, 0);
    const stats = [];
    for (let i = 0; i < xs.length; i++) {
      const v = await xs[i].data();
      let s = 0, s2 = 0;
      for (const e of v) { s += e; s2 += e * e; }
      stats.push(s, s2);
    }
    tensors[name + ".input_stats"] = { shape: [xs.length, 2], data: stats };
    const t0 = Date.now();
    const o = await outputs(file, x);
    tensors[name + ".logits"] = o.logits;
    tensors[name + ".probs"] = o.probs;
    console.log(name, `${Date.now() - t0} ms`, Array.from(o.probs.data).map((v) => v.toFixed(4)).join(" "));
  }
  writeSafetensors(outFile, tensors, meta);
  console.log("wrote", path.relative(root, outFile));
})().catch((e) => { console.error(e); process.exit(1); });
