// Model tests through every runtime in RUNNERS, for the trained models in models/ (digits,
// fashion, cancer):
//   golden    models/<name>/golden/input.npy gives models/<name>/golden/output.npy (written by
//             onnxruntime when the model was trained) to within GOLDEN_TOLERANCE per element;
//   accuracy  models/<name>/test_x.npy classified against test_y.npy reaches the accuracy the
//             model card promises.
// (The random-weight models of build/models through the wasm build are in wasm-models.test.mjs.)
//
// A runner is runFn(modelPath, input, names) -> Promise<{dtype, shape, data}>, the model's output
// `names.outputName` for `input` ({dtype, shape, data}, the layout of npy.mjs) fed as
// `names.inputName`. Adding a runtime is one line in RUNNERS. The edgeinfer runners need
// build/edgeinfer (`make`; EDGEINFER_CLI overrides the path) and dist/edgeinfer.mjs
// (`make wasm`): when one is missing its tests fail rather than skip, so a broken build step
// cannot turn into a green run.

import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ort from 'onnxruntime-node';
import { requireDist } from './helpers.mjs';
import { readNpy, writeNpy } from './npy.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const TRAINED_MODELS_DIR = join(ROOT, 'models');
const CLI = process.env.EDGEINFER_CLI ? resolve(process.env.EDGEINFER_CLI) : join(ROOT, 'build', 'edgeinfer');
const WASM_MODULE = join(ROOT, 'dist', 'edgeinfer.mjs');

/** Largest allowed |actual - golden| for any output element (the outputs are probabilities). */
export const GOLDEN_TOLERANCE = 1e-5;

/** Test rows per runFn call in the accuracy tests, which keeps activation memory small. */
export const ACCURACY_BATCH = 500;

// uint8 [N,28,28] -> float32 [N,1,28,28] in 0..1, as models/fashion/train.py feeds the model.
function fashionInput(x) {
  const data = new Float32Array(x.data.length);
  for (let i = 0; i < data.length; i++) data[i] = x.data[i] / 255;
  return { dtype: 'float32', shape: [x.shape[0], 1, x.shape[1], x.shape[2]], data };
}

/**
 * The models under test. minAccuracy is the threshold stated in models/<name>/README.md;
 * toInput turns test_x.npy into the model's input.
 */
export const MODELS = {
  digits: { inputName: 'image', outputName: 'probs', classes: 10, minAccuracy: 0.97, toInput: (x) => x },
  fashion: { inputName: 'image', outputName: 'probs', classes: 10, minAccuracy: 0.88, toInput: fashionInput },
  cancer: { inputName: 'features', outputName: 'probs', classes: 2, minAccuracy: 0.95, toInput: (x) => x },
};

/** Reference runner: onnxruntime-node. */
export async function runOnnxruntime(modelPath, input, { inputName, outputName }) {
  const session = await ort.InferenceSession.create(modelPath);
  try {
    const results = await session.run({ [inputName]: new ort.Tensor(input.dtype, input.data, input.shape) });
    const out = results[outputName];
    if (!out) throw new Error(`onnxruntime: no output '${outputName}' (got ${Object.keys(results).join(', ')})`);
    return { dtype: out.type, shape: Array.from(out.dims), data: out.data };
  } finally {
    await session.release();
  }
}

/** The native CLI: `edgeinfer run MODEL -i NAME=FILE.npy -o OUTDIR` writes OUTDIR/<output>.npy. */
export async function runEdgeinferNative(modelPath, input, { inputName, outputName }) {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build the native CLI first (make)`);
  const dir = mkdtempSync(join(tmpdir(), 'edgeinfer-models-'));
  try {
    const inputPath = join(dir, 'input.npy');
    const outDir = join(dir, 'out');
    mkdirSync(outDir);
    writeFileSync(inputPath, writeNpy(input.dtype, input.shape, input.data));
    const args = ['run', modelPath, '-i', `${inputName}=${inputPath}`, '-o', outDir];
    const r = spawnSync(CLI, args, { encoding: 'utf8', timeout: 300_000 });
    const cmd = `${CLI} ${args.join(' ')}`;
    if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
    if (r.status !== 0) throw new Error(`${cmd} exited with ${r.status ?? r.signal}\n${r.stderr || r.stdout}`.trimEnd());
    const outPath = join(outDir, `${outputName}.npy`);
    if (!existsSync(outPath)) {
      throw new Error(`${cmd} wrote no ${outputName}.npy (found: ${readdirSync(outDir).join(', ') || 'nothing'})`);
    }
    return readNpy(readFileSync(outPath));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

let wasmApi;
// Imported on first use, so that a missing wasm build fails only the tests that need it.
async function loadWasmApi() {
  if (!existsSync(WASM_MODULE)) throw new Error(`${WASM_MODULE} is missing: build the wasm runtime first (make wasm)`);
  wasmApi ??= await import(pathToFileURL(WASM_MODULE).href);
  return wasmApi;
}

/** The WebAssembly build through its JS loader, dist/edgeinfer.mjs. */
export async function runEdgeinferWasm(modelPath, input, { inputName, outputName }) {
  const { InferenceSession, Tensor } = await loadWasmApi();
  const session = await InferenceSession.create(new Uint8Array(readFileSync(modelPath)));
  try {
    const results = await session.run({ [inputName]: new Tensor(input.dtype, input.data, input.shape) });
    const out = results[outputName];
    if (!out) throw new Error(`edgeinfer-wasm: no output '${outputName}' (got ${Object.keys(results).join(', ')})`);
    return { dtype: out.type, shape: Array.from(out.dims), data: out.data };
  } finally {
    await session.release();
  }
}

/** Every runtime the model tests run through: one line per runtime. */
export const RUNNERS = {
  onnxruntime: runOnnxruntime,
  'edgeinfer-native': runEdgeinferNative,
  'edgeinfer-wasm': runEdgeinferWasm,
};

function loadNpy(path) {
  assert.ok(existsSync(path), `${path} is missing: train the models first (models/train_all.sh)`);
  return readNpy(readFileSync(path));
}

function modelFiles(name) {
  const spec = MODELS[name];
  if (!spec) throw new Error(`unknown model '${name}' (known: ${Object.keys(MODELS).join(', ')})`);
  const dir = join(TRAINED_MODELS_DIR, name);
  const modelPath = join(dir, 'model.onnx');
  assert.ok(existsSync(modelPath), `${modelPath} is missing: train the models first (models/train_all.sh)`);
  return { spec, dir, modelPath };
}

function checkShape(name, out, dtype, shape) {
  assert.equal(out.dtype, dtype, `${name}: output dtype ${out.dtype}, expected ${dtype}`);
  const got = Array.from(out.shape, Number);
  assert.deepEqual(got, shape, `${name}: output shape [${got}], expected [${shape}]`);
  assert.equal(out.data.length, shape.reduce((a, b) => a * b, 1), `${name}: output has ${out.data.length} elements`);
}

/**
 * Runs models/<name>/golden/input.npy through runFn and compares with golden/output.npy.
 * Throws (an AssertionError naming the worst element) when an element differs by more than
 * GOLDEN_TOLERANCE; otherwise returns the largest difference.
 */
export async function checkGolden(runFn, name) {
  const { spec, dir, modelPath } = modelFiles(name);
  const input = loadNpy(join(dir, 'golden', 'input.npy'));
  const expected = loadNpy(join(dir, 'golden', 'output.npy'));
  const actual = await runFn(modelPath, input, spec);
  checkShape(name, actual, expected.dtype, expected.shape);

  let maxAbsError = 0;
  let worst = -1;
  for (let i = 0; i < expected.data.length; i++) {
    const err = Math.abs(actual.data[i] - expected.data[i]);
    const e = Number.isNaN(err) ? Infinity : err;
    if (e > maxAbsError) {
      maxAbsError = e;
      worst = i;
    }
  }
  if (maxAbsError > GOLDEN_TOLERANCE) {
    const cols = expected.shape[expected.shape.length - 1];
    assert.fail(`${name}: max |actual - golden| = ${maxAbsError.toExponential(3)} at ` +
      `[${Math.floor(worst / cols)}, ${worst % cols}] (got ${actual.data[worst]}, expected ` +
      `${expected.data[worst]}) exceeds ${GOLDEN_TOLERANCE}`);
  }
  return { maxAbsError };
}

/**
 * Classifies models/<name>/test_x.npy through runFn, ACCURACY_BATCH rows per call, and counts
 * argmax hits against test_y.npy. Throws when the accuracy is below the model's minAccuracy;
 * otherwise returns {accuracy, correct, total}.
 */
export async function checkAccuracy(runFn, name, modelPath = modelFiles(name).modelPath) {
  const { spec, dir } = modelFiles(name);
  const x = spec.toInput(loadNpy(join(dir, 'test_x.npy')));
  const y = loadNpy(join(dir, 'test_y.npy'));
  const total = x.shape[0];
  assert.equal(y.shape[0], total, `${name}: test_x has ${total} rows, test_y ${y.shape[0]}`);
  const rowSize = x.shape.slice(1).reduce((a, b) => a * b, 1);

  let correct = 0;
  for (let start = 0; start < total; start += ACCURACY_BATCH) {
    const count = Math.min(ACCURACY_BATCH, total - start);
    const batch = {
      dtype: x.dtype,
      shape: [count, ...x.shape.slice(1)],
      data: x.data.slice(start * rowSize, (start + count) * rowSize),
    };
    const out = await runFn(modelPath, batch, spec);
    checkShape(name, out, 'float32', [count, spec.classes]);
    for (let r = 0; r < count; r++) {
      let best = 0;
      for (let c = 1; c < spec.classes; c++) {
        if (out.data[r * spec.classes + c] > out.data[r * spec.classes + best]) best = c;
      }
      if (best === Number(y.data[start + r])) correct++;
    }
  }
  const accuracy = correct / total;
  assert.ok(accuracy >= spec.minAccuracy,
    `${name}: accuracy ${(100 * accuracy).toFixed(2)}% (${correct}/${total}) is below ` +
    `the model card's ${(100 * spec.minAccuracy).toFixed(0)}%`);
  return { accuracy, correct, total };
}

for (const [runner, runFn] of Object.entries(RUNNERS)) {
  for (const name of Object.keys(MODELS)) {
    test(`${name}: golden output via ${runner}`, { timeout: 300_000 }, async (t) => {
      const { maxAbsError } = await checkGolden(runFn, name);
      t.diagnostic(`${name} via ${runner}: max |error| ${maxAbsError.toExponential(3)} (limit ${GOLDEN_TOLERANCE})`);
    });
    test(`${name}: held-out accuracy via ${runner}`, { timeout: 600_000 }, async (t) => {
      const { accuracy, correct, total } = await checkAccuracy(runFn, name);
      t.diagnostic(`${name} via ${runner}: ${(100 * accuracy).toFixed(2)}% (${correct}/${total}), ` +
        `threshold ${(100 * MODELS[name].minAccuracy).toFixed(0)}%`);
    });
  }
}

// int8: `edgeinfer quantize --weights int8 --calibrate` (activation ranges from the first
// CALIBRATION rows of test_x.npy), then the held-out accuracy in the wasm build must stay within
// one point of float32's (and above the model card's threshold).
const CALIBRATION = 64;
for (const name of Object.keys(MODELS)) {
  test(`${name}: int8 (edgeinfer quantize) held-out accuracy within 1 point of float32`, { timeout: 600_000 }, async (t) => {
    const { spec, dir, modelPath } = modelFiles(name);
    const work = mkdtempSync(join(tmpdir(), `edgeinfer-int8-${name}-`));
    try {
      const x = spec.toInput(loadNpy(join(dir, 'test_x.npy')));
      const rowSize = x.data.length / x.shape[0];
      mkdirSync(join(work, 'cal'));
      writeFileSync(join(work, 'cal', 'rows.npy'),
        writeNpy(x.dtype, [CALIBRATION, ...x.shape.slice(1)], x.data.slice(0, CALIBRATION * rowSize)));
      const int8Path = join(work, 'int8.onnx');
      const r = spawnSync(CLI, ['quantize', modelPath, '-o', int8Path, '--weights', 'int8', '--calibrate', join(work, 'cal')], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const f32 = await checkAccuracy(runEdgeinferWasm, name);
      const q8 = await checkAccuracy(runEdgeinferWasm, name, int8Path);
      t.diagnostic(`${name}: float32 ${(100 * f32.accuracy).toFixed(2)}%, int8 ${(100 * q8.accuracy).toFixed(2)}% ` +
        `(${readFileSync(modelPath).length} -> ${readFileSync(int8Path).length} bytes)`);
      assert.ok(q8.accuracy >= f32.accuracy - 0.01, `${name}: int8 ${q8.accuracy} vs float32 ${f32.accuracy}`);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
}
