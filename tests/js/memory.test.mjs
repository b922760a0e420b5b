// wasm memory can only grow, so a leak shows as growth that never stops. After a few warm-up
// cycles, creating, running and releasing sessions (1,000 times), and running one session many
// times with inputs of changing size, must not grow the wasm memory at all.
//
// The memory starts with about 10 MB free, so 1,000 cycles notice a leak of about 10 KB or more
// per cycle: the model bytes, an input buffer or an activation arena (each 64 KB or more here),
// or a model or session (each holds at least one 64 KB arena block). Smaller leaks inside the C
// library are the native leak checker's job (make check-asan, conformance-asan).

import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InferenceSession, Tensor, env } from '../../dist/edgeinfer.mjs';

// The single-threaded instance, which lives on between sessions (a threaded one is dropped with
// its last session: tests/js/threads.test.mjs checks that).
env.wasm.numThreads = 1;
import { makeModel } from './onnx-model.mjs';
import { MODELS_DIR, rejectsWith, requireModel } from './helpers.mjs';

const CYCLES = 1000;
const WARMUP = 20;

// A model with fixed input dims (its arena is planned when the session is created), 256 KB of
// weights, a 256 KB input and 256 KB activations.
const ROWS = 64;
const COLS = 1024;
function fixedModel() {
  const w = new Float32Array(ROWS * COLS).map((_, i) => Math.sin(i));
  return makeModel({
    inputs: [{ name: 'x', type: 'float32', dims: [ROWS, COLS] }],
    outputs: [{ name: 'y', type: 'float32', dims: [ROWS, COLS] }],
    initializers: [{ name: 'w', type: 'float32', dims: [ROWS, COLS], data: w }],
    nodes: [
      { op: 'Add', inputs: ['x', 'w'], outputs: ['h'] },
      { op: 'Relu', inputs: ['h'], outputs: ['y'] },
    ],
  });
}

async function cycles(t, label, model, feeds) {
  let afterWarmup = 0;
  for (let i = 0; i < CYCLES; i++) {
    const s = await InferenceSession.create(model);
    await s.run(feeds);
    await s.release();
    if (i === WARMUP - 1) afterWarmup = env.wasmMemoryBytes;
  }
  const end = env.wasmMemoryBytes;
  t.diagnostic(`${label}: wasm memory ${afterWarmup} bytes after ${WARMUP} cycles, ${end} after ${CYCLES}`);
  assert.ok(afterWarmup > 0);
  assert.equal(end, afterWarmup, `${label}: wasm memory grew by ${end - afterWarmup} bytes`);
}

test(`create, run, release ${CYCLES} times: no growth (fixed dims)`, { timeout: 300_000 }, async (t) => {
  const x = new Tensor('float32', new Float32Array(ROWS * COLS).fill(0.5), [ROWS, COLS]);
  await cycles(t, 'fixed dims', fixedModel(), { x });
});

test(`create, run, release ${CYCLES} times: no growth (mlp, symbolic batch)`, { timeout: 300_000 }, async (t) => {
  requireModel('mlp');
  const bytes = readFileSync(join(MODELS_DIR, 'mlp.onnx'));
  const input = new Tensor('float32', new Float32Array(256 * 64).fill(0.25), [256, 64]);
  await cycles(t, 'mlp', bytes, { input });
});

// A Response whose body breaks off after half the model.
function failingBody(model) {
  return new Response(new ReadableStream({
    start(c) { c.enqueue(model.slice(0, model.length >> 1)); },
    pull(c) { c.error(new Error('connection reset')); },
  }), { headers: { 'content-length': String(model.length) } });
}

test('failed creations and failed runs leak nothing either', { timeout: 300_000 }, async () => {
  const bad = new Uint8Array([8, 7, 0x3a, 4, 0x0a, 2, 0x0a, 0]);
  const model = fixedModel();
  const wrong = { x: new Tensor('float32', new Float32Array(ROWS * (COLS - 1)), [ROWS, COLS - 1]) };
  let base = 0;
  for (let i = 0; i < CYCLES; i++) {
    await rejectsWith(InferenceSession.create(bad), 'INVALID_MODEL');
    await rejectsWith(InferenceSession.create(failingBody(model)), 'LOAD_FAILED'); // streamed into wasm memory
    const s = await InferenceSession.create(model);
    await rejectsWith(s.run(wrong), 'INVALID_SHAPE');
    await s.release();
    if (i === WARMUP - 1) base = env.wasmMemoryBytes;
  }
  assert.equal(env.wasmMemoryBytes, base);
});

test('one session, many runs with inputs of changing size: no growth after the largest', { timeout: 300_000 }, async () => {
  requireModel('mlp');
  const s = await InferenceSession.create(join(MODELS_DIR, 'mlp.onnx'));
  const batches = [1, 256, 3, 70, 256, 2];
  const feeds = batches.map((b) => ({ input: new Tensor('float32', new Float32Array(b * 64).fill(1), [b, 64]) }));
  for (const f of feeds) await s.run(f);
  const base = env.wasmMemoryBytes;
  for (let i = 0; i < 300; i++) await s.run(feeds[i % feeds.length]);
  assert.equal(env.wasmMemoryBytes, base);
  await s.release();
});
