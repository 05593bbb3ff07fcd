#!/usr/bin/env node
/* Developer-only (never run by the tests or CI): ONNX Runtime on the conformance cases that
 * finetune imported and exported again (docs/onnx.md, "Export").
 *
 *   make -j2 build/tests/test_onnx_conformance
 *   mkdir -p /tmp/ft-conf-export
 *   FT_ONNX_EXPORT_DIR=/tmp/ft-conf-export build/tests/test_onnx_conformance
 *   (mkdir -p /tmp/ort && cd /tmp/ort && npm init -y >/dev/null && npm install --ignore-scripts onnxruntime-node)
 *   NODE_PATH=/tmp/ort/node_modules node scripts/onnx-export-ort.js /tmp/ft-conf-export
 *
 * The test leaves, per exported case, <case>.onnx (ft_model_export_onnx's file), <case>.x.bin
 * (the data input, float32), <case>.y<k>.bin (the case's expected outputs as float32) and
 * <case>.json (the input shape and output sizes). Each model is loaded by ONNX Runtime (all
 * graph optimizations off), run on the data input, and every output compared with the
 * expected one within the conformance test's tolerance |a - b| <= 1e-4 + 1e-3 |b|.
 * Prints each case that does not match or does not load, then the counts. */
"use strict";
const fs = require("fs");
const path = require("path");
const ort = require("onnxruntime-node");

function f32(file) {
  const b = fs.readFileSync(file);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
}
function close(a, b) {
  return (Number.isNaN(a) && Number.isNaN(b)) || (!Number.isFinite(b) && !Number.isNaN(b) && a === b) || Math.abs(a - b) <= 1e-4 + 1e-3 * Math.abs(b);
}

(async () => {
  const dir = process.argv[2];
  if (!dir || !fs.existsSync(dir)) throw new Error("usage: node scripts/onnx-export-ort.js DIR (written by FT_ONNX_EXPORT_DIR=DIR build/tests/test_onnx_conformance)");
  const cases = fs.readdirSync(dir).filter((f) => f.endsWith(".json")).map((f) => f.slice(0, -5)).sort();
  let match = 0, differ = 0, failed = 0;
  for (const name of cases) {
    const meta = JSON.parse(fs.readFileSync(path.join(dir, name + ".json"), "utf8"));
    try {
      const s = await ort.InferenceSession.create(path.join(dir, name + ".onnx"), { graphOptimizationLevel: "disabled", intraOpNumThreads: 1 });
      const x = new ort.Tensor("float32", f32(path.join(dir, name + ".x.bin")), meta.input_shape);
      const r = await s.run({ [s.inputNames[0]]: x });
      let why = "";
      if (s.outputNames.length !== meta.outputs.length) why = `${s.outputNames.length} outputs, want ${meta.outputs.length}`;
      for (let k = 0; !why && k < meta.outputs.length; k++) {
        const y = r[s.outputNames[k]].data, want = f32(path.join(dir, `${name}.y${k}.bin`));
        if (y.length !== want.length) { why = `output ${k}: ${y.length} values, want ${want.length}`; break; }
        for (let i = 0; i < want.length; i++)
          if (!close(Number(y[i]), want[i])) { why = `output ${k} [${i}]: ${y[i]}, want ${want[i]}`; break; }
      }
      if (why) { differ++; console.log(`differs   ${name}: ${why}`); } else match++;
    } catch (e) {
      failed++;
      console.log(`not run   ${name}: ${String(e.message || e).split("\n")[0]}`);
    }
  }
  const version = require(require.resolve("onnxruntime-node/package.json")).version;
  console.log(`ONNX Runtime ${version} on ${cases.length} exported conformance cases: ${match} match the expected outputs, ${differ} differ, ${failed} do not load or run`);
  process.exit(differ || failed ? 1 : 0);
})().catch((e) => { console.error("onnx-export-ort: " + (e.stack || e)); process.exit(2); });
