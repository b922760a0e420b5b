// What a trap of the wasm instance does, exactly (a trap is a bug: no known input causes one, so
// this test makes one: it wraps the instance's exports so that one chosen call throws the
// RuntimeError a trap throws). The session whose call trapped rejects with RUNTIME_ERROR; the
// other sessions of that thread's instance reject with RUNTIME_ERROR saying to create them
// again; a session created afterwards gets a fresh instance and works; worker sessions, each
// in its own instance, keep working throughout.

import test from 'node:test';
import assert from 'node:assert/strict';
import { identityModel } from './onnx-model.mjs';
import { rejectsWith, requireDist } from './helpers.mjs';

requireDist();

let trapNext = null; // the export whose next call traps
const instantiate = WebAssembly.instantiate;
WebAssembly.instantiate = async (...args) => {
  const result = await instantiate.apply(WebAssembly, args);
  const instance = result instanceof WebAssembly.Instance ? result : result.instance;
  const exports = {};
  for (const [name, value] of Object.entries(instance.exports)) {
    exports[name] = typeof value !== 'function' ? value : (...a) => {
      if (name === trapNext) {
        trapNext = null;
        throw new WebAssembly.RuntimeError('unreachable (injected by trap.test.mjs)');
      }
      return value(...a);
    };
  }
  const wrapped = { exports };
  return result instanceof WebAssembly.Instance ? wrapped : { module: result.module, instance: wrapped };
};

const { InferenceSession, Tensor, env } = await import('../../dist/edgeinfer.mjs');

test('a trap: the trapping session and its instance\'s others fail clearly, new and worker sessions work', async () => {
  const model = identityModel('float32', [2]);
  const x = new Tensor('float32', [1, 2], [2]);
  const a = await InferenceSession.create(model);
  const b = await InferenceSession.create(model);
  const w = await InferenceSession.create(model, { worker: true });
  assert.deepEqual(Array.from((await b.run({ x })).y.data), [1, 2]);
  trapNext = 'ei_session_run';
  await rejectsWith(a.run({ x }), 'RUNTIME_ERROR', /edgeinfer\.wasm failed in ei_session_run: unreachable/);
  await rejectsWith(b.run({ x }), 'RUNTIME_ERROR', /stopped after an earlier error.*create the session again/);
  assert.equal(env.wasmMemoryBytes, 0, 'the trapped instance is no longer counted');
  const c = await InferenceSession.create(model); // a fresh instance
  assert.deepEqual(Array.from((await c.run({ x })).y.data), [1, 2]);
  assert.deepEqual(Array.from((await w.run({ x })).y.data), [1, 2]);
  await a.release(); // releasing sessions of a trapped instance is harmless
  await b.release();
  await c.release();
  await w.release();
});
