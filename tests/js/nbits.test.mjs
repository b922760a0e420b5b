// MatMulNBits (com.microsoft, src/ops/nbits.c): 2-, 4- and 8-bit block-quantized weights, with and
// without zero points (packed uint8 or float32), with a bias, against onnxruntime-node, natively
// (the CLI) and in wasm; malformed nodes fail naming the node; the weights stay packed (`info`
// counts their bytes, not a float32 copy); `edgeinfer quantize --weights int4` writes models that
// onnxruntime runs and edgeinfer matches.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import ort from 'onnxruntime-node';
import { DIST, ROOT, requireDist, requireFile } from './helpers.mjs';
import { readNpy, writeNpy } from './npy.mjs';
import { encoderModel } from './encoder-model.mjs';
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
  ['8-bit, 9 rows (groups of four and a partial one), K not a multiple of the block', { bits: 8, zp: 'u8', M: 9, K: 100, block: 32 }],
  ['4-bit, float zero points, 9 rows (columns widened for the float32 GEMM)', { bits: 4, zp: 'f32', M: 9 }],
  ['4-bit, 9 rows, block 16, default zero points', { bits: 4, M: 9, block: 16, N: 70 }],
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

// The encoder of encoder-model.mjs quantized by `edgeinfer quantize --weights int4`: six MatMuls
// become MatMulNBits; edgeinfer (native CLI and wasm) matches onnxruntime-node on the quantized
// model for one token (q4_gemv) and seven (q4_gemm), and the quantized model stays near
// the float32 one (a wrong quantizer would still agree with itself in both runtimes).
function quantize(src, extra = []) {
  const out = src.replace(/\.onnx$/, `${extra.join('')}.int4.onnx`);
  const r = spawnSync(CLI, ['quantize', src, '-o', out, '--weights', 'int4', ...extra], { encoding: 'utf8' });
  return { out, r };
}

// One layer, hidden 80 (not a multiple of 32: partial blocks), feed-forward 160.
const encoder = (seq) => encoderModel({ dim: 80, heads: 4, ffn: 160, layers: 1, seq });

for (const block of [32, 16, 128]) {
  test(`edgeinfer quantize --weights int4 (block ${block}): a transformer encoder matches onnxruntime, natively and in wasm`, async () => {
    requireFile(CLI, 'build it with `make`');
    requireDist();
    const ei = await import(join(DIST, 'edgeinfer.mjs'));
    for (const seq of [1, 7]) {
      const src = join(TMP, `encoder${block}-${seq}.onnx`);
      writeFileSync(src, encoder(seq));
      const { out, r } = quantize(src, block === 32 ? [] : ['--block-size', String(block)]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`6 MatMul weights int4 in blocks of ${block}`));
      const q4 = readFileSync(out);
      const info = spawnSync(CLI, ['info', out], { encoding: 'utf8' });
      assert.match(info.stdout, /com\.microsoft:MatMulNBits\s+6/);
      assert.match(info.stdout, /ai\.onnx:MatMul\s+2|\bMatMul\s+2/);
      const ref32 = await ort.InferenceSession.create(src), ref4 = await ort.InferenceSession.create(q4);
      const dims = [1, seq, 80], x = floats(seq * 80, 21 + seq);
      const want = (await ref4.run({ x: new ort.Tensor('float32', x, dims) })).y.data;
      const f32 = (await ref32.run({ x: new ort.Tensor('float32', x, dims) })).y.data;
      writeFileSync(`${out}.x.npy`, writeNpy('<f4', dims, x));
      const run = spawnSync(CLI, ['run', out, '-i', `x=${out}.x.npy`, '-o', `${out}.out`], { encoding: 'utf8' });
      assert.equal(run.status, 0, run.stderr);
      const native = readNpy(readFileSync(join(`${out}.out`, 'y.npy'))).data;
      const run2 = spawnSync(CLI, ['run', out, '-i', `x=${out}.x.npy`, '-o', `${out}.out2`, '--threads', '2'], { encoding: 'utf8' });
      assert.equal(run2.status, 0, run2.stderr);
      assert.deepEqual(readNpy(readFileSync(join(`${out}.out2`, 'y.npy'))).data, native, 'one thread and two differ');
      const s = await ei.InferenceSession.create(q4);
      const wasm = (await s.run({ x: new ei.Tensor('float32', x, dims) })).y.data;
      await s.release();
      assert.ok(maxRelDiff(want, native) < 1e-3, `seq ${seq} native: ${maxRelDiff(want, native)}`);
      assert.ok(maxRelDiff(want, wasm) < 1e-3, `seq ${seq} wasm: ${maxRelDiff(want, wasm)}`);
      assert.ok(maxRelDiff(f32, want) < 0.1, `seq ${seq}: int4 against float32 ${maxRelDiff(f32, want)}`);
    }
  });
}

test('edgeinfer quantize --weights int4 rejects a block size it cannot write', () => {
  requireFile(CLI, 'build it with `make`');
  const src = join(TMP, 'encoder-bad.onnx');
  writeFileSync(src, encoder(1));
  for (const bs of ['24', '512', 'x']) {
    const { r } = quantize(src, ['--block-size', bs]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /block.size/i);
  }
});
