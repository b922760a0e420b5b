// The int8 ops on the q8 GEMM (QLinearConv, ConvInteger, QLinearMatMul, MatMulInteger) and the
// fuse-qdq compile pass, on generated models against onnxruntime-node, in the native CLI and the
// wasm build: uint8 and int8 inputs and weights, per-tensor and per-channel weights, zero points,
// groups, padding and strides, batched products, weights given as constants (packed in prepare) or
// as inputs (packed per run). Integer sums must match exactly; requantized 8-bit outputs may differ
// by one code where the two round a product that falls on a half differently.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import ort from 'onnxruntime-node';
import { DIST, ROOT, requireDist, requireFile } from './helpers.mjs';
import { readNpy, writeNpy } from './npy.mjs';
import { makeModel } from './onnx-model.mjs';

const CLI = join(ROOT, 'build', 'edgeinfer');
const TMP = mkdtempSync(join(tmpdir(), 'edgeinfer-quant-'));
after(() => rmSync(TMP, { recursive: true, force: true }));

const prod = (dims) => dims.reduce((a, b) => a * b, 1);
const CTORS = { float32: Float32Array, uint8: Uint8Array, int8: Int8Array, int32: Int32Array };
const NPY = { float32: '<f4', uint8: '|u1', int8: '|i1', int32: '<i4' };

// Deterministic pseudo-random numbers in [0, 1).
function rand(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
function tensor(name, type, dims, seed, lo, hi) {
  const r = rand(seed), n = prod(dims);
  const data = new CTORS[type](n);
  for (let i = 0; i < n; i++) data[i] = type === 'float32' ? lo + (hi - lo) * r() : Math.floor(lo + (hi - lo + 1) * r());
  return { name, type, dims, data };
}
const q8 = (name, type, dims, seed) => tensor(name, type, dims, seed, type === 'int8' ? -128 : 0, type === 'int8' ? 127 : 255);
const scalar = (name, type, v) => ({ name, type, dims: [], data: CTORS[type].of(v) });
const vec = (name, type, vals) => ({ name, type, dims: [vals.length], data: CTORS[type].from(vals) });

function compare(got, want, tol, what) {
  assert.equal(got.length, want.length, `${what}: length`);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(Number(got[i]) - Number(want[i])));
  assert.ok(worst <= tol, `${what}: max abs difference ${worst} (allowed ${tol})`);
}

function compiled(path) {
  const r = spawnSync(CLI, ['info', path, '--compiled'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.split('\n');
  const at = lines.findIndex((l) => l.startsWith('compiled'));
  return lines.slice(at + 1).filter((l) => l.startsWith('  ')).map((l) => l.trim().replace(/\s{2,}.*$/, ''));
}

let edgeinfer;
// Runs the model (a spec for makeModel, or the bytes of one) with feeds everywhere and compares output
// y with onnxruntime-node's.
async function check(name, spec, feeds, tol, expectCompiled) {
  requireFile(CLI, 'build it with `make`');
  requireDist();
  const bytes = spec instanceof Uint8Array ? spec : makeModel(spec);
  const path = join(TMP, `${name}.onnx`);
  writeFileSync(path, bytes);
  const ref = await ort.InferenceSession.create(path);
  const want = (await ref.run(Object.fromEntries(feeds.map((f) => [f.name, new ort.Tensor(f.type, f.data, f.dims)])))).y;
  if (expectCompiled) assert.deepEqual(compiled(path), expectCompiled);

  const args = ['run', path, '-o', `${path}.out`];
  for (const f of feeds) {
    writeFileSync(`${path}.${f.name}.npy`, writeNpy(NPY[f.type], f.dims, f.data));
    args.push('-i', `${f.name}=${path}.${f.name}.npy`);
  }
  const r = spawnSync(CLI, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const native = readNpy(readFileSync(join(`${path}.out`, 'y.npy')));
  assert.deepEqual(native.shape, want.dims, `${name} native shape`);
  compare(native.data, want.data, tol, `${name} native`);

  edgeinfer ??= await import(join(DIST, 'edgeinfer.mjs'));
  const s = await edgeinfer.InferenceSession.create(bytes);
  const got = (await s.run(Object.fromEntries(feeds.map((f) => [f.name, new edgeinfer.Tensor(f.type, f.data, f.dims)])))).y;
  await s.release();
  assert.deepEqual(got.dims, want.dims, `${name} wasm shape`);
  compare(got.data, want.data, tol, `${name} wasm`);
}

const conv = (x, k, cout, cin, group) => [cout, cin / group, k, k];

test('QLinearConv: uint8 and int8 weights, per tensor and per channel, bias, groups, strides, padding', async () => {
  const cases = [
    { x: 'uint8', w: 'uint8', cin: 3, cout: 8, k: 3, hw: 13, attrs: { pads: [1, 1, 1, 1] }, perCh: false },
    { x: 'uint8', w: 'int8', cin: 6, cout: 10, k: 3, hw: 11, attrs: { pads: [1, 0, 2, 1], strides: [2, 2] }, perCh: true },
    { x: 'int8', w: 'int8', cin: 16, cout: 24, k: 1, hw: 9, attrs: {}, perCh: true },
    { x: 'uint8', w: 'int8', cin: 8, cout: 8, k: 3, hw: 10, attrs: { group: 8, pads: [1, 1, 1, 1] }, perCh: true },
    { x: 'uint8', w: 'uint8', cin: 4, cout: 6, k: 2, hw: 7, attrs: { group: 2, dilations: [2, 2] }, perCh: true },
  ];
  let seed = 1;
  for (const [i, c] of cases.entries()) {
    const group = c.attrs.group ?? 1;
    const wdims = conv(null, c.k, c.cout, c.cin, group);
    const nsc = c.perCh ? c.cout : 1;
    const wsc = Array.from({ length: nsc }, (_, j) => 0.002 + 0.001 * j);
    const wzp = Array.from({ length: nsc }, (_, j) => (c.w === 'int8' ? j % 5 - 2 : 120 + j));
    const kk = (c.cin / group) * c.k * c.k;
    const inits = [
      scalar('xs', 'float32', 0.02), scalar('xz', c.x, c.x === 'int8' ? -3 : 128),
      q8('w', c.w, wdims, seed++),
      c.perCh ? vec('ws', 'float32', wsc) : scalar('ws', 'float32', wsc[0]),
      c.perCh ? vec('wz', c.w, wzp) : scalar('wz', c.w, wzp[0]),
      scalar('ys', 'float32', 0.02 * 0.002 * Math.sqrt(kk) * 40), scalar('yz', c.x, c.x === 'int8' ? 5 : 100),
      tensor('b', 'int32', [c.cout], seed++, -2000, 2000),
    ];
    const ydims = null;
    await check(`qlinearconv_${i}`, {
      inputs: [{ name: 'x', type: c.x, dims: [2, c.cin, c.hw, c.hw] }],
      outputs: [{ name: 'y', type: c.x, dims: ydims }],
      nodes: [{ op: 'QLinearConv', inputs: ['x', 'xs', 'xz', 'w', 'ws', 'wz', 'ys', 'yz', 'b'], outputs: ['y'], attrs: c.attrs }],
      initializers: inits,
    }, [q8('x', c.x, [2, c.cin, c.hw, c.hw], seed++)], 1);
  }
});

test('ConvInteger: uint8 and int8, constant and fed weights, exact int32 sums', async () => {
  let seed = 50;
  for (const [x, w] of [['uint8', 'uint8'], ['int8', 'int8'], ['uint8', 'int8']]) {
    for (const fed of [false, true]) {
      const wt = q8('w', w, [5, 3, 3, 3], seed++);
      const spec = {
        inputs: [{ name: 'x', type: x, dims: [1, 3, 9, 8] }, ...(fed ? [{ name: 'w', type: w, dims: [5, 3, 3, 3] }] : [])],
        outputs: [{ name: 'y', type: 'int32', dims: null }],
        nodes: [{ op: 'ConvInteger', inputs: ['x', 'w', 'xz', 'wz'], outputs: ['y'], attrs: { pads: [1, 1, 1, 1] } }],
        initializers: [scalar('xz', x, x === 'int8' ? -7 : 131), scalar('wz', w, w === 'int8' ? 3 : 127), ...(fed ? [] : [wt])],
      };
      // onnxruntime implements ConvInteger for uint8 only; the int8 cases check against QLinear-free arithmetic below.
      if (x === 'uint8' && w === 'uint8') {
        await check(`convinteger_${x}_${w}_${fed}`, spec, [q8('x', x, [1, 3, 9, 8], seed++), ...(fed ? [wt] : [])], 0);
      } else {
        await checkConvIntegerDirect(`convinteger_${x}_${w}_${fed}`, spec, q8('x', x, [1, 3, 9, 8], seed++), wt, fed);
      }
    }
  }
});

// A direct convolution in JS, for the dtypes onnxruntime lacks (it has QLinearConv for uint8 x with uint8
// or int8 w and for int8 x with int8 w, ConvInteger for uint8 only).
async function checkConvIntegerDirect(name, spec, x, w, fed) {
  requireDist();
  const xz = spec.initializers[0].data[0], wz = spec.initializers[1].data[0];
  const [C, H, W] = [3, 9, 8], M = 5;
  const want = new Int32Array(M * H * W);
  for (let m = 0; m < M; m++)
    for (let oy = 0; oy < H; oy++)
      for (let ox = 0; ox < W; ox++) {
        let acc = 0;
        for (let c = 0; c < C; c++)
          for (let ky = 0; ky < 3; ky++)
            for (let kx = 0; kx < 3; kx++) {
              const iy = oy + ky - 1, ix = ox + kx - 1;
              if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
              acc += (x.data[(c * H + iy) * W + ix] - xz) * (w.data[((m * C + c) * 3 + ky) * 3 + kx] - wz);
            }
        want[(m * H + oy) * W + ox] = acc;
      }
  edgeinfer ??= await import(join(DIST, 'edgeinfer.mjs'));
  const s = await edgeinfer.InferenceSession.create(makeModel(spec));
  const feeds = { x: new edgeinfer.Tensor(x.type, x.data, x.dims) };
  if (fed) feeds.w = new edgeinfer.Tensor(w.type, w.data, w.dims);
  const got = (await s.run(feeds)).y;
  await s.release();
  compare(got.data, want, 0, `${name} wasm`);
}

test('QLinearMatMul: 2-D and batched, per-column int8 and uint8 weights, constant and fed', async () => {
  let seed = 100;
  for (const [a, b, M, K, N, batch, perCol, fed] of [
    ['uint8', 'uint8', 7, 33, 19, null, false, false], ['int8', 'int8', 12, 64, 40, null, true, false],
    ['uint8', 'int8', 5, 17, 9, 3, true, false], ['int8', 'int8', 4, 10, 6, 2, false, true],
  ]) {
    const adims = batch ? [batch, M, K] : [M, K], bdims = fed && batch ? [batch, K, N] : [K, N];
    const bt = q8('b', b, bdims, seed++);
    const nsc = perCol ? N : 1;
    const bs = Array.from({ length: nsc }, (_, j) => 0.003 + 0.0005 * j), bz = Array.from({ length: nsc }, (_, j) => (b === 'int8' ? (j % 3) - 1 : 125 + (j % 4)));
    const spec = {
      inputs: [{ name: 'a', type: a, dims: adims }, ...(fed ? [{ name: 'b', type: b, dims: bdims }] : [])],
      outputs: [{ name: 'y', type: a, dims: null }],
      nodes: [{ op: 'QLinearMatMul', inputs: ['a', 'as', 'az', 'b', 'bs', 'bz', 'ys', 'yz'], outputs: ['y'] }],
      initializers: [scalar('as', 'float32', 0.03), scalar('az', a, a === 'int8' ? 2 : 130),
        perCol ? vec('bs', 'float32', bs) : scalar('bs', 'float32', bs[0]), perCol ? vec('bz', b, bz) : scalar('bz', b, bz[0]),
        scalar('ys', 'float32', 0.03 * 0.003 * Math.sqrt(K) * 30), scalar('yz', a, a === 'int8' ? -1 : 128), ...(fed ? [] : [bt])],
    };
    await check(`qlinearmatmul_${seed}`, spec, [q8('a', a, adims, seed++), ...(fed ? [bt] : [])], 1);
  }
});

test('MatMulInteger: exact int32 sums, per-column zero points, batched', async () => {
  let seed = 200;
  for (const [M, K, N, batch] of [[9, 31, 13, null], [3, 8, 20, 2]]) {
    const adims = batch ? [batch, M, K] : [M, K];
    const spec = {
      inputs: [{ name: 'a', type: 'uint8', dims: adims }],
      outputs: [{ name: 'y', type: 'int32', dims: null }],
      nodes: [{ op: 'MatMulInteger', inputs: ['a', 'b', 'az', 'bz'], outputs: ['y'] }],
      initializers: [q8('b', 'uint8', [K, N], seed++), scalar('az', 'uint8', 121),
        vec('bz', 'uint8', Array.from({ length: N }, (_, j) => 100 + j))],
    };
    await check(`matmulinteger_${seed}`, spec, [q8('a', 'uint8', adims, seed++)], 0);
  }
});

// ---- fuse-qdq: float model with QuantizeLinear/DequantizeLinear around Conv, MatMul, Gemm ----

function qdqSpec({ op, xDims, yDims, wType, wDims, perCh, axis, act, bias, attrs = {}, symmetric, actType = 'uint8' }) {
  const nsc = perCh ? wDims[axis] : 1;
  const ws = Array.from({ length: nsc }, (_, j) => 0.004 + 0.0007 * j);
  const wz = Array.from({ length: nsc }, (_, j) => (symmetric ? 0 : wType === 'int8' ? (j % 5) - 2 : 128 + (j % 3)));
  const zx = actType === 'int8' ? -10 : 120, zy = actType === 'int8' ? 3 : 90;
  const nodes = [
    { op: 'QuantizeLinear', inputs: ['x', 'xs', 'xz'], outputs: ['xq'] },
    { op: 'DequantizeLinear', inputs: ['xq', 'xs', 'xz'], outputs: ['xd'] },
    { op: 'DequantizeLinear', inputs: symmetric ? ['wq', 'ws'] : ['wq', 'ws', 'wz'], outputs: ['wd'], attrs: perCh ? { axis } : {} },
    { op, inputs: ['xd', 'wd', ...(bias ? ['bd'] : [])], outputs: [act ? 'c' : 'r'], attrs },
  ];
  const inits = [scalar('xs', 'float32', 0.01), scalar('xz', actType, zx), q8('wq', wType, wDims, 9),
    perCh ? vec('ws', 'float32', ws) : scalar('ws', 'float32', ws[0]), scalar('ys', 'float32', 0.02), scalar('yz', actType, zy)];
  if (!symmetric) inits.push(perCh ? vec('wz', wType, wz) : scalar('wz', wType, wz[0]));
  if (bias === 'int32') {
    const m = wDims[axis];
    nodes.push({ op: 'DequantizeLinear', inputs: ['bq', 'bs'], outputs: ['bd'], attrs: { axis: 0 } });
    inits.push(tensor('bq', 'int32', [m], 11, -3000, 3000), perCh ? vec('bs', 'float32', ws.map((s) => Math.fround(0.01 * s))) : scalar('bs', 'float32', Math.fround(0.01 * ws[0])));
  } else if (bias === 'float') {
    inits.push(tensor('bd', 'float32', [wDims[axis]], 12, -0.3, 0.3));
  }
  if (act === 'Relu') nodes.push({ op: 'Relu', inputs: ['c'], outputs: ['r'] });
  if (act === 'Clip') {
    nodes.push({ op: 'Clip', inputs: ['c', 'lo', 'hi'], outputs: ['r'] });
    inits.push(scalar('lo', 'float32', 0), scalar('hi', 'float32', 0.6));
  }
  nodes.push({ op: 'QuantizeLinear', inputs: ['r', 'ys', 'yz'], outputs: ['yq'] },
    { op: 'DequantizeLinear', inputs: ['yq', 'ys', 'yz'], outputs: ['y'] });
  return {
    inputs: [{ name: 'x', type: 'float32', dims: xDims }],
    outputs: [{ name: 'y', type: 'float32', dims: yDims }],
    nodes, initializers: inits,
  };
}

const xFeed = (dims) => [tensor('x', 'float32', dims, 5, -1.2, 1.3)];

test('fuse-qdq: Conv between DequantizeLinear and QuantizeLinear is one QLinearConv', async () => {
  const base = { op: 'Conv', xDims: [1, 4, 9, 9], yDims: [1, 6, 9, 9], wDims: [6, 4, 3, 3], axis: 0, attrs: { pads: [1, 1, 1, 1] } };
  await check('qdq_conv_u8_pt', qdqSpec({ ...base, wType: 'uint8', perCh: false }), xFeed(base.xDims), 0.02 + 1e-6,
    ['QuantizeLinear', 'QLinearConv [DequantizeLinear+QuantizeLinear]', 'DequantizeLinear']);
  await check('qdq_conv_i8_pc_relu', qdqSpec({ ...base, wType: 'int8', perCh: true, symmetric: true, act: 'Relu', bias: 'int32' }),
    xFeed(base.xDims), 0.02 + 1e-6, ['QuantizeLinear', 'QLinearConv [DequantizeLinear+Relu+QuantizeLinear]', 'DequantizeLinear']);
  await check('qdq_conv_i8_pc_clip_s8', qdqSpec({ ...base, wType: 'int8', perCh: true, act: 'Clip', bias: 'float', actType: 'int8' }),
    xFeed(base.xDims), 0.02 + 1e-6, ['QuantizeLinear', 'QLinearConv [DequantizeLinear+Clip+QuantizeLinear]', 'DequantizeLinear']);
  const dw = { ...base, yDims: [1, 4, 5, 5], wDims: [4, 1, 3, 3], attrs: { group: 4, pads: [1, 1, 1, 1], strides: [2, 2] } };
  await check('qdq_dwconv', qdqSpec({ ...dw, wType: 'int8', perCh: true, symmetric: true, act: 'Relu', bias: 'int32' }),
    xFeed(dw.xDims), 0.02 + 1e-6, ['QuantizeLinear', 'QLinearConv [DequantizeLinear+Relu+QuantizeLinear]', 'DequantizeLinear']);
});

test('fuse-qdq: MatMul and Gemm (transB, bias) become QLinearMatMul', async () => {
  await check('qdq_matmul', qdqSpec({ op: 'MatMul', xDims: [2, 5, 16], yDims: [2, 5, 12], wDims: [16, 12], wType: 'int8', perCh: true, axis: 1, symmetric: true }),
    xFeed([2, 5, 16]), 0.02 + 1e-6, ['QuantizeLinear', 'QLinearMatMul [DequantizeLinear+QuantizeLinear]', 'DequantizeLinear']);
  await check('qdq_gemm', qdqSpec({ op: 'Gemm', xDims: [3, 20], yDims: [3, 10], wDims: [10, 20], wType: 'int8', perCh: true, axis: 0, symmetric: true, bias: 'float', act: 'Relu', attrs: { transB: 1 } }),
    xFeed([3, 20]), 0.02 + 1e-6, ['QuantizeLinear', 'QLinearMatMul [DequantizeLinear+Relu+QuantizeLinear]', 'DequantizeLinear']);
  await check('qdq_gemm_u8', qdqSpec({ op: 'Gemm', xDims: [4, 9], yDims: [4, 7], wDims: [9, 7], wType: 'uint8', perCh: false, axis: 1, bias: 'int32' }),
    xFeed([4, 9]), 0.02 + 1e-6, ['QuantizeLinear', 'QLinearMatMul [DequantizeLinear+QuantizeLinear]', 'DequantizeLinear']);
});

test('fuse-qdq leaves the pattern alone where the float result is also a graph output', async () => {
  const spec = qdqSpec({ op: 'Conv', xDims: [1, 2, 5, 5], yDims: [1, 3, 5, 5], wDims: [3, 2, 1, 1], wType: 'int8', perCh: false, axis: 0 });
  spec.outputs.push({ name: 'r', type: 'float32', dims: [1, 3, 5, 5] }); // the Conv's float output is pinned
  await check('qdq_pinned', spec, xFeed([1, 2, 5, 5]), 0.02 + 1e-6,
    ['QuantizeLinear', 'DequantizeLinear', 'DequantizeLinear', 'Conv', 'QuantizeLinear', 'DequantizeLinear']);
});

test('ConvInteger and QLinearConv depthwise (the direct kernel): stride 1 and 2, int32 and requantized', async () => {
  let seed = 300;
  for (const stride of [1, 2]) {
    const attrs = { group: 6, pads: [1, 1, 1, 1], strides: [stride, stride] };
    await check(`convinteger_dw_${stride}`, {
      inputs: [{ name: 'x', type: 'uint8', dims: [2, 6, 11, 13] }],
      outputs: [{ name: 'y', type: 'int32', dims: null }],
      nodes: [{ op: 'ConvInteger', inputs: ['x', 'w', 'xz', 'wz'], outputs: ['y'], attrs }],
      initializers: [q8('w', 'uint8', [6, 1, 3, 3], seed++), scalar('xz', 'uint8', 128), scalar('wz', 'uint8', 120)],
    }, [q8('x', 'uint8', [2, 6, 11, 13], seed++)], 0);
    await check(`qlinearconv_dw_${stride}`, {
      inputs: [{ name: 'x', type: 'int8', dims: [1, 6, 17, 9] }],
      outputs: [{ name: 'y', type: 'int8', dims: null }],
      nodes: [{ op: 'QLinearConv', inputs: ['x', 'xs', 'xz', 'w', 'ws', 'wz', 'ys', 'yz', 'b'], outputs: ['y'], attrs }],
      initializers: [scalar('xs', 'float32', 0.02), scalar('xz', 'int8', 4), q8('w', 'int8', [6, 1, 3, 3], seed++),
        vec('ws', 'float32', [0.01, 0.012, 0.008, 0.02, 0.015, 0.011]), vec('wz', 'int8', [0, 0, 0, 0, 0, 0]),
        scalar('ys', 'float32', 0.05), scalar('yz', 'int8', -2), tensor('b', 'int32', [6], seed++, -500, 500)],
    }, [q8('x', 'int8', [1, 6, 17, 9], seed++)], 1);
  }
});

// ---- edgeinfer quantize ----

function smallCnn() {
  const f = (name, dims, seed, scale = 0.5) => tensor(name, 'float32', dims, seed, -scale, scale);
  return makeModel({
    inputs: [{ name: 'x', type: 'float32', dims: [1, 3, 12, 12] }],
    outputs: [{ name: 'y', type: 'float32', dims: [1, 5] }],
    nodes: [
      { op: 'Conv', inputs: ['x', 'w1', 'b1'], outputs: ['c1'], attrs: { pads: [1, 1, 1, 1] } },
      { op: 'Relu', inputs: ['c1'], outputs: ['r1'] },
      { op: 'Conv', inputs: ['r1', 'w2', 'b2'], outputs: ['c2'], attrs: { group: 8, pads: [1, 1, 1, 1] } },
      { op: 'Clip', inputs: ['c2', 'lo', 'hi'], outputs: ['r2'] },
      { op: 'Add', inputs: ['r1', 'r2'], outputs: ['a'] },
      { op: 'GlobalAveragePool', inputs: ['a'], outputs: ['g'] },
      { op: 'Flatten', inputs: ['g'], outputs: ['fl'] },
      { op: 'Gemm', inputs: ['fl', 'w3', 'b3'], outputs: ['y'], attrs: { transB: 1 } },
    ],
    initializers: [f('w1', [8, 3, 3, 3], 1), f('b1', [8], 2, 0.1), f('w2', [8, 1, 3, 3], 3), f('b2', [8], 4, 0.1),
      scalar('lo', 'float32', 0), scalar('hi', 'float32', 1.5), f('w3', [5, 8], 5), f('b3', [5], 6, 0.1)],
  });
}

test('edgeinfer quantize --weights int8: QDQ models that onnxruntime loads, run in int8 by edgeinfer', async () => {
  requireFile(CLI, 'build it with `make`');
  const src = join(TMP, 'cnn.onnx'), calib = join(TMP, 'calib');
  writeFileSync(src, smallCnn());
  spawnSync('mkdir', ['-p', calib]);
  const xs = [0, 1, 2].map((k) => tensor('x', 'float32', [1, 3, 12, 12], 40 + k, -1, 1));
  xs.forEach((x, k) => writeFileSync(join(calib, `s${k}.npy`), writeNpy('<f4', x.dims, x.data)));
  const floatRef = await ort.InferenceSession.create(src);
  for (const withCalib of [true, false]) {
    const out = join(TMP, `cnn.q${withCalib ? 's' : 'w'}.onnx`);
    const r = spawnSync(CLI, ['quantize', src, '-o', out, '--weights', 'int8', ...(withCalib ? ['--calibrate', calib] : [])],
      { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, withCalib ? /3 weights int8 per channel, [1-9]\d* activations uint8/ : /3 weights int8 per channel, 0 activations/);
    const ops = compiled(out);
    if (withCalib) assert.equal(ops.filter((o) => o.startsWith('QLinearConv')).length, 2, ops.join('\n'));
    const q = await ort.InferenceSession.create(out);
    for (const x of xs) {
      const feed = { x: new ort.Tensor('float32', x.data, x.dims) };
      const want = (await floatRef.run(feed)).y.data, got = (await q.run(feed)).y.data;
      const range = Math.max(...want.map(Math.abs));
      compare(got, want, 0.05 * range, `${withCalib ? 'static' : 'weights-only'} int8 in onnxruntime vs float32`);
    }
    // edgeinfer on the quantized file against onnxruntime on the same file
    await check(`cnn_q${withCalib ? 's' : 'w'}`, new Uint8Array(readFileSync(out)), [xs[0]], 1e-4);
  }
  const bad = spawnSync(CLI, ['quantize', src, '-o', join(TMP, 'x.onnx'), '--weights', 'int3'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--weights int8/);
  const noOut = spawnSync(CLI, ['quantize', src, '--weights', 'int8'], { encoding: 'utf8' });
  assert.equal(noOut.status, 2);
});
