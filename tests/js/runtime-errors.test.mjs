// What the loader does when the wasm itself goes wrong: a trap, or a call to an import the
// loader does not provide (e.g. WASI's fd_write if libc's stdio were linked in). Stand-in
// modules, written byte by byte below, have the exports the loader needs; their ei_model_load
// traps or calls the foreign import. The loader must turn each into an EdgeInferError, retire
// that instance, and give the next session a fresh one; other instances keep working.

import test from 'node:test';
import assert from 'node:assert/strict';
import { InferenceSession, Tensor } from '../../dist/edgeinfer.mjs';
import { identityModel } from './onnx-model.mjs';
import { rejectsWith, requireDist } from './helpers.mjs';

const I32 = 0x7f;

function leb(n) {
  const out = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}
const vec = (items) => [...leb(items.length), ...items.flat()];
const name = (s) => vec([...Buffer.from(s)]);
const section = (id, body) => [id, ...leb(body.length), ...body];

// A module with memory, _initialize, malloc (always 1024), free, and ei_model_load whose body
// is `loadBody` (instructions, without the final end). With `importName` it imports a
// function () -> () as function 0, so its own functions start at index 1.
function standIn(loadBody, importName) {
  const types = [[0x60, 0, 0], [0x60, 1, I32, 1, I32], [0x60, 1, I32, 0], [0x60, 4, I32, I32, I32, I32, 1, I32]];
  const base = importName ? 1 : 0;
  const bodies = [[0x0b], [0x41, ...leb(1024), 0x0b], [0x0b], [...loadBody, 0x0b]];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...(importName ? section(2, vec([[...name(importName[0]), ...name(importName[1]), 0x00, 0]])) : []),
    ...section(3, vec([[0], [1], [2], [3]])),
    ...section(5, vec([[0x00, 1]])),
    ...section(7, vec([
      [...name('memory'), 0x02, 0],
      [...name('_initialize'), 0x00, base],
      [...name('malloc'), 0x00, base + 1],
      [...name('free'), 0x00, base + 2],
      [...name('ei_model_load'), 0x00, base + 3],
    ])),
    ...section(10, vec(bodies.map((b) => [...leb(b.length + 1), 0x00, ...b]))),
  ];
  return new Uint8Array(bytes);
}

const UNREACHABLE = 0x00;
const CALL = 0x10;

test('a trap becomes an EdgeInferError, and the next session gets a fresh instance', async () => {
  requireDist();
  const trapping = { buffer: standIn([UNREACHABLE]) };
  const model = identityModel('float32', [1]);
  await rejectsWith(InferenceSession.create(model, { wasm: trapping }), 'RUNTIME_ERROR', /edgeinfer\.wasm failed in ei_model_load: unreachable/);
  // Not "stopped after an earlier error": the broken instance was replaced.
  await rejectsWith(InferenceSession.create(model, { wasm: trapping }), 'RUNTIME_ERROR', /failed in ei_model_load/);
  // The real module is unaffected.
  const s = await InferenceSession.create(model);
  assert.deepEqual((await s.run({ x: new Tensor('float32', [2.5]) })).y.data, new Float32Array([2.5]));
  await s.release();
});

test('an import the loader does not provide is named when the wasm calls it', async () => {
  requireDist();
  const wasi = { buffer: standIn([CALL, 0, 0x41, 0], ['wasi_snapshot_preview1', 'fd_write']) };
  await rejectsWith(InferenceSession.create(identityModel('int32', [1]), { wasm: wasi }), 'UNSUPPORTED',
    /edgeinfer\.wasm called wasi_snapshot_preview1\.fd_write, which the loader does not provide/);
});
