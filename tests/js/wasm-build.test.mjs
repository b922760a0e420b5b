// What `make wasm` must produce: a standalone module whose only import is the memory-growth
// notification, exporting exactly the functions of web/exports.json (the public C API and
// malloc/free); loader scripts with no run-time code evaluation, built from the current web/
// sources; and a download under 400 KB.

import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DIST, ROOT, requireDist } from './helpers.mjs';
import { sourceHash } from '../../web/build.mjs';

test('edgeinfer.wasm imports only env.emscripten_notify_memory_growth', () => {
  requireDist();
  const module = new WebAssembly.Module(readFileSync(join(DIST, 'edgeinfer.wasm')));
  assert.deepEqual(WebAssembly.Module.imports(module),
    [{ module: 'env', name: 'emscripten_notify_memory_growth', kind: 'function' }]);
});

test('edgeinfer.wasm exports every function of web/exports.json, and the public API is all there', () => {
  requireDist();
  const listed = JSON.parse(readFileSync(join(ROOT, 'web', 'exports.json'), 'utf8')).map((n) => n.replace(/^_/, ''));
  const module = new WebAssembly.Module(readFileSync(join(DIST, 'edgeinfer.wasm')));
  const exported = new Set(WebAssembly.Module.exports(module).map((e) => e.name));
  for (const name of [...listed, 'memory', '_initialize']) assert.ok(exported.has(name), `${name} is not exported`);
  // Every function of the public header is listed, so the JS side can reach the whole C API.
  const header = readFileSync(join(ROOT, 'include', 'edgeinfer.h'), 'utf8');
  const api = [...new Set([...header.matchAll(/\b(ei_[a-z0-9_]+)\s*\(/g)].map((m) => m[1]))];
  assert.ok(api.length > 20);
  assert.deepEqual(api.filter((n) => !listed.includes(n)), [], 'functions of include/edgeinfer.h missing from web/exports.json');
  assert.deepEqual(listed.filter((n) => !api.includes(n) && n !== 'malloc' && n !== 'free'), [],
    'web/exports.json lists functions that are not in the public API');
});

test('the scripts evaluate no code at run time and make no object URLs', () => {
  requireDist();
  for (const f of ['edgeinfer.mjs', 'edgeinfer.cjs', 'edgeinfer.js', 'edgeinfer-worker.js']) {
    const text = readFileSync(join(DIST, f), 'utf8');
    for (const re of [/\beval\s*\(/, /new\s+Function\s*\(/, /\bimport\s*\(/, /createObjectURL/, /setTimeout\s*\(\s*['"`]/]) {
      assert.doesNotMatch(text, re, `${f} contains ${re}`);
    }
  }
});

test('the generated scripts were built from the current web/ sources', () => {
  requireDist();
  const hash = sourceHash();
  for (const f of ['edgeinfer.mjs', 'edgeinfer.cjs', 'edgeinfer.js', 'edgeinfer-ort.js', 'edgeinfer-worker.js', 'edgeinfer.d.ts']) {
    const banner = readFileSync(join(DIST, f), 'utf8').split('\n', 1)[0];
    assert.ok(banner.includes(`(sources ${hash})`), `${f} is stale (${banner}): run make wasm`);
  }
});

// What a page downloads for the whole operator set stays under 400 KB raw. If a change needs
// more, look first at what grew (make size); linking with -Oz instead of -O2 (WASM_LDFLAGS)
// saves about 9 KB for a 2-3% slower inference.
test('a page downloads under 400 KB: edgeinfer.wasm + edgeinfer.js', (t) => {
  requireDist();
  const wasm = readFileSync(join(DIST, 'edgeinfer.wasm')).length;
  const js = readFileSync(join(DIST, 'edgeinfer.js')).length;
  t.diagnostic(`edgeinfer.wasm ${wasm} + edgeinfer.js ${js} = ${wasm + js} bytes`);
  assert.ok(wasm + js < 400000, `the download is ${wasm + js} bytes, over the 400,000-byte budget`);
});
