// The demo site in headless Chromium: every page loads without a console error or a request
// that leaves 127.0.0.1, each demo predicts what it should, the playground reads and runs a model
// file, and after the first visit everything works with the network off. Screenshots of every
// page at 1280 and 375 pixels wide go to build/screenshots/.
//
//   node --test tests/browser/demo.test.mjs      (make test-demo)
//
// Needs dist/ (make wasm), Debian's chromium at /usr/bin/chromium and playwright-core in
// node_modules. The site is assembled into a temporary folder by demo/build.mjs and served by
// web/serve.mjs on a free port.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { serve } from '../../web/serve.mjs';
import { makeModel } from '../js/onnx-model.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SHOTS = join(ROOT, 'build', 'screenshots');
const CHROMIUM = '/usr/bin/chromium';
const LAUNCH = {
  executablePath: CHROMIUM,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
};
const PAGES = ['index.html', 'fashion.html', 'tabular.html', 'playground.html'];
const DIGITS = JSON.parse(readFileSync(join(ROOT, 'models/digits/samples.json'), 'utf8'));
const HAS_FASHION = existsSync(join(ROOT, 'models/fashion/model.onnx'));
const NO_FASHION = 'models/fashion/model.onnx is not there yet';

let site;
let server;
let browser;

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium`);
  site = mkdtempSync(join(tmpdir(), 'edgeinfer-demo-'));
  execFileSync(process.execPath, [join(ROOT, 'demo/build.mjs'), site], { stdio: ['ignore', 'ignore', 'inherit'] });
  // As `make demo` serves it: cross-origin isolated, so its sessions run threaded.
  server = await serve({ root: site, port: 0, headers: () => ({ 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' }) });
  browser = await chromium.launch(LAUNCH);
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.close();
  if (site) rmSync(site, { recursive: true, force: true });
});

// A fresh context (no cache, no service worker) whose pages report console errors, uncaught
// exceptions and requests to anywhere but the test server into `problems`.
async function newContext(base, options = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
  const problems = [];
  const origin = new URL(base).origin;
  context.on('request', (r) => {
    const u = new URL(r.url());
    if (u.origin !== origin && u.protocol !== 'data:' && u.protocol !== 'blob:') problems.push(`request outside ${origin}: ${r.url()}`);
  });
  context.on('page', (page) => watch(page, problems));
  return { context, problems };
}

function watch(page, problems) {
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error on ${page.url()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`uncaught on ${page.url()}: ${e.message}`));
}

async function open(context, base, path) {
  const page = await context.newPage();
  await page.goto(new URL(path, `${base}/`).href);
  return page;
}

// ---- what each demo does, shared by the online and the offline tests ----

// Draws a digit sample as strokes, as a pen would go along its dark pixels: a block is dark
// when at least half of it was ink (8 of 16), and each dark pixel is joined by a short stroke to
// each dark neighbour to its right and below (diagonals too); the 8x8 grid spans the middle 76%
// of the pad.
async function drawDigit(page, pixels) {
  const box = await page.locator('#pad').boundingBox();
  const margin = box.width * 0.12;
  const cell = (box.width - 2 * margin) / 8;
  const at = (r, c) => [box.x + margin + (c + 0.5) * cell, box.y + margin + (r + 0.5) * cell];
  const dark = (r, c) => r >= 0 && r < 8 && c >= 0 && c < 8 && pixels[r * 8 + c] >= 8;
  const stroke = async (from, to) => {
    await page.mouse.move(...from);
    await page.mouse.down();
    await page.mouse.move(...to, { steps: 3 });
    await page.mouse.up();
  };
  await page.click('#clear');
  for (let r = 0; r < 8; r++) {
    for (let c = 0; c < 8; c++) {
      if (!dark(r, c)) continue;
      const next = [[0, 1], [1, -1], [1, 0], [1, 1]].filter(([dr, dc]) => dark(r + dr, c + dc));
      for (const [dr, dc] of next) await stroke(at(r, c), at(r + dr, c + dc));
      if (!next.length) await stroke(at(r, c), at(r, c)); // a dot
    }
  }
  return digitPrediction(page);
}

// The class shown once the runs started by the last stroke (or click) are done.
async function digitPrediction(page) {
  await page.waitForFunction(() => {
    const pad = document.getElementById('pad');
    return !pad.dataset.busy && pad.dataset.prediction !== undefined;
  });
  return Number(await page.locator('#pad').getAttribute('data-prediction'));
}

async function clickDigitSample(page, label) {
  await page.click(`#samples button[data-label="${label}"]`);
  return digitPrediction(page);
}

async function fashionLabels() {
  return JSON.parse(readFileSync(join(ROOT, 'models/fashion/labels.json'), 'utf8'));
}

async function clickFashionSample(page, label) {
  const runs = Number((await page.locator('#top-class').getAttribute('data-runs')) || 0);
  await page.locator('#samples button', { hasText: label }).first().click();
  await page.waitForFunction((n) => Number(document.getElementById('top-class').dataset.runs || 0) > n, runs);
  return page.locator('#top-class').getAttribute('data-label');
}

async function tabularProbs(page) {
  await page.waitForFunction(() => document.getElementById('verdict').dataset.probs);
  return (await page.locator('#verdict').getAttribute('data-probs')).split(',').map(Number);
}

async function playgroundRun(page, runs = 20) {
  await page.waitForSelector('#run-card:not([hidden]) #run');
  await page.fill('#runs', String(runs));
  await page.click('#run');
  await page.waitForSelector('#results:not([hidden])', { timeout: 30000 });
  return page.locator('#outputs .output').evaluateAll((els) => els.map((e) => ({
    name: e.dataset.output,
    text: e.textContent,
    argmax: e.querySelector('[data-argmax]') ? Number(e.querySelector('[data-argmax]').dataset.argmax) : null,
  })));
}

// ---- online ----

describe('demo pages', () => {
  for (const path of PAGES) {
    test(`${path} loads without errors or outside requests`, async () => {
      const { context, problems } = await newContext(server.url);
      const page = await open(context, server.url, path);
      await page.waitForLoadState('load');
      await page.waitForFunction(() => {
        const s = document.getElementById('model-status');
        return s && !/Loading/.test(s.textContent);
      });
      assert.equal(await page.locator('.site-nav a[aria-current="page"]').count(), 1);
      const manifest = await page.locator('link[rel="manifest"]').getAttribute('href');
      assert.equal(manifest, 'manifest.webmanifest');
      await context.close();
      assert.deepEqual(problems, []);
    });
  }

  test('serves the files with the types browsers need', async () => {
    const types = {
      'dist/edgeinfer.wasm': 'application/wasm',
      'manifest.webmanifest': 'application/manifest+json',
      'models/digits/model.onnx': 'application/octet-stream',
      'models/cancer/test_x.npy': 'application/octet-stream',
      'dist/edgeinfer.mjs': 'text/javascript',
      'icons/icon-192.png': 'image/png',
      'sw.js': 'text/javascript',
    };
    for (const [path, type] of Object.entries(types)) {
      const r = await fetch(`${server.url}/${path}`);
      assert.equal(r.status, 200, path);
      assert.equal(r.headers.get('content-type').split(';')[0], type, path);
    }
    const manifest = await (await fetch(`${server.url}/manifest.webmanifest`)).json();
    for (const icon of manifest.icons) assert.equal((await fetch(`${server.url}/${icon.src}`)).status, 200, icon.src);
  });

  test('digits: strokes along held-out samples are read as their digits', async () => {
    const { context, problems } = await newContext(server.url);
    const page = await open(context, server.url, 'index.html');
    const results = [];
    for (const s of DIGITS) results.push({ label: s.label, got: await drawDigit(page, s.pixels) });
    const right = results.filter((r) => r.got === r.label);
    // Strokes are a rough copy of an 8x8 image: allow one digit to come out wrong.
    assert.ok(right.length >= 9, `right for ${right.length} of 10: ${JSON.stringify(results)}`);
    const latency = await page.locator('#latency').textContent();
    assert.match(latency, /ms$/);
    await page.click('#clear');
    await page.waitForFunction(() => document.getElementById('top-class').textContent === '?');
    await context.close();
    assert.deepEqual(problems, []);
  });

  test('digits: the sample buttons draw pixels that are read right', async () => {
    const { context, problems } = await newContext(server.url);
    const page = await open(context, server.url, 'index.html');
    await page.waitForSelector('#samples button');
    for (const s of DIGITS) assert.equal(await clickDigitSample(page, s.label), s.label, `sample ${s.label}`);
    await context.close();
    assert.deepEqual(problems, []);
  });

  test('fashion: each test picture gets its label', { skip: !HAS_FASHION && NO_FASHION }, async () => {
    const { context, problems } = await newContext(server.url);
    const page = await open(context, server.url, 'fashion.html');
    await page.waitForSelector('#samples button');
    const labels = await fashionLabels();
    const results = [];
    for (const label of labels) results.push({ label, got: await clickFashionSample(page, label) });
    const right = results.filter((r) => r.got === r.label);
    assert.ok(right.length >= 8, `right for ${right.length} of ${labels.length}: ${JSON.stringify(results)}`);
    assert.equal(await page.locator('#bars .bar-row').count(), 3);
    await context.close();
    assert.deepEqual(problems, []);
  });

  test('fashion: an uploaded photo on a light background is inverted and classified', { skip: !HAS_FASHION && NO_FASHION }, async () => {
    const { context, problems } = await newContext(server.url);
    const page = await open(context, server.url, 'fashion.html');
    await page.waitForSelector('#samples button');
    // A light-background "photo": the trouser sample, inverted and scaled up, as a PNG.
    const png = await page.evaluate(async () => {
      const img = new Image();
      img.src = 'models/fashion/samples/trouser.png';
      await img.decode();
      const c = document.createElement('canvas');
      c.width = 200;
      c.height = 150;
      const ctx = c.getContext('2d');
      ctx.fillStyle = '#fff';
      ctx.fillRect(0, 0, c.width, c.height);
      ctx.filter = 'invert(1)';
      ctx.drawImage(img, 50, 5, 140, 140);
      return c.toDataURL('image/png').split(',')[1];
    });
    await page.setInputFiles('#upload', { name: 'trousers.png', mimeType: 'image/png', buffer: Buffer.from(png, 'base64') });
    await page.waitForFunction(() => /inverted/.test(document.getElementById('top-sub').textContent));
    assert.equal(await page.locator('#top-class').getAttribute('data-label'), 'Trouser');
    await context.close();
    assert.deepEqual(problems, []);
  });

  test('tabular: predicts from the training means and follows a changed field', async () => {
    const { context, problems } = await newContext(server.url);
    const page = await open(context, server.url, 'tabular.html');
    await page.waitForSelector('#features input[type="number"]');
    assert.equal(await page.locator('#features input[type="number"]').count(), 30);
    const before = await tabularProbs(page);
    assert.ok(Math.abs(before[0] + before[1] - 1) < 1e-4, `probabilities ${before}`);
    const field = page.locator('#features input[type="number"][name="worst concave points"]');
    await field.fill('0.28');
    await page.waitForFunction((p) => document.getElementById('verdict').dataset.probs !== p, before.join(','));
    const afterChange = await tabularProbs(page);
    assert.ok(afterChange[0] > before[0], `malignant ${before[0]} -> ${afterChange[0]} after raising worst concave points`);
    // A held-out case from the select.
    await page.waitForSelector('#case option:nth-child(3)', { state: 'attached' });
    await page.selectOption('#case', '0');
    await page.waitForFunction((p) => document.getElementById('verdict').dataset.probs !== p, afterChange.join(','));
    await page.click('#reset');
    await page.waitForFunction((p) => document.getElementById('verdict').dataset.probs === p, before.join(','));
    await context.close();
    assert.deepEqual(problems, []);
  });

  test('playground: a model file shows its inputs, ops and runs in a worker', async () => {
    const { context, problems } = await newContext(server.url);
    const page = await open(context, server.url, 'playground.html');
    await page.waitForSelector('#bundled button');
    await page.setInputFiles('#model-file', join(ROOT, 'models/digits/model.onnx'));
    await page.waitForFunction(() => document.body.dataset.model === 'model.onnx');
    const input = page.locator('#io tr[data-kind="input"]');
    assert.equal(await input.count(), 1);
    assert.match(await input.textContent(), /image\s*float32\s*\[batch, 1, 8, 8\]/);
    assert.equal(await input.locator('.dim.sym').textContent(), 'batch');
    assert.match(await page.locator('#io tr[data-kind="output"]').textContent(), /probs\s*float32\s*\[batch, 10\]/);
    assert.match(await page.locator('#facts').textContent(), /Threads\s*[2-9]/, 'the isolated demo runs threaded');
    if (await page.evaluate(async () => typeof (await import('./dist/edgeinfer.mjs')).inspect === 'function')) {
      assert.equal(await page.locator('#ops .bar-row[data-op="Conv"] .value').textContent(), '2×');
      assert.match(await page.locator('#ops-summary').textContent(), /all supported/);
    } else {
      assert.match(await page.locator('#inspect-missing').textContent(), /edgeinfer\.inspect/);
    }
    await page.fill('input[data-dim="batch"]', '3');
    const outputs = await playgroundRun(page, 20);
    assert.equal(outputs.length, 1);
    assert.equal(outputs[0].name, 'probs');
    assert.match(outputs[0].text, /float32 \[3, 10\]/);
    assert.match(await page.locator('#latency-stats').textContent(), /20 runs/);
    assert.ok(await page.locator('#histogram rect').count() >= 1);
    // The session runs in a worker: the page made one from dist/edgeinfer-worker.js.
    assert.ok(page.workers().some((w) => w.url().endsWith('/dist/edgeinfer-worker.js')), 'no edgeinfer worker');
    await context.close();
    assert.deepEqual(problems, []);
  });

  test('playground: a model with an op this build lacks names the node and the op', async () => {
    const { context, problems } = await newContext(server.url);
    const page = await open(context, server.url, 'playground.html');
    await page.waitForSelector('#bundled button');
    const model = makeModel({
      inputs: [{ name: 'x', type: 'float32', dims: ['n', 4] }],
      outputs: [{ name: 'y', type: 'float32', dims: ['n', 4] }],
      nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['r'], name: 'relu' },
        { op: 'NoSuchOp', inputs: ['r'], outputs: ['y'], name: 'mystery' }],
    });
    await page.setInputFiles('#model-file', { name: 'mystery.onnx', mimeType: 'application/octet-stream', buffer: Buffer.from(model) });
    await page.waitForFunction(() => document.body.dataset.model === 'mystery.onnx');
    const message = await page.locator('#load-error').textContent();
    assert.match(message, /UNSUPPORTED/);
    assert.match(message, /mystery/);
    assert.match(message, /NoSuchOp/);
    assert.equal(await page.locator('#model-status').textContent(), 'Cannot run');
    await context.close();
    assert.deepEqual(problems, []);
  });

  test('is an installable app', async () => {
    // Chromium does not offer to install from a profile without a user data folder.
    const profile = mkdtempSync(join(tmpdir(), 'edgeinfer-demo-profile-'));
    const context = await chromium.launchPersistentContext(profile, { ...LAUNCH, viewport: { width: 1280, height: 900 } });
    const problems = [];
    try {
      const page = context.pages()[0] || await context.newPage();
      watch(page, problems);
      await page.goto(`${server.url}/`);
      await page.evaluate(() => navigator.serviceWorker.ready);
      const cdp = await context.newCDPSession(page);
      const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');
      assert.deepEqual(installabilityErrors, []);
      const { url, data, errors } = await cdp.send('Page.getAppManifest');
      assert.ok(url.endsWith('/manifest.webmanifest'), url);
      assert.deepEqual(errors, []);
      assert.equal(JSON.parse(data).display, 'standalone');
    } finally {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    }
    assert.deepEqual(problems, []);
  });
});

// ---- offline ----

test('after the first visit every demo works with the network off', async () => {
  // A server of its own, stopped before going offline: nothing can come from the network.
  const own = await serve({ root: site, port: 0 });
  const { context, problems } = await newContext(own.url);
  try {
    const page = await open(context, own.url, 'index.html');
    await page.evaluate(async () => {
      await navigator.serviceWorker.ready;
      if (!navigator.serviceWorker.controller) {
        await new Promise((ok) => navigator.serviceWorker.addEventListener('controllerchange', ok, { once: true }));
      }
    });
    const cached = await page.evaluate(async () => {
      const keys = await caches.keys();
      return { keys, n: (await (await caches.open(keys[0])).keys()).length };
    });
    assert.equal(cached.keys.length, 1);
    assert.match(cached.keys[0], /^edgeinfer-demo-[0-9a-f]{16}$/);
    await own.close();
    await context.setOffline(true);

    await page.reload();
    assert.equal(await clickDigitSample(page, 4), 4);
    assert.equal(await drawDigit(page, DIGITS[7].pixels), 7);
    assert.match(await page.locator('#offline-status').textContent(), /offline/i);

    await page.goto(`${own.url}/tabular.html`);
    const probs = await tabularProbs(page);
    assert.ok(Math.abs(probs[0] + probs[1] - 1) < 1e-4);
    await page.waitForSelector('#case option:nth-child(3)', { state: 'attached' });

    if (HAS_FASHION) {
      await page.goto(`${own.url}/fashion.html`);
      await page.waitForSelector('#samples button');
      assert.equal(await clickFashionSample(page, 'Sneaker'), 'Sneaker');
    }

    await page.goto(`${own.url}/playground.html`);
    await page.waitForSelector('#bundled button');
    await page.click('#bundled button[data-model="digits"]');
    const outputs = await playgroundRun(page, 5);
    assert.equal(outputs[0].name, 'probs');

    await page.goto(`${own.url}/`);
    assert.equal(await clickDigitSample(page, 2), 2);
  } finally {
    await context.close();
    await own.close();
  }
  assert.deepEqual(problems, []);
});

test('a new build replaces the cache of the old one', async () => {
  const copy = mkdtempSync(join(tmpdir(), 'edgeinfer-demo-update-'));
  execFileSync(process.execPath, [join(ROOT, 'demo/build.mjs'), copy], { stdio: ['ignore', 'ignore', 'inherit'] });
  const own = await serve({ root: copy, port: 0 });
  const { context, problems } = await newContext(own.url);
  try {
    const page = await open(context, own.url, 'index.html');
    const first = await page.evaluate(async () => {
      await navigator.serviceWorker.ready;
      return caches.keys();
    });
    assert.equal(first.length, 1);
    // What a rebuild with changed files does to sw.js: a new cache name.
    const swPath = join(copy, 'sw.js');
    const sw = readFileSync(swPath, 'utf8');
    const next = 'edgeinfer-demo-0123456789abcdef';
    assert.ok(sw.includes(JSON.stringify(first[0])));
    writeFileSync(swPath, sw.replace(JSON.stringify(first[0]), JSON.stringify(next)));
    const keys = await page.evaluate(async () => {
      const reg = await navigator.serviceWorker.getRegistration();
      await reg.update();
      const worker = reg.installing || reg.waiting;
      if (worker) {
        await new Promise((ok) => worker.addEventListener('statechange', () => worker.state === 'activated' && ok()));
      }
      return caches.keys();
    });
    assert.deepEqual(keys, [next]);
  } finally {
    await context.close();
    await own.close();
    rmSync(copy, { recursive: true, force: true });
  }
  assert.deepEqual(problems, []);
});

// ---- screenshots ----

test('screenshots of every page at 1280 and 375 pixels', async () => {
  mkdirSync(SHOTS, { recursive: true });
  for (const width of [1280, 375]) {
    const { context, problems } = await newContext(server.url, { viewport: { width, height: 900 } });
    const page = await open(context, server.url, 'index.html');
    await page.waitForSelector('#samples button');
    await drawDigit(page, DIGITS[3].pixels);
    await shoot(page, `digits-${width}`);

    await page.goto(`${server.url}/fashion.html`);
    if (HAS_FASHION) {
      await page.waitForSelector('#samples button');
      await clickFashionSample(page, 'Ankle boot');
    }
    await shoot(page, `fashion-${width}`);

    await page.goto(`${server.url}/tabular.html`);
    await tabularProbs(page);
    await shoot(page, `tabular-${width}`);

    await page.goto(`${server.url}/playground.html`);
    await page.waitForSelector('#bundled button');
    await page.click('#bundled button[data-model="digits"]');
    await playgroundRun(page, 200);
    await shoot(page, `playground-${width}`);
    await context.close();
    assert.deepEqual(problems, []);
  }
});

async function shoot(page, name) {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.waitForTimeout(250); // bar transitions
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}
