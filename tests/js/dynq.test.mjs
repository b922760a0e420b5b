// Dynamically quantised matrix products: DynamicQuantizeMatMul (com.microsoft), the
// fuse-dynamic-quant compile pass that makes it from DynamicQuantizeLinear + MatMulInteger + Cast +
// Mul (+ Add), and `edgeinfer quantize --dynamic`, which writes that form. Every model runs in the
// native CLI (EDGEINFER_CLI picks another build, the sanitizer one in `make test-js`) and the wasm
// build and is compared with onnxruntime-node running the same file: the fused node does the
// unfused ops' integer arithmetic, so the single products agree to float rounding; the quantized
// encoder (tests/js/encoder-model.mjs) agrees within 1e-3 of its output range.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import ort from 'onnxruntime-node';
import { encoderModel } from './encoder-model.mjs';
import { DIST, ROOT, requireDist, requireFile } from './helpers.mjs';
import { readNpy, writeNpy } from './npy.mjs';
import { makeModel } from './onnx-model.mjs';

const CLI = process.env.EDGEINFER_CLI ? resolve(process.env.EDGEINFER_CLI) : join(ROOT, 'build', 'edgeinfer');
const TMP = mkdtempSync(join(tmpdir(), 'edgeinfer-dynq-'));
after(() => rmSync(TMP, { recursive: true, force: true }));
const MS = 'com.microsoft';

const prod = (dims) => dims.reduce((a, b) => a * b, 1);
const CTORS = { float32: Float32Array, uint8: Uint8Array, int8: Int8Array };
let state = 1;
const next = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32;
const floats = (name, dims, lo = -1, hi = 1) => ({ name, type: 'float32', dims, data: Float32Array.from({ length: prod(dims) }, () => lo + (hi - lo) * next()) });
const bytes = (name, type, dims) => ({ name, type, dims, data: CTORS[type].from({ length: prod(dims) }, () => Math.floor(next() * 256) - (type === 'int8' ? 128 : 0)) });
const param = (name, type, n, f) => ({ name, type, dims: n ? [n] : [], data: CTORS[type].from({ length: n || 1 }, (_, i) => f(i)) });

function sh(args) {
  const r = spawnSync(CLI, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

// The compiled graph's nodes, "Op [fused]" each.
function compiled(path) {
  const lines = sh(['info', path, '--compiled']).split('\n');
  return lines.slice(lines.findIndex((l) => l.startsWith('compiled')) + 1).filter((l) => l.startsWith('  ')).map((l) => l.trim().replace(/\s{2,}.*$/, ''));
}

// max |got - want| over max |want|.
function relErr(got, want) {
  assert.equal(got.length, want.length);
  let d = 0, m = 0;
  for (let i = 0; i < want.length; i++) {
    d = Math.max(d, Math.abs(got[i] - want[i]));
    m = Math.max(m, Math.abs(want[i]));
  }
  return d / Math.max(m, 1e-30);
}

let edgeinfer;
// Output y of the model file at `path` for input x: onnxruntime's, the native CLI's and the wasm build's.
async function outputs(path, x) {
  requireFile(CLI, 'build it with `make`');
  requireDist();
  const ref = await ort.InferenceSession.create(path);
  const want = (await ref.run({ x: new ort.Tensor('float32', x.data, x.dims) })).y;
  writeFileSync(`${path}.x.npy`, writeNpy('<f4', x.dims, x.data));
  sh(['run', path, '-i', `x=${path}.x.npy`, '-o', `${path}.out`]);
  const native = readNpy(readFileSync(join(`${path}.out`, 'y.npy')));
  edgeinfer ??= await import(join(DIST, 'edgeinfer.mjs'));
  const s = await edgeinfer.InferenceSession.create(readFileSync(path));
  const wasm = (await s.run({ x: new edgeinfer.Tensor('float32', x.data, x.dims) })).y;
  await s.release();
  assert.deepEqual(native.shape, want.dims);
  assert.deepEqual(wasm.dims, want.dims);
  return { want: want.data, native: native.data, wasm: wasm.data };
}

async function check(name, model, x, tol, expectCompiled) {
  const path = join(TMP, `${name}.onnx`);
  writeFileSync(path, model);
  if (expectCompiled) assert.deepEqual(compiled(path), expectCompiled, name);
  const o = await outputs(path, x);
  for (const k of ['native', 'wasm']) {
    const e = relErr(o[k], o.want);
    assert.ok(e <= tol, `${name} ${k}: relative error ${e} (allowed ${tol})`);
  }
  return o;
}

// y = x [.., K] times the quantized weight w [K, N] through either form: the contrib op, or the
// pattern onnxruntime's quantize_dynamic writes, Mul(Cast(MatMulInteger), Mul(x_scale, w_scale)),
// with an optional bias.
function product({ xDims, N, wType, perCol, bias, form, extraOut }) {
  const K = xDims.at(-1);
  state = K * N; // the same weights for every form
  const inits = [
    bytes('w', wType, [K, N]),
    param('ws', 'float32', perCol ? N : 0, (i) => 0.01 + 0.003 * i),
    param('wz', wType, perCol ? N : 0, (i) => (wType === 'int8' ? (i % 7) - 3 : 120 + (i % 9))),
  ];
  if (bias) inits.push(floats('b', [N]));
  const y = bias ? 'mm' : 'y';
  let nodes;
  if (form === 'op') {
    nodes = [{ op: 'DynamicQuantizeMatMul', domain: MS, inputs: ['x', 'w', 'ws', 'wz', ...(bias ? ['b'] : [])], outputs: ['y'] }];
  } else {
    nodes = [
      { op: 'DynamicQuantizeLinear', inputs: ['x'], outputs: ['xq', 'xs', 'xz'] },
      { op: 'MatMulInteger', inputs: ['xq', 'w', 'xz', 'wz'], outputs: ['acc'] },
      { op: 'Cast', inputs: ['acc'], outputs: ['accf'], attrs: { to: 1 } },
      { op: 'Mul', inputs: ['xs', 'ws'], outputs: ['s'] },
      { op: 'Mul', inputs: ['accf', 's'], outputs: [y] },
      ...(bias ? [{ op: 'Add', inputs: ['b', 'mm'], outputs: ['y'] }] : []),
    ];
  }
  return makeModel({
    opset: 13,
    domains: { [MS]: 1 },
    inputs: [{ name: 'x', type: 'float32', dims: xDims }],
    outputs: [{ name: 'y', type: 'float32', dims: null }, ...(extraOut ? [{ name: extraOut, type: 'float32', dims: null }] : [])],
    nodes,
    initializers: inits,
  });
}

const CASES = [
  { xDims: [5, 24], N: 16, wType: 'int8', perCol: true, bias: true },
  { xDims: [2, 7, 33], N: 10, wType: 'uint8', perCol: false, bias: false },
  { xDims: [3, 64], N: 37, wType: 'uint8', perCol: true, bias: true },
  { xDims: [1, 9, 17], N: 8, wType: 'int8', perCol: false, bias: true },
];

test('DynamicQuantizeMatMul: uint8 and int8 weights, per tensor and per column, bias, batched A', async () => {
  for (const [i, c] of CASES.entries()) await check(`op${i}`, product({ ...c, form: 'op' }), floats('x', c.xDims, -2, 3), 1e-5);
});

test('fuse-dynamic-quant: the quantize_dynamic pattern is one DynamicQuantizeMatMul, with the unfused result', async () => {
  for (const [i, c] of CASES.entries()) {
    const form = 'pattern';
    const fused = `DynamicQuantizeMatMul [DynamicQuantizeLinear+Cast+Mul+Mul${c.bias ? '+Add' : ''}]`;
    const x = floats('x', c.xDims, -1.5, 2.5);
    const o = await check(`fuse${i}`, product({ ...c, form }), x, 1e-5, [fused]);
    // the same pattern with the Cast's output also a graph output stays unfused, and agrees
    const path = join(TMP, `unfused${i}.onnx`);
    writeFileSync(path, product({ ...c, form, extraOut: 'accf' }));
    assert.ok(compiled(path).includes('MatMulInteger'), 'a pinned intermediate keeps the ops');
    const u = await outputs(path, x);
    assert.ok(relErr(o.native, u.native) <= 1e-6 && relErr(o.wasm, u.wasm) <= 1e-6, `fused and unfused differ: ${relErr(o.native, u.native)} ${relErr(o.wasm, u.wasm)}`);
  }
});

test('edgeinfer quantize --dynamic: a transformer encoder, run by onnxruntime and edgeinfer in int8', async () => {
  const fp = join(TMP, 'encoder.onnx'), q = join(TMP, 'encoder.dynq.onnx');
  writeFileSync(fp, encoderModel({ dim: 64, heads: 4, ffn: 256, layers: 2, seq: 16 }));
  assert.match(sh(['quantize', fp, '-o', q, '--dynamic']), /12 weights int8 per channel, 8 activations uint8 at run time/);
  const ops = compiled(q);
  assert.equal(ops.filter((o) => o === 'DynamicQuantizeMatMul [DynamicQuantizeLinear+Cast+Mul+Mul+Add]').length, 10);
  assert.equal(ops.filter((o) => o === 'DynamicQuantizeMatMul [DynamicQuantizeLinear+Cast+Mul+Mul+Add+Gelu]').length, 2);
  assert.ok(!ops.some((o) => /^(MatMulInteger|DynamicQuantizeLinear|Cast)/.test(o)), ops.join('\n'));
  const x = floats('x', [1, 16, 64], -2, 2);
  const o = await check('encoder.dynq', readFileSync(q), x, 1e-3);
  // and it still computes the float model, to 8-bit precision
  const f = await outputs(fp, x);
  assert.ok(relErr(o.want, f.want) < 0.05, `int8 against float32: ${relErr(o.want, f.want)}`);
});

test('edgeinfer quantize --dynamic: Gemm with transB and C; Gemm with alpha stays float; opset 10 is refused', async () => {
  const inits = [floats('w', [12, 20]), floats('c', [12]), floats('w2', [12, 6])];
  const spec = {
    opset: 13,
    inputs: [{ name: 'x', type: 'float32', dims: [4, 20] }],
    outputs: [{ name: 'y', type: 'float32', dims: [4, 6] }],
    nodes: [
      { op: 'Gemm', inputs: ['x', 'w', 'c'], outputs: ['h'], attrs: { transB: 1 } },
      { op: 'Relu', inputs: ['h'], outputs: ['r'] },
      { op: 'Gemm', inputs: ['r', 'w2'], outputs: ['y'], attrs: { alpha: 0.5 } },
    ],
    initializers: inits,
  };
  const fp = join(TMP, 'gemm.onnx'), q = join(TMP, 'gemm.dynq.onnx'), old = join(TMP, 'gemm10.onnx');
  writeFileSync(fp, makeModel(spec));
  writeFileSync(old, makeModel({ ...spec, opset: 10 }));
  const r = spawnSync(CLI, ['quantize', old, '-o', q, '--dynamic'], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /DynamicQuantizeLinear, which needs opset 11 or later; the model imports opset 10/);
  assert.match(sh(['quantize', fp, '-o', q, '--dynamic']), /1 weights int8 per channel, 1 activations/);
  await check('gemm.dynq', readFileSync(q), floats('x', [4, 20]), 1e-5,
    ['DynamicQuantizeMatMul [DynamicQuantizeLinear+Cast+Mul+Mul+Add+Relu]', 'Gemm']);
});

test('DynamicQuantizeMatMul: parameters that do not fit B fail with a message naming the node, in both builds', async () => {
  const cases = [
    [{ name: 'ws', type: 'float32', dims: [5], data: new Float32Array(5).fill(0.1) }, null, /b_scale \[5\].*\[6,4\]/],
    [param('ws', 'float32', 0, () => 0.1), { name: 'b', type: 'float32', dims: [3], data: new Float32Array(3) }, /bias \[3\] needs \[4\]/],
  ];
  for (const [i, [ws, b, re]] of cases.entries()) {
    const model = makeModel({
      opset: 13,
      domains: { [MS]: 1 },
      inputs: [{ name: 'x', type: 'float32', dims: [2, 6] }],
      outputs: [{ name: 'y', type: 'float32', dims: null }],
      nodes: [{ op: 'DynamicQuantizeMatMul', domain: MS, name: 'dq', inputs: ['x', 'w', 'ws', '', ...(b ? ['b'] : [])], outputs: ['y'] }],
      initializers: [bytes('w', 'int8', [6, 4]), ws, ...(b ? [b] : [])],
    });
    const path = join(TMP, `bad${i}.onnx`);
    writeFileSync(path, model);
    const x = floats('x', [2, 6]);
    writeFileSync(`${path}.x.npy`, writeNpy('<f4', x.dims, x.data));
    const r = spawnSync(CLI, ['run', path, '-i', `x=${path}.x.npy`, '-o', `${path}.out`], { encoding: 'utf8' });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /node 'dq' \(DynamicQuantizeMatMul/);
    assert.match(r.stderr, re);
    edgeinfer ??= await import(join(DIST, 'edgeinfer.mjs'));
    await assert.rejects(async () => {
      const s = await edgeinfer.InferenceSession.create(model);
      try {
        await s.run({ x: new edgeinfer.Tensor('float32', x.data, x.dims) });
      } finally {
        await s.release();
      }
    }, (e) => /node 'dq'/.test(e.message) && re.test(e.message));
  }
});
