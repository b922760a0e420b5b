// MatMulNBits (com.microsoft, src/ops/nbits.c): 2-, 4- and 8-bit block-quantized weights, with and
// without zero points (packed uint8 or float32), with a bias, against onnxruntime-node, natively
// (the CLI) and in wasm; malformed nodes fail naming the node; the weights stay packed (`info`
// counts their bytes, not a float32 copy).

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
const TMP = mkdtempSync(join(tmpdir(), 'edgeinfer-nbits-'));
after(() => rmSync(TMP, { recursive: true, force: true }));
const MS = 'com.microsoft';

function lcg(n, seed, f) {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => f((s = (Math.imul(s, 1664525) + 1013904223) >>> 0)));
}
const floats = (n, seed, scale = 1) => Float32Array.from(lcg(n, seed, (s) => (s / 2 ** 31 - 1) * scale));
const bytes = (n, seed) => Uint8Array.from(lcg(n, seed, (s) => s >>> 24));

// One MatMulNBits node: A [M, K] as the input, the rest as initializers.
function model({ M = 3, K = 80, N = 20, block = 32, bits = 4, zp = 'none', bias = false, attrs = {}, bDims }) {
  const kb = Math.ceil(K / block), blob = (block * bits) / 8;
  const inits = [
    { name: 'B', type: 'uint8', dims: bDims || [N, kb, blob], data: bytes((bDims || [N, kb, blob]).reduce((x, y) => x * y, 1), 7) },
    { name: 'scales', type: 'float32', dims: [N * kb], data: floats(N * kb, 9, 0.1) },
  ];
  const inputs = ['A', 'B', 'scales'];
  if (zp === 'u8') {
    const row = Math.ceil((kb * bits) / 8);
    inits.push({ name: 'zp', type: 'uint8', dims: [N * row], data: bytes(N * row, 11) });
  } else if (zp === 'f32') {
    inits.push({ name: 'zp', type: 'float32', dims: [N * kb], data: floats(N * kb, 13, 4).map((v) => v + 8) });
  }
  inputs.push(zp === 'none' ? '' : 'zp');
  if (bias) {
    inits.push({ name: 'bias', type: 'float32', dims: [N], data: floats(N, 15) });
    inputs.push('', 'bias');
  }
  while (inputs[inputs.length - 1] === '') inputs.pop();
  return {
    M, K,
    bytes: makeModel({
      opset: 13,
      domains: { [MS]: 1 },
      inputs: [{ name: 'A', type: 'float32', dims: [M, K] }],
      outputs: [{ name: 'y', type: 'float32' }],
      initializers: inits,
      nodes: [{ op: 'MatMulNBits', domain: MS, name: 'nbits0', attrs: { K, N, bits, block_size: block, ...attrs }, inputs, outputs: ['y'] }],
    }),
  };
}

function maxRelDiff(want, got) {
  assert.equal(got.length, want.length);
  let d = 0, range = 1e-6;
  for (let i = 0; i < want.length; i++) {
    d = Math.max(d, Math.abs(want[i] - got[i]));
    range = Math.max(range, Math.abs(want[i]));
  }
  return d / range;
}

async function bothWays(name, m) {
  requireFile(CLI, 'build it with `make`');
  requireDist();
  const a = floats(m.M * m.K, 5);
  const ref = await ort.InferenceSession.create(m.bytes);
  const want = (await ref.run({ A: new ort.Tensor('float32', a, [m.M, m.K]) })).y.data;
  const path = join(TMP, `${name}.onnx`);
  writeFileSync(path, m.bytes);
  writeFileSync(`${path}.A.npy`, writeNpy('<f4', [m.M, m.K], a));
  const r = spawnSync(CLI, ['run', path, '-i', `A=${path}.A.npy`, '-o', `${path}.out`], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const native = readNpy(readFileSync(join(`${path}.out`, 'y.npy'))).data;
  const ei = await import(join(DIST, 'edgeinfer.mjs'));
  const s = await ei.InferenceSession.create(m.bytes);
  const wasm = (await s.run({ A: new ei.Tensor('float32', a, [m.M, m.K]) })).y.data;
  await s.release();
  assert.ok(maxRelDiff(want, native) < 1e-5, `native: ${maxRelDiff(want, native)}`);
  assert.ok(maxRelDiff(want, wasm) < 1e-5, `wasm: ${maxRelDiff(want, wasm)}`);
  return path;
}

const CASES = [
  ['4-bit, no zero points', { bits: 4 }],
  ['4-bit, packed uint8 zero points', { bits: 4, zp: 'u8' }],
  ['4-bit, float zero points, a bias', { bits: 4, zp: 'f32', bias: true }],
  ['4-bit, K not a multiple of the block, block 16', { bits: 4, K: 70, block: 16, zp: 'u8' }],
  ['4-bit, block 128, a row wider than one range (N 150)', { bits: 4, K: 256, N: 150, block: 128, M: 1 }],
  ['2-bit, packed zero points', { bits: 2, zp: 'u8' }],
  ['8-bit, packed zero points', { bits: 8, zp: 'u8', block: 64 }],
];

for (const [label, opts] of CASES) {
  test(`MatMulNBits ${label}: native and wasm match onnxruntime`, async () => {
    await bothWays(label.replace(/\W+/g, '_'), model(opts));
  });
}

test('MatMulNBits keeps its weights packed: info counts the uint8 blocks', async () => {
  const path = await bothWays('packed', model({ bits: 4, K: 256, N: 64, block: 32 }));
  const info = spawnSync(CLI, ['info', path], { encoding: 'utf8' });
  assert.equal(info.status, 0, info.stderr);
  // B: 64 x 8 blocks x 16 bytes = 8192 bytes, scales 512 floats = 2048: about 10 KB, not 64 KB of float32
  assert.match(info.stdout, /weights\s+(10\.0 KB|10 KB|10,240|10240)/i, info.stdout);
});

test('malformed MatMulNBits nodes fail naming the node, natively and in wasm', async () => {
  const ei = await import(join(DIST, 'edgeinfer.mjs'));
  const bad = [
    [model({ block: 24 }), /node 'nbits0'.*block_size = 24/],
    [model({ bDims: [20, 3, 8] }), /node 'nbits0'.*B/],
    [model({ attrs: { K: 81 } }), /node 'nbits0'.*K/],
  ];
  for (const [i, [m, re]] of bad.entries()) {
    await assert.rejects(ei.InferenceSession.create(m.bytes), (err) => { assert.match(err.message, re); return true; });
    const path = join(TMP, `bad${i}.onnx`);
    writeFileSync(path, m.bytes);
    const r = spawnSync(CLI, ['run', path, '-o', `${path}.out`], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, re);
  }
});
