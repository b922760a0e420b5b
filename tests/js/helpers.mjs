// Paths and small helpers shared by the tests of the wasm build (tests/js/*.test.mjs).
// The tests use dist/ as `make wasm` leaves it; a missing file fails a test with the command
// that makes it rather than skipping it.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const DIST = join(ROOT, 'dist');
export const MODELS_DIR = join(ROOT, 'build', 'models');
export const NODE_SUITE = join(ROOT, 'build', 'onnx-node', 'node');

export function requireFile(path, hint) {
  assert.ok(existsSync(path), `${path} is missing: ${hint}`);
}

export function requireDist() {
  for (const f of ['edgeinfer.wasm', 'edgeinfer.mjs', 'edgeinfer.js', 'edgeinfer-worker.js', 'edgeinfer.d.ts']) {
    requireFile(join(DIST, f), 'build it with `make wasm`');
  }
}

export function requireModel(name) {
  const hint = 'export the models first (make build/models/.stamp)';
  requireFile(join(MODELS_DIR, `${name}.onnx`), hint);
  requireFile(join(MODELS_DIR, `${name}.input.npy`), hint);
}

/** Asserts that `promise` rejects with an EdgeInferError of `code` whose message matches `re`. */
export async function rejectsWith(promise, code, re) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.name, 'EdgeInferError', `expected an EdgeInferError, got ${err.name}: ${err.message}`);
    assert.equal(err.code, code, `code of "${err.message}"`);
    if (re) assert.match(err.message, re);
    return true;
  });
}

/** The same for a function that throws synchronously. */
export function throwsWith(fn, code, re) {
  assert.throws(fn, (err) => {
    assert.equal(err.name, 'EdgeInferError', `expected an EdgeInferError, got ${err.name}: ${err.message}`);
    assert.equal(err.code, code, `code of "${err.message}"`);
    if (re) assert.match(err.message, re);
    return true;
  });
}
