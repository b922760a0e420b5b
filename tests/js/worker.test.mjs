// `{ worker: true }` sessions in Node (worker_threads running dist/edgeinfer-worker.js): the
// same API and results as a session in the main thread, errors that cross the thread with
// their code, caller arrays that stay usable, and workers that end when released.

import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InferenceSession, Tensor } from '../../dist/edgeinfer.mjs';
import { identityModel } from './onnx-model.mjs';
import { DIST, MODELS_DIR, rejectsWith, requireModel } from './helpers.mjs';

const mlpPath = join(MODELS_DIR, 'mlp.onnx');

function mlpInput(batch) {
  const data = new Float32Array(batch * 64);
  for (let i = 0; i < data.length; i++) data[i] = Math.cos(i * 0.11);
  return new Tensor('float32', data, [batch, 64]);
}

test('a worker session has the same metadata and results as a main-thread one', async () => {
  requireModel('mlp');
  const local = await InferenceSession.create(mlpPath);
  const remote = await InferenceSession.create(mlpPath, { worker: true });
  for (const k of ['inputNames', 'outputNames', 'inputMetadata', 'outputMetadata']) assert.deepEqual(remote[k], local[k], k);
  assert.equal(Object.getPrototypeOf(remote), Object.getPrototypeOf(local));
  for (const batch of [1, 5, 2]) {
    const x = mlpInput(batch);
    const copy = x.data.slice();
    const [a, b] = await Promise.all([local.run({ input: x }), remote.run({ input: x })]);
    assert.ok(b.output instanceof Tensor);
    assert.deepEqual(b.output.dims, a.output.dims);
    assert.deepEqual(b.output.data, a.output.data);
    // The feed was copied before its buffer was transferred: the caller's array is intact.
    assert.equal(x.data.length, batch * 64);
    assert.deepEqual(x.data, copy);
  }
  await local.release();
  await remote.release();
});

test('runs queued on one worker session all complete, in order', async () => {
  const s = await InferenceSession.create(identityModel('int32', [1]), { worker: true });
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => s.run({ x: new Tensor('int32', [i]) })));
  assert.deepEqual(results.map((r) => r.y.data[0]), Array.from({ length: 20 }, (_, i) => i));
  await s.release();
});

test('errors come back from the worker with their code and message; the session keeps working', async () => {
  requireModel('mlp');
  await rejectsWith(InferenceSession.create(new Uint8Array([1, 2, 3]), { worker: true }), 'INVALID_MODEL', /cannot load the model/);
  const s = await InferenceSession.create(mlpPath, { worker: true });
  const x = mlpInput(2);
  const good = await s.run({ input: x });
  await rejectsWith(s.run({ input: new Tensor('float32', new Float32Array(2 * 32), [2, 32]) }), 'INVALID_SHAPE',
    /input 'input': expected float32 \[batch,64\], got float32 \[2,32\]/);
  await rejectsWith(s.run({ nope: x }), 'INVALID_ARGUMENT', /unknown input 'nope'/);
  assert.deepEqual((await s.run({ input: x })).output.data, good.output.data);
  await s.release();
  await s.release();
  await rejectsWith(s.run({ input: x }), 'INVALID_STATE', /released/);
});

test('the model buffer passed in stays with the caller', async () => {
  requireModel('mlp');
  const bytes = new Uint8Array(readFileSync(mlpPath));
  const s = await InferenceSession.create(bytes, { worker: true });
  assert.ok(bytes.byteLength > 0, 'the buffer was transferred away');
  await s.release();
  const ab = bytes.buffer.slice(0);
  const t = await InferenceSession.create(ab, { worker: true });
  assert.equal(ab.byteLength, bytes.byteLength);
  await t.release();
});

test('a wrong worker URL is an EdgeInferError, not a hang', async () => {
  await rejectsWith(InferenceSession.create(identityModel('float32', [1]), { worker: true, workerUrl: join(DIST, 'no-such-worker.js') }),
    'RUNTIME_ERROR', /no-such-worker\.js/);
});
