// The classic script dist/edgeinfer.js outside a browser: required as CommonJS it finds
// edgeinfer.wasm next to itself and exports the API (and the global); evaluated where it cannot
// tell its own location, it asks for env.wasm instead of guessing.

import test from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { identityModel } from './onnx-model.mjs';
import { DIST, rejectsWith, requireDist } from './helpers.mjs';

test('required as CommonJS: module.exports and the global, wasm and worker found next to the script', async () => {
  requireDist();
  const dir = mkdtempSync(join(tmpdir(), 'edgeinfer-cjs-'));
  try {
    // .cjs: CommonJS whatever package.json says; the worker script is used as it is.
    copyFileSync(join(DIST, 'edgeinfer.js'), join(dir, 'edgeinfer.cjs'));
    copyFileSync(join(DIST, 'edgeinfer.wasm'), join(dir, 'edgeinfer.wasm'));
    copyFileSync(join(DIST, 'edgeinfer-worker.js'), join(dir, 'edgeinfer-worker.js'));
    const ei = createRequire(import.meta.url)(join(dir, 'edgeinfer.cjs'));
    assert.equal(globalThis.edgeinfer, ei);
    for (const worker of [false, true]) {
      const s = await ei.InferenceSession.create(identityModel('float64', [2]), { worker });
      const { y } = await s.run({ x: new ei.Tensor('float64', [0.25, -8]) });
      assert.deepEqual(y.data, new Float64Array([0.25, -8]));
      await s.release();
    }
  } finally {
    delete globalThis.edgeinfer;
    rmSync(dir, { recursive: true, force: true });
  }
});

test('evaluated without a known location it asks for env.wasm, then works with it', async () => {
  requireDist();
  // Run the script text as an ES module body (this package is "type": "module"): no
  // document.currentScript, no self.location, no __filename.
  const dir = mkdtempSync(join(tmpdir(), 'edgeinfer-esm-'));
  try {
    copyFileSync(join(DIST, 'edgeinfer.js'), join(dir, 'edgeinfer.mjs'));
    await import(join(dir, 'edgeinfer.mjs'));
    const ei = globalThis.edgeinfer;
    assert.equal(typeof ei.InferenceSession.create, 'function');
    const model = identityModel('int8', [1]);
    await rejectsWith(ei.InferenceSession.create(model), 'LOAD_FAILED', /cannot tell where edgeinfer\.wasm is.*env\.wasm/);
    ei.env.wasm = { buffer: readFileSync(join(DIST, 'edgeinfer.wasm')) };
    const s = await ei.InferenceSession.create(model);
    assert.deepEqual((await s.run({ x: new ei.Tensor('int8', [-5]) })).y.data, new Int8Array([-5]));
    await s.release();
    await rejectsWith(ei.InferenceSession.create(model, { worker: true }), 'LOAD_FAILED', /env\.workerUrl/);
  } finally {
    delete globalThis.edgeinfer;
    rmSync(dir, { recursive: true, force: true });
  }
});
