// The loader in a real browser: Debian's Chromium, headless, driven by playwright-core, on pages
// served by web/serve.mjs from the repository root on 127.0.0.1. Covered: the classic script
// (<script src=/dist/edgeinfer.js>), the ES module, worker sessions, a strict
// Content-Security-Policy (script-src 'self' 'wasm-unsafe-eval': no eval of any kind, in the
// page or in its worker; violations are caught by a listener installed before any page script
// and by the policy's report-uri, which also covers workers), wasm
// served with a wrong MIME type or replaced by an HTML page, and the API's errors. Model outputs
// are compared with onnxruntime-node as in the native model tests. Every page must log no
// console error, and the browser must request nothing outside 127.0.0.1.
//
// Needs /usr/bin/chromium (Debian's package; no browser is downloaded), dist/ (make wasm) and
// build/models (make build/models/.stamp).

import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { serve } from '../../web/serve.mjs';
import { compareWithReference, REL_TOLERANCE } from '../models/reference.mjs';
import { readNpy } from '../js/npy.mjs';
import { DIST, MODELS_DIR, ROOT, requireDist, requireFile, requireModel } from '../js/helpers.mjs';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; connect-src 'self'; " +
  "img-src 'self' data:; style-src 'self'; object-src 'none'; base-uri 'none'; report-uri /csp-report";
const CSP_NO_WASM = CSP.replace(" 'wasm-unsafe-eval'", '');

let server;
let context;
let userDataDir;
const requests = [];
const cspReports = []; // violation reports the browser POSTed to the server

// The policy goes on csp.html and on anything requested with ?csp (its worker script).
function headersFor(url) {
  if (!url.pathname.endsWith('/csp.html') && !url.searchParams.has('csp')) return {};
  return { 'Content-Security-Policy': url.searchParams.has('nowasm') ? CSP_NO_WASM : CSP };
}

before(async () => {
  requireFile(CHROMIUM, 'install Debian\'s chromium package (make setup)');
  requireDist();
  server = await serve({
    root: ROOT, port: 0, headers: headersFor, log: (line) => { if (line.startsWith('POST /csp-report')) cspReports.push(line); },
  });
  userDataDir = mkdtempSync(join(tmpdir(), 'edgeinfer-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS,
  });
  context.on('request', (req) => requests.push(req.url()));
});

after(async () => {
  if (context) await context.close();
  if (server) await server.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
});

// Opens a fixture page and waits for its API; `problems` collects console errors and
// uncaught exceptions of the page and its workers.
async function openPage(fixture, { routes = {}, init } = {}) {
  const page = await context.newPage();
  const problems = [];
  const watch = (where) => (msg) => { if (msg.type() === 'error') problems.push(`${where} console: ${msg.text()}`); };
  page.on('console', watch('page'));
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('worker', (w) => { if (typeof w.on === 'function') w.on('console', watch('worker')); });
  // Before any script of the page runs (a CSP does not apply to scripts added this way).
  await page.addInitScript(() => {
    window.cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.cspViolations.push(`${e.violatedDirective}: ${e.blockedURI}`);
    });
  });
  if (init) await page.addInitScript(init);
  for (const [pattern, handler] of Object.entries(routes)) await page.route(pattern, handler);
  await page.goto(`${server.url}/tests/browser/fixtures/${fixture}`);
  await page.waitForFunction(() => window.pageReady === true, null, { timeout: 30_000 });
  return { page, problems };
}

async function closePage({ page, problems }, allowed = []) {
  for (const v of await page.evaluate(() => window.cspViolations)) problems.push(`CSP violation: ${v}`);
  await page.close();
  const unexpected = problems.filter((p) => !allowed.some((re) => re.test(p)));
  assert.deepEqual(unexpected, [], 'console errors or page errors');
  const outside = requests.filter((u) => {
    const url = new URL(u);
    return url.protocol !== 'data:' && url.hostname !== '127.0.0.1';
  });
  assert.deepEqual(outside, [], 'requests outside 127.0.0.1');
}

function npyFeed(name) {
  const x = readNpy(readFileSync(join(MODELS_DIR, `${name}.input.npy`)));
  return { '': { type: x.dtype, dims: x.shape, data: Array.from(x.data) } };
}

// Runs a model in the page and compares its outputs with onnxruntime-node's.
async function checkModel(t, page, name, options) {
  requireModel(name);
  const result = await page.evaluate(([url, feeds, opts]) => window.pageApi.run(url, feeds, opts),
    [`/build/models/${name}.onnx`, npyFeed(name), options]);
  const outputs = {};
  for (const [k, v] of Object.entries(result.outputs)) {
    outputs[k] = { dtype: v.type, shape: v.dims, data: Float32Array.from(v.data) };
  }
  const results = await compareWithReference(join(MODELS_DIR, `${name}.onnx`), join(MODELS_DIR, `${name}.input.npy`), outputs);
  assert.ok(results.length > 0);
  for (const r of results) {
    t.diagnostic(`${name}${options.worker ? ' (worker)' : ''}/${r.name}: ratio ${r.ratio.toExponential(3)} (limit ${REL_TOLERANCE})`);
    assert.ok(r.pass, r.message);
  }
  return result;
}

test('classic script: mobilenet_v2 in the page and the mlp in a worker match onnxruntime', { timeout: 300_000 }, async (t) => {
  const p = await openPage('classic.html');
  const r = await checkModel(t, p.page, 'mobilenet_v2', {});
  assert.deepEqual(r.inputMetadata, [{ name: 'input', isTensor: true, type: 'float32', shape: [1, 3, 224, 224], dims: [1, 3, 224, 224] }]);
  await checkModel(t, p.page, 'mlp', { worker: true });
  await closePage(p);
});

test('ES module: the mlp in the page, resnet18 and mobilenet_v2 in workers match onnxruntime', { timeout: 300_000 }, async (t) => {
  const p = await openPage('module.html');
  const r = await checkModel(t, p.page, 'mlp', {});
  assert.deepEqual(r.inputMetadata[0].shape, ['batch', 64]);
  await checkModel(t, p.page, 'resnet18', { worker: true });
  await checkModel(t, p.page, 'mobilenet_v2', { worker: true });
  await closePage(p);
});

test('strict Content-Security-Policy: the loader and its worker need no eval', { timeout: 300_000 }, async (t) => {
  const p = await openPage('csp.html');
  const policy = await p.page.evaluate(async () => (await fetch(location.href)).headers.get('content-security-policy'));
  assert.equal(policy, CSP, 'the page was not served with the policy');
  await checkModel(t, p.page, 'mlp', {});
  await checkModel(t, p.page, 'mlp', { worker: true });
  assert.ok(requests.some((u) => u.endsWith('/dist/edgeinfer-worker.js?csp')), 'the worker was not loaded under the policy');
  await closePage(p);
  await new Promise((ok) => setTimeout(ok, 500)); // reports are sent asynchronously
  assert.deepEqual(cspReports, [], 'the page or its worker violated the policy');
});

test('without wasm-unsafe-eval in the policy the error says what to add', { timeout: 120_000 }, async () => {
  const p = await openPage('csp.html?nowasm');
  const err = await p.page.evaluate(() => window.pageApi.tryLoad('/build/models/mlp.onnx'));
  assert.equal(err.isEdgeInferError, true, err.message);
  assert.equal(err.code, 'LOAD_FAILED');
  assert.match(err.message, /Content-Security-Policy does not allow WebAssembly: add 'wasm-unsafe-eval'/);
  // Chromium reports the refused compilation itself, which also shows that violations are seen.
  // (The server answers the report POSTs with 405, which Chromium logs too.)
  await closePage(p, [/Content Security Policy|unsafe-eval|WebAssembly/i, /script-src: wasm-eval/, /status of 405/]);
  for (let i = 0; i < 50 && cspReports.length === 0; i++) await new Promise((ok) => setTimeout(ok, 100));
  assert.ok(cspReports.length > 0, 'the refused compilation was not reported to report-uri');
  cspReports.length = 0;
});

for (const [fixture, worker] of [['classic.html', false], ['classic.html', true], ['module.html', false], ['module.html', true]]) {
  test(`errors (${fixture}${worker ? ', worker' : ''}): EdgeInferError with code and message; the session keeps working`, { timeout: 120_000 }, async () => {
    requireModel('mlp');
    const p = await openPage(fixture);
    const e = await p.page.evaluate(([opts]) => window.pageApi.errors('/build/models/mlp.onnx', opts), [{ worker }]);
    for (const [k, v] of Object.entries(e)) {
      if (k !== 'stillWorks') assert.equal(v.isEdgeInferError, true, `${k}: ${v.name}: ${v.message}`);
    }
    assert.equal(e.badModel.code, 'INVALID_MODEL');
    assert.match(e.badModel.message, /cannot load the model/);
    assert.equal(e.missingModel.code, 'LOAD_FAILED');
    assert.match(e.missingModel.message, /\/no\/such\/model\.onnx.*404/);
    assert.equal(e.unknownInput.code, 'INVALID_ARGUMENT');
    assert.match(e.unknownInput.message, /unknown input 'nope'/);
    assert.equal(e.wrongDims.code, 'INVALID_SHAPE');
    assert.match(e.wrongDims.message, /input 'input': expected float32 \[batch,64\], got float32 \[65\]/);
    assert.equal(e.wrongType.code, 'INVALID_SHAPE');
    assert.match(e.wrongType.message, /got int32/);
    assert.equal(e.stillWorks, true);
    assert.equal(e.runAfterRelease.code, 'INVALID_STATE');
    // The 404 of the missing model is logged by the browser itself.
    await closePage(p, [/404/]);
  });
}

// Makes the page's next ei_session_run throw the RuntimeError a wasm trap throws once window.trapNext is set.
function injectTrap() {
  const instantiate = WebAssembly.instantiate;
  WebAssembly.instantiate = async (...args) => {
    const result = await instantiate.apply(WebAssembly, args);
    const instance = result instanceof WebAssembly.Instance ? result : result.instance;
    const exports = { ...instance.exports };
    exports.ei_session_run = (...a) => {
      if (!window.trapNext) return instance.exports.ei_session_run(...a);
      window.trapNext = false;
      throw new WebAssembly.RuntimeError('unreachable (injected by browser.test.mjs)');
    };
    return result instanceof WebAssembly.Instance ? { exports } : { module: result.module, instance: { exports } };
  };
}

test('two sessions on the page: one cancelled mid-run, one trapping; the healthy one keeps working', { timeout: 120_000 }, async (t) => {
  requireModel('mlp');
  const p = await openPage('module.html', { init: injectTrap });
  const r = await p.page.evaluate(() => window.pageApi.isolation('/tests/js/fixtures/loop-nest-long-running.onnx', '/build/models/mlp.onnx'));
  assert.equal(r.cancelled.code, 'ABORTED', r.cancelled.message);
  t.diagnostic(`cancelled after ${r.cancelMs.toFixed(0)} ms (abort at 200 ms); ${r.ticks} ticks of a 5 ms timer meanwhile`);
  assert.ok(r.ticks > 0, "timers fired during the run");
  assert.equal(r.trapped.code, 'RUNTIME_ERROR');
  assert.match(r.trapped.message, /unreachable.*the session made from \/build\/models\/mlp\.onnx/);
  assert.match(r.doomedAgain.message, /create the session again/);
  assert.deepEqual(r.afterCancel, r.before);
  assert.deepEqual(r.afterTrap, r.before);
  await closePage(p);
});

// Chromium runs relaxed SIMD, so the loader asks for edgeinfer-relaxed.wasm (edgeinfer.wasm when
// that fails): the routes below cover both builds.
test('wasm served as application/octet-stream still loads (no streaming compile)', { timeout: 120_000 }, async (t) => {
  const served = [];
  const p = await openPage('classic.html', {
    routes: {
      '**/dist/edgeinfer*.wasm': (route) => {
        const file = new URL(route.request().url()).pathname.split('/').pop();
        served.push(file);
        return route.fulfill({ status: 200, contentType: 'application/octet-stream', body: readFileSync(join(DIST, file)) });
      },
    },
  });
  await checkModel(t, p.page, 'mlp', {});
  assert.deepEqual(served, ['edgeinfer-relaxed.wasm']); // one request, for the relaxed build
  await closePage(p);
});

test('an HTML page where the wasm should be is named as such', { timeout: 120_000 }, async () => {
  const p = await openPage('module.html', {
    routes: {
      '**/dist/edgeinfer*.wasm': (route) => route.fulfill({ status: 200, contentType: 'text/html', body: '<!DOCTYPE html><title>Not here</title>' }),
    },
  });
  const err = await p.page.evaluate(() => window.pageApi.tryLoad('/build/models/mlp.onnx'));
  assert.equal(err.code, 'LOAD_FAILED');
  assert.match(err.message, new RegExp(`expected a \\.wasm file at ${server.url.replace(/\./g, '\\.')}/dist/edgeinfer\\.wasm but got text/html .*<!DOCTYPE html>`));
  await closePage(p);
});

test('the static server: MIME types, no escape from the root, 127.0.0.1 only', async () => {
  const get = (path) => fetch(`${server.url}${path}`);
  const types = {
    '/dist/edgeinfer.wasm': 'application/wasm',
    '/dist/edgeinfer.mjs': 'text/javascript; charset=utf-8',
    '/dist/edgeinfer.js': 'text/javascript; charset=utf-8',
    '/tests/browser/fixtures/classic.html': 'text/html; charset=utf-8',
    '/package.json': 'application/json; charset=utf-8',
  };
  for (const [path, type] of Object.entries(types)) {
    const r = await get(path);
    assert.equal(r.status, 200, path);
    assert.equal(r.headers.get('content-type'), type, path);
    await r.arrayBuffer();
  }
  assert.equal((await get('/no/such/file')).status, 404);
  // Raw request paths, as a client that does not normalise them would send them.
  const raw = (path) => new Promise((ok, fail) => {
    http.get({ host: '127.0.0.1', port: server.port, path }, (res) => { res.resume(); ok(res.statusCode); }).on('error', fail);
  });
  assert.equal(await raw('/..%2f..%2fetc%2fpasswd'), 403);
  assert.equal(await raw('/%2e%2e%2f%2e%2e%2fetc/passwd'), 403);
  assert.equal(await raw('/../../../etc/passwd'), 404); // dot segments resolve inside the root
  assert.equal(await raw('/dist/%00x'), 403);
  assert.equal((await fetch(`${server.url}/package.json`, { method: 'POST' })).status, 405);
  assert.equal(server.server.address().address, '127.0.0.1');
  assert.ok(existsSync(join(ROOT, 'web', 'serve.mjs')));
});
