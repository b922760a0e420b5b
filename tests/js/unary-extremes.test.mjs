// The float unary ops at the edges of float32: zeros of both signs, subnormals, the ends of
// every domain (1 - eps, -1 - eps ...), the overflow and underflow thresholds of exp, FLT_MAX,
// the infinities and NaN. The wasm build links musl's libm and the native build the system's,
// and the two disagree exactly there (acoshf of x <= -2 was finite in musl), so every op runs
// through both on the same float32 vector, each op a one-node graph of a model per opset.
//
// For each op and input value the two results must agree: NaN where the other is NaN, the same
// infinity, and otherwise |wasm - native| <= 1e-6 * max(1, |native|). Where JavaScript has an
// exact reference (Math.acosh, or a formula of Math functions evaluated in double precision and
// rounded to float32), both results must also match it in the same way. Erf has none in Math, so
// it is only compared across the two builds.

import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { makeModel } from './onnx-model.mjs';
import { readNpy, writeNpy } from './npy.mjs';
import { DIST, ROOT, requireDist, requireFile } from './helpers.mjs';

const CLI = join(ROOT, 'build', 'edgeinfer');
const f32 = Math.fround;

const FLT_MAX = f32(3.4028234663852886e38);
const FLT_MIN = 2 ** -126;
const DENORM_MIN = 2 ** -149;
const DENORM_MAX = FLT_MIN - DENORM_MIN;
const EPS = 2 ** -23; // spacing of floats in [1, 2)

// Magnitudes, each used with both signs and rounded to float32 (the references get the rounded
// value too).
const MAGNITUDES = [
  0, DENORM_MIN, 2 ** -140, DENORM_MAX, FLT_MIN, 1e-30, 1e-20, 1e-10, 1e-7, 1e-4,
  0.25, 0.49999997, 0.5, 0.5000001, 0.75, 1 - EPS / 2, 1, 1 + EPS, 1.5, 2, 2.5, 3, 3.5,
  Math.PI / 2, Math.PI, 6, 10, 20, 44.5, 87, 88.7, 89, 90, 103, 104, 110, 1e5, 8388607.5,
  8388609, 1e10, 1e20, 1e30, FLT_MAX, Infinity,
];
const VALUES = Float32Array.from([...MAGNITUDES, ...MAGNITUDES.map((v) => -v), NaN]);

// Attribute values the kernels use, as the float32 numbers the model carries.
const SELU_ALPHA = f32(1.67326319217681884765625);
const SELU_GAMMA = f32(1.05070102214813232421875);
const HARD_SIGMOID_ALPHA = f32(0.2);
const LEAKY_ALPHA = f32(0.01);

const clamp01 = (v) => (v < 0 ? 0 : v > 1 ? 1 : v); // NaN passes through, as in the kernels
const softplus = (x) => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));

// Math.round takes halves up; ONNX's Round takes them to even.
function roundHalfEven(x) {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

// op -> { ref: reference in double (null: none), opset: when newer than 13, bool: bool output }
const OPS = {
  Abs: { ref: Math.abs },
  Neg: { ref: (x) => -x },
  Exp: { ref: Math.exp },
  Log: { ref: Math.log },
  Sqrt: { ref: Math.sqrt },
  Reciprocal: { ref: (x) => 1 / x },
  Floor: { ref: Math.floor },
  Ceil: { ref: Math.ceil },
  Round: { ref: roundHalfEven },
  Sign: { ref: Math.sign },
  Sin: { ref: Math.sin },
  Cos: { ref: Math.cos },
  Tan: { ref: Math.tan },
  Asin: { ref: Math.asin },
  Acos: { ref: Math.acos },
  Atan: { ref: Math.atan },
  Sinh: { ref: Math.sinh },
  Cosh: { ref: Math.cosh },
  Asinh: { ref: Math.asinh },
  Acosh: { ref: Math.acosh },
  Atanh: { ref: Math.atanh },
  Erf: { ref: null },
  Tanh: { ref: Math.tanh },
  Relu: { ref: (x) => (x < 0 ? 0 : x) },
  LeakyRelu: { ref: (x) => (x < 0 ? LEAKY_ALPHA * x : x) },
  ThresholdedRelu: { ref: (x) => (x > 1 ? x : 0) },
  Sigmoid: { ref: (x) => 1 / (1 + Math.exp(-x)) },
  Softplus: { ref: softplus },
  Softsign: { ref: (x) => x / (1 + Math.abs(x)) },
  Elu: { ref: (x) => (x < 0 ? Math.expm1(x) : x) },
  Selu: { ref: (x) => (x <= 0 ? SELU_GAMMA * SELU_ALPHA * Math.expm1(x) : SELU_GAMMA * x) },
  Celu: { ref: (x) => (x > 0 ? x : Math.expm1(x)) },
  HardSigmoid: { ref: (x) => clamp01(HARD_SIGMOID_ALPHA * x + 0.5) },
  HardSwish: { ref: (x) => x * clamp01(x / 6 + 0.5), opset: 14 },
  Mish: { ref: (x) => x * Math.tanh(softplus(x)), opset: 18 },
  IsNaN: { ref: (x) => Number.isNaN(x), bool: true },
  IsInf: { ref: (x) => x === Infinity || x === -Infinity, bool: true },
};

// One model per opset: 13, and the newer ones HardSwish and Mish need.
function models() {
  const byOpset = new Map();
  for (const [op, d] of Object.entries(OPS)) {
    const opset = d.opset ?? 13;
    if (!byOpset.has(opset)) byOpset.set(opset, []);
    byOpset.get(opset).push(op);
  }
  const dims = [VALUES.length];
  return [...byOpset].map(([opset, ops]) => ({
    opset,
    ops,
    bytes: makeModel({
      opset,
      inputs: [{ name: 'x', type: 'float32', dims }],
      outputs: ops.map((op) => ({ name: `y_${op}`, type: OPS[op].bool ? 'bool' : 'float32', dims })),
      nodes: ops.map((op) => ({ op, inputs: ['x'], outputs: [`y_${op}`], name: op.toLowerCase() })),
    }),
  }));
}

function show(v) {
  return Object.is(v, -0) ? '-0' : String(v);
}

// null when a and b agree, else a description of how they differ.
function mismatch(a, b) {
  if (typeof b === 'boolean' || typeof a === 'boolean') return a === b ? null : `${a} vs ${b}`;
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b) ? null : `${show(a)} vs ${show(b)}`;
  if (!Number.isFinite(a) || !Number.isFinite(b)) return a === b ? null : `${show(a)} vs ${show(b)}`;
  return Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b)) ? null : `${show(a)} vs ${show(b)}`;
}

async function runWasm(bytes) {
  const { InferenceSession, Tensor } = await import(pathToFileURL(join(DIST, 'edgeinfer.mjs')).href);
  const session = await InferenceSession.create(bytes);
  try {
    const out = await session.run({ x: new Tensor('float32', VALUES, [VALUES.length]) });
    return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, t.data]));
  } finally {
    await session.release();
  }
}

function runNative(bytes, ops, dir, tag) {
  const model = join(dir, `${tag}.onnx`);
  const input = join(dir, `${tag}.x.npy`);
  const outDir = join(dir, tag);
  writeFileSync(model, bytes);
  writeFileSync(input, writeNpy('float32', [VALUES.length], VALUES));
  const r = spawnSync(CLI, ['run', model, '-i', `x=${input}`, '-o', outDir], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `build/edgeinfer run failed (${r.status ?? r.signal}): ${r.stderr}`);
  return Object.fromEntries(ops.map((op) => [`y_${op}`, readNpy(readFileSync(join(outDir, `y_${op}.npy`))).data]));
}

test('float unary ops at float32 extremes: wasm (musl libm) = native = JavaScript Math', async () => {
  requireDist();
  requireFile(CLI, 'build it with `make`');
  const dir = mkdtempSync(join(tmpdir(), 'edgeinfer-unary-'));
  const failures = [];
  try {
    for (const { opset, ops, bytes } of models()) {
      const wasm = await runWasm(bytes);
      const native = runNative(bytes, ops, dir, `opset${opset}`);
      for (const op of ops) {
        const { ref, bool } = OPS[op];
        const w = wasm[`y_${op}`], n = native[`y_${op}`];
        assert.ok(w && n, `${op}: output y_${op} is missing`);
        for (let i = 0; i < VALUES.length; i++) {
          const x = VALUES[i];
          const a = bool ? w[i] !== 0 : w[i], b = bool ? n[i] !== 0 : n[i];
          const where = `${op}(${show(x)})`;
          const wn = mismatch(a, b);
          if (wn) failures.push(`${where}: wasm vs native: ${wn}`);
          if (!ref) continue;
          const r = bool ? ref(x) : f32(ref(x));
          const wr = mismatch(a, r), nr = mismatch(b, r);
          if (wr) failures.push(`${where}: wasm vs JavaScript: ${wr}`);
          if (nr) failures.push(`${where}: native vs JavaScript: ${nr}`);
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.ok(failures.length === 0, `${failures.length} mismatches:\n${failures.join('\n')}`);
});
