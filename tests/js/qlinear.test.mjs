// The com.microsoft quantized elementwise and pooling ops (src/ops/qlinear.c) against
// onnxruntime-node: QLinearAdd and QLinearMul with broadcasting, QLinearSigmoid and
// QLinearGlobalAveragePool (channels first and last), uint8 and int8, natively (the CLI) and in
// wasm. onnxruntime computes some of them in fixed point, so a code may differ by one.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import ort from 'onnxruntime-node';
import { DIST, ROOT, requireDist, requireFile } from './helpers.mjs';
import { readNpy, writeNpy } from './npy.mjs';
import { makeModel } from './onnx-model.mjs';

const CLI = process.env.EDGEINFER_CLI ? resolve(process.env.EDGEINFER_CLI) : join(ROOT, 'build', 'edgeinfer');
const TMP = mkdtempSync(join(tmpdir(), 'edgeinfer-qlinear-'));
after(() => rmSync(TMP, { recursive: true, force: true }));
const MS = 'com.microsoft';
const ARRAYS = { uint8: Uint8Array, int8: Int8Array };
const NPY = { uint8: '|u1', int8: '|i1' };

function codes(type, n, seed) {
  let s = seed >>> 0;
  return ARRAYS[type].from({ length: n }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) >>> 24) - (type === 'int8' ? 128 : 0));
}
const prod = (d) => d.reduce((a, b) => a * b, 1);
const scalar = (name, type, v) => ({ name, type, dims: [], data: type === 'float32' ? Float32Array.of(v) : ARRAYS[type].of(v) });

// One node; `inputs` lists [name, dims] of the quantized graph inputs, `params` the scalar
// initializers (a null entry is an absent optional input).
function build({ op, type, inputs, params, order, attrs = {} }) {
  const inits = params.filter(Boolean);
  return makeModel({
    opset: 13,
    domains: { [MS]: 1 },
    inputs: inputs.map(([name, dims]) => ({ name, type, dims })),
    outputs: [{ name: 'y', type }],
    initializers: inits,
    nodes: [{ op, domain: MS, name: 'q0', attrs, inputs: order, outputs: ['y'] }],
  });
}

async function check(name, model, type, inputs) {
  requireFile(CLI, 'build it with `make`');
  requireDist();
  const feeds = Object.fromEntries(inputs.map(([n, dims], i) => [n, { dims, data: codes(type, prod(dims), 3 + i) }]));
  const ref = await ort.InferenceSession.create(model);
  const want = (await ref.run(Object.fromEntries(Object.entries(feeds).map(([n, f]) => [n, new ort.Tensor(type, f.data, f.dims)])))).y;
  const path = join(TMP, `${name}.onnx`);
  writeFileSync(path, model);
  const args = ['run', path, '-o', `${path}.out`];
  for (const [n, f] of Object.entries(feeds)) {
    writeFileSync(`${path}.${n}.npy`, writeNpy(NPY[type], f.dims, f.data));
    args.push('-i', `${n}=${path}.${n}.npy`);
  }
  const r = spawnSync(CLI, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const native = readNpy(readFileSync(join(`${path}.out`, 'y.npy')));
  const ei = await import(join(DIST, 'edgeinfer.mjs'));
  const s = await ei.InferenceSession.create(model);
  const wasm = (await s.run(Object.fromEntries(Object.entries(feeds).map(([n, f]) => [n, new ei.Tensor(type, f.data, f.dims)])))).y;
  await s.release();
  for (const [where, got] of [['native', native], ['wasm', wasm]]) {
    assert.deepEqual(Array.from(got.dims || got.shape), Array.from(want.dims), `${where} dims`);
    let worst = 0;
    for (let i = 0; i < want.data.length; i++) worst = Math.max(worst, Math.abs(Number(got.data[i]) - Number(want.data[i])));
    assert.ok(worst <= 1, `${name} ${where}: codes differ by ${worst}`);
  }
}

for (const type of ['uint8', 'int8']) {
  const z = (v) => (type === 'int8' ? v - 128 : v);
  for (const op of ['QLinearAdd', 'QLinearMul']) {
    test(`${op} ${type}: broadcasting, the output zero point present and absent`, async () => {
      const params = [scalar('sa', 'float32', 0.02), scalar('za', type, z(120)), scalar('sb', 'float32', 0.05),
        scalar('zb', type, z(131)), scalar('sc', 'float32', op === 'QLinearMul' ? 0.4 : 0.06), scalar('zc', type, z(125))];
      const inputs = [['a', [2, 3, 4, 5]], ['b', [3, 1, 5]]];
      await check(`${op}-${type}`, build({ op, type, inputs, params, order: ['a', 'sa', 'za', 'b', 'sb', 'zb', 'sc', 'zc'] }), type, inputs);
      // onnxruntime accepts only C's zero point absent (its type inference needs A's and B's)
      await check(`${op}-${type}-nozp`, build({ op, type, inputs, params: params.slice(0, 5), order: ['a', 'sa', 'za', 'b', 'sb', 'zb', 'sc'] }), type, inputs);
    });
  }
  test(`QLinearSigmoid ${type}`, async () => {
    const params = [scalar('sx', 'float32', 0.05), scalar('zx', type, z(128)), scalar('sy', 'float32', 1 / 256), scalar('zy', type, z(0))];
    const inputs = [['x', [4, 64]]];
    await check(`sig-${type}`, build({ op: 'QLinearSigmoid', type, inputs, params, order: ['x', 'sx', 'zx', 'sy', 'zy'] }), type, inputs);
  });
  for (const last of [0, 1]) {
    test(`QLinearGlobalAveragePool ${type}, channels_last ${last}`, async () => {
      const params = [scalar('sx', 'float32', 0.1), scalar('zx', type, z(100)), scalar('sy', 'float32', 0.08), scalar('zy', type, z(110))];
      const inputs = [['x', last ? [2, 7, 6, 5] : [2, 5, 7, 6]]];
      await check(`gap-${type}-${last}`, build({ op: 'QLinearGlobalAveragePool', type, inputs, params, order: ['x', 'sx', 'zx', 'sy', 'zy'], attrs: { channels_last: last } }), type, inputs);
    });
  }
}

test('a QLinearAdd whose inputs do not broadcast fails naming the node', async () => {
  const ei = await import(join(DIST, 'edgeinfer.mjs'));
  const params = [scalar('sa', 'float32', 0.1), scalar('sb', 'float32', 0.1), scalar('sc', 'float32', 0.1)];
  const model = build({ op: 'QLinearAdd', type: 'uint8', inputs: [['a', [2, 3]], ['b', [4]]], params, order: ['a', 'sa', '', 'b', 'sb', '', 'sc'] });
  await assert.rejects(ei.InferenceSession.create(model), /node 'q0'.*do not broadcast/);
});
