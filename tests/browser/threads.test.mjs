// Threads in headless Chromium. A cross-origin-isolated page (served with COOP and COEP) runs
// sessions on several threads, with the outputs of one thread of the same build (SIMD128, or relaxed
// SIMD, which Chromium runs and whose fused multiply-adds round differently), bit for bit; a page
// that is not
// isolated, an isolated page whose Content-Security-Policy forbids workers, and a service worker
// each run on one thread after exactly one console notice, with the same outputs.

import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { serve } from '../../web/serve.mjs';
import { readNpy } from '../js/npy.mjs';
import { MODELS_DIR, ROOT, requireDist, requireFile, requireModel } from '../js/helpers.mjs';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const ISOLATION = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };
const NO_WORKERS = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'none'; connect-src 'self'";
// The strict policy of tests/browser/browser.test.mjs: workers from this origin only, no blob:.
const STRICT = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; connect-src 'self'; " +
  "img-src 'self' data:; style-src 'self'; object-src 'none'; base-uri 'none'";

let isolated, plain, context, userDataDir;

before(async () => {
  requireFile(CHROMIUM, 'install Debian\'s chromium package (make setup)');
  requireDist();
  // Every response of `isolated` carries the headers (worker scripts need them too); ?noworkers
  // pages add a policy that forbids workers.
  isolated = await serve({
    root: ROOT, port: 0,
    headers: (url) => {
      if (url.searchParams.has('noworkers')) return { ...ISOLATION, 'Content-Security-Policy': NO_WORKERS };
      if (url.searchParams.has('strict')) return { ...ISOLATION, 'Content-Security-Policy': STRICT };
      return ISOLATION;
    },
  });
  plain = await serve({ root: ROOT, port: 0 });
  userDataDir = mkdtempSync(join(tmpdir(), 'edgeinfer-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
});

after(async () => {
  if (context) await context.close();
  for (const s of [isolated, plain]) if (s) await s.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
});

function feedOf(name) {
  const x = readNpy(readFileSync(join(MODELS_DIR, `${name}.input.npy`)));
  return { type: x.dtype, dims: x.shape, data: Array.from(x.data) };
}

// Opens fixture `file` on `server`; warnings collects the console warnings of the page.
async function open(server, file) {
  const page = await context.newPage();
  const warnings = [];
  page.on('console', (msg) => { if (msg.type() === 'warning') warnings.push(msg.text()); });
  await page.goto(`${server.url}/tests/browser/fixtures/${file}`);
  await page.waitForFunction(() => window.pageReady === true, null, { timeout: 30_000 });
  return { page, warnings };
}

// Runs `name` in the page with these options: { numThreads, output, isolated }.
async function runIn(page, name, options) {
  return page.evaluate(async ([url, feed, opts]) => {
    const r = await window.pageApi.run(url, { '': feed }, opts);
    return { numThreads: r.numThreads, output: r.outputs[r.outputNames[0]].data, isolated: self.crossOriginIsolated };
  }, [`/build/models/${name}.onnx`, feedOf(name), options]);
}

test('a cross-origin-isolated page runs on 2 threads, with the outputs of one', { timeout: 300_000 }, async () => {
  for (const name of ['mobilenet_v2', 'resnet18']) requireModel(name);
  const { page, warnings } = await open(isolated, 'module.html');
  for (const name of ['mobilenet_v2', 'resnet18']) {
    for (const simd of ['plain', 'relaxed']) { // the relaxed threaded build where Chromium runs it
      const one = await runIn(page, name, { numThreads: 1, wasm: { simd } });
      const two = await runIn(page, name, { numThreads: 2, wasm: { simd } });
      assert.equal(two.isolated, true);
      assert.equal(one.numThreads, 1);
      assert.equal(two.numThreads, 2);
      assert.deepEqual(two.output, one.output, `${name} (${simd}): 2 threads differ from 1`);
    }
    const auto = await runIn(page, name, {});
    assert.ok(auto.numThreads >= 2, `default ${auto.numThreads} threads`);
  }
  const worker = await runIn(page, 'mobilenet_v2', { numThreads: 2, worker: true });
  assert.equal(worker.numThreads, 2);
  assert.deepEqual(warnings, []);
  await page.close();
});

test('a page that is not isolated runs on one thread after one notice', { timeout: 300_000 }, async () => {
  requireModel('mobilenet_v2');
  const { page, warnings } = await open(plain, 'module.html');
  const a = await runIn(page, 'mobilenet_v2', {});
  const b = await runIn(page, 'mobilenet_v2', { numThreads: 4 });
  assert.equal(a.isolated, false);
  assert.equal(a.numThreads, 1);
  assert.equal(b.numThreads, 1);
  assert.deepEqual(b.output, a.output);
  assert.equal(warnings.length, 1, JSON.stringify(warnings));
  assert.match(warnings[0], /running on one thread: the page is not cross-origin isolated.*Cross-Origin-Opener-Policy: same-origin.*Cross-Origin-Embedder-Policy: require-corp/);
  await page.close();
});

test('an isolated page whose CSP forbids workers runs on one thread after one notice', { timeout: 300_000 }, async () => {
  requireModel('mobilenet_v2');
  const { page: ref } = await open(isolated, 'module.html');
  const want = await runIn(ref, 'mobilenet_v2', { numThreads: 1 }); // the relaxed build, as the fallback picks
  await ref.close();
  const { page, warnings } = await open(isolated, 'module.html?noworkers');
  const a = await runIn(page, 'mobilenet_v2', { numThreads: 2 });
  const b = await runIn(page, 'mobilenet_v2', { numThreads: 2 });
  assert.equal(a.isolated, true);
  assert.equal(a.numThreads, 1);
  assert.equal(b.numThreads, 1);
  assert.deepEqual(a.output, want.output);
  const notices = warnings.filter((w) => w.startsWith('edgeinfer:'));
  assert.equal(notices.length, 1, JSON.stringify(warnings));
  assert.match(notices[0], /running on one thread: the threaded build could not start/);
  await page.close();
});

test('a service worker runs sessions on one thread after one notice', { timeout: 300_000 }, async () => {
  requireModel('mlp');
  const { page } = await open(isolated, 'sw.html');
  const feed = { type: 'float32', dims: [1, 64], data: Array.from({ length: 64 }, (_, i) => Math.sin(i)) };
  const r1 = await page.evaluate(([m, f]) => window.swRun(m, f), ['/build/models/mlp.onnx', feed]);
  const r2 = await page.evaluate(([m, f]) => window.swRun(m, f), ['/build/models/mlp.onnx', feed]);
  assert.equal(r1.error, undefined, r1.error);
  assert.equal(r1.numThreads, 1);
  const want = await runIn(page, 'mlp', { numThreads: 1 }).catch(() => null);
  if (want) assert.deepEqual(r1.output, want.output);
  assert.deepEqual(r2.output, r1.output);
  assert.equal(r2.warnings.length, 1, JSON.stringify(r2.warnings));
  assert.match(r2.warnings[0], /running on one thread: this context cannot start workers/);
  await page.close();
});

test('an isolated page under the strict CSP (worker-src \'self\', no blob:) runs threaded', { timeout: 300_000 }, async () => {
  requireModel('mobilenet_v2');
  const { page, warnings } = await open(isolated, 'module.html?strict');
  const violations = [];
  page.on('console', (msg) => { if (/Content Security Policy/i.test(msg.text())) violations.push(msg.text()); });
  const one = await runIn(page, 'mobilenet_v2', { numThreads: 1 });
  const two = await runIn(page, 'mobilenet_v2', { numThreads: 2 });
  assert.equal(two.numThreads, 2);
  assert.deepEqual(two.output, one.output);
  assert.deepEqual(warnings, []);
  assert.deepEqual(violations, []);
  await page.close();
});
