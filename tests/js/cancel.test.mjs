// Cancelling a run on this thread's wasm instance: with an AbortSignal, a run goes in slices
// (ei_session_run_step) and yields to the event loop between them, so abort() stops it between two
// nodes, or between two iterations of a Loop or Scan of the model's graph; the run rejects with
// ABORTED and the session gives the same outputs at its next run. Without a signal a run is one
// call, as before.

import test from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { makeModel } from './onnx-model.mjs';
import { ROOT, rejectsWith, requireDist } from './helpers.mjs';

requireDist();
const { InferenceSession, Tensor } = await import('../../dist/edgeinfer.mjs');

const N = 1 << 18; // elements per tensor
const NODES = 600;
// y = x + 1 + 2 + ... : a chain of NODES Add nodes over N elements (a run of some 100 ms)
const chain = makeModel({
  inputs: [{ name: 'x', type: 'float32', dims: [N] }],
  outputs: [{ name: 'y', type: 'float32', dims: [N] }],
  nodes: Array.from({ length: NODES }, (_, i) => ({
    op: 'Add', inputs: [i ? `v${i}` : 'x', `c${i % 3}`], outputs: [i === NODES - 1 ? 'y' : `v${i + 1}`], name: `add${i}`,
  })),
  initializers: [1, 2, 3].map((v, i) => ({ name: `c${i}`, type: 'float32', dims: [N], data: new Float32Array(N).fill(v) })),
});
const LONG_LOOP = join(ROOT, 'tests', 'js', 'fixtures', 'loop-nest-long-running.onnx'); // 3,000 x 3,000 body runs

// Aborts `ms` after the run starts; returns how long the rejection took after abort().
async function abortAfter(session, feeds, ms) {
  const ac = new AbortController();
  const running = session.run(feeds, { signal: ac.signal });
  let aborted = 0;
  setTimeout(() => { aborted = performance.now(); ac.abort(); }, ms);
  await rejectsWith(running, 'ABORTED', /the run was cancelled \(AbortSignal\)$/);
  assert.ok(aborted > 0, 'the run was still going when abort() was called');
  return performance.now() - aborted;
}

test('a main-thread run of many nodes is cancelled mid-run; the next runs give the same outputs', async () => {
  // One thread, so that the run lasts long enough wherever threads would shorten it.
  const s = await InferenceSession.create(chain, { numThreads: 1 });
  const x = new Tensor('float32', new Float32Array(N).fill(0.5), [N]);
  const want = (await s.run({ x })).y.data; // without a signal: one call
  assert.equal(want[N - 1], 0.5 + 200 * (1 + 2 + 3));
  const lag = await abortAfter(s, { x }, 10);
  console.log(`# ${NODES} nodes: abort() to rejection ${lag.toFixed(1)} ms`);
  assert.deepEqual((await s.run({ x })).y.data, want);
  assert.deepEqual((await s.run({ x }, { signal: new AbortController().signal })).y.data, want); // in slices, to the end
  await s.release();
});

test('the event loop runs between slices, and a run waits for the one before it on the same session', async () => {
  const s = await InferenceSession.create(chain);
  const x = new Tensor('float32', new Float32Array(N), [N]);
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  const sliced = s.run({ x }, { signal: new AbortController().signal });
  const plain = s.run({ x: new Tensor('float32', new Float32Array(N).fill(1), [N]) }); // waits its turn
  const [a, b] = await Promise.all([sliced, plain]);
  clearInterval(timer);
  assert.ok(ticks > 0, 'timers ran during the sliced run');
  assert.equal(a.y.data[0], 1200);
  assert.equal(b.y.data[0], 1201);
  await s.release();
});

test('a Loop of 9 million body runs is cancelled between iterations of its outer loop', async () => {
  const s = await InferenceSession.create(LONG_LOOP);
  const v = new Tensor('float32', [3], [1]);
  const lag = await abortAfter(s, { v }, 50);
  console.log(`# Loop nest: abort() to rejection ${lag.toFixed(1)} ms`);
  const small = await InferenceSession.create(join(ROOT, 'tests', 'fuzz', 'regressions', 'loop-nest-iteration-budget.onnx'));
  assert.deepEqual(Array.from((await small.run({ v }, { signal: new AbortController().signal })).y.data), [3]);
  await rejectsWith(s.run({ v }, { signal: AbortSignal.timeout(30) }), 'ABORTED', /cancelled/); // usable again
  await small.release();
  await s.release();
});

test('releasing a session during a sliced run ends that run with INVALID_STATE', async () => {
  const s = await InferenceSession.create(LONG_LOOP);
  const running = s.run({ v: new Tensor('float32', [3], [1]) }, { signal: new AbortController().signal });
  await new Promise((r) => setTimeout(r, 20));
  await s.release();
  await rejectsWith(running, 'INVALID_STATE', /the session was released/);
});
