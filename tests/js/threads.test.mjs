// Sessions on several threads (the threaded build, edgeinfer-threads.wasm, with its workers on
// one shared memory): the same outputs as one thread, bit for bit (a split changes which thread
// computes an output, never the order of its sums), in local and worker mode; the options that
// choose the thread count; one notice and one thread when the threaded build cannot start; and
// release stops every worker thread.

import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, copyFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { readNpy } from './npy.mjs';
import { DIST, MODELS_DIR, rejectsWith, requireDist, requireModel } from './helpers.mjs';

requireDist();
const ei = await import(`${pathToFileURL(join(DIST, 'edgeinfer.mjs')).href}?threads`);
const { InferenceSession, Tensor, env } = ei;

function feedsOf(session, name) {
  const x = readNpy(readFileSync(join(MODELS_DIR, `${name}.input.npy`)));
  return { [session.inputNames[0]]: new Tensor(x.dtype, x.data, x.shape) };
}

async function outputs(name, options) {
  const s = await InferenceSession.create(join(MODELS_DIR, `${name}.onnx`), options);
  try {
    const out = await s.run(feedsOf(s, name));
    return { threads: s.numThreads, data: s.outputNames.map((n) => out[n].data) };
  } finally {
    await s.release();
  }
}

// Threads of this process (Linux): worker_threads are OS threads.
function osThreads() {
  return Number(/Threads:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
}

for (const name of ['mobilenet_v2', 'resnet18', 'efficientnet_b0', 'text_transformer']) {
  test(`${name}: 3 threads give the outputs of one, bit for bit`, { timeout: 300_000 }, async () => {
    requireModel(name);
    const one = await outputs(name, { numThreads: 1 });
    const three = await outputs(name, { numThreads: 3 });
    assert.equal(one.threads, 1);
    assert.equal(three.threads, 3);
    assert.deepEqual(three.data, one.data);
  });
}

test('worker mode runs threaded too, with the same outputs', { timeout: 300_000 }, async () => {
  requireModel('mobilenet_v2');
  const one = await outputs('mobilenet_v2', { numThreads: 1 });
  const worker = await outputs('mobilenet_v2', { numThreads: 2, worker: true });
  assert.equal(worker.threads, 2);
  assert.deepEqual(worker.data, one.data);
});

test('numThreads: options over env.wasm, 0 the default, anything else refused', async () => {
  requireModel('mlp');
  const model = join(MODELS_DIR, 'mlp.onnx');
  for (const bad of [-1, 1.5, 65, '2', null]) {
    await rejectsWith(InferenceSession.create(model, { numThreads: bad }), 'INVALID_ARGUMENT', /numThreads/);
  }
  const saved = env.wasm;
  try {
    env.wasm = { numThreads: 1 };
    let s = await InferenceSession.create(model);
    assert.equal(s.numThreads, 1);
    await s.release();
    s = await InferenceSession.create(model, { numThreads: 2 });
    assert.equal(s.numThreads, 2);
    await s.release();
    env.wasm = { numThreads: 0 };
    s = await InferenceSession.create(model);
    assert.equal(s.numThreads, 2, 'the default on this 2-core machine, or more'); // min(4, cores) >= 2 in CI
    await s.release();
  } finally {
    env.wasm = saved;
  }
});

test('100 create/run/release cycles leave no worker thread running', { timeout: 600_000 }, async () => {
  requireModel('mlp');
  const model = readFileSync(join(MODELS_DIR, 'mlp.onnx'));
  const input = new Tensor('float32', new Float32Array(64).fill(0.5), [1, 64]);
  const cycle = async () => {
    const s = await InferenceSession.create(model, { numThreads: 3 });
    assert.equal(s.numThreads, 3);
    await s.run({ input });
    await s.release();
  };
  const settle = async (n) => { // worker exits are asynchronous
    for (let i = 0; i < 100 && osThreads() > n; i++) await new Promise((r) => setTimeout(r, 50));
  };
  await cycle(); // Node starts some threads of its own lazily (compilation, file reads)
  await new Promise((r) => setTimeout(r, 500));
  const before = osThreads(), memory = env.wasmMemoryBytes;
  for (let i = 0; i < 100; i++) await cycle();
  await settle(before);
  assert.equal(osThreads(), before, 'threads left running after the last release');
  assert.equal(env.wasmMemoryBytes, memory, 'the threaded instance is dropped with its last session');
});

test('without edgeinfer-threads.wasm: one notice, one thread, correct outputs', { timeout: 120_000 }, async () => {
  requireModel('mlp');
  // A fresh copy of the loader (its own notice flag) in a folder without the threaded build.
  const dir = mkdtempSync(join(tmpdir(), 'edgeinfer-nothreads-'));
  try {
    for (const f of ['edgeinfer.mjs', 'edgeinfer.wasm', 'edgeinfer-relaxed.wasm', 'edgeinfer-worker.js']) copyFileSync(join(DIST, f), join(dir, f));
    const lone = await import(pathToFileURL(join(dir, 'edgeinfer.mjs')).href);
    const warned = [];
    const warn = console.warn;
    console.warn = (...args) => warned.push(args.join(' '));
    try {
      const input = new lone.Tensor('float32', new Float32Array(64).fill(0.5), [1, 64]);
      const one = await lone.InferenceSession.create(join(MODELS_DIR, 'mlp.onnx'), { numThreads: 1 });
      const want = (await one.run({ input }))[one.outputNames[0]].data;
      await one.release();
      for (let i = 0; i < 3; i++) {
        const s = await lone.InferenceSession.create(join(MODELS_DIR, 'mlp.onnx'), { numThreads: 2 });
        assert.equal(s.numThreads, 1);
        assert.deepEqual((await s.run({ input }))[s.outputNames[0]].data, want);
        await s.release();
      }
    } finally {
      console.warn = warn;
    }
    assert.equal(warned.length, 1, `notices: ${JSON.stringify(warned)}`);
    assert.match(warned[0], /running on one thread: the threaded build could not start .*edgeinfer-threads\.wasm/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
