// The JS API of dist/edgeinfer.mjs in Node: sessions, metadata, tensors of every type, model
// sources, and errors. Every error must be an EdgeInferError with the C library's message and
// status code, and the same session must run correctly right after it.

import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Tensor as OrtTensor } from 'onnxruntime-common';
import edgeinfer, { InferenceSession, Tensor, EdgeInferError, env, decodeTensorProto, inspect, version } from '../../dist/edgeinfer.mjs';
import { identityModel, makeModel, makeTensorProto } from './onnx-model.mjs';
import { readNpy } from './npy.mjs';
import { DIST, MODELS_DIR, ROOT, rejectsWith, requireDist, requireModel, throwsWith } from './helpers.mjs';

const mlpPath = join(MODELS_DIR, 'mlp.onnx');

function mlpInput(batch = 4) {
  const data = new Float32Array(batch * 64);
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.37);
  return new Tensor('float32', data, [batch, 64]);
}

test('the module exports the API both as named and as default exports', () => {
  requireDist();
  for (const [k, v] of Object.entries({ InferenceSession, Tensor, EdgeInferError, env, decodeTensorProto, version })) {
    assert.equal(edgeinfer[k], v, k);
  }
  const header = readFileSync(join(ROOT, 'include', 'edgeinfer.h'), 'utf8');
  assert.equal(version, /#define EI_VERSION "([^"]+)"/.exec(header)[1]);
  assert.equal(env.versions.edgeinfer, version);
  assert.ok(new EdgeInferError('x', 'INVALID_STATE') instanceof Error);
});

test('Tensor: types, dims and size, like onnxruntime', () => {
  const t = new Tensor('float32', new Float32Array(6), [2, 3]);
  assert.deepEqual([t.type, t.dims, t.size, t.location], ['float32', [2, 3], 6, 'cpu']);
  assert.equal(new Tensor(new Int32Array(4)).type, 'int32');
  assert.deepEqual(new Tensor(new Int32Array(4)).dims, [4]);
  assert.equal(new Tensor(new BigInt64Array(2), [1, 2]).type, 'int64');
  assert.deepEqual(new Tensor('int64', [1, 2, 3]).data, new BigInt64Array([1n, 2n, 3n]));
  assert.deepEqual(new Tensor('bool', [true, false, true]).data, new Uint8Array([1, 0, 1]));
  assert.deepEqual(new Tensor('float64', [0.5], []).dims, []);
  assert.equal(new Tensor('float32', new Float32Array(0), [0, 5]).size, 0);
  assert.deepEqual(t.reshape([3, 2]).dims, [3, 2]);
  assert.equal(t.reshape([6]).data, t.data);
  throwsWith(() => new Tensor('float32', new Float32Array(5), [2, 3]), 'INVALID_ARGUMENT', /hold 6 elements but the data has 5/);
  throwsWith(() => new Tensor('float32', new Float64Array(1)), 'INVALID_ARGUMENT', /needs a Float32Array, got Float64Array/);
  throwsWith(() => new Tensor('int64', new Int32Array(1)), 'INVALID_ARGUMENT', /BigInt64Array/);
  throwsWith(() => new Tensor('complex64', new Float32Array(2)), 'UNSUPPORTED', /'complex64' is not supported/);
  throwsWith(() => new Tensor('string', [1]), 'INVALID_ARGUMENT', /array of strings/);
  throwsWith(() => new Tensor('float32', new Float32Array(1), [-1]), 'INVALID_ARGUMENT', /bad dimension -1/);
  throwsWith(() => new Tensor('float32', new Float32Array(1), new Array(9).fill(1)), 'INVALID_ARGUMENT', /rank 9/);
  throwsWith(() => new Tensor([1, 2]), 'INVALID_ARGUMENT', /cannot tell the type/);
});

test('metadata of the real models: names, types, fixed and symbolic dims', async () => {
  requireModel('mlp');
  requireModel('mobilenet_v2');
  const mlp = await InferenceSession.create(mlpPath);
  assert.deepEqual(mlp.inputNames, ['input']);
  assert.deepEqual(mlp.outputNames, ['output']);
  assert.deepEqual(mlp.inputMetadata, [{ name: 'input', isTensor: true, type: 'float32', shape: ['batch', 64], dims: ['batch', 64] }]);
  assert.deepEqual(mlp.outputMetadata, [{ name: 'output', isTensor: true, type: 'float32', shape: ['batch', 10], dims: ['batch', 10] }]);
  await mlp.release();
  const mobilenet = await InferenceSession.create(join(MODELS_DIR, 'mobilenet_v2.onnx'));
  assert.deepEqual(mobilenet.inputMetadata[0].shape, [1, 3, 224, 224]);
  assert.deepEqual(mobilenet.outputMetadata[0].dims, [1, 1000]);
  await mobilenet.release();
});

test('metadata: a dim with neither size nor name is null; an unknown rank has dims null', async () => {
  const model = makeModel({
    inputs: [{ name: 'a', type: 'float32', dims: [null, 'n', 3] }, { name: 'b', type: 'int64' }],
    outputs: [{ name: 'a2', type: 'float32', dims: [null, 'n', 3] }, { name: 'b2', type: 'int64' }],
    nodes: [{ op: 'Identity', inputs: ['a'], outputs: ['a2'] }, { op: 'Identity', inputs: ['b'], outputs: ['b2'] }],
  });
  const s = await InferenceSession.create(model);
  assert.deepEqual(s.inputMetadata, [
    { name: 'a', isTensor: true, type: 'float32', shape: [null, 'n', 3], dims: [null, 'n', 3] },
    { name: 'b', isTensor: true, type: 'int64', shape: [], dims: null },
  ]);
  const out = await s.run({ a: new Tensor('float32', new Float32Array(6), [2, 1, 3]), b: new Tensor('int64', [7n, 8n], [1, 2]) });
  assert.deepEqual(out.b2.dims, [1, 2]);
  assert.deepEqual(out.b2.data, new BigInt64Array([7n, 8n]));
  await s.release();
});

const TYPED_VALUES = {
  float32: new Float32Array([1.5, -0, Infinity, Number.NaN, -3.25e-20, 3.4e38]),
  float64: new Float64Array([Math.PI, -0, -Infinity, Number.NaN, 5e-324, 1.7976931348623157e308]),
  int8: new Int8Array([-128, -1, 0, 1, 127, 5]),
  uint8: new Uint8Array([0, 1, 128, 254, 255, 7]),
  int16: new Int16Array([-32768, -1, 0, 1, 32767, 9]),
  uint16: new Uint16Array([0, 1, 32768, 65534, 65535, 3]),
  int32: new Int32Array([-(2 ** 31), -1, 0, 1, 2 ** 31 - 1, 42]),
  uint32: new Uint32Array([0, 1, 2 ** 31, 2 ** 32 - 2, 2 ** 32 - 1, 6]),
  int64: new BigInt64Array([-(2n ** 63n), -1n, 0n, 2n ** 53n + 1n, 2n ** 63n - 1n, 11n]),
  uint64: new BigUint64Array([0n, 1n, 2n ** 63n, 2n ** 64n - 2n, 2n ** 64n - 1n, 2n ** 53n + 1n]),
  bool: new Uint8Array([1, 0, 0, 1, 1, 0]),
  float16: new Uint16Array([0x3c00, 0x8000, 0x7c00, 0xfbff, 0x0001, 0x3555]),
};

for (const [type, values] of Object.entries(TYPED_VALUES)) {
  test(`a ${type} tensor goes through the wasm and back bit for bit`, async () => {
    const s = await InferenceSession.create(identityModel(type, [2, 3]));
    assert.equal(s.inputMetadata[0].type, type);
    const input = new Tensor(type, values.slice(), [2, 3]);
    const { y } = await s.run({ x: input });
    assert.equal(y.type, type);
    assert.deepEqual(y.dims, [2, 3]);
    assert.equal(y.data.constructor, values.constructor);
    assert.deepEqual(new Uint8Array(y.data.buffer), new Uint8Array(values.buffer));
    assert.deepEqual(input.data, values, 'the input array was changed');
    await s.release();
  });
}

test('an onnxruntime Tensor can be fed as it is', async () => {
  requireModel('mlp');
  const s = await InferenceSession.create(mlpPath);
  const x = mlpInput(2);
  const a = await s.run({ input: x });
  const b = await s.run({ input: new OrtTensor('float32', x.data, [2, 64]) });
  assert.deepEqual(b.output.data, a.output.data);
  await s.release();
});

// A Response whose body comes in chunks of `size` bytes.
function chunked(bytes, size, headers = {}) {
  let at = 0;
  const body = new ReadableStream({
    pull(c) {
      if (at >= bytes.length) return c.close();
      c.enqueue(bytes.slice(at, at + size));
      at += size;
    },
  });
  return new Response(body, { headers });
}

test('a Response body that fails midway or is a web page is an EdgeInferError; other sessions run on', async () => {
  requireModel('mlp');
  const file = readFileSync(mlpPath);
  const s = await InferenceSession.create(mlpPath);
  const failing = new Response(new ReadableStream({
    start(c) { c.enqueue(file.slice(0, 4096)); },
    pull(c) { c.error(new Error('connection reset')); },
  }));
  await rejectsWith(InferenceSession.create(failing), 'LOAD_FAILED', /connection reset/);
  await rejectsWith(InferenceSession.create(chunked(new TextEncoder().encode('<!doctype html><p>gone</p>'), 5)),
    'LOAD_FAILED', /HTML page/);
  const { output } = await s.run({ input: mlpInput(2) });
  assert.equal(output.dims[0], 2);
  await s.release();
});

// Where protobuf left a weight's bytes unaligned, the wasm build reads it in place. Silero VAD's If
// branches read such a weight from the enclosing graph, bound as a subgraph input at that address,
// which must not be refused as misaligned: the same speech probability as onnxruntime-node.
test('Silero VAD (If branches reading an unaligned outer weight) runs as in onnxruntime', async () => {
  const path = join(ROOT, 'node_modules', '@ricky0123', 'vad-web', 'dist', 'silero_vad_legacy.onnx');
  const ortNode = await import('onnxruntime-node');
  const frame = new Float32Array(1536).map((_, i) => Math.sin(i / 10) * 0.3);
  const feeds = (T) => ({
    input: new T('float32', frame, [1, 1536]),
    sr: new T('int64', BigInt64Array.from([16000n]), []),
    h: new T('float32', new Float32Array(128), [2, 1, 64]),
    c: new T('float32', new Float32Array(128), [2, 1, 64]),
  });
  const want = await (await ortNode.InferenceSession.create(path)).run(feeds(ortNode.Tensor));
  const s = await InferenceSession.create(path);
  const got = await s.run(feeds(Tensor));
  const worst = Math.abs(got.output.data[0] - want.output.data[0]);
  assert.ok(worst < 1e-3, `speech probability ${got.output.data[0]}, onnxruntime-node ${want.output.data[0]}`);
  await s.release();
});

test('model sources: path, file URL, ArrayBuffer (or a slice of one), Uint8Array view, Response', async () => {
  requireModel('mlp');
  const file = readFileSync(mlpPath);
  const padded = new Uint8Array(file.length + 13);
  padded.set(file, 7);
  const sources = [
    [mlpPath],
    [pathToFileURL(mlpPath)],
    [pathToFileURL(mlpPath).href],
    [file.buffer.slice(file.byteOffset, file.byteOffset + file.length)],
    [padded.subarray(7, 7 + file.length)],
    [padded.buffer, 7, file.length],
    [new Response(file)],
    [Promise.resolve(new Response(file))],
    // A body read straight into wasm memory in small chunks: without a Content-Length, and with
    // one shorter than the body (as a compressed body's is), the block it goes to grows.
    [chunked(file, 1000)],
    [chunked(file, 333, { 'content-length': '100' })],
    [chunked(file, file.length, { 'content-length': String(file.length) })],
  ];
  const x = mlpInput(3);
  let expected;
  for (const args of sources) {
    const s = await InferenceSession.create(...args);
    const { output } = await s.run({ input: x });
    expected = expected || output.data;
    assert.deepEqual(output.data, expected, `source ${args.map((a) => a.constructor.name)}`);
    await s.release();
  }
  // The caller's buffer is not taken away.
  assert.equal(padded.byteLength, file.length + 13);
  assert.equal(padded[7], file[0]);
});

test('fetches: only the named outputs are returned', async () => {
  const model = makeModel({
    inputs: [{ name: 'x', type: 'int32', dims: [2] }],
    outputs: [{ name: 'p', type: 'int32', dims: [2] }, { name: 'q', type: 'int32', dims: [2] }],
    nodes: [{ op: 'Identity', inputs: ['x'], outputs: ['p'] }, { op: 'Identity', inputs: ['x'], outputs: ['q'] }],
  });
  const s = await InferenceSession.create(model);
  const x = new Tensor('int32', [4, 5]);
  assert.deepEqual(Object.keys(await s.run({ x })), ['p', 'q']);
  assert.deepEqual(Object.keys(await s.run({ x }, ['q'])), ['q']);
  await rejectsWith(s.run({ x }, ['r']), 'INVALID_ARGUMENT', /unknown output 'r'/);
  await s.release();
});

test('bad model bytes give the C message and code, and the runtime keeps working', async () => {
  await rejectsWith(InferenceSession.create(new Uint8Array([8, 1, 0x3a, 200, 1, 2])), 'INVALID_MODEL', /cannot load the model: .+/);
  await rejectsWith(InferenceSession.create(new Uint8Array(0)), 'INVALID_ARGUMENT', /empty/);
  await rejectsWith(InferenceSession.create(readFileSync(join(DIST, 'edgeinfer.wasm'))), 'INVALID_MODEL');
  const unsupported = makeModel({
    inputs: [{ name: 'x', type: 'float32', dims: [1] }],
    outputs: [{ name: 'y', type: 'float32', dims: [1] }],
    nodes: [{ op: 'NoSuchOp', inputs: ['x'], outputs: ['y'], name: 'strange' }],
  });
  await rejectsWith(InferenceSession.create(unsupported), 'UNSUPPORTED', /node 'strange' \(NoSuchOp, opset 13\).*not supported/);
  await rejectsWith(InferenceSession.create(join(MODELS_DIR, 'no-such-model.onnx')), 'LOAD_FAILED', /no-such-model\.onnx/);
  await rejectsWith(InferenceSession.create(42), 'INVALID_ARGUMENT', /ArrayBuffer or Uint8Array, got number/);
  await rejectsWith(InferenceSession.create(new ArrayBuffer(8), 4, 10), 'INVALID_ARGUMENT', /outside the 8-byte buffer/);
  const s = await InferenceSession.create(identityModel('float32', [2]));
  assert.deepEqual((await s.run({ x: new Tensor('float32', [1, 2]) })).y.data, new Float32Array([1, 2]));
  await s.release();
});

test('inspect describes a model without running it, unsupported ops included', async () => {
  requireModel('mlp');
  const info = await inspect(mlpPath);
  assert.equal(info.opsetImports[''], 13);
  assert.ok(info.irVersion >= 7 && info.producer === 'pytorch');
  assert.ok(info.weightBytes > 64 * 128 * 4, `weightBytes ${info.weightBytes}`);
  assert.deepEqual(info.inputs.map((i) => [i.name, i.type, i.dims]), [['input', 'float32', ['batch', 64]]]);
  assert.ok(info.nodes.length > 0 && info.nodes.every((n) => n.supported && n.op));
  const model = makeModel({
    inputs: [{ name: 'x', type: 'float32', dims: [1] }],
    outputs: [{ name: 'y', type: 'float32', dims: [1] }],
    nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['r'], name: 'fine' },
      { op: 'NoSuchOp', inputs: ['r'], outputs: ['y'], name: 'strange' }],
  });
  const bad = await inspect(model);
  assert.deepEqual(bad.nodes.map((n) => [n.name, n.op, n.supported]), [['fine', 'Relu', true], ['strange', 'NoSuchOp', false]]);
  await rejectsWith(inspect(new Uint8Array([8, 1, 0x3a, 200, 1, 2])), 'INVALID_MODEL', /cannot load the model/);
  assert.equal(edgeinfer.inspect, inspect);
});

test('feed errors name the input; the session runs correctly right after each', async () => {
  requireModel('mlp');
  const s = await InferenceSession.create(mlpPath);
  const x = mlpInput(4);
  const good = (await s.run({ input: x })).output;
  const attempts = [
    [{ nope: x }, 'INVALID_ARGUMENT', /unknown input 'nope': the model's inputs are 'input'/],
    [{}, 'INVALID_ARGUMENT', /missing input 'input'/],
    [{ input: new Tensor('float32', new Float32Array(4 * 63), [4, 63]) }, 'INVALID_SHAPE', /input 'input': expected float32 \[batch,64\], got float32 \[4,63\]/],
    [{ input: new Tensor('float32', new Float32Array(64), [64]) }, 'INVALID_SHAPE', /input 'input'.*got float32 \[64\]/],
    [{ input: new Tensor('float64', new Float64Array(256), [4, 64]) }, 'INVALID_SHAPE', /input 'input'.*got float64 \[4,64\]/],
    [{ input: { type: 'float32', data: new Float32Array(10), dims: [4, 64] } }, 'INVALID_ARGUMENT', /hold 256 elements but the data has 10/],
    [{ input: { type: 'float32', data: new Int32Array(256), dims: [4, 64] } }, 'INVALID_ARGUMENT', /needs a Float32Array, got Int32Array/],
    [{ input: { type: 'string', data: ['a'], dims: [1] } }, 'UNSUPPORTED', /'string' is not supported/],
    [{ input: x.data }, 'INVALID_ARGUMENT', /input 'input'/],
    [null, 'INVALID_ARGUMENT', /feeds must be an object/],
  ];
  for (const [feeds, code, re] of attempts) {
    await rejectsWith(s.run(feeds), code, re);
    const again = (await s.run({ input: x })).output;
    assert.deepEqual(again.data, good.data, `after ${re}`);
  }
  await s.release();
});

test('a run that fails inside the C library leaves the session usable', async () => {
  // Reshape to a shape given at run time: a wrong one fails in the run, not at set_input.
  const model = makeModel({
    inputs: [{ name: 'x', type: 'float32', dims: [6] }, { name: 'shape', type: 'int64', dims: [2] }],
    outputs: [{ name: 'y', type: 'float32', dims: [null, null] }],
    nodes: [{ op: 'Reshape', inputs: ['x', 'shape'], outputs: ['y'], name: 'reshape' }],
  });
  const s = await InferenceSession.create(model);
  const x = new Tensor('float32', [1, 2, 3, 4, 5, 6]);
  await rejectsWith(s.run({ x, shape: new Tensor('int64', [4n, 4n]) }), 'INVALID_SHAPE', /reshape/i);
  const { y } = await s.run({ x, shape: new Tensor('int64', [3n, 2n]) });
  assert.deepEqual(y.dims, [3, 2]);
  assert.deepEqual(y.data, x.data);
  await rejectsWith(s.run({ x, shape: new Tensor('int64', [5n, -1n]) }), 'INVALID_SHAPE');
  assert.deepEqual((await s.run({ x, shape: new Tensor('int64', [2n, 3n]) })).y.dims, [2, 3]);
  await s.release();
});

test('release is idempotent; a released session refuses to run', async () => {
  requireModel('mlp');
  const s = await InferenceSession.create(mlpPath);
  await s.run({ input: mlpInput(1) });
  await s.release();
  await s.release();
  await rejectsWith(s.run({ input: mlpInput(1) }), 'INVALID_STATE', /released/);
});

test('inputs of changing size reuse and grow their wasm buffers; outputs are fresh copies', async () => {
  requireModel('mlp');
  const s = await InferenceSession.create(mlpPath);
  const outs = [];
  for (const batch of [1, 8, 2, 8, 0, 3]) {
    const x = mlpInput(batch);
    const { output } = await s.run({ input: x });
    assert.deepEqual(output.dims, [batch, 10]);
    outs.push([batch, output]);
  }
  // Earlier outputs were not overwritten by later runs (rows of the same input are equal).
  const [, first] = outs[0];
  for (const [batch, out] of outs) {
    if (batch > 0) assert.deepEqual(out.data.subarray(0, 10), first.data.subarray(0, 10));
  }
  await s.release();
});

test('env.wasm / options.wasm: bytes, a bad URL, bytes that are not wasm', async () => {
  const wasmBytes = readFileSync(join(DIST, 'edgeinfer.wasm'));
  const model = identityModel('int32', [1]);
  const s = await InferenceSession.create(model, { wasm: { buffer: new Uint8Array(wasmBytes) } });
  assert.deepEqual((await s.run({ x: new Tensor('int32', [9]) })).y.data, new Int32Array([9]));
  await s.release();
  await rejectsWith(InferenceSession.create(model, { wasm: { url: join(DIST, 'missing.wasm') } }), 'LOAD_FAILED', /missing\.wasm/);
  await rejectsWith(InferenceSession.create(model, { wasm: { url: join(ROOT, 'package.json') } }), 'LOAD_FAILED',
    /expected a \.wasm file at .*package\.json but got .*starting with "\{/);
  await rejectsWith(InferenceSession.create(model, { wasm: { buffer: new Uint8Array([0, 0x61, 0x73, 0x6d, 9, 9, 9, 9]) } }), 'LOAD_FAILED',
    /not a usable WebAssembly module/);
  await rejectsWith(InferenceSession.create(model, { wasm: { response: new Response('<!DOCTYPE html><p>not found', { headers: { 'content-type': 'text/html' } }) } }),
    'LOAD_FAILED', /but got text\/html .*<!DOCTYPE html>/);
  const saved = env.wasm;
  try {
    env.wasm = { response: new Response(wasmBytes, { headers: { 'content-type': 'application/wasm' } }) };
    const t = await InferenceSession.create(model);
    assert.deepEqual((await t.run({ x: new Tensor('int32', [3]) })).y.data, new Int32Array([3]));
    await t.release();
  } finally {
    env.wasm = saved;
  }
  const u = await InferenceSession.create(model);
  assert.deepEqual((await u.run({ x: new Tensor('int32', [4]) })).y.data, new Int32Array([4]));
  await u.release();
});

test('decodeTensorProto reads TensorProto bytes with the C decoder', async () => {
  const f = await decodeTensorProto(makeTensorProto({ name: 'w', type: 'float32', dims: [2, 2], data: new Float32Array([1, 2, 3, 4]) }));
  assert.equal(f.name, 'w');
  assert.deepEqual([f.tensor.type, f.tensor.dims, Array.from(f.tensor.data)], ['float32', [2, 2], [1, 2, 3, 4]]);
  const i = await decodeTensorProto(makeTensorProto({ type: 'int64', dims: [3], data: new BigInt64Array([-1n, 2n ** 60n, 0n]) }));
  assert.deepEqual(i.tensor.data, new BigInt64Array([-1n, 2n ** 60n, 0n]));
  const h = await decodeTensorProto(makeTensorProto({ type: 'float16', dims: [2], data: new Uint16Array([0x3c00, 0xc000]) }));
  assert.deepEqual([h.tensor.type, Array.from(h.tensor.data)], ['float32', [1, -2]]);
  await rejectsWith(decodeTensorProto(new Uint8Array([0x0a, 0xff])), 'INVALID_MODEL', /cannot decode the TensorProto/);
});

test('a model that runs on real data: the mlp matches its exported reference input shape', async () => {
  requireModel('mlp');
  const x = readNpy(readFileSync(join(MODELS_DIR, 'mlp.input.npy')));
  const s = await InferenceSession.create(mlpPath);
  const { output } = await s.run({ input: new Tensor(x.dtype, x.data, x.shape) });
  assert.deepEqual(output.dims, [x.shape[0], 10]);
  assert.ok(output.data.every(Number.isFinite));
  await s.release();
});
