// The npm package as users get it: `make package` packs build/edgeinfer-<version>.tgz; it ships
// dist/ only, stays small, installs into an empty project offline, and works there from ESM and
// CommonJS (the main entry, edgeinfer/ort, the asset export paths, a worker session), computing
// what the repository's own dist/ computes.

import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InferenceSession, Tensor } from '../../dist/edgeinfer.mjs';
import { MODELS_DIR, requireModel } from '../js/helpers.mjs';
import { makeProject, removeProject, runNode, TARBALL, requireTarball, VERSION } from './project.mjs';

let dir;
let expected;
const mlp = join(MODELS_DIR, 'mlp.onnx');

function mlpInput() {
  return Array.from({ length: 2 * 64 }, (_, i) => Math.sin(i * 0.37));
}

before(async () => {
  requireTarball();
  requireModel('mlp');
  dir = makeProject('use');
  const s = await InferenceSession.create(mlp);
  const { output } = await s.run({ input: new Tensor('float32', Float32Array.from(mlpInput()), [2, 64]) });
  expected = Array.from(output.data);
  await s.release();
});

after(() => removeProject(dir));

function tarList() {
  return execFileSync('tar', ['tzvf', TARBALL], { encoding: 'utf8' }).trim().split('\n').map((line) => {
    const f = line.trim().split(/\s+/);
    return { size: Number(f[2]), path: f[f.length - 1] };
  });
}

// Four wasm builds (SIMD128 and relaxed, each single-threaded and threaded) of which a page
// downloads one (the next test holds each to 400 KB with its loader).
test('npm pack ships dist/ (and package.json, README) only, under 800 KB', (t) => {
  const entries = tarList();
  const size = statSync(TARBALL).size;
  t.diagnostic(`${TARBALL}: ${size} bytes, ${entries.length} files`);
  for (const { path } of entries) {
    assert.match(path, /^package\/(dist\/[^/]+|package\.json|README\.md|LICEN[CS]E(\.\w+)?)$/, `${path} should not be in the package`);
  }
  const names = entries.map((e) => e.path.replace('package/dist/', ''));
  for (const f of ['edgeinfer.wasm', 'edgeinfer-threads.wasm', 'edgeinfer-threads-relaxed.wasm', 'edgeinfer.mjs', 'edgeinfer.cjs', 'edgeinfer.js', 'edgeinfer-ort.js', 'edgeinfer-worker.js', 'edgeinfer.d.ts']) {
    assert.ok(names.includes(f), `dist/${f} is not in the package`);
  }
  assert.ok(size < 800000, `the tarball is ${size} bytes, over 800,000`);
});

test('what a page downloads, any wasm build with any loader script, is under 400 KB raw', (t) => {
  const entries = tarList();
  const wasm = entries.filter((e) => e.path.endsWith('.wasm'));
  const loaders = entries.filter((e) => /\/edgeinfer\.(mjs|cjs|js)$/.test(e.path));
  assert.ok(wasm.length >= 1 && loaders.length === 3);
  for (const w of wasm) {
    for (const l of loaders) {
      t.diagnostic(`${w.path} ${w.size} + ${l.path} ${l.size} = ${w.size + l.size}`);
      assert.ok(w.size + l.size < 400000, `${w.path} + ${l.path} is ${w.size + l.size} bytes, over 400,000`);
    }
  }
});

test('installed offline: package.json is the real package, and every export path resolves to a file', () => {
  const pkg = JSON.parse(readFileSync(join(dir, 'node_modules', 'edgeinfer', 'package.json'), 'utf8'));
  assert.equal(pkg.name, 'edgeinfer');
  assert.equal(pkg.version, VERSION);
  assert.notEqual(pkg.private, true);
  const out = runNode(dir, 'resolve.mjs', `
    import { createRequire } from 'node:module';
    import { existsSync } from 'node:fs';
    import { fileURLToPath } from 'node:url';
    const require = createRequire(import.meta.url);
    const ids = ['edgeinfer', 'edgeinfer/ort', 'edgeinfer/wasm', 'edgeinfer/edgeinfer.wasm', 'edgeinfer/edgeinfer.js',
      'edgeinfer/edgeinfer-ort.js', 'edgeinfer/edgeinfer-worker.js', 'edgeinfer/edgeinfer.d.ts', 'edgeinfer/package.json'];
    const r = {};
    for (const id of ids) {
      const esm = fileURLToPath(import.meta.resolve(id));
      const cjs = require.resolve(id);
      r[id] = { esm: esm.split('node_modules/edgeinfer/')[1], cjs: cjs.split('node_modules/edgeinfer/')[1], exists: existsSync(esm) && existsSync(cjs) };
    }
    console.log(JSON.stringify(r));
  `);
  for (const [id, r] of Object.entries(out)) assert.ok(r.exists, `${id} resolves to a missing file: ${JSON.stringify(r)}`);
  assert.equal(out.edgeinfer.esm, 'dist/edgeinfer.mjs');
  assert.equal(out.edgeinfer.cjs, 'dist/edgeinfer.cjs');
  assert.equal(out['edgeinfer/ort'].esm, 'dist/edgeinfer.mjs', 'edgeinfer/ort is the same module as the main entry');
  assert.equal(out['edgeinfer/edgeinfer.wasm'].esm, 'dist/edgeinfer.wasm');
});

const USE = (load) => `
  ${load}
  const bytes = readFileSync(${JSON.stringify(mlp)});
  const x = () => new ort.Tensor('float32', Float32Array.from(${JSON.stringify(mlpInput())}), [2, 64]);
  const results = {};
  for (const worker of [false, true]) {
    const s = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], worker });
    const { output } = await s.run({ input: x() });
    results[worker ? 'worker' : 'local'] = { dims: output.dims, data: Array.from(output.data), isTensor: output instanceof ort.Tensor };
    await s.release();
  }
  results.names = Object.keys(ort).sort();
  console.log(JSON.stringify(results));
`;

function checkUse(out) {
  for (const k of ['local', 'worker']) {
    assert.deepEqual(out[k].dims, [2, 10], k);
    assert.deepEqual(out[k].data, expected, `${k}: the installed package computes what dist/ computes`);
    assert.ok(out[k].isTensor);
  }
  for (const n of ['InferenceSession', 'Tensor', 'env', 'registerBackend', 'TRACE']) assert.ok(out.names.includes(n), n);
}

test('installed offline, from an ES module: import from edgeinfer and edgeinfer/ort', () => {
  checkUse(runNode(dir, 'use.mjs', USE(`
    import * as ort from 'edgeinfer/ort';
    import edgeinfer, { InferenceSession } from 'edgeinfer';
    import { readFileSync } from 'node:fs';
    if (edgeinfer.InferenceSession !== InferenceSession || ort.InferenceSession !== InferenceSession) throw new Error('two copies');`)));
});

test('installed offline, from CommonJS: require(edgeinfer)', () => {
  const out = runNode(dir, 'use.cjs', `(async () => {${USE(`
    const ort = require('edgeinfer');
    const { readFileSync } = require('node:fs');
    if (require('edgeinfer/ort') !== ort) throw new Error('two copies');`)}})().catch((e) => { console.error(e); process.exit(1); });`);
  checkUse(out);
});
