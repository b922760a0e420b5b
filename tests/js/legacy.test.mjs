// Add, Sub, Mul, Div and Pow as opsets 1-6 write them: broadcasting only with broadcast = 1, and
// then B's dims placed at attribute `axis` of A (by default at the end). onnxruntime starts at
// opset 7, so the expected values are computed here. Natively (the CLI) and in wasm.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { DIST, ROOT, requireDist, requireFile } from './helpers.mjs';
import { readNpy, writeNpy } from './npy.mjs';
import { makeModel } from './onnx-model.mjs';

const CLI = join(ROOT, 'build', 'edgeinfer');
const TMP = mkdtempSync(join(tmpdir(), 'edgeinfer-legacy-'));
after(() => rmSync(TMP, { recursive: true, force: true }));
const prod = (d) => d.reduce((a, b) => a * b, 1);
const seq = (n, k) => Float32Array.from({ length: n }, (_, i) => ((i * k) % 17) / 4 - 2);
const FN = { Add: (a, b) => a + b, Sub: (a, b) => a - b, Mul: (a, b) => a * b, Div: (a, b) => a / b };

function legacy(op, aDims, bDims, attrs) {
  return makeModel({
    opset: 6,
    inputs: [{ name: 'a', type: 'float32', dims: aDims }, { name: 'b', type: 'float32', dims: bDims }],
    outputs: [{ name: 'y', type: 'float32' }],
    nodes: [{ op, name: 'n0', attrs, inputs: ['a', 'b'], outputs: ['y'] }],
  });
}

// y[i] = a[i] op b[j], j the index of i's coordinates at axes [axis, axis + rank(b)).
function expected(op, aDims, a, bDims, b, axis) {
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) {
    let rest = i, j = 0, stride = 1;
    const coords = [];
    for (let d = aDims.length - 1; d >= 0; d--) { coords[d] = rest % aDims[d]; rest = Math.floor(rest / aDims[d]); }
    for (let d = bDims.length - 1; d >= 0; d--) { j += (bDims[d] === 1 ? 0 : coords[axis + d]) * stride; stride *= bDims[d]; }
    out[i] = Math.fround(FN[op](a[i], b[j]));
  }
  return out;
}

async function run(model, aDims, a, bDims, b) {
  requireFile(CLI, 'build it with `make`');
  requireDist();
  const path = join(TMP, `m${Math.random().toString(36).slice(2)}.onnx`);
  writeFileSync(path, model);
  writeFileSync(`${path}.a.npy`, writeNpy('<f4', aDims, a));
  writeFileSync(`${path}.b.npy`, writeNpy('<f4', bDims, b));
  const r = spawnSync(CLI, ['run', path, '-i', `a=${path}.a.npy`, '-i', `b=${path}.b.npy`, '-o', `${path}.out`], { encoding: 'utf8' });
  const ei = await import(join(DIST, 'edgeinfer.mjs'));
  let wasm = null, error = null;
  try {
    const s = await ei.InferenceSession.create(model);
    wasm = (await s.run({ a: new ei.Tensor('float32', a, aDims), b: new ei.Tensor('float32', b, bDims) })).y;
    await s.release();
  } catch (err) {
    error = err;
  }
  return { native: r.status === 0 ? readNpy(readFileSync(join(`${path}.out`, 'y.npy'))) : null, stderr: r.stderr, wasm, error };
}

const CASES = [
  ['Add', [2, 3, 4, 5], [3, 4], { broadcast: 1, axis: 1 }, 1],
  ['Mul', [2, 3, 4, 5], [5], { broadcast: 1 }, 3],
  ['Sub', [2, 3, 4, 5], [2], { broadcast: 1, axis: 0 }, 0],
  ['Div', [2, 3, 4], [3, 1], { broadcast: 1, axis: -2 }, 1],
  ['Add', [2, 3], [2, 3], {}, 0],
];

for (const [op, aDims, bDims, attrs, axis] of CASES) {
  test(`opset 6 ${op} ${JSON.stringify(aDims)} with ${JSON.stringify(bDims)} ${JSON.stringify(attrs)}`, async () => {
    const a = seq(prod(aDims), 3), b = seq(prod(bDims), 5).map((v) => (op === 'Div' && v === 0 ? 0.5 : v));
    const want = expected(op, aDims, a, bDims, b, axis);
    const r = await run(legacy(op, aDims, bDims, attrs), aDims, a, bDims, b);
    assert.ok(r.native, r.stderr);
    assert.ok(!r.error, r.error && r.error.message);
    assert.deepEqual(Array.from(r.native.data), Array.from(want));
    assert.deepEqual(Array.from(r.wasm.data), Array.from(want));
    assert.deepEqual(Array.from(r.wasm.dims), aDims);
  });
}

test('opset 6: other shapes without broadcast = 1, or B that does not fit at its axis, fail naming the node', async () => {
  for (const [bDims, attrs, re] of [[[5], {}, /broadcast is not 1/], [[3, 4], { broadcast: 1, axis: 3 }, /cannot start at axis 3/]]) {
    const aDims = [2, 3, 4, 5];
    const r = await run(legacy('Add', aDims, bDims, attrs), aDims, seq(120, 1), bDims, seq(prod(bDims), 2));
    assert.equal(r.native, null);
    assert.match(r.stderr, re);
    assert.match(r.error.message, /node 'n0'/);
    assert.match(r.error.message, re);
  }
});

test('opset 6 PRelu with a [C] slope applies it per channel of [N, C, H, W]', async () => {
  const aDims = [2, 3, 2, 2], bDims = [3];
  const a = seq(24, 7), b = Float32Array.of(0.5, -1, 2);
  const want = a.map((v, i) => (v < 0 ? Math.fround(v * b[Math.floor(i / 4) % 3]) : v));
  const r = await run(legacy('PRelu', aDims, bDims, {}), aDims, a, bDims, b);
  assert.ok(r.native, r.stderr);
  assert.deepEqual(Array.from(r.native.data), Array.from(want));
  assert.deepEqual(Array.from(r.wasm.data), Array.from(want));
});

test('opset 6 Gemm with broadcast = 1 adds a [N] C to every row', async () => {
  const model = makeModel({
    opset: 6,
    inputs: [{ name: 'a', type: 'float32', dims: [2, 3] }, { name: 'b', type: 'float32', dims: [3, 4] }],
    outputs: [{ name: 'y', type: 'float32' }],
    initializers: [{ name: 'c', type: 'float32', dims: [4], data: Float32Array.of(1, 2, 3, 4) }],
    nodes: [{ op: 'Gemm', name: 'g0', attrs: { broadcast: 1 }, inputs: ['a', 'b', 'c'], outputs: ['y'] }],
  });
  const a = seq(6, 3), b = seq(12, 5);
  const want = new Float32Array(8);
  for (let m = 0; m < 2; m++) for (let n = 0; n < 4; n++) {
    let acc = 0;
    for (let k = 0; k < 3; k++) acc += a[m * 3 + k] * b[k * 4 + n];
    want[m * 4 + n] = acc + n + 1;
  }
  const r = await run(model, [2, 3], a, [3, 4], b);
  assert.ok(r.native, r.stderr);
  for (const got of [r.native.data, r.wasm.data]) {
    for (let i = 0; i < 8; i++) assert.ok(Math.abs(got[i] - want[i]) < 1e-5, `${got[i]} vs ${want[i]}`);
  }
});
