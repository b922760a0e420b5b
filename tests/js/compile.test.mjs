// The compile passes (src/graph/passes.c), one pattern at a time: a small hand-built model per
// case, the compiled graph as `edgeinfer info --compiled` lists it (what was fused, what was
// left alone and why), and the outputs of the native CLI and the wasm build against
// onnxruntime-node running the model as written.

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
const TMP = mkdtempSync(join(tmpdir(), 'edgeinfer-compile-'));
after(() => rmSync(TMP, { recursive: true, force: true }));

// Deterministic values in [-1, 1).
function values(n, seed) {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

const prod = (dims) => dims.reduce((a, b) => a * b, 1);
const f32 = (name, dims, seed, map = (v) => v) => ({ name, type: 'float32', dims, data: values(prod(dims), seed).map(map) });

// The compiled graph as "op [fused]" strings, in execution order.
function compiled(path) {
  const r = spawnSync(CLI, ['info', path, '--compiled'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.split('\n');
  const at = lines.findIndex((l) => l.startsWith('compiled'));
  assert.ok(at >= 0, r.stdout);
  return lines.slice(at + 1).filter((l) => l.startsWith('  ')).map((l) => l.trim().replace(/\s{2,}.*$/, ''));
}

function close(actual, expected, what) {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  assert.ok(worst <= 1e-5, `${what}: max abs error ${worst}`);
}

let edgeinfer;
async function runAll(path, bytes, x) {
  const ref = await ort.InferenceSession.create(path);
  const want = (await ref.run({ x: new ort.Tensor('float32', x.data, x.dims) })).y;

  const r = spawnSync(CLI, ['run', path, '-i', `x=${path}.x.npy`, '-o', `${path}.out`], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const native = readNpy(readFileSync(join(`${path}.out`, 'y.npy')));
  assert.deepEqual(native.shape, want.dims);
  close(native.data, want.data, 'native');

  edgeinfer ??= await import(join(DIST, 'edgeinfer.mjs'));
  const s = await edgeinfer.InferenceSession.create(bytes);
  const got = (await s.run({ x: new edgeinfer.Tensor('float32', x.data, x.dims) })).y;
  await s.release();
  assert.deepEqual(got.dims, want.dims);
  close(got.data, want.data, 'wasm');
}

// Writes the model and its input, checks the compiled graph, then the outputs everywhere.
async function check(name, spec, xDims, expectCompiled) {
  requireFile(CLI, 'build it with `make`');
  requireDist();
  const bytes = makeModel(spec);
  const path = join(TMP, `${name}.onnx`);
  writeFileSync(path, bytes);
  const x = { data: values(prod(xDims), 7), dims: xDims };
  writeFileSync(`${path}.x.npy`, writeNpy('<f4', xDims, x.data));
  assert.deepEqual(compiled(path), expectCompiled);
  await runAll(path, bytes, x);
}

const io = (xDims, yDims) => ({
  inputs: [{ name: 'x', type: 'float32', dims: xDims }],
  outputs: [{ name: 'y', type: 'float32', dims: yDims }],
});

test('fold-batchnorm + fuse-activation: Conv -> BatchNormalization -> Relu is one Conv', () =>
  check('conv_bn_relu', {
    ...io([1, 3, 8, 8], [1, 4, 8, 8]),
    nodes: [
      { op: 'Conv', inputs: ['x', 'w', 'b'], outputs: ['c'], attrs: { pads: [1, 1, 1, 1] } },
      { op: 'BatchNormalization', inputs: ['c', 'scale', 'bias', 'mean', 'var'], outputs: ['n'], attrs: { epsilon: 0.001 } },
      { op: 'Relu', inputs: ['n'], outputs: ['y'] },
    ],
    initializers: [
      f32('w', [4, 3, 3, 3], 1), f32('b', [4], 2), f32('scale', [4], 3), f32('bias', [4], 4), f32('mean', [4], 5),
      f32('var', [4], 6, (v) => v + 1.5),
    ],
  }, [1, 3, 8, 8], ['Conv [BatchNormalization+Relu]']));

test('fold-batchnorm: a Conv without bias gets one', () =>
  check('conv_nobias_bn', {
    ...io([1, 2, 5, 5], [1, 3, 5, 5]),
    nodes: [
      { op: 'Conv', inputs: ['x', 'w'], outputs: ['c'] },
      { op: 'BatchNormalization', inputs: ['c', 'scale', 'bias', 'mean', 'var'], outputs: ['y'] },
    ],
    initializers: [f32('w', [3, 2, 1, 1], 1), f32('scale', [3], 3), f32('bias', [3], 4), f32('mean', [3], 5),
      f32('var', [3], 6, (v) => v + 1.5)],
  }, [1, 2, 5, 5], ['Conv [BatchNormalization]']));

test('fuse-bias + fuse-activation: MatMul -> Add(bias) -> Tanh on a 3-D input', () =>
  check('matmul_add_tanh', {
    ...io([2, 5, 8], [2, 5, 6]),
    nodes: [
      { op: 'MatMul', inputs: ['x', 'w'], outputs: ['m'] },
      { op: 'Add', inputs: ['bias', 'm'], outputs: ['a'] },
      { op: 'Tanh', inputs: ['a'], outputs: ['y'] },
    ],
    initializers: [f32('w', [8, 6], 1), f32('bias', [6], 2)],
  }, [2, 5, 8], ['MatMul [Add+Tanh]']));

test('fuse-activation: x * Sigmoid(x) after a depthwise Conv is SiLU', () =>
  check('dwconv_silu', {
    ...io([1, 4, 6, 6], [1, 4, 6, 6]),
    nodes: [
      { op: 'Conv', inputs: ['x', 'w'], outputs: ['c'], attrs: { group: 4, pads: [1, 1, 1, 1] } },
      { op: 'Sigmoid', inputs: ['c'], outputs: ['s'] },
      { op: 'Mul', inputs: ['s', 'c'], outputs: ['y'] },
    ],
    initializers: [f32('w', [4, 1, 3, 3], 1)],
  }, [1, 4, 6, 6], ['Conv [Sigmoid+Mul]']));

test('fuse-activation: Gemm -> Clip with constant bounds (Relu6)', () =>
  check('gemm_clip', {
    ...io([3, 4], [3, 5]),
    nodes: [
      { op: 'Gemm', inputs: ['x', 'w', 'b'], outputs: ['g'], attrs: { transB: 1 } },
      { op: 'Clip', inputs: ['g', 'lo', 'hi'], outputs: ['y'] },
    ],
    initializers: [f32('w', [5, 4], 1), f32('b', [5], 2), { name: 'lo', type: 'float32', dims: [], data: new Float32Array([-0.25]) },
      { name: 'hi', type: 'float32', dims: [], data: new Float32Array([0.5]) }],
  }, [3, 4], ['Gemm [Clip]']));

// The second Gemm learns that its input is float32 through the Relu already fused into the Conv
// before the pool, in the same walk (as in the digits CNN).
test('fuse-activation: a Gemm after Conv+Relu -> MaxPool -> Flatten takes its Relu too', () =>
  check('conv_pool_gemm', {
    ...io([1, 1, 6, 6], [1, 3]),
    nodes: [
      { op: 'Conv', inputs: ['x', 'w', 'b'], outputs: ['c'], attrs: { kernel_shape: [3, 3] } },
      { op: 'Relu', inputs: ['c'], outputs: ['r'] },
      { op: 'MaxPool', inputs: ['r'], outputs: ['p'], attrs: { kernel_shape: [2, 2], strides: [2, 2] } },
      { op: 'Flatten', inputs: ['p'], outputs: ['f'] },
      { op: 'Gemm', inputs: ['f', 'w2', 'b2'], outputs: ['g'], attrs: { transB: 1 } },
      { op: 'Relu', inputs: ['g'], outputs: ['y'] },
    ],
    initializers: [f32('w', [2, 1, 3, 3], 1), f32('b', [2], 2), f32('w2', [3, 8], 3), f32('b2', [3], 4)],
  }, [1, 1, 6, 6], ['Conv [Relu]', 'MaxPool', 'Flatten', 'Gemm [Relu]']));

test('fuse-activation: LeakyRelu, HardSigmoid and HardSwish after convolutions', async () => {
  for (const [op, attrs, opset] of [['LeakyRelu', { alpha: 0.3 }, 13], ['HardSigmoid', { alpha: 0.3, beta: 0.4 }, 13],
    ['HardSwish', {}, 14]]) {
    await check(`conv_${op}`, {
      ...io([1, 2, 4, 4], [1, 3, 5, 5]),
      opset,
      nodes: [
        { op: 'ConvTranspose', inputs: ['x', 'w'], outputs: ['c'] },
        { op, inputs: ['c'], outputs: ['y'], attrs },
      ],
      initializers: [f32('w', [2, 3, 2, 2], 1)],
    }, [1, 2, 4, 4], [`ConvTranspose [${op}]`]);
  }
});

test('cancel-transposes: inverse pairs vanish, others compose into one Transpose', () =>
  check('transposes', {
    ...io([2, 3, 4], [4, 3, 2]),
    nodes: [
      { op: 'Transpose', inputs: ['x'], outputs: ['t1'], attrs: { perm: [0, 2, 1] } },
      { op: 'Transpose', inputs: ['t1'], outputs: ['t2'], attrs: { perm: [0, 2, 1] } },
      { op: 'Relu', inputs: ['t2'], outputs: ['r'] },
      { op: 'Transpose', inputs: ['r'], outputs: ['t3'], attrs: { perm: [1, 0, 2] } },
      { op: 'Transpose', inputs: ['t3'], outputs: ['y'], attrs: { perm: [2, 0, 1] } },
    ],
  }, [2, 3, 4], ['Relu', 'Transpose [Transpose]']));

test('remove-identity: Identity and inference Dropout become wires; a graph output keeps its node', () =>
  check('identity', {
    ...io([2, 3], [2, 3]),
    nodes: [
      { op: 'Identity', inputs: ['x'], outputs: ['i'] },
      { op: 'Dropout', inputs: ['i'], outputs: ['d'] },
      { op: 'Relu', inputs: ['d'], outputs: ['r'] },
      { op: 'Identity', inputs: ['r'], outputs: ['y'] },
    ],
  }, [2, 3], ['Relu', 'Identity']));

test('nothing is fused into a value that is also a graph output or has a second reader', async () => {
  const conv = { op: 'Conv', inputs: ['x', 'w'], outputs: ['c'] };
  await check('pinned', {
    inputs: [{ name: 'x', type: 'float32', dims: [1, 1, 3, 3] }],
    outputs: [{ name: 'y', type: 'float32', dims: [1, 2, 3, 3] }, { name: 'c', type: 'float32', dims: [1, 2, 3, 3] }],
    nodes: [conv, { op: 'Relu', inputs: ['c'], outputs: ['y'] }],
    initializers: [f32('w', [2, 1, 1, 1], 1)],
  }, [1, 1, 3, 3], ['Conv', 'Relu']);
  await check('two_readers', {
    ...io([1, 1, 3, 3], [1, 2, 3, 3]),
    nodes: [conv, { op: 'Relu', inputs: ['c'], outputs: ['r'] }, { op: 'Add', inputs: ['r', 'c'], outputs: ['y'] }],
    initializers: [f32('w', [2, 1, 1, 1], 1)],
  }, [1, 1, 3, 3], ['Conv', 'Relu', 'Add']);
});

test('an activation stays a node of its own where the producer\'s dtype is not known to be float32', () => {
  requireFile(CLI, 'build it with `make`');
  const path = join(TMP, 'matmul_int.onnx');
  writeFileSync(path, makeModel({
    inputs: [{ name: 'x', type: 'int32', dims: [3, 3] }],
    outputs: [{ name: 'y', type: 'int32', dims: [3, 3] }],
    opset: 14,
    nodes: [
      { op: 'MatMul', inputs: ['x', 'x'], outputs: ['m'] },
      { op: 'Relu', inputs: ['m'], outputs: ['y'] },
    ],
  }));
  assert.deepEqual(compiled(path), ['MatMul', 'Relu']);
});

test('fuse-activation: a float32 residual Add takes the Relu after it', () =>
  check('add_relu', {
    ...io([1, 2, 4, 4], [1, 2, 4, 4]),
    nodes: [
      { op: 'Conv', inputs: ['x', 'w'], outputs: ['c'] },
      { op: 'Add', inputs: ['c', 'x'], outputs: ['a'] },
      { op: 'Relu', inputs: ['a'], outputs: ['y'] },
    ],
    initializers: [f32('w', [2, 2, 1, 1], 1)],
  }, [1, 2, 4, 4], ['Conv', 'Add [Relu]']));

const scalar = (name, v) => ({ name, type: 'float32', dims: [], data: new Float32Array([v]) });

test('fuse-activation: the erf GELU after MatMul + bias is one MatMul', () =>
  check('matmul_gelu', {
    ...io([2, 3, 8], [2, 3, 6]),
    nodes: [
      { op: 'MatMul', inputs: ['x', 'w'], outputs: ['m'] },
      { op: 'Add', inputs: ['m', 'b'], outputs: ['h'] },
      { op: 'Div', inputs: ['h', 'sqrt2'], outputs: ['d'] },
      { op: 'Erf', inputs: ['d'], outputs: ['e'] },
      { op: 'Add', inputs: ['e', 'one'], outputs: ['e1'] },
      { op: 'Mul', inputs: ['h', 'e1'], outputs: ['p'] },
      { op: 'Mul', inputs: ['p', 'half'], outputs: ['y'] },
    ],
    initializers: [f32('w', [8, 6], 1, (v) => 3 * v), f32('b', [6], 2), scalar('sqrt2', Math.SQRT2), scalar('one', 1),
      scalar('half', 0.5)],
  }, [2, 3, 8], ['MatMul [Add+Gelu]']));

test('fuse-layer-norm: LayerNorm as exported before opset 17 is one LayerNormalization', () =>
  check('layer_norm', {
    ...io([2, 3, 16], [2, 3, 16]),
    nodes: [
      { op: 'ReduceMean', inputs: ['x'], outputs: ['mean'], attrs: { axes: [-1] } },
      { op: 'Sub', inputs: ['x', 'mean'], outputs: ['d'] },
      { op: 'Pow', inputs: ['d', 'two'], outputs: ['sq'] },
      { op: 'ReduceMean', inputs: ['sq'], outputs: ['var'], attrs: { axes: [-1] } },
      { op: 'Add', inputs: ['var', 'eps'], outputs: ['ve'] },
      { op: 'Sqrt', inputs: ['ve'], outputs: ['sd'] },
      { op: 'Div', inputs: ['d', 'sd'], outputs: ['n'] },
      { op: 'Mul', inputs: ['n', 'gamma'], outputs: ['s'] },
      { op: 'Add', inputs: ['s', 'beta'], outputs: ['y'] },
    ],
    initializers: [scalar('two', 2), scalar('eps', 1e-5), f32('gamma', [16], 3), f32('beta', [16], 4)],
  }, [2, 3, 16], ['LayerNormalization [ReduceMean+Sub+Pow+ReduceMean+Add+Sqrt+Div+Mul+Add]']));

test('inspect() lists the compiled graph with what was fused, and says why when there is none', async () => {
  requireDist();
  edgeinfer ??= await import(join(DIST, 'edgeinfer.mjs'));
  const bytes = makeModel({
    ...io([1, 2, 4, 4], [1, 2, 4, 4]),
    nodes: [
      { op: 'Conv', inputs: ['x', 'w'], outputs: ['c'], name: 'conv' },
      { op: 'Relu', inputs: ['c'], outputs: ['y'] },
    ],
    initializers: [f32('w', [2, 2, 1, 1], 1)],
  });
  const info = await edgeinfer.inspect(bytes);
  assert.deepEqual(info.nodes.map((n) => n.op), ['Conv', 'Relu']);
  assert.deepEqual(info.compiled, [{ op: 'Conv', name: 'conv', fused: 'Relu' }]);
  const bad = await edgeinfer.inspect(makeModel({ ...io([1], [1]), nodes: [{ op: 'NoSuchOp', inputs: ['x'], outputs: ['y'] }] }));
  assert.match(bad.compiled.error, /NoSuchOp is not supported/);
});

// An If whose branches read an outer value: Relu or Sigmoid of x @ W, chosen by sum(x) > 0.
function ifModel(elseOutDims) {
  const branch = (op, name, dims) => ({ graph: { name, nodes: [{ op, inputs: ['mm'], outputs: [`${name}_y`] }],
    outputs: [{ name: `${name}_y`, type: 'float32', dims }] } });
  const elseBranch = elseOutDims
    ? { graph: { name: 'e', nodes: [{ op: 'Sigmoid', inputs: ['mm'], outputs: ['es'] },
      { op: 'ReduceSum', inputs: ['es'], outputs: ['e_y'], attrs: { keepdims: 0 } }],
    outputs: [{ name: 'e_y', type: 'float32', dims: elseOutDims }] } }
    : branch('Sigmoid', 'e', [2, 3]);
  return {
    inputs: [{ name: 'x', type: 'float32', dims: [2, 4] }],
    outputs: [{ name: 'y', type: 'float32', dims: null }],
    nodes: [
      { op: 'MatMul', inputs: ['x', 'w'], outputs: ['mm'] },
      { op: 'ReduceSum', inputs: ['x'], outputs: ['s'], attrs: { keepdims: 0 } },
      { op: 'Greater', inputs: ['s', 'zero'], outputs: ['c'] },
      { op: 'If', inputs: ['c'], outputs: ['y'], attrs: { then_branch: branch('Relu', 't', [2, 3]), else_branch: elseBranch } },
    ],
    initializers: [f32('w', [4, 3], 1), scalar('zero', 0)],
  };
}

function arenaLine(path) {
  const r = spawnSync(CLI, ['info', path], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').find((l) => l.startsWith('arena'));
}

test('an If whose branches have the same output shape is planned with the model, and runs either branch', async () => {
  requireFile(CLI, 'build it with `make`');
  requireDist();
  for (const [name, spec] of [['if_static', ifModel()], ['if_dynamic', ifModel([])]]) {
    const bytes = makeModel(spec);
    const path = join(TMP, `${name}.onnx`);
    writeFileSync(path, bytes);
    if (name === 'if_static') assert.match(arenaLine(path), /^arena\s+\d+ bytes/);
    else assert.match(arenaLine(path), /nothing planned before the first run/);
    for (const sign of [1, -1]) {
      const x = { data: values(8, 3).map((v) => sign * (Math.abs(v) + 0.1)), dims: [2, 4] };
      writeFileSync(`${path}.x.npy`, writeNpy('<f4', x.dims, x.data));
      await runAll(path, bytes, x);
    }
  }
});
