// The npm package in pages, as users build them: a fresh project installs the packed tarball
// offline (as edgeinfer, and as onnxruntime-web / onnxruntime-common for the alias recipe), then
//   - esbuild bundles a page that imports 'edgeinfer' (the wasm through the package's
//     edgeinfer/edgeinfer.wasm export path and esbuild's file loader, the worker script copied);
//   - Vite builds a page that imports 'onnxruntime-web' (the alias), with no configuration: the
//     loader's new URL('./edgeinfer.wasm', import.meta.url) makes Vite ship the wasm and the worker;
//     the page also runs transformers.js's feature-extraction on the tiny BERT encoder and
//     vad-web's NonRealTimeVAD on the signal of tests/package/speech.mjs;
//   - a plain page loads the classic script from the package with <script src>, and
//     edgeinfer-ort.js after it for the global `ort`;
// each served on 127.0.0.1 and predicting in headless Chromium (Debian's /usr/bin/chromium), with
// results equal to the repository's dist/ in Node. Needs make package, build/models (mlp) and
// build/tiny-bert.

import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { serve } from '../../web/serve.mjs';
import { InferenceSession, Tensor } from '../../dist/edgeinfer.mjs';
import { identityModel } from '../js/onnx-model.mjs';
import { MODELS_DIR, ROOT, requireFile, requireModel } from '../js/helpers.mjs';
import { makeProject, removeProject } from '../package/project.mjs';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
// Dynamic quantisation scales each batch by its own range: both sides embed the same batch.
const SENTENCES = ['Edge devices run small models offline.', 'The lazy dog sleeps', 'Hello, browser!'];
const INPUT = Array.from({ length: 2 * 64 }, (_, i) => Math.cos(i * 0.21));

let dir;
let server;
let context;
let userDataDir;
let expected;
const requests = [];

// The page code every build shares: the mlp from /models, in the page and in a worker.
const APP = `
export async function predict(ort, input) {
  const out = {};
  for (const proxy of [false, true]) {
    ort.env.wasm.proxy = proxy;
    const session = await ort.InferenceSession.create('/models/mlp.onnx', { executionProviders: ['webgpu', 'wasm'] });
    const { output } = await session.run({ input: new ort.Tensor('float32', Float32Array.from(input), [2, 64]) });
    out[proxy ? 'worker' : 'page'] = { dims: output.dims, data: Array.from(output.data) };
    await session.release();
  }
  ort.env.wasm.proxy = false;
  return out;
}
`;

const ESBUILD_ENTRY = `
import * as edgeinfer from 'edgeinfer';
import wasmUrl from 'edgeinfer/edgeinfer.wasm';
import { predict } from './app.js';
edgeinfer.env.wasm.wasmPaths = { wasm: wasmUrl };
window.pageApi = { run: (input) => predict(edgeinfer, input), version: edgeinfer.version };
window.pageReady = true;
`;

const VITE_ENTRY = `
import * as ort from 'onnxruntime-web';
import { pipeline, env } from '@huggingface/transformers';
import { NonRealTimeVAD } from '@ricky0123/vad-web';
import { predict } from './app.js';
import { RATE, signal } from './speech.js';
env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = '/models/';
async function embed(dtype, sentences) {
  const extractor = await pipeline('feature-extraction', 'tiny-bert', { dtype, device: 'wasm' });
  const out = await extractor(sentences, { pooling: 'mean', normalize: true });
  return { dims: out.dims, data: Array.from(out.data) };
}
async function vad() {
  const model = await (await fetch('/models/silero_vad_legacy.onnx')).arrayBuffer();
  const detector = await NonRealTimeVAD.new({ modelFetcher: async () => model });
  const segments = [];
  for await (const { start, end } of detector.run(signal(), RATE)) segments.push({ start, end });
  return segments;
}
window.pageApi = { run: (input) => predict(ort, input), version: ort.env.versions.edgeinfer, embed, vad };
window.pageReady = true;
`;

const HTML = (script, type = 'module') => `<!doctype html><meta charset="utf-8"><title>edgeinfer</title><link rel="icon" href="data:,">
<script type="${type}" src="${script}"></script>`;

const CLASSIC_HTML = `<!doctype html><meta charset="utf-8"><title>edgeinfer classic</title><link rel="icon" href="data:,">
<script src="/node_modules/edgeinfer/dist/edgeinfer.js"></script>
<script src="/node_modules/edgeinfer/dist/edgeinfer-ort.js"></script>
<script src="classic.js"></script>`;

const CLASSIC_JS = `
window.pageApi = {
  run: async (input) => {
    const session = await ort.InferenceSession.create('/models/mlp.onnx');
    const { output } = await session.run({ input: new ort.Tensor('float32', Float32Array.from(input), [2, 64]) });
    await session.release();
    return { page: { dims: output.dims, data: Array.from(output.data) } };
  },
  float16: async () => {
    const session = await ort.InferenceSession.create('/models/f16.onnx');
    const x = new ort.Tensor('float16', new Float16Array([1.5, -2, 65504]), [3]);
    const { y } = await session.run({ x });
    return { ctor: y.data.constructor.name, values: Array.from(y.data), inputCtor: x.data.constructor.name };
  },
  images: async () => {
    const img = new ImageData(new Uint8ClampedArray(Array.from({ length: 24 }, (_, i) => (i * 37) % 256)), 3, 2);
    const fromData = await ort.Tensor.fromImage(img);
    const bitmap = await createImageBitmap(img);
    const fromBitmap = await ort.Tensor.fromImage(bitmap, { resizedWidth: 3, resizedHeight: 2, tensorFormat: 'RGBA', norm: { mean: 1 } });
    const canvas = new OffscreenCanvas(4, 4);
    const ctx = canvas.getContext('2d');
    ctx.fillStyle = 'rgb(255, 0, 0)';
    ctx.fillRect(0, 0, 4, 4);
    const fromCanvas = await ort.Tensor.fromImage(canvas, { resizedWidth: 2, resizedHeight: 2 });
    const back = fromData.toImageData();
    return {
      fromData: { dims: fromData.dims, data: Array.from(fromData.data) },
      fromBitmap: { dims: fromBitmap.dims, data: Array.from(fromBitmap.data) },
      fromCanvas: { dims: fromCanvas.dims, data: Array.from(fromCanvas.data) },
      back: { isImageData: back instanceof ImageData, data: Array.from(back.data) },
      source: Array.from(img.data),
      dataURL: fromData.toDataURL().slice(0, 22),
    };
  },
  same: () => ort === edgeinfer && globalThis[Symbol.for('onnxruntime')] === edgeinfer,
  version: ort.env.versions.edgeinfer,
};
window.pageReady = true;
`;

before(async () => {
  requireFile(CHROMIUM, "install Debian's chromium package (make setup)");
  requireModel('mlp');
  requireFile(join(ROOT, 'build', 'tiny-bert', 'onnx', 'model_quantized.onnx'), 'make build/tiny-bert/.stamp');
  const s = await InferenceSession.create(join(MODELS_DIR, 'mlp.onnx'));
  expected = Array.from((await s.run({ input: new Tensor('float32', Float32Array.from(INPUT), [2, 64]) })).output.data);
  await s.release();

  dir = makeProject('bundlers', {
    aliases: ['onnxruntime-web', 'onnxruntime-common'],
    links: ['@huggingface/transformers', '@huggingface/tokenizers', '@huggingface/jinja', '@ricky0123/vad-web'],
  });
  mkdirSync(join(dir, 'src'));
  writeFileSync(join(dir, 'src', 'app.js'), APP);
  writeFileSync(join(dir, 'src', 'esbuild-entry.js'), ESBUILD_ENTRY);
  writeFileSync(join(dir, 'src', 'vite-entry.js'), VITE_ENTRY);
  cpSync(join(ROOT, 'tests', 'package', 'speech.mjs'), join(dir, 'src', 'speech.js'));
  cpSync(join(ROOT, 'node_modules', '@ricky0123', 'vad-web', 'dist', 'silero_vad_legacy.onnx'), join(dir, 'site', 'models', 'silero_vad_legacy.onnx'));
  writeFileSync(join(dir, 'index.html'), HTML('/src/vite-entry.js'));
  mkdirSync(join(dir, 'site', 'models'), { recursive: true });
  cpSync(join(MODELS_DIR, 'mlp.onnx'), join(dir, 'site', 'models', 'mlp.onnx'));
  cpSync(join(ROOT, 'build', 'tiny-bert'), join(dir, 'site', 'models', 'tiny-bert'), { recursive: true });
  writeFileSync(join(dir, 'site', 'models', 'f16.onnx'), identityModel('float16', [3]));
  writeFileSync(join(dir, 'site', 'esbuild.html'), HTML('/esbuild/esbuild-entry.js'));
  writeFileSync(join(dir, 'site', 'classic.html'), CLASSIC_HTML);
  writeFileSync(join(dir, 'site', 'classic.js'), CLASSIC_JS);
  cpSync(join(dir, 'node_modules', 'edgeinfer'), join(dir, 'site', 'node_modules', 'edgeinfer'), { recursive: true });

  const esbuild = await import('esbuild');
  await esbuild.build({
    entryPoints: [join(dir, 'src', 'esbuild-entry.js')], bundle: true, format: 'esm', minify: true,
    outdir: join(dir, 'site', 'esbuild'), publicPath: '/esbuild/', loader: { '.wasm': 'file' }, logLevel: 'error', absWorkingDir: dir,
  });
  // esbuild does not follow new URL(..., import.meta.url): worker sessions need the worker script
  // copied next to the bundle (the wasm came through the file loader above).
  cpSync(join(dir, 'node_modules', 'edgeinfer', 'dist', 'edgeinfer-worker.js'), join(dir, 'site', 'esbuild', 'edgeinfer-worker.js'));
  const vite = await import('vite');
  await vite.build({
    root: dir, logLevel: 'error', configFile: false,
    build: { outDir: join(dir, 'site', 'vite'), emptyOutDir: true, rollupOptions: { input: join(dir, 'index.html') } },
    base: '/vite/',
  });

  server = await serve({ root: join(dir, 'site'), port: 0 });
  userDataDir = mkdtempSync(join(tmpdir(), 'edgeinfer-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  context.on('request', (req) => requests.push(req.url()));
});

after(async () => {
  if (context) await context.close();
  if (server) await server.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  removeProject(dir);
});

async function openPage(path) {
  const page = await context.newPage();
  const problems = [];
  page.on('console', (msg) => { if (msg.type() === 'error') problems.push(`console: ${msg.text()}`); });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  await page.goto(`${server.url}${path}`);
  await page.waitForFunction(() => window.pageReady === true, null, { timeout: 30_000 });
  return { page, problems };
}

async function closePage({ page, problems }) {
  await page.close();
  assert.deepEqual(problems, [], 'console errors or page errors');
  const outside = requests.filter((u) => !u.startsWith('data:') && new URL(u).hostname !== '127.0.0.1');
  assert.deepEqual(outside, [], 'requests outside 127.0.0.1');
}

// Chromium may run the relaxed-SIMD build (fused multiply-add): equal to Node's within rounding.
function checkPrediction(result, where) {
  for (const [k, v] of Object.entries(result)) {
    assert.deepEqual(v.dims, [2, 10], `${where} ${k}`);
    const d = Math.max(...v.data.map((x, i) => Math.abs(x - expected[i])));
    assert.ok(d <= 1e-5, `${where} ${k}: differs from what Node computes with dist/ by ${d}`);
  }
}

test('esbuild: a page importing edgeinfer predicts, in the page and in a worker', { timeout: 120_000 }, async () => {
  const p = await openPage('/esbuild.html');
  const r = await p.page.evaluate((input) => window.pageApi.run(input), INPUT);
  assert.deepEqual(Object.keys(r).sort(), ['page', 'worker']);
  checkPrediction(r, 'esbuild');
  assert.ok(requests.some((u) => /\/esbuild\/edgeinfer-[^/]*\.wasm$/.test(u)), 'the wasm came from the bundle');
  await closePage(p);
});

test('Vite: a page importing onnxruntime-web (the alias) predicts with no configuration', { timeout: 120_000 }, async (t) => {
  const p = await openPage('/vite/index.html');
  assert.match(await p.page.evaluate(() => window.pageApi.version), /^\d+\.\d+\.\d+/);
  const r = await p.page.evaluate((input) => window.pageApi.run(input), INPUT);
  checkPrediction(r, 'vite');
  assert.ok(requests.some((u) => /\/vite\/assets\/edgeinfer-[^/]*\.wasm$/.test(u)), 'Vite shipped the wasm');
  assert.ok(!requests.some((u) => /\/vite\/[^/]*\.wasm$/.test(u) && !/\/assets\//.test(u)), 'no wasm looked for outside the build');
  t.diagnostic(`wasm fetched: ${requests.filter((u) => u.endsWith('.wasm')).map((u) => new URL(u).pathname).join(', ')}`);
  await closePage(p);
});

test('Vite: transformers.js feature-extraction in Chromium, fp32 and q8, matches Node', { timeout: 180_000 }, async (t) => {
  const p = await openPage('/vite/index.html');
  for (const dtype of ['fp32', 'q8']) {
    const browser = await p.page.evaluate(([d, s]) => window.pageApi.embed(d, s), [dtype, SENTENCES]);
    assert.deepEqual(browser.dims, [SENTENCES.length, 32]);
    // The same pipeline in Node on genuine onnxruntime-node (tests/package/embed.mjs).
    const { execFileSync } = await import('node:child_process');
    const node = JSON.parse(execFileSync(process.execPath, [join(ROOT, 'tests', 'package', 'embed.mjs'), join(ROOT, 'build'), dtype, JSON.stringify(SENTENCES)],
      { encoding: 'utf8' }).trim().split('\n').pop());
    const ref = node.pooled.data;
    let d = 0;
    browser.data.forEach((v, i) => { d = Math.max(d, Math.abs(v - ref[i])); });
    t.diagnostic(`${dtype}: max |Chromium edgeinfer - onnxruntime-node| = ${d.toExponential(2)}`);
    assert.ok(d <= 1e-4, `${dtype}: ${d}`);
  }
  await closePage(p);
});

test('Vite: vad-web NonRealTimeVAD in Chromium finds the segments onnxruntime-web finds in Node', { timeout: 180_000 }, async (t) => {
  const p = await openPage('/vite/index.html');
  const ours = await p.page.evaluate(() => window.pageApi.vad());
  const { execFileSync } = await import('node:child_process');
  const genuine = JSON.parse(execFileSync(process.execPath, [join(ROOT, 'tests', 'package', 'vad.mjs')], { encoding: 'utf8' }).trim().split('\n').pop());
  t.diagnostic(`segments (ms): onnxruntime-web in Node ${JSON.stringify(genuine.segments)}, edgeinfer in Chromium ${JSON.stringify(ours)}`);
  assert.ok(genuine.segments.length >= 2);
  assert.equal(ours.length, genuine.segments.length);
  ours.forEach((s, i) => {
    assert.ok(Math.abs(s.start - genuine.segments[i].start) <= genuine.frameMs, `segment ${i} start`);
    assert.ok(Math.abs(s.end - genuine.segments[i].end) <= genuine.frameMs, `segment ${i} end`);
  });
  await closePage(p);
});

test('classic script from the package with <script src>, and the global ort of edgeinfer-ort.js', { timeout: 120_000 }, async () => {
  const p = await openPage('/classic.html');
  assert.equal(await p.page.evaluate(() => window.pageApi.same()), true);
  checkPrediction(await p.page.evaluate((input) => window.pageApi.run(input), INPUT), 'classic');
  // Images: ImageData directly, an ImageBitmap and a canvas drawn through a canvas.
  const img = await p.page.evaluate(() => window.pageApi.images());
  const inNode = await Tensor.fromImage({ data: Uint8ClampedArray.from(img.source), width: 3, height: 2 });
  assert.deepEqual(img.fromData, { dims: [1, 3, 2, 3], data: Array.from(inNode.data) }, 'ImageData: as in Node');
  assert.deepEqual(img.fromBitmap.dims, [1, 4, 2, 3]);
  const rgbaPlanes = [0, 1, 2, 3].flatMap((c) => [0, 1, 2, 3, 4, 5].map((i) => img.source[i * 4 + c]));
  // A bitmap of non-opaque pixels comes back premultiplied or not depending on the browser: compare opaque alpha only.
  assert.deepEqual(img.fromBitmap.data.slice(18), rgbaPlanes.slice(18), 'ImageBitmap alpha plane');
  assert.deepEqual(img.fromCanvas, { dims: [1, 3, 2, 2], data: [1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0] }, 'a red canvas, resized');
  assert.equal(img.back.isImageData, true);
  img.source.forEach((v, i) => { if (i % 4 !== 3) assert.equal(img.back.data[i], v, `toImageData pixel value ${i}`); });
  assert.equal(img.dataURL, 'data:image/png;base64,');
  // Chromium has Float16Array: float16 data goes in and comes out as one.
  const f16 = await p.page.evaluate(() => window.pageApi.float16());
  assert.deepEqual(f16, { ctor: 'Float16Array', values: [1.5, -2, 65504], inputCtor: 'Float16Array' });
  await closePage(p);
});
