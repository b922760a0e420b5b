// What a trap of the wasm instance does, exactly (a trap is a bug: no known input causes one, so
// this test makes one: it wraps the instance's exports so that one chosen call throws the
// RuntimeError a trap throws). The session whose call trapped rejects with RUNTIME_ERROR naming
// it, and keeps refusing; the other sessions of that thread's instance are made again on a fresh
// instance at their next run (from their model bytes, still intact in the old instance's memory)
// and give the same outputs (a run of theirs paused between slices then starts again there); when those bytes were overwritten, the session fails clearly instead;
// worker sessions, each in its own instance, keep working throughout.

import test from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { makeModel } from './onnx-model.mjs';
import { ROOT, rejectsWith, requireDist } from './helpers.mjs';

requireDist();

let trapNext = null; // the export whose next call traps
let trapAfter = false; // ... after the call did its work (else before)
let memory = null; // the memory of the last instance made
const instantiate = WebAssembly.instantiate;
WebAssembly.instantiate = async (...args) => {
  const result = await instantiate.apply(WebAssembly, args);
  const instance = result instanceof WebAssembly.Instance ? result : result.instance;
  const exports = {};
  memory = instance.exports.memory || args[1].env.memory; // the threaded build imports its (shared) memory
  for (const [name, value] of Object.entries(instance.exports)) {
    exports[name] = typeof value !== 'function' ? value : (...a) => {
      if (name !== trapNext) return value(...a);
      trapNext = null;
      if (trapAfter) value(...a);
      throw new WebAssembly.RuntimeError('unreachable (injected by trap.test.mjs)');
    };
  }
  const wrapped = { exports };
  return result instanceof WebAssembly.Instance ? wrapped : { module: result.module, instance: wrapped };
};

const { InferenceSession, Tensor, env } = await import('../../dist/edgeinfer.mjs');

const model = makeModel({ // y = x * w, w = [1, 2, 3, ...]: wrong weights would show in y
  inputs: [{ name: 'x', type: 'float32', dims: [256] }], outputs: [{ name: 'y', type: 'float32', dims: [256] }],
  nodes: [{ op: 'Mul', inputs: ['x', 'w'], outputs: ['y'] }],
  initializers: [{ name: 'w', type: 'float32', dims: [256], data: Float32Array.from({ length: 256 }, (_, i) => i + 1) }],
});
const x = new Tensor('float32', new Float32Array(256).fill(2), [256]);
const want = Float32Array.from({ length: 256 }, (_, i) => 2 * (i + 1));

for (const numThreads of [1, 2]) {
  test(`a trap (${numThreads} thread${numThreads > 1 ? 's' : ''}): the trapping session fails clearly; the others of its instance are made again and run; worker sessions work`, async () => {
    const a = await InferenceSession.create(model, { numThreads });
    const b = await InferenceSession.create(model, { numThreads, limits: { loopIterations: 5 } });
    assert.equal(b.numThreads, numThreads);
    const w = await InferenceSession.create(model, { worker: true });
    assert.deepEqual((await b.run({ x })).y.data, want);
    const before = env.wasmMemoryBytes;
    trapNext = 'ei_session_run';
    await rejectsWith(a.run({ x }), 'RUNTIME_ERROR', /edgeinfer\.wasm failed in ei_session_run: unreachable.*\(the session made from the buffer\)/);
    assert.ok(env.wasmMemoryBytes < before, 'the trapped instance is no longer counted');
    assert.deepEqual((await b.run({ x })).y.data, want); // made again on a fresh instance
    assert.ok(env.wasmMemoryBytes > 0);
    await rejectsWith(a.run({ x }), 'RUNTIME_ERROR', /session made from the buffer trapped.*create the session again/);
    const c = await InferenceSession.create(model, { numThreads });
    assert.deepEqual((await c.run({ x })).y.data, want);
    assert.deepEqual((await w.run({ x })).y.data, want);
    for (const s of [a, b, c, w]) await s.release(); // releasing a trapped session is harmless
  });
}

test('a trap while another session\'s run is paused between slices: that run starts again on a fresh instance', async () => {
  const loops = join(ROOT, 'tests', 'fuzz', 'regressions', 'loop-nest-iteration-budget.onnx'); // 100 x 100 body runs
  const a = await InferenceSession.create(model);
  const b = await InferenceSession.create(loops);
  const v = new Tensor('float32', [7], [1]);
  const running = b.run({ v }, { signal: new AbortController().signal });
  let done = false;
  running.then(() => { done = true; }, () => {});
  await new Promise((r) => setImmediate(r)); // b has run a slice or two and paused
  assert.equal(done, false, 'the run is still under way');
  trapNext = 'ei_session_run';
  await rejectsWith(a.run({ x }), 'RUNTIME_ERROR', /unreachable/);
  assert.deepEqual(Array.from((await running).y.data), [7]);
  assert.deepEqual(Array.from((await b.run({ v })).y.data), [7]);
  await a.release();
  await b.release();
});

test('a trap names the node its run was at', async () => {
  const chain = makeModel({ // y = x + 1 + 1 + 1, node by node
    inputs: [{ name: 'x', type: 'float32', dims: [4] }], outputs: [{ name: 'y', type: 'float32', dims: [4] }],
    nodes: [0, 1, 2].map((i) => ({ op: 'Add', inputs: [i ? `v${i}` : 'x', 'one'], outputs: [i === 2 ? 'y' : `v${i + 1}`], name: `add${i}` })),
    initializers: [{ name: 'one', type: 'float32', dims: [4], data: new Float32Array(4).fill(1) }],
  });
  const s = await InferenceSession.create(chain);
  trapNext = 'ei_session_run_step'; // after the first slice (one node), which pauses at add1
  trapAfter = true;
  await rejectsWith(s.run({ x: new Tensor('float32', new Float32Array(4), [4]) }, { signal: new AbortController().signal }),
    'RUNTIME_ERROR', /failed in ei_session_run_step: unreachable.*\(the session made from the buffer, at node 'add1' \(Add, opset 13\)\)/);
  trapAfter = false;
  await s.release();
});

test('a trap that overwrote another session\'s model in wasm memory: that session fails clearly', async () => {
  const a = await InferenceSession.create(model);
  const b = await InferenceSession.create(model);
  trapNext = 'ei_session_run';
  await rejectsWith(a.run({ x }), 'RUNTIME_ERROR', /unreachable/);
  new Uint8Array(memory.buffer).fill(0x5a, 1024); // what a stray write could do
  await rejectsWith(b.run({ x }), 'RUNTIME_ERROR', /was lost.*overwrote its model.*create the session again/);
  await rejectsWith(b.run({ x }), 'RUNTIME_ERROR', /overwrote/);
  const c = await InferenceSession.create(model);
  assert.deepEqual((await c.run({ x })).y.data, want);
  for (const s of [a, b, c]) await s.release();
});

test('worker mode: a trap in a worker session fails that session clearly; the others work', async () => {
  const a = await InferenceSession.create(model, { worker: true, workerUrl: join(ROOT, 'tests', 'js', 'fixtures', 'trap-worker.mjs') });
  const b = await InferenceSession.create(model, { worker: true });
  const c = await InferenceSession.create(model);
  await rejectsWith(a.run({ x }), 'RUNTIME_ERROR', /failed in ei_session_run: unreachable.*\(the session made from the buffer\)/);
  await rejectsWith(a.run({ x }), 'RUNTIME_ERROR', /trapped.*create the session again/);
  assert.deepEqual((await b.run({ x })).y.data, want);
  assert.deepEqual((await c.run({ x })).y.data, want);
  for (const s of [a, b, c]) await s.release();
});
