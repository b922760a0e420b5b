// edgeinfer as a drop-in for onnxruntime-web: every export of onnxruntime-common is there, and
// every entry of onnxruntime-web's API either works (the same way as on genuine onnxruntime-web,
// which runs here in Node too) or throws an EdgeInferError whose message names it.

import test from 'node:test';
import assert from 'node:assert/strict';
import * as common from 'onnxruntime-common';
import * as genuine from 'onnxruntime-web';
import * as ort from '../../dist/edgeinfer.mjs';
import ortDefault from '../../dist/edgeinfer.mjs';
import { identityModel, makeModel } from './onnx-model.mjs';
import { rejectsWith, throwsWith } from './helpers.mjs';

genuine.env.wasm.numThreads = 1;
genuine.env.logLevel = 'error';

// y = x + b: a symbolic batch dim, and a second output.
const addModel = makeModel({
  inputs: [{ name: 'x', type: 'float32', dims: ['batch', 3] }],
  outputs: [{ name: 'y', type: 'float32', dims: ['batch', 3] }, { name: 'z', type: 'float32', dims: ['batch', 3] }],
  initializers: [{ name: 'b', type: 'float32', dims: [3], data: new Float32Array([1, 2, 3]) }],
  nodes: [{ op: 'Add', inputs: ['x', 'b'], outputs: ['y'] }, { op: 'Identity', inputs: ['x'], outputs: ['z'] }],
});
const x2 = () => new ort.Tensor('float32', new Float32Array([0, 1, 2, 3, 4, 5]), [2, 3]);

// The entries a caller can name: what this test walks.
const WALKED = new Set();
function walk(name) {
  WALKED.add(name);
  return name;
}

function namesIt(err, name) {
  assert.equal(err.name, 'EdgeInferError', `${name}: expected an EdgeInferError, got ${err.name}: ${err.message}`);
  assert.ok(err.message.includes(name), `the error of ${name} does not name it: ${err.message}`);
  return true;
}

test('every named export of onnxruntime-common (and onnxruntime-web) is exported, the default export too', () => {
  const names = new Set([...Object.keys(common), ...Object.keys(genuine)]);
  names.delete('default');
  for (const n of names) {
    assert.ok(n in ort, `named export ${n} is missing: import { ${n} } from 'onnxruntime-web' would fail to link`);
    assert.equal(typeof ort[n], typeof (n in common ? common[n] : genuine[n]), n);
    assert.equal(ortDefault[n], ort[n], `default export's ${n}`);
  }
  assert.deepEqual(ort.listSupportedBackends(), [{ name: 'wasm', bundled: true }, { name: 'cpu', bundled: true }]);
});

test('InferenceSession.create: sources and options, like onnxruntime-web', async () => {
  for (const src of [addModel, addModel.slice().buffer]) {
    const s = await ort.InferenceSession.create(src, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
    await s.release();
  }
  const okOptions = [
    { executionProviders: ['cpu'] }, { executionProviders: [{ name: 'wasm' }] }, { executionProviders: ['webgpu', 'wasm'] },
    { executionProviders: [{ name: 'webnn', deviceType: 'gpu' }, 'cpu'] }, { executionProviders: [] },
    { graphOptimizationLevel: 'disabled' }, { logSeverityLevel: 3 }, { logVerbosityLevel: 0 }, { enableCpuMemArena: false },
    { enableMemPattern: true }, { executionMode: 'sequential' }, { intraOpNumThreads: 1 }, { interOpNumThreads: 1 },
    { externalData: [] }, { preferredOutputLocation: 'cpu' }, { logId: 'x', extra: { session: { a: '1' } } },
  ];
  for (const o of okOptions) {
    const s = await ort.InferenceSession.create(addModel, o);
    assert.deepEqual(Array.from((await s.run({ x: x2() })).y.data), [1, 3, 5, 4, 6, 8], JSON.stringify(o));
    await s.release();
  }
  const refused = [
    [{ executionProviders: ['webgpu'] }, 'UNSUPPORTED', "executionProviders ['webgpu']"],
    [{ executionProviders: [{ name: 'webnn' }] }, 'UNSUPPORTED', "executionProviders ['webnn']"],
    [{ executionProviders: 'wasm' }, 'INVALID_ARGUMENT', 'executionProviders'],
    [{ graphOptimizationLevel: 'max' }, 'INVALID_ARGUMENT', 'graphOptimizationLevel'],
    [{ logSeverityLevel: 7 }, 'INVALID_ARGUMENT', 'logSeverityLevel'],
    [{ enableCpuMemArena: 'yes' }, 'INVALID_ARGUMENT', 'enableCpuMemArena'],
    [{ externalData: [{ path: 'model.onnx_data', data: 'model.onnx_data' }] }, 'UNSUPPORTED', 'externalData'],
    [{ enableProfiling: true }, 'UNSUPPORTED', 'enableProfiling'],
    [{ enableGraphCapture: true }, 'UNSUPPORTED', 'enableGraphCapture'],
    [{ optimizedModelFilePath: 'x.onnx' }, 'UNSUPPORTED', 'optimizedModelFilePath'],
    [{ preferredOutputLocation: 'gpu-buffer' }, 'UNSUPPORTED', 'preferredOutputLocation'],
    [{ freeDimensionOverrides: { batch: -1 } }, 'INVALID_ARGUMENT', 'freeDimensionOverrides'],
  ];
  for (const [o, code, name] of refused) {
    walk(Object.keys(o)[0]);
    await rejectsWith(ort.InferenceSession.create(addModel, o), code, new RegExp(name.replace(/[[\]]/g, '\\$&')));
  }
  // The same options on genuine onnxruntime-web: webgpu alone fails there too.
  await assert.rejects(genuine.InferenceSession.create(addModel, { executionProviders: ['webgpu'] }));
});

test('freeDimensionOverrides fixes a symbolic dim in the metadata and for the feeds', async () => {
  walk('freeDimensionOverrides');
  const s = await ort.InferenceSession.create(addModel, { freeDimensionOverrides: { batch: 2 } });
  assert.deepEqual(s.inputMetadata[0].shape, [2, 3]);
  await s.run({ x: x2() });
  await rejectsWith(s.run({ x: new ort.Tensor('float32', new Float32Array(3), [1, 3]) }), 'INVALID_SHAPE', /freeDimensionOverrides sets batch = 2/);
  await s.release();
});

test('inputNames, outputNames, inputMetadata, outputMetadata match onnxruntime-web', async () => {
  const ours = await ort.InferenceSession.create(addModel);
  const theirs = await genuine.InferenceSession.create(addModel);
  for (const k of ['inputNames', 'outputNames']) assert.deepEqual([...ours[k]], [...theirs[k]], walk(k));
  for (const k of ['inputMetadata', 'outputMetadata']) {
    walk(k);
    const strip = (list) => list.map(({ name, isTensor, type, shape }) => ({ name, isTensor, type, shape: [...shape] }));
    assert.deepEqual(strip(ours[k]), strip(theirs[k]), k);
  }
  await ours.release();
  await theirs.release();
});

test('session.run(feeds, fetches?, options?) reads its arguments as onnxruntime-web does', async () => {
  const s = await ort.InferenceSession.create(addModel);
  const g = await genuine.InferenceSession.create(addModel);
  const gx = new genuine.Tensor('float32', new Float32Array([0, 1, 2, 3, 4, 5]), [2, 3]);
  const forms = [
    [], [['z']], [{ logSeverityLevel: 3, tag: 'a' }], [['y'], { terminate: false }], [{ z: null }],
    [{ y: null }, { logSeverityLevel: 0 }], [{}], [undefined, { tag: 't' }],
  ];
  for (const args of forms) {
    const ours = await s.run({ x: x2() }, ...args);
    const theirs = await g.run({ x: gx }, ...args);
    assert.deepEqual(Object.keys(ours).sort(), Object.keys(theirs).sort(), `run(feeds, ${JSON.stringify(args)})`);
    for (const k of Object.keys(ours)) assert.deepEqual(Array.from(ours[k].data), Array.from(theirs[k].data));
  }
  // A preallocated output tensor is filled and returned.
  const into = new ort.Tensor('float32', new Float32Array(6), [2, 3]);
  const r = await s.run({ x: x2() }, { y: into });
  assert.equal(r.y, into);
  assert.deepEqual(Array.from(into.data), [1, 3, 5, 4, 6, 8]);
  await rejectsWith(s.run({ x: x2() }, { y: new ort.Tensor('float32', new Float32Array(3), [3]) }), 'INVALID_ARGUMENT', /output 'y'.*fetches/);
  await rejectsWith(s.run({ x: x2() }, { w: null }), 'INVALID_ARGUMENT', /unknown output 'w'/);
  await rejectsWith(s.run({ x: x2() }, ['y'], { terminate: true }), 'INVALID_STATE', new RegExp(walk('terminate')));
  await rejectsWith(s.run({ x: x2() }, { logSeverityLevel: 9 }), 'INVALID_ARGUMENT', /logSeverityLevel/);
  await rejectsWith(s.run({ x: x2() }, []), 'INVALID_ARGUMENT', /fetches is an empty array/);
  await rejectsWith(s.run({ x: x2() }, 'y'), 'INVALID_ARGUMENT', /second argument/);
  assert.deepEqual(Array.from((await s.run({ x: x2() })).y.data), [1, 3, 5, 4, 6, 8], 'the session still runs');
  s.startProfiling();
  s.endProfiling();
  await s.release();
  await s.release();
  await rejectsWith(s.run({ x: x2() }), 'INVALID_STATE', /released/);
  await g.release();
});

test('a one-element tensor of dims [1] or [1,1] feeds an input declared as a scalar', async () => {
  const model = makeModel({
    inputs: [{ name: 'sr', type: 'int64', dims: [] }, { name: 'x', type: 'float32', dims: [2] }],
    outputs: [{ name: 'y', type: 'float32', dims: [2] }],
    nodes: [{ op: 'Cast', inputs: ['sr'], outputs: ['f'], attrs: { to: 1 } }, { op: 'Mul', inputs: ['x', 'f'], outputs: ['y'] }],
  });
  const s = await ort.InferenceSession.create(model);
  const x = new ort.Tensor('float32', [1, 2]);
  for (const dims of [[], [1], [1, 1]]) {
    const { y } = await s.run({ sr: new ort.Tensor('int64', [3n], dims), x });
    assert.deepEqual(Array.from(y.data), [3, 6], `sr of dims [${dims}]`);
  }
  await rejectsWith(s.run({ sr: new ort.Tensor('int64', [3n, 4n], [2]), x }), 'INVALID_SHAPE', /input 'sr'/);
  await s.release();
});

test('Tensor: the onnxruntime-common surface', async () => {
  const t = new ort.Tensor('float32', new Float32Array([1, 2, 3, 4]), [2, 2]);
  assert.deepEqual([t.type, t.dims, t.size, t.location], ['float32', [2, 2], 4, 'cpu']);
  assert.equal(await t.getData(), t.data, walk('getData'));
  assert.deepEqual(t.reshape([4]).dims, [4], walk('reshape'));
  t.dispose();
  walk('dispose');
  assert.ok(new ort.Tensor('float32', [1]) instanceof ort.Tensor);
  assert.ok(!(new genuine.Tensor('float32', [1]) instanceof ort.Tensor), 'a foreign tensor is not ours');
  const s = new ort.Tensor('string', ['a', 'b']);
  assert.deepEqual([s.type, s.dims], ['string', [2]]);
  assert.equal(new ort.Tensor(['a']).type, 'string');
  assert.equal(new ort.Tensor([true, false]).type, 'bool');
  assert.equal(new ort.Tensor(new Uint8ClampedArray(3)).type, 'uint8');
  const copy = new ort.Tensor(new genuine.Tensor('int32', [7, 8], [1, 2]));
  assert.deepEqual([copy.type, Array.from(copy.data), copy.dims], ['int32', [7, 8], [1, 2]], 'an onnxruntime tensor as the one argument');
  throwsWith(() => new ort.Tensor({ type: 'int32' }), 'INVALID_ARGUMENT', /new Tensor: expected a type/);
  const pinned = ort.Tensor.fromPinnedBuffer('int32', new Int32Array([1, 2]));
  assert.deepEqual([pinned.location, pinned.dims], ['cpu-pinned', [2]], walk('fromPinnedBuffer'));
  for (const [name, fn] of [
    ['fromTexture', () => ort.Tensor.fromTexture({}, { width: 1, height: 1 })],
    ['fromGpuBuffer', () => ort.Tensor.fromGpuBuffer({}, { dims: [1] })],
    ['fromMLTensor', () => ort.Tensor.fromMLTensor({}, { dims: [1] })],
    ['texture', () => t.texture], ['gpuBuffer', () => t.gpuBuffer], ['mlTensor', () => t.mlTensor],
    ["location: 'gpu-buffer'", () => new ort.Tensor({ location: 'gpu-buffer', type: 'float32', gpuBuffer: {}, dims: [1] })],
  ]) {
    assert.throws(fn, (e) => namesIt(e, walk(name)));
  }
  // Strings are tensors, but no edgeinfer model input takes them.
  const id = await ort.InferenceSession.create(identityModel('float32', [2]));
  await rejectsWith(id.run({ x: s }), 'UNSUPPORTED', /'string'/);
  await id.release();
  // float16: raw bits in a Uint16Array where there is no Float16Array (Node 20).
  if (typeof globalThis.Float16Array !== 'function') {
    assert.equal(new ort.Tensor('float16', new Uint16Array([0x3c00])).data.constructor, Uint16Array);
  }
});

test('Tensor.fromImage and toImageData on raw RGBA pixels (ImageData-shaped), with onnxruntime normalisation', async () => {
  walk('fromImage');
  walk('toImageData');
  const width = 3;
  const height = 2;
  const data = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37) % 256;
  const img = { data, width, height };
  const t = await ort.Tensor.fromImage(img);
  assert.deepEqual([t.type, t.dims], ['float32', [1, 3, 2, 3]]);
  const n = width * height;
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < n; i++) assert.equal(t.data[c * n + i], Math.fround(data[i * 4 + c] / 255));
  }
  const norm = await ort.Tensor.fromImage(img, { tensorFormat: 'BGR', norm: { mean: [2, 4, 8], bias: [1, 2, 3] } });
  assert.equal(norm.data[0], Math.fround((data[2] + 3) / 8), 'BGR: first channel is blue');
  const nhwc = await ort.Tensor.fromImage(img, { tensorLayout: 'NHWC', tensorFormat: 'RGBA', dataType: 'uint8', norm: { mean: 1 } });
  assert.deepEqual([nhwc.type, nhwc.dims], ['uint8', [1, 2, 3, 4]]);
  assert.deepEqual(Array.from(nhwc.data), Array.from(data));
  const back = t.toImageData();
  assert.deepEqual([back.width, back.height], [width, height]);
  for (let i = 0; i < n; i++) {
    assert.deepEqual(Array.from(back.data.subarray(i * 4, i * 4 + 3)), Array.from(data.subarray(i * 4, i * 4 + 3)));
    assert.equal(back.data[i * 4 + 3], 255);
  }
  const rgba = (await ort.Tensor.fromImage(img, { tensorFormat: 'RGBA' })).toImageData();
  assert.deepEqual(Array.from(rgba.data), Array.from(data));
  await assert.rejects(ort.Tensor.fromImage(42), (e) => namesIt(e, 'Tensor.fromImage'));
  await assert.rejects(ort.Tensor.fromImage({ data: new Uint8Array(4), width: 3, height: 2 }), (e) => namesIt(e, 'fromImage'));
  assert.throws(() => new ort.Tensor('float32', new Float32Array(4), [4]).toImageData(), (e) => namesIt(e, 'toImageData'));
  assert.throws(() => t.toDataURL(), (e) => namesIt(e, walk('toDataURL')));
});

test('env: onnxruntime-web flags are there, checked, and unguarded writes do not throw', async () => {
  const { env } = ort;
  for (const k of ['numThreads', 'simd', 'proxy', 'wasmPaths', 'wasmBinary', 'trace', 'initTimeout']) walk(`env.wasm.${k}`);
  env.webgpu.powerPreference = 'high-performance';
  env.webgpu.profiling = { mode: 'off' };
  env.webgl.pack = true;
  env.wasm.numThreads = 1;
  env.wasm.initTimeout = 0;
  env.wasm.trace = false;
  env.debug = false;
  env.trace = true;
  ort.TRACE('CPU', 'x');
  ort.TRACE_FUNC_BEGIN();
  ort.TRACE_FUNC_END();
  ort.TRACE_EVENT_BEGIN('e');
  ort.TRACE_EVENT_END('e');
  env.trace = false;
  assert.equal(env.versions.common, genuine.env.versions.common);
  assert.ok(!('web' in env.versions), 'versions.web would make libraries fetch onnxruntime-web files');
  assert.equal(env.logLevel, 'warning');
  env.logLevel = 'error';
  assert.equal(env.logLevel, 'error');
  assert.throws(() => { env.logLevel = 'loud'; }, (e) => namesIt(e, walk('env.logLevel')));
  assert.throws(() => { genuine.env.logLevel = 'loud'; }, 'genuine onnxruntime refuses it too');
  const model = identityModel('float32', [1]);
  const x = new ort.Tensor('float32', [5]);
  const saved = env.wasm;
  try {
    for (const [flags, name] of [
      [{ simd: false }, 'env.wasm.simd'], [{ simd: 'wide' }, 'env.wasm.simd'], [{ numThreads: -2 }, 'env.wasm.numThreads'],
      [{ wasmPaths: 7 }, 'env.wasm.wasmPaths'], [{ wasmPaths: { wasm: 'https://cdn.example/ort-wasm-simd-threaded.jsep.wasm' } }, 'env.wasm.wasmPaths'],
    ]) {
      env.wasm = { ...saved, ...flags };
      await assert.rejects(ort.InferenceSession.create(model), (e) => namesIt(e, name));
    }
    // wasmPaths as a folder prefix, as a per-file object, wasmBinary, and proxy (a worker session).
    const dist = new URL('../../dist/', import.meta.url);
    const bytes = (await import('node:fs')).readFileSync(new URL('edgeinfer.wasm', dist));
    for (const flags of [{ wasmPaths: dist.href }, { wasmPaths: { wasm: new URL('edgeinfer.wasm', dist).href, mjs: 'ignored.mjs' } },
      { wasmBinary: bytes }, { wasmBinary: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length), simd: true },
      { proxy: true }, { simd: 'fixed' }, { simd: 'plain', wasmPaths: dist.href }]) {
      env.wasm = { ...saved, ...flags };
      const s = await ort.InferenceSession.create(model);
      assert.deepEqual(Array.from((await s.run({ x })).y.data), [5], JSON.stringify(Object.keys(flags)));
      await s.release();
    }
    // 'relaxed' (as code written for onnxruntime-web sets it whatever the browser): the relaxed
    // build from the wasmPaths folder where the engine runs it, the SIMD128 one elsewhere.
    env.wasm = { ...saved, simd: 'relaxed', wasmPaths: dist.href };
    const relaxed = await ort.InferenceSession.create(model);
    assert.deepEqual(Array.from((await relaxed.run({ x })).y.data), [5]);
    await relaxed.release();
    env.wasm = { ...saved, wasmPaths: '/no/such/folder/', simd: 'plain' };
    await rejectsWith(ort.InferenceSession.create(model), 'LOAD_FAILED', /no\/such\/folder\/edgeinfer\.wasm/);
  } finally {
    env.wasm = saved;
  }
});

test('registerBackend fails naming itself: edgeinfer is the backend', () => {
  throwsWith(() => ort.registerBackend('webgpu', {}, 1), 'UNSUPPORTED', new RegExp(walk('registerBackend')));
});

test('the walk covered the API list', () => {
  for (const k of ['executionProviders', 'graphOptimizationLevel', 'logSeverityLevel', 'enableCpuMemArena', 'externalData',
    'freeDimensionOverrides', 'inputNames', 'outputNames', 'inputMetadata', 'outputMetadata', 'getData', 'dispose', 'reshape',
    'fromImage', 'toImageData', 'env.wasm.proxy', 'env.wasm.wasmPaths', 'env.wasm.wasmBinary', 'env.logLevel', 'registerBackend']) {
    assert.ok(WALKED.has(k), `${k} was not walked`);
  }
});
