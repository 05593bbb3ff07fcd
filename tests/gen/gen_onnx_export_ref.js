#!/usr/bin/env node
/* ONNX Runtime's outputs on models that finetune exported to ONNX (src/export/onnx_export.c),
 * for tests/test_onnx_export.c: the C test computes the same models with finetune and
 * compares, so CI checks the exporter's numbers against ONNX Runtime without installing it.
 *
 *   make                      (build/finetune is used to export)
 *   (mkdir -p /tmp/ort && cd /tmp/ort && npm init -y >/dev/null && npm install --ignore-scripts onnxruntime-node)
 *   scripts/fetch-nsfwjs.sh
 *   NODE_PATH=/tmp/ort/node_modules node tests/gen/gen_onnx_export_ref.js [../shared]
 *
 * For each case (configs in tests/fixtures/onnx_export/<case>.json; the last two cases are
 * imported models exported as they are: Coral's MobileNetV2 TFLite from ../shared and nsfwjs's
 * MobileNetV2 TF.js from data-cache, and the last one openWakeWord's embedding network
 * imported from ONNX by `finetune convert --input-shape 1,76,32,1` first; skipped when absent,
 * steps 1-2 skipped; "ops2_graph" exercises leaky_relu, clip, max/min, splice and gather;
 * "ops3_graph" every math op; then openWakeWord's melspectrogram (its audio input scaled by
 * "scale": 1000) and hey_jarvis head, and PaddleOCR's direction classifier from data-cache/onnx
 * (scripts/fetch-onnx-models.sh), converted with --promote-constants;
 * "rnn_graph" the recurrent ops and conv_transpose2d; a case with configPath takes its config
 * from there, e.g. examples/fsdd-asr's BiLSTM):
 *   1. finetune export --model <case>.json --seed <seed> --out DIR      (seeded PyTorch-style init)
 *   2. every 1-D parameter in DIR/model.safetensors is moved, so batch/layer norms are not the
 *      identity: with u = hashU01(j, fnv1a32(name)) for element j,
 *        *running_var -> 0.5 + u;  *running_mean -> 0.4 (u - 0.5);  others v -> v + 0.4 (u - 0.5)
 *      and every initial state *.h0 / *.c0 (any shape) -> 0.8 (u - 0.5)
 *      (computed in double, rounded to float32; the C test does the same)
 *   3. finetune export --model DIR --format onnx [--batch 2] [--seq-len 8] --out <case>.onnx
 *   4. ONNX Runtime (all graph optimizations off) on a batch of 2:
 *        images/features: x[i] = scale (2 hashU01(i, 40 + k) - 1) (k = the case's index below,
 *                         scale 1 unless the case gives one), float32
 *        text (T = 8, vocab 99): input_ids[i] = floor(99 hashU01(i, 61)) as int32,
 *                                attention_mask row 0 all ones, row 1 ones then 3 zeros (padding)
 * "mlp_finetuned" is the MLP config (seed 1) fine-tuned instead of perturbed:
 *   finetune train --model mlp.json --seed 1 --data csv:train.csv --epochs 3 --batch 16
 *                  --optimizer sgd --lr 0.1 --threads 1 --workers 0 --progress none --out RUN
 * on 64 rows of 12 features (k - 1000) / 1000 with k = floor(2001 hashU01(12 r + j, 90)),
 * written "%.3f", label = the argmax of the first 5 features; then RUN/checkpoint.safetensors
 * is exported to ONNX (the C test trains the same way with ft_train).
 * "onnx_oww_finetuned" is openWakeWord's embedding (converted as above), fine-tuned by
 *   finetune train --model CONV --new-head 3 --train 'head.*,model.conv2d_19.*' --data csv:F
 *                  --epochs 3 --batch 4 --optimizer sgd --lr 1e-4 --seed 3 --threads 1 --workers 0
 * on 12 rows of the 76 x 32 x 1 = 2432 input values (k - 1000) / 1000 with
 * k = floor(2001 hashU01(2432 r + j, 92)), written "%.3f", label r % 3 (the settings are the
 * case's "finetune" metadata); its checkpoint is exported (the C test trains it with ft_train).
 * Writes tests/fixtures/onnx_export_ref.safetensors: "<case>.out" (ONNX Runtime's output) per
 * case; metadata "cases" (JSON: name, seed, batch: "dynamic"|2, text, input shape, output name,
 * the exported file's size and node count) and "onnxruntime" (version). Deterministic. */
"use strict";
const fs = require("fs");
const os = require("os");
const path = require("path");
const { execFileSync } = require("child_process");
const ort = require("onnxruntime-node");
const stio = require("./stio.js");

const root = path.resolve(__dirname, "../..");
const bin = path.join(root, "build/finetune");
const cfgDir = path.join(root, "tests/fixtures/onnx_export");
const outFile = path.join(root, "tests/fixtures/onnx_export_ref.safetensors");
const shared = path.resolve(root, process.argv[2] || "../shared");

/* k = index (input hash seed 40 + k); seed = init seed */
const CASES = [
  { name: "mlp", seed: 1, input: [12] },
  { name: "resnet18", seed: 2, input: [3, 40, 40] },
  { name: "mobilenet_v2", seed: 3, input: [3, 40, 40], batch: 2 },
  { name: "ops_graph", seed: 4, input: [3, 12, 12] },
  { name: "bert_seqcls", seed: 5, text: true },
  { name: "gpt2_seqcls", seed: 6, text: true },
  { name: "llama_lm", seed: 7, text: true },
  /* fine-tuned by `finetune train` (below), then exported */
  { name: "mlp", seed: 1, input: [12], train: true, key: "mlp_finetuned" },
  /* imported models with their real weights (no perturbation); skipped when absent */
  { name: "tflite_mobilenet_v2", import: "shared:models/coral-mobilenet/mobilenet_v2_1.0_224_quant.tflite", input: [3, 224, 224] },
  { name: "tfjs_nsfwjs_mobilenet_v2", import: "repo:data-cache/nsfwjs/mobilenet_v2", input: [3, 224, 224] },
  /* leaky_relu, clip, max/min and gather (splice's and a constant one) */
  { name: "ops2_graph", seed: 8, input: [10, 4] },
  /* openWakeWord's speech embedding, imported from ONNX (convert --input-shape 1,76,32,1) */
  { name: "onnx_oww_embedding", import: "shared:models/openwakeword/embedding_model.onnx", onnxShape: "1,76,32,1", input: [76, 32, 1] },
  /* every math op the exporter maps: exp .. reciprocal, pow (its special exponents and a
   * general one, and a tensor exponent), prelu, the comparisons, where (a comparison's and a
   * float condition), reduce_max/min, expand, N-d pad (constant/reflect/edge, with crops),
   * softmax/log_softmax over a dim other than the last */
  { name: "ops3_graph", seed: 9, input: [4, 6] },
  /* openWakeWord's front end (Pow, Log, ReduceMax, Clip, Conv, MatMul) and an MLP wake-word
   * head (layer norms as ReduceMean/Sub/Pow/Sqrt/Div), imported from ONNX; the audio is
   * scaled by 1000 (x = 1000 (2 hashU01 - 1): openWakeWord feeds int16-range samples) */
  { name: "onnx_oww_melspectrogram", import: "shared:models/openwakeword/melspectrogram.onnx", onnxShape: "1,1280", input: [1280], scale: 1000 },
  { name: "onnx_oww_hey_jarvis", import: "shared:models/openwakeword/hey_jarvis_v0.1.onnx", onnxShape: "1,16,96", input: [16, 96] },
  /* PaddleOCR's direction classifier (scripts/fetch-onnx-models.sh), weights promoted from Constants */
  { name: "onnx_paddle_cls", import: "repo:data-cache/onnx/ch_ppocr_mobile_v2.0_cls_infer.onnx", onnxShape: "1,3,48,192", promote: true,
    input: [3, 48, 192] },
  /* grouped-query attention: 6 heads share 2 kv heads (G = 3; llama_lm has G = 2) */
  { name: "llama_gqa", seed: 13, text: true },
  /* openWakeWord's embedding imported from ONNX, then fine-tuned by `finetune train --new-head`
   * (below: the new head and the last convolution trained, the rest frozen), then exported */
  { name: "onnx_oww_embedding", import: "shared:models/openwakeword/embedding_model.onnx", onnxShape: "1,76,32,1", input: [76, 32, 1],
    key: "onnx_oww_finetuned",
    finetune: { new_head: 3, train: "head.*,model.conv2d_19.*", rows: 12, hash_seed: 92, epochs: 3, batch: 4, lr: 1e-4, seed: 3 } },
  /* gathers along the dynamic batch dim: index 0 and index -1 (the last example), [2, 5] -> [1, 10] */
  { name: "gather_batch", seed: 10, input: [5] },
  /* lstm and gru in both directions with shared initial states, a reverse GRU in ONNX's
   * form, an LSTM's cell states (cell_output), rnn_final, conv_transpose2d */
  { name: "rnn_graph", seed: 11, input: [6, 5] },
  /* openWakeWord's BiLSTM wake-word head, imported from ONNX at batch 2 (its time-major
   * Transposes fix the batch: exported with --batch 2) */
  { name: "onnx_oww_hey_mycroft", import: "shared:models/openwakeword/hey_mycroft_v0.1.onnx", onnxShape: "2,16,96", input: [16, 96], batch: 2 },
  /* a native speech model: examples/fsdd-asr's 2-layer BiLSTM CTC acoustic model */
  { name: "fsdd_bilstm_logmel", seed: 12, input: [250, 40], configPath: "examples/fsdd-asr/bilstm_logmel.json" },
  /* Silero VAD v4 (scripts/fetch-onnx-models.sh) at batch 2 with its other inputs bound
   * (convert --bind): sr = 16000 and a nonzero LSTM state h = 0.1, c = -0.2 (a state shared
   * by every example: broadcast to the batch in the export) */
  { name: "onnx_silero_vad", import: "repo:data-cache/onnx/silero_vad.onnx", onnxShape: "2,512", bind: ["sr=16000", "h=0.1", "c=-0.2"],
    input: [512], batch: 2 },
];
const T = 8, VOCAB = 99, B = 2;

function fnv1a32(s) {
  let h = 0x811c9dc5;
  for (const c of Buffer.from(s, "utf8")) { h ^= c; h = Math.imul(h, 0x01000193) >>> 0; }
  return h >>> 0;
}

function perturb(file) {
  const { tensors, meta } = stio.load(file);
  for (const [name, t] of Object.entries(tensors)) {
    const state = /\.(h0|c0)$/.test(name); /* initial states (any shape): start nonzero */
    if ((t.shape.length !== 1 && !state) || t.dtype !== "F32") continue;
    const seed = fnv1a32(name);
    const v = Float32Array.from(t.data);
    for (let j = 0; j < v.length; j++) {
      const u = stio.hashU01(j, seed);
      if (state) v[j] = 0.8 * (u - 0.5);
      else if (name.endsWith("running_var")) v[j] = 0.5 + u;
      else if (name.endsWith("running_mean")) v[j] = 0.4 * (u - 0.5);
      else v[j] = v[j] + 0.4 * (u - 0.5);
    }
    t.data = v;
  }
  stio.save(file, tensors, meta);
}

function run(args) { return execFileSync(bin, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }); }

(async () => {
  if (!fs.existsSync(bin)) throw new Error(bin + " is missing: run make first");
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "ft-onnx-export-"));
  const out = {}, cases = [];
  try {
    for (const [k, c] of CASES.entries()) {
      let dir = path.join(tmp, c.name);
      const onnx = path.join(tmp, (c.key || c.name) + ".onnx");
      if (c.import) {
        const [where, rel] = c.import.split(/:(.*)/s);
        dir = path.join(where === "shared" ? shared : root, rel);
        if (!fs.existsSync(dir)) { console.log(`${c.name}: ${dir} is absent, skipped`); continue; }
        if (c.onnxShape) { /* an ONNX file: converted first (its input shape has symbolic dims) */
          const conv = path.join(tmp, c.name);
          run(["convert", "--model", dir, "--input-shape", c.onnxShape, ...(c.promote ? ["--promote-constants"] : []),
               ...(c.bind || []).flatMap((b) => ["--bind", b]), "--out", conv]);
          dir = conv;
        }
      } else if (c.train) {
        const rows = [];
        for (let r = 0; r < 64; r++) {
          const v = [];
          for (let j = 0; j < 12; j++) v.push((Math.floor(2001 * stio.hashU01(12 * r + j, 90)) - 1000) / 1000);
          let best = 0;
          for (let j = 1; j < 5; j++) if (v[j] > v[best]) best = j;
          rows.push(v.map((x) => x.toFixed(3)).join(",") + "," + best);
        }
        fs.writeFileSync(path.join(tmp, "train.csv"), rows.join("\n") + "\n");
        run(["train", "--model", path.join(cfgDir, c.name + ".json"), "--seed", String(c.seed), "--data", "csv:" + path.join(tmp, "train.csv"),
             "--epochs", "3", "--batch", "16", "--optimizer", "sgd", "--lr", "0.1", "--threads", "1", "--workers", "0",
             "--progress", "none", "--out", path.join(tmp, "run")]);
        dir = path.join(tmp, "run/checkpoint.safetensors");
      } else {
        run(["export", "--model", c.configPath ? path.join(root, c.configPath) : path.join(cfgDir, c.name + ".json"), "--seed", String(c.seed), "--out", dir]);
        perturb(path.join(dir, "model.safetensors"));
      }
      if (c.finetune) { /* an imported model fine-tuned by the CLI: f.rows CSV rows of the model's input */
        const f = c.finetune, per = c.input.reduce((a, b) => a * b, 1), rows = [];
        for (let r = 0; r < f.rows; r++) {
          const v = [];
          for (let j = 0; j < per; j++) v.push(((Math.floor(2001 * stio.hashU01(per * r + j, f.hash_seed)) - 1000) / 1000).toFixed(3));
          rows.push(v.join(",") + "," + (r % f.new_head));
        }
        const csv = path.join(tmp, (c.key || c.name) + ".csv"), runDir = path.join(tmp, "run_" + (c.key || c.name));
        fs.writeFileSync(csv, rows.join("\n") + "\n");
        run(["train", "--model", dir, "--new-head", String(f.new_head), "--train", f.train, "--data", "csv:" + csv,
             "--epochs", String(f.epochs), "--batch", String(f.batch), "--optimizer", "sgd", "--lr", String(f.lr), "--seed", String(f.seed),
             "--threads", "1", "--workers", "0", "--progress", "none", "--out", runDir]);
        dir = path.join(runDir, "checkpoint.safetensors");
      }
      const args = ["export", "--model", dir, "--format", "onnx", "--out", onnx];
      if (c.batch) args.push("--batch", String(c.batch));
      if (c.text) args.push("--seq-len", String(T));
      run(args);
      const s = await ort.InferenceSession.create(onnx, { graphOptimizationLevel: "disabled", intraOpNumThreads: 1 });
      const feeds = {};
      let shape;
      if (c.text) {
        shape = [B, T];
        const ids = Int32Array.from({ length: B * T }, (_, i) => Math.floor(VOCAB * stio.hashU01(i, 61)));
        const mask = Float32Array.from({ length: B * T }, (_, i) => (i >= T && i % T >= T - 3 ? 0 : 1));
        feeds.input_ids = new ort.Tensor("int32", ids, shape);
        feeds.attention_mask = new ort.Tensor("float32", mask, shape);
      } else {
        shape = [B, ...c.input];
        const n = shape.reduce((a, b) => a * b, 1);
        feeds[s.inputNames[0]] = new ort.Tensor("float32", Float32Array.from({ length: n }, (_, i) => (c.scale || 1) * (2 * stio.hashU01(i, 40 + k) - 1)), shape);
      }
      const r = await s.run(feeds);
      const y = r[s.outputNames[0]];
      const key = c.key || c.name;
      out[key + ".out"] = { dtype: "F32", shape: y.dims.slice(), data: Float32Array.from(y.data) };
      const bytes = fs.statSync(onnx).size;
      cases.push({ name: key, config: c.name, train: !!c.train, index: k, seed: c.seed || 0, import: c.import || "",
                   ...(c.onnxShape ? { input_shape: c.onnxShape } : {}), ...(c.promote ? { promote: true } : {}), ...(c.configPath ? { config_path: c.configPath } : {}),
                   ...(c.bind ? { bind: c.bind } : {}),
                   ...(c.scale ? { scale: c.scale } : {}), ...(c.finetune ? { finetune: c.finetune } : {}), batch: c.batch || "dynamic", text: !!c.text, input: shape,
                   inputs: s.inputNames, output: s.outputNames[0], onnx_bytes: bytes });
      let mx = 0;
      for (const v of y.data) mx = Math.max(mx, Math.abs(v));
      console.log(`${key}: inputs ${s.inputNames.join(",")} -> ${s.outputNames[0]} [${y.dims}], max |y| ${mx.toPrecision(4)}, ${bytes} bytes`);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const version = require(require.resolve("onnxruntime-node/package.json")).version;
  stio.save(outFile, out, { cases: JSON.stringify(cases), onnxruntime: version });
  console.log(`wrote ${path.relative(root, outFile)} (${fs.statSync(outFile).size} bytes, onnxruntime-node ${version})`);
})().catch((e) => { console.error("gen_onnx_export_ref: " + (e.stderr || "") + (e.stack || e)); process.exit(1); });
