// Reference outputs from onnxruntime-node, and the comparison the model tests apply to them.
//
// As a module it is shared by the native and (later) wasm model tests: both produce outputs for
// a model and an input .npy, then call compareWithReference().
//
// As a command:
//   node tests/models/reference.mjs MODEL.onnx INPUT.npy OUTDIR
// feeds INPUT.npy to the model's first input and writes every output to OUTDIR/<name>.npy,
// the same layout as `edgeinfer run ... -o OUTDIR`.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import ort from 'onnxruntime-node';
import { readNpy, writeNpy } from '../js/npy.mjs';

// An output passes when max |actual - ref| <= REL_TOLERANCE * (max(ref) - min(ref)): the error
// is measured against the spread of the reference values, so it does not depend on the scale a
// randomly initialised model happens to produce.
export const REL_TOLERANCE = 1e-4;

/**
 * Runs a model on onnxruntime-node.
 * @param {string} modelPath
 * @param {Object<string, {dtype: string, shape: number[], data: ArrayBufferView}>} feeds
 * @returns {Promise<Object<string, {dtype: string, shape: number[], data: ArrayBufferView}>>}
 *   every model output, in the model's output order
 */
export async function runReference(modelPath, feeds) {
  const session = await ort.InferenceSession.create(modelPath);
  try {
    const ortFeeds = {};
    for (const [name, t] of Object.entries(feeds)) {
      ortFeeds[name] = new ort.Tensor(t.dtype, t.data, t.shape);
    }
    const results = await session.run(ortFeeds);
    const outputs = {};
    for (const name of session.outputNames) {
      const t = results[name];
      outputs[name] = { dtype: t.type, shape: Array.from(t.dims), data: t.data };
    }
    return outputs;
  } finally {
    await session.release();
  }
}

/** Names of a model's inputs and outputs, as onnxruntime reads them. */
export async function modelSignature(modelPath) {
  const session = await ort.InferenceSession.create(modelPath);
  try {
    return { inputNames: [...session.inputNames], outputNames: [...session.outputNames] };
  } finally {
    await session.release();
  }
}

/** Runs a model with the array in inputNpyPath as its first input. */
export async function runReferenceOnNpy(modelPath, inputNpyPath) {
  const { inputNames } = await modelSignature(modelPath);
  const input = readNpy(readFileSync(inputNpyPath));
  return runReference(modelPath, { [inputNames[0]]: input });
}

/**
 * The file an output is stored in under an output folder. Output names are used as they are;
 * one that is not a plain file name is refused rather than silently renamed.
 */
export function outputFileName(name) {
  if (name === '' || name === '.' || name === '..' || /[/\\\0]/.test(name)) {
    throw new Error(`output name ${JSON.stringify(name)} cannot be used as a file name`);
  }
  return `${name}.npy`;
}

/**
 * Compares one output against its reference.
 * @returns {{name: string, pass: boolean, maxAbsError: number, range: number,
 *   tolerance: number, ratio: number, message: string}} ratio is maxAbsError / range (0 when
 *   both are 0); message explains a failure
 */
export function compareTensor(name, actual, ref) {
  const result = { name, pass: false, maxAbsError: NaN, range: NaN, tolerance: NaN, ratio: NaN, message: '' };
  if (!actual) {
    result.message = `output '${name}' is missing`;
    return result;
  }
  if (actual.dtype !== ref.dtype) {
    result.message = `output '${name}': dtype ${actual.dtype}, expected ${ref.dtype}`;
    return result;
  }
  if (actual.shape.length !== ref.shape.length || actual.shape.some((d, i) => d !== ref.shape[i])) {
    result.message = `output '${name}': shape [${actual.shape}], expected [${ref.shape}]`;
    return result;
  }
  if (actual.data.length !== ref.data.length) {
    result.message = `output '${name}': ${actual.data.length} elements, expected ${ref.data.length}`;
    return result;
  }

  let min = Infinity;
  let max = -Infinity;
  let maxErr = 0;
  let worst = -1;
  for (let i = 0; i < ref.data.length; i++) {
    const r = Number(ref.data[i]);
    const a = Number(actual.data[i]);
    if (r < min) min = r;
    if (r > max) max = r;
    // NaN where the reference has a number (or the reverse) counts as an infinite error.
    const err = Number.isNaN(r) && Number.isNaN(a) ? 0 : r === a ? 0 : Math.abs(a - r);
    const e = Number.isNaN(err) ? Infinity : err;
    if (e > maxErr) {
      maxErr = e;
      worst = i;
    }
  }
  const range = ref.data.length ? max - min : 0;
  result.maxAbsError = maxErr;
  result.range = range;
  result.tolerance = REL_TOLERANCE * range;
  result.ratio = maxErr === 0 ? 0 : maxErr / range;
  result.pass = maxErr <= result.tolerance;
  if (!result.pass) {
    result.message = `output '${name}': max |error| ${maxErr.toExponential(3)} at flat index ${worst} ` +
      `(got ${Number(actual.data[worst])}, expected ${Number(ref.data[worst])}) exceeds ` +
      `${REL_TOLERANCE} x output range ${range.toExponential(3)} = ${result.tolerance.toExponential(3)}`;
  }
  return result;
}

/**
 * Runs the model on onnxruntime-node with the given input and compares every reference output
 * with the one in `outputs`.
 * @param {string} modelPath
 * @param {string} inputNpyPath fed to the model's first input
 * @param {Object<string, {dtype: string, shape: number[], data: ArrayBufferView}>} outputs
 *   outputs of the runtime under test, by name
 * @returns {Promise<Array<ReturnType<typeof compareTensor>>>} one entry per model output
 */
export async function compareWithReference(modelPath, inputNpyPath, outputs) {
  const ref = await runReferenceOnNpy(modelPath, inputNpyPath);
  return Object.entries(ref).map(([name, r]) => compareTensor(name, outputs[name], r));
}

async function main(argv) {
  if (argv.length !== 3) {
    console.error('usage: node tests/models/reference.mjs MODEL.onnx INPUT.npy OUTDIR');
    return 2;
  }
  const [modelPath, inputPath, outDir] = argv;
  const outputs = await runReferenceOnNpy(modelPath, inputPath);
  mkdirSync(outDir, { recursive: true });
  for (const [name, t] of Object.entries(outputs)) {
    const file = join(outDir, outputFileName(name));
    writeFileSync(file, writeNpy(t.dtype, t.shape, t.data));
    console.log(`${name}: ${t.dtype} [${t.shape}] -> ${file}`);
  }
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (err) => { console.error(`reference: ${err.message}`); process.exitCode = 1; });
}
