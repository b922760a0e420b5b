// What `make wasm` must produce: a standalone module whose only import is the memory-growth
// notification, exporting exactly the functions of web/exports.json (the public C API and
// malloc/free); a threaded build importing a shared memory and only the functions the loader
// answers; loader scripts with no run-time code evaluation, built from the current web/ sources;
// and downloads under 400 KB.

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
// more, look first at what grew (make size).
test('a page downloads under 400 KB: edgeinfer.wasm + edgeinfer.js', (t) => {
  requireDist();
  const wasm = readFileSync(join(DIST, 'edgeinfer.wasm')).length;
  const js = readFileSync(join(DIST, 'edgeinfer.js')).length;
  t.diagnostic(`edgeinfer.wasm ${wasm} + edgeinfer.js ${js} = ${wasm + js} bytes`);
  assert.ok(wasm + js < 400000, `the download is ${wasm + js} bytes, over the 400,000-byte budget`);
});

// The threaded build's imports: its shared memory (the size the loader creates) and the functions
// wasmImports() in web/edgeinfer.core.js answers; the rest of Emscripten's pthread runtime it
// declares must never be called (the loader's stubs throw, naming the function).
test('edgeinfer-threads.wasm imports a shared memory and functions the loader knows', () => {
  requireDist();
  const module = new WebAssembly.Module(readFileSync(join(DIST, 'edgeinfer-threads.wasm')));
  const imports = WebAssembly.Module.imports(module);
  assert.deepEqual(imports.filter((i) => i.kind !== 'function'), [{ module: 'env', name: 'memory', kind: 'memory' }]);
  const core = readFileSync(join(ROOT, 'web', 'edgeinfer.core.js'), 'utf8');
  const known = core.slice(core.indexOf('function wasmImports'), core.indexOf('class Runtime'));
  const used = ['emscripten_resize_heap', '__emscripten_init_main_thread_js'];
  for (const name of used) {
    assert.ok(imports.some((i) => i.name === name), `the threaded build no longer imports ${name}`);
    assert.match(known, new RegExp(`\\b${name}:`), `the loader does not answer ${name}`);
  }
  const exported = new Set(WebAssembly.Module.exports(module).map((e) => e.name));
  for (const name of ['ei_threadpool_create', 'ei_threadpool_work', 'emscripten_tls_init', 'emscripten_stack_set_limits',
    'stackRestore', '_emscripten_thread_init', '__wasm_call_ctors']) assert.ok(exported.has(name), `${name} is not exported`);
  // Its memory limits are the loader's (SHARED_PAGES): instantiating with them must work.
  const pages = /SHARED_PAGES = \{ initial: (\d+), maximum: (\d+) \}/.exec(core);
  const memory = new WebAssembly.Memory({ initial: +pages[1], maximum: +pages[2], shared: true });
  const stubs = {};
  for (const i of imports) if (i.kind === 'function') stubs[i.name] = () => 0;
  assert.doesNotThrow(() => new WebAssembly.Instance(module, { env: { ...stubs, memory } }));
});

test('a threaded page downloads under 400 KB: either threaded build + edgeinfer.js', (t) => {
  requireDist();
  for (const f of ['edgeinfer-threads.wasm', 'edgeinfer-threads-relaxed.wasm']) {
    const wasm = readFileSync(join(DIST, f)).length;
    const js = readFileSync(join(DIST, 'edgeinfer.js')).length;
    t.diagnostic(`${f} ${wasm} + edgeinfer.js ${js} = ${wasm + js} bytes`);
    assert.ok(wasm + js < 400000, `the download is ${wasm + js} bytes, over the 400,000-byte budget`);
  }
});
