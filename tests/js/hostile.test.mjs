// Hostile callers of the JS API, in the main thread and in worker mode: a feed whose data
// changes between reads must not make the C side read past it, the caller's model buffer stays
// theirs, and every misuse is an EdgeInferError that names the problem.

import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InferenceSession, Tensor } from '../../dist/edgeinfer.mjs';
import { identityModel, makeModel } from './onnx-model.mjs';
import { ROOT, rejectsWith, requireDist, throwsWith } from './helpers.mjs';

requireDist();

for (const worker of [false, true]) {
  const mode = worker ? 'worker mode' : 'main thread';

  test(`${mode}: a feed's data is read once (a getter cannot pass the checks with 4 elements and be copied with 4096)`, async () => {
    const s = await InferenceSession.create(identityModel('float32', ['n']), { worker });
    const small = Float32Array.from([1, 2, 3, 4]);
    const big = new Float32Array(4096).fill(7);
    let reads = 0;
    const feed = { type: 'float32', dims: [4], get data() { reads++; return reads === 1 ? small : big; } };
    const { y } = await s.run({ x: feed });
    assert.equal(reads, 1);
    assert.deepEqual(Array.from(y.data), [1, 2, 3, 4]);
    await s.release();
  });

  test(`${mode}: a resizable buffer shrunk while the feed is read is an EdgeInferError`, async () => {
    const s = await InferenceSession.create(identityModel('float32', ['n']), { worker });
    const rab = new ArrayBuffer(4096 * 4, { maxByteLength: 4096 * 4 });
    const data = new Float32Array(rab); // length-tracking
    const feed = { type: 'float32', get dims() { rab.resize(16); return [4096]; }, data };
    await rejectsWith(s.run({ x: feed }), 'INVALID_ARGUMENT', /4096 elements but the data has 4/);
    rab.resize(4096 * 4);
    const shrinkLater = { type: 'float32', dims: [4096], get data() { queueMicrotask(() => rab.resize(16)); return data; } };
    const { y } = await s.run({ x: shrinkLater }); // copied synchronously, before the microtask
    assert.equal(y.data.length, 4096);
    await s.release();
  });
}

test('worker mode: a Node Buffer of the model stays the caller\'s, and a failing create ends its worker', async () => {
  const path = join(mkdtempSync(join(tmpdir(), 'edgeinfer-')), 'model.onnx');
  writeFileSync(path, makeModel({ // 64 KiB of weights: readFileSync gives it an ArrayBuffer of its own
    inputs: [{ name: 'x', type: 'float32', dims: [16384] }], outputs: [{ name: 'y', type: 'float32', dims: [16384] }],
    nodes: [{ op: 'Add', inputs: ['x', 'b'], outputs: ['y'] }],
    initializers: [{ name: 'b', type: 'float32', dims: [16384], data: new Float32Array(16384).fill(1) }],
  }));
  const buf = readFileSync(path); // the README's usage
  const small = Buffer.from(identityModel('float32', [1])); // pooled: shares an ArrayBuffer with other Buffers
  const copy = Buffer.from(buf);
  for (const bytes of [buf, small]) {
    const before = Buffer.from(bytes);
    const s = await InferenceSession.create(bytes, { worker: true });
    assert.ok(bytes.buffer.byteLength > 0, 'the buffer was transferred away');
    assert.ok(before.equals(bytes));
    await s.release();
  }
  assert.ok(copy.equals(buf));
  const again = await InferenceSession.create(buf, { worker: true });
  await again.release();
  await rejectsWith(InferenceSession.create(Buffer.from([1, 2, 3]), { worker: true }), 'INVALID_MODEL', /cannot load/);
});

test('Tensor element type errors are EdgeInferErrors', () => {
  throwsWith(() => new Tensor('int64', [1.5]), 'INVALID_ARGUMENT', /int64 tensor: element 0 of the array \(1\.5\) is not an integer/);
  throwsWith(() => new Tensor('float32', [1n]), 'INVALID_ARGUMENT', /float32 tensor: element 0 of the array \(1n\) is not a number/);
  throwsWith(() => new Tensor('int32', [1, 'x']), 'INVALID_ARGUMENT', /element 1/);
  assert.deepEqual(Array.from(new Tensor('int64', [1, 2n]).data), [1n, 2n]);
});

test('an http: worker URL in Node is an EdgeInferError that says Node needs a file', async () => {
  await rejectsWith(InferenceSession.create(identityModel('float32', [1]), { worker: true, workerUrl: 'http://127.0.0.1:9/edgeinfer-worker.js' }),
    'LOAD_FAILED', /Node\.js starts workers from files only/);
});

test('an HTML page served as a model says it is HTML', async () => {
  const page = new Response('<!DOCTYPE html><html><body>Not found</body></html>', { headers: { 'content-type': 'text/html' } });
  await rejectsWith(InferenceSession.create(page), 'LOAD_FAILED', /is an HTML page \(content-type text\/html\)/);
  const untyped = new Response('\n  <html><body></body></html>');
  await rejectsWith(InferenceSession.create(untyped), 'LOAD_FAILED', /HTML page/);
});

test('byteOffset NaN is an argument error, not "the model is empty"', async () => {
  const bytes = identityModel('float32', [1]);
  await rejectsWith(InferenceSession.create(bytes.buffer, NaN), 'INVALID_ARGUMENT', /byteOffset NaN/);
  await rejectsWith(InferenceSession.create(bytes.buffer, 0, 1.5), 'INVALID_ARGUMENT', /byteLength 1\.5/);
});

test('opset 0 and -1 are named, not "Relu is not supported"', async () => {
  for (const opset of [0, -1]) {
    const m = makeModel({ inputs: [{ name: 'x', type: 'float32', dims: [1] }], outputs: [{ name: 'y', type: 'float32', dims: [1] }],
      nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }], opset });
    await rejectsWith(InferenceSession.create(m), 'INVALID_MODEL', new RegExp(`imports opset ${opset} of domain 'ai.onnx'`));
  }
});

test('opset-18 Pad with axes runs', async () => {
  const m = makeModel({
    inputs: [{ name: 'x', type: 'float32', dims: [2, 3] }], outputs: [{ name: 'y', type: 'float32', dims: [2, 5] }],
    nodes: [{ op: 'Pad', inputs: ['x', 'pads', '', 'axes'], outputs: ['y'] }],
    initializers: [{ name: 'pads', type: 'int64', dims: [2], data: BigInt64Array.from([1n, 1n]) },
      { name: 'axes', type: 'int64', dims: [1], data: BigInt64Array.from([1n]) }],
    opset: 18,
  });
  const s = await InferenceSession.create(m);
  const { y } = await s.run({ x: new Tensor('float32', Float32Array.from([1, 2, 3, 4, 5, 6]), [2, 3]) });
  assert.deepEqual(y.dims, [2, 5]);
  assert.deepEqual(Array.from(y.data), [0, 1, 2, 3, 0, 0, 4, 5, 6, 0]);
  await s.release();
});

test('Einsum messages keep whole UTF-8 characters', async () => {
  const m = makeModel({ inputs: [{ name: 'x', type: 'float32', dims: [2, 2] }], outputs: [{ name: 'y', type: 'float32', dims: null }],
    nodes: [{ op: 'Einsum', inputs: ['x'], outputs: ['y'], attrs: { equation: 'i\u00e9->i' } }] });
  await rejectsWith(InferenceSession.create(m), 'INVALID_MODEL', /unexpected character '\u00e9'/);
});

test('zero-element inputs with huge other dims are refused where they are fed', async () => {
  const s = await InferenceSession.create(identityModel('float32', ['a', 'b', 'c']));
  await rejectsWith(s.run({ x: new Tensor('float32', new Float32Array(0), [0, 2 ** 40, 2 ** 40]) }), 'INVALID_ARGUMENT',
    /shape \[0,1099511627776,1099511627776\] is invalid or too large/);
  const { y } = await s.run({ x: new Tensor('float32', new Float32Array(0), [0, 3, 4]) }); // still usable
  assert.deepEqual(y.dims, [0, 3, 4]);
  await s.release();
});

const LONG_RUN = join(ROOT, 'tests', 'js', 'fixtures', 'loop-nest-long-running.onnx'); // 9 million body runs

test('an AbortSignal cancels a worker run in progress; the other sessions keep working', async () => {
  const healthyLocal = await InferenceSession.create(identityModel('float32', [2]));
  const healthyWorker = await InferenceSession.create(identityModel('float32', [2]), { worker: true });
  const busy = await InferenceSession.create(LONG_RUN, { worker: true });
  const ac = new AbortController();
  const running = busy.run({ v: new Tensor('float32', [1], [1]) }, { signal: ac.signal });
  setTimeout(() => ac.abort(), 100);
  await rejectsWith(running, 'ABORTED', /cancelled/);
  await rejectsWith(busy.run({ v: new Tensor('float32', [1], [1]) }), 'ABORTED', /create it again/);
  await busy.release();
  const x = new Tensor('float32', [1, 2], [2]);
  assert.deepEqual(Array.from((await healthyLocal.run({ x })).y.data), [1, 2]);
  assert.deepEqual(Array.from((await healthyWorker.run({ x }, ['y'], {})).y.data), [1, 2]);
  await healthyLocal.release();
  await healthyWorker.release();
});

test('an AbortSignal already fired stops a run before it starts, in both modes; a wrong signal is an argument error', async () => {
  for (const worker of [false, true]) {
    const s = await InferenceSession.create(identityModel('float32', [2]), { worker });
    const x = new Tensor('float32', [1, 2], [2]);
    await rejectsWith(s.run({ x }, { signal: AbortSignal.abort() }), 'ABORTED', /before it started/);
    await rejectsWith(s.run({ x }, ['y'], { signal: 'stop' }), 'INVALID_ARGUMENT', /must be an AbortSignal/);
    assert.deepEqual(Array.from((await s.run({ x }, { signal: new AbortController().signal })).y.data), [1, 2]);
    await s.release();
  }
});

test('releasing the last session of an instance grown beyond 64 MiB gives its memory back', async () => {
  const { env } = await import('../../dist/edgeinfer.mjs');
  const n = 24 << 20; // 96 MiB in, 96 MiB out
  const s = await InferenceSession.create(identityModel('float32', [n]));
  const { y } = await s.run({ x: new Tensor('float32', new Float32Array(n).fill(2), [n]) });
  assert.equal(y.data[n - 1], 2);
  assert.ok(env.wasmMemoryBytes > 64 << 20, `${env.wasmMemoryBytes} bytes in use`);
  await s.release();
  assert.equal(env.wasmMemoryBytes, 0, 'the grown instance was dropped');
  const t = await InferenceSession.create(identityModel('float32', [2])); // a fresh instance
  assert.deepEqual(Array.from((await t.run({ x: new Tensor('float32', [3, 4], [2]) })).y.data), [3, 4]);
  assert.ok(env.wasmMemoryBytes < 64 << 20);
  await t.release();
});

test('wasm: every checked-in hostile model fails with a message or runs; none traps the instance', { timeout: 600_000 }, async () => {
  const { readdirSync } = await import('node:fs');
  const dir = join(ROOT, 'tests', 'fuzz', 'regressions');
  const healthy = await InferenceSession.create(identityModel('float32', [2]));
  const x = new Tensor('float32', [5, 6], [2]);
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.onnx'))) {
    let s = null;
    try {
      s = await InferenceSession.create(join(dir, file));
      const feeds = {};
      for (const m of s.inputMetadata) {
        const dims = (m.dims || [1]).map((d) => (typeof d === 'number' ? d : 1));
        const n = dims.reduce((a, b) => a * b, 1);
        const Ctor = { float32: Float32Array, uint8: Uint8Array, int64: BigInt64Array }[m.type] || Float32Array;
        feeds[m.name] = new Tensor(m.type, new Ctor(n > 1 << 20 ? 0 : n), n > 1 << 20 ? [0] : dims);
      }
      await s.run(feeds);
    } catch (err) {
      assert.equal(err.name, 'EdgeInferError', `${file}: ${err.message}`);
      assert.notEqual(err.code, 'RUNTIME_ERROR', `${file}: ${err.message}`);
    } finally {
      if (s) await s.release();
    }
    assert.deepEqual(Array.from((await healthy.run({ x })).y.data), [5, 6], `after ${file}`);
  }
  await healthy.release();
});

test('options.limits sets the session\'s limits, in both modes; bad limits are argument errors', async () => {
  const loops = join(ROOT, 'tests', 'fuzz', 'regressions', 'loop-nest-iteration-budget.onnx'); // 10,100 body runs
  const v = new Tensor('float32', [1], [1]);
  for (const worker of [false, true]) {
    const s = await InferenceSession.create(loops, { worker, limits: { loopIterations: 1000 } });
    await rejectsWith(s.run({ v }), 'INVALID_ARGUMENT', /more than 1000 loop iterations/);
    await s.release();
    const ok = await InferenceSession.create(loops, { worker, limits: { loopIterations: 10100 } });
    assert.deepEqual(Array.from((await ok.run({ v })).y.data), [1]);
    await ok.release();
    await rejectsWith(InferenceSession.create(identityModel('float32', [64]), { worker, limits: { sessionBytes: 200 } }),
      'OUT_OF_MEMORY', /budget of 200 bytes/);
    await rejectsWith(InferenceSession.create(identityModel('float32', [4]), { worker, limits: { tensorBytes: 8 } }),
      'INVALID_SHAPE', /at most 8 bytes per tensor|too large/);
    for (const limits of [{ tensorBytes: 0 }, { sessionBytes: 1.5 }, { loops: 3 }, 'x']) {
      await rejectsWith(InferenceSession.create(identityModel('float32', [2]), { worker, limits }), 'INVALID_ARGUMENT', /limits/);
    }
  }
});
