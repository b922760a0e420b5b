// Side-by-side inference benchmark on one wasm core, in Node: edgeinfer's plain SIMD128 build
// and its relaxed-SIMD build, onnxruntime-web (wasm, 1 thread) and TF.js's wasm backend (its
// SIMD build, 1 thread: XNNPACK) on the same architectures with random weights. Not a test: it
// prints tables (and --json FILE writes the numbers). `make bench` runs it.
//
//   node --experimental-wasm-relaxed-simd tests/bench/bench.mjs [--models a,b] [--runs N]
//        [--cold-models a,b] [--cold-reps N] [--json FILE] [--browser 1]
//
// Latency: one fresh process per model holds all four engines; after warm-up it times runs in
// rounds, each round running every engine in turn (the order rotating), so that drift and
// frequency changes hit all engines alike. Reported: median and p90 per engine, ratios
// (edgeinfer / peer: below 1 is faster), GFLOP/s (2 x MACs / median) and its share of the
// one-core SIMD128 peak measured in this run (tests/bench/peak.mjs). The ONNX files' MACs
// (tests/bench/onnx_macs.py) and the TF.js models' (tests/bench/tfjs_models.mjs) are printed
// side by side and must match. The edgeinfer and onnxruntime outputs are compared (same file).
//
// Cold start: for --cold-models, each engine in --cold-reps fresh processes (interleaved):
// import of the library, create (the session from the model's file path, which each engine reads
// its own way, then reading the input; for TF.js building the model), first run; and the
// process's peak RSS after 4 runs. Medians.
//
// --browser 1: the same latency table (and peak) in headless Chromium (/usr/bin/chromium through
// playwright-core; no browser is downloaded), a fresh page per model (tests/bench/browser.html),
// files served from the repository root by web/serve.mjs. Cold start is measured in Node only.
//
// Models: build/bench-models/ (tests/bench/export_bench_models.py, `make bench` exports them)
// and models/digits/model.onnx.

import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ENGINES, ENGINE_LABELS, MODELS, THREAD_ENGINES, benchModel, loadEngine, modelFiles } from './engines.mjs';
import { quantile } from './measure.mjs';
import { measurePeak } from './peak.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SELF = fileURLToPath(import.meta.url);
const RELAXED_FLAG = '--experimental-wasm-relaxed-simd';
const require = createRequire(join(ROOT, 'package.json'));

// ---- Node's side of the engines (tests/bench/engines.mjs) ----

const nodeHost = {
  read: async (path) => new Uint8Array(readFileSync(join(ROOT, path))),
  location: (path) => join(ROOT, path),
  // A query string makes each build its own module instance, with its own env.
  edgeinfer: (simd) => import(`${pathToFileURL(join(ROOT, 'dist', 'edgeinfer.mjs')).href}?${simd}`),
  async ort(threads = 1) {
    const ort = await import('onnxruntime-web');
    ort.env.wasm.numThreads = threads;
    return ort;
  },
  async tfjs() {
    // Which .wasm the backend reads, seen at the fs call its Emscripten glue makes.
    const fs = require('node:fs');
    const wasmFiles = [];
    const readFileSync0 = fs.readFileSync;
    fs.readFileSync = function spy(p, ...rest) {
      if (String(p).endsWith('.wasm')) wasmFiles.push(String(p).split('/').pop());
      return readFileSync0.call(this, p, ...rest);
    };
    try {
      const tf = require('@tensorflow/tfjs-core');
      const backend = require('@tensorflow/tfjs-backend-wasm');
      backend.setWasmPaths(`${join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'wasm-out')}/`);
      backend.setThreadsCount(1);
      await tf.setBackend('wasm');
      await tf.ready();
      return { tf, wasmFiles, threads: backend.getThreadsCount() };
    } finally {
      fs.readFileSync = readFileSync0;
    }
  },
};

// ---- children ----

async function coldChild(engineName, name) {
  const t0 = performance.now();
  const engine = await loadEngine(engineName, nodeHost);
  const t1 = performance.now();
  const session = await engine.create(name);
  if (!session) return { missing: true };
  const t2 = performance.now();
  await session.run();
  const t3 = performance.now();
  for (let i = 0; i < 3; i++) await session.run();
  return {
    importMs: t1 - t0,
    createMs: t2 - t1,
    firstRunMs: t3 - t2,
    totalMs: t3 - t0,
    peakRssMB: process.resourceUsage().maxRSS / 1024,
  };
}

// ---- parent ----

function spawnChild(args) {
  const r = spawnSync(process.execPath, [RELAXED_FLAG, SELF, '--child', ...args],
    { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20, timeout: 900_000 });
  if (r.error) throw r.error;
  const line = (r.stdout || '').trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (r.status !== 0 || !line) throw new Error(`bench child ${args.join(' ')}: exit ${r.status ?? r.signal}\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(line);
}

function onnxMacs(names) {
  const files = names.map((n) => join(ROOT, modelFiles(n).onnx));
  const r = spawnSync('/usr/bin/python3', [join(ROOT, 'tests', 'bench', 'onnx_macs.py'), ...files], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`onnx_macs.py: ${r.stderr}`);
  const byFile = JSON.parse(r.stdout);
  return Object.fromEntries(names.map((n) => [n, byFile[join(ROOT, modelFiles(n).onnx)]]));
}

const fmt = (x, width = 8) => {
  if (!Number.isFinite(x)) return '-'.padStart(width);
  const digits = x >= 100 ? 1 : x >= 1 ? 2 : x >= 0.1 ? 3 : 4;
  return x.toFixed(digits).padStart(width);
};
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) ? (a / b).toFixed(2) : '-');
const median = (xs) => quantile(xs, 0.5);

function parseArgs(argv) {
  const o = {
    models: Object.keys(MODELS), runs: 0, coldModels: ['mobilenet_v2', 'resnet18', 'digits'], coldReps: 3, json: null, browser: false,
    threadModels: null,
  };
  for (let i = 0; i < argv.length; i += 2) {
    const [a, v] = [argv[i], argv[i + 1]];
    if (v === undefined) throw new Error(`${a} needs a value`);
    const list = () => v.split(',').filter(Boolean);
    if (a === '--models') o.models = list();
    else if (a === '--runs') o.runs = Number(v);
    else if (a === '--cold-models') o.coldModels = list();
    else if (a === '--cold-reps') o.coldReps = Number(v);
    else if (a === '--thread-models') o.threadModels = list();
    else if (a === '--json') o.json = v;
    else if (a === '--browser') o.browser = v === '1';
    else throw new Error(`unknown argument '${a}'`);
  }
  // By default the two-thread table covers the larger of the models benched.
  o.threadModels ??= ['mobilenet_v2', 'resnet18', 'squeezenet1_1', 'efficientnet_b0', 'mlp_b256', 'transformer']
    .filter((m) => o.models.includes(m));
  for (const m of [...o.models, ...o.coldModels, ...o.threadModels]) {
    if (!MODELS[m]) throw new Error(`unknown model '${m}' (known: ${Object.keys(MODELS).join(', ')})`);
    for (const f of [modelFiles(m).onnx, modelFiles(m).input]) {
      if (!existsSync(join(ROOT, f))) throw new Error(`${f} is missing (make build/bench-models/.stamp)`);
    }
  }
  if (!existsSync(join(ROOT, 'dist', 'edgeinfer-relaxed.wasm'))) throw new Error('dist/ is missing (make wasm)');
  if (!(o.coldReps >= 1) || !(o.runs >= 0)) throw new Error('--cold-reps must be at least 1 and --runs at least 0');
  return o;
}

async function main(argv) {
  if (argv[0] === '--child') {
    const result = argv[1] === 'latency' ? await benchModel(argv[2], Number(argv[3]), nodeHost)
      : argv[1] === 'threads' ? await benchModel(argv[2], Number(argv[3]), nodeHost, THREAD_ENGINES)
        : await coldChild(argv[2], argv[3]);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    process.exit(0); // onnxruntime-web's thread pool would keep the process alive
  }
  const o = parseArgs(argv);
  if (o.browser) return browserMain(o);
  const before = { plain: measurePeak(), relaxed: measurePeak({ relaxed: true }) };
  if (!before.relaxed) throw new Error(`this engine cannot run relaxed SIMD: run with node ${RELAXED_FLAG}`);
  const report = { node: process.version, models: {}, cold: {} };
  const macs = onnxMacs(o.models);
  for (const m of o.models) {
    const r = spawnChild(['latency', m, String(o.runs)]);
    r.onnxMacs = macs[m];
    report.models[m] = r;
  }
  report.peakGflops = laterPeak(before, { plain: measurePeak(), relaxed: measurePeak({ relaxed: true }) });
  printHeader(`Node ${process.version}`, report);
  printLatency(report, o.models);
  if (o.threadModels.length) {
    report.threads = {};
    for (const m of o.threadModels) report.threads[m] = spawnChild(['threads', m, String(o.runs)]);
    printThreads(report, o.threadModels);
  }

  for (const m of o.coldModels) {
    const reps = Object.fromEntries(ENGINES.map((e) => [e, []]));
    for (let rep = 0; rep < o.coldReps; rep++) {
      for (const e of ENGINES) reps[e].push(spawnChild(['cold', e, m]));
    }
    report.cold[m] = {};
    for (const e of ENGINES) {
      if (reps[e][0].missing) continue;
      report.cold[m][e] = Object.fromEntries(['importMs', 'createMs', 'firstRunMs', 'totalMs', 'peakRssMB']
        .map((k) => [k, median(reps[e].map((x) => x[k]))]));
    }
  }
  if (o.coldModels.length) printCold(report, o.coldModels, o.coldReps);
  if (o.json) writeFileSync(o.json, `${JSON.stringify(report, null, 1)}\n`);
}

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

async function browserMain(o) {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing (Debian's chromium package: make setup)`);
  const { chromium } = await import('playwright-core');
  const { serve } = await import('../../web/serve.mjs');
  // Cross-origin isolated, so that performance.now() has microsecond resolution (100 us otherwise).
  const isolated = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };
  const server = await serve({ root: ROOT, port: 0, headers: () => isolated });
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  const problems = [];
  const open = async () => {
    const page = await browser.newPage();
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console: ${msg.text()} ${msg.location().url || ''}`);
    });
    await page.goto(`${server.url}/tests/bench/browser.html`);
    await page.waitForFunction(() => window.benchReady === true, null, { timeout: 60_000 });
    if (!(await page.evaluate(() => crossOriginIsolated))) throw new Error('the bench page is not cross-origin isolated');
    return page;
  };
  try {
    const peak = async () => {
      const page = await open();
      const p = await page.evaluate(() => window.benchPeak());
      await page.close();
      return p;
    };
    const before = await peak();
    const report = { browser: `Chromium ${browser.version()} (headless)`, models: {} };
    const macs = onnxMacs(o.models);
    for (const m of o.models) {
      const page = await open();
      const r = await page.evaluate(([name, runs]) => window.benchModel(name, runs), [m, o.runs]);
      await page.close();
      r.onnxMacs = macs[m];
      report.models[m] = r;
    }
    report.peakGflops = laterPeak(before, await peak());
    printHeader(report.browser, report);
    printLatency(report, o.models);
    if (o.threadModels.length) {
      report.threads = {};
      for (const m of o.threadModels) {
        const page = await open();
        report.threads[m] = await page.evaluate(([name, runs]) => window.benchModel(name, runs, true), [m, o.runs]);
        await page.close();
      }
      printThreads(report, o.threadModels);
    }
    if (problems.length) console.log(`\nthe pages reported:\n  ${problems.join('\n  ')}`);
    if (o.json) writeFileSync(o.json, `${JSON.stringify(report, null, 1)}\n`);
  } finally {
    await browser.close();
    await server.close();
  }
}

// The peak is measured before and after the models; the higher of the two is the one less
// disturbed by whatever else ran on the machine.
function laterPeak(a, b) {
  return { plain: Math.max(a.plain, b.plain), relaxed: Math.max(a.relaxed, b.relaxed) };
}

function printHeader(where, report) {
  const { plain, relaxed } = report.peakGflops;
  console.log(`${where}, one thread. One-core peak measured in this run: SIMD128 mul+add ${plain.toFixed(1)} GFLOP/s, ` +
    `relaxed madd ${relaxed.toFixed(1)} GFLOP/s`);
  const info = Object.values(report.models)[0].info;
  console.log(ENGINES.map((e) => `${ENGINE_LABELS[e]}: ${info[e]}`).join('; '));
}

function printLatency(report, models) {
  const { plain, relaxed } = report.peakGflops;
  console.log(`\nLatency, ms: median (p90) of the timed runs (under 1 ms: of means over ~1 ms batches); ratios edgeinfer / peer (< 1: edgeinfer faster);` +
    ` GFLOP/s = 2 x MACs / median, % of the SIMD128 peak (relaxed build: of the relaxed peak)`);
  console.log(`| model | MACs ONNX / TF.js | ${ENGINES.map((e) => ENGINE_LABELS[e]).join(' | ')} | ` +
    'plain/ORT | plain/TF.js | relaxed/ORT | relaxed/TF.js | relaxed/plain | GFLOP/s plain | GFLOP/s relaxed |');
  console.log(`|---|---|${ENGINES.map(() => '---|').join('')}---|---|---|---|---|---|---|`);
  for (const m of models) {
    const r = report.models[m];
    const ms = (e) => (r.engines[e] ? r.engines[e].medianMs : NaN);
    const cell = (e) => (r.engines[e] ? `${fmt(ms(e), 0)} (${fmt(r.engines[e].p90Ms, 0)})` : '-');
    const gf = (e, pk) => {
      const g = (2 * r.onnxMacs) / (ms(e) * 1e6);
      return `${fmt(g, 0)} (${((100 * g) / pk).toFixed(0)}%)`;
    };
    const macsCell = `${(r.onnxMacs / 1e6).toFixed(2)}M / ${r.tfjsMacs === null ? '-' :
      r.tfjsMacs === r.onnxMacs ? 'same' : `${(r.tfjsMacs / 1e6).toFixed(2)}M DIFFERENT`}`;
    console.log(`| ${MODELS[m]} | ${macsCell} | ${ENGINES.map(cell).join(' | ')} | ` +
      `${ratio(ms('ei-plain'), ms('ort-web'))} | ${ratio(ms('ei-plain'), ms('tfjs-wasm'))} | ` +
      `${ratio(ms('ei-relaxed'), ms('ort-web'))} | ${ratio(ms('ei-relaxed'), ms('tfjs-wasm'))} | ` +
      `${ratio(ms('ei-relaxed'), ms('ei-plain'))} | ${gf('ei-plain', plain)} | ${gf('ei-relaxed', relaxed)} |`);
  }
  console.log('\nmax |edgeinfer - onnxruntime-web| on the same file, plain / relaxed build:');
  console.log(models.map((m) => {
    const d = report.models[m].diff;
    return `  ${m}: ${d['ei-plain vs ort-web'].toExponential(1)} / ${d['ei-relaxed vs ort-web'].toExponential(1)}`;
  }).join('\n'));
  const mismatched = models.filter((m) => report.models[m].tfjsMacs !== null && report.models[m].tfjsMacs !== report.models[m].onnxMacs);
  if (mismatched.length) {
    console.log(`MAC COUNTS DIFFER between the ONNX file and the TF.js model: ${mismatched.join(', ')}`);
    process.exitCode = 1;
  }
}

function printCold(report, models, reps) {
  console.log(`\nCold start, ms, median of ${reps} fresh processes each: import + create (read the file, make the session) + first run;` +
    ' peak RSS (MB) of the process after 4 runs; ratios engine / onnxruntime-web. TF.js makes its random' +
    ' weights in its first run');
  console.log('| model | engine | import | create | 1st run | total | peak RSS MB | total / ORT | RSS / ORT |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const m of models) {
    const c = report.cold[m];
    for (const e of ENGINES) {
      if (!c[e]) continue;
      const x = c[e];
      const ort = c['ort-web'];
      console.log(`| ${MODELS[m]} | ${ENGINE_LABELS[e]} | ${fmt(x.importMs, 0)} | ${fmt(x.createMs, 0)} | ` +
        `${fmt(x.firstRunMs, 0)} | ${fmt(x.totalMs, 0)} | ${fmt(x.peakRssMB, 0)} | ${ratio(x.totalMs, ort.totalMs)} | ` +
        `${ratio(x.peakRssMB, ort.peakRssMB)} |`);
    }
  }
}

// Two threads: edgeinfer's speed-up over its own single thread (same process, interleaved) and
// its latency against onnxruntime-web's on two threads; onnxruntime-web's own speed-up compares
// with the one-thread table above (another process of the same run).
function printThreads(report, models) {
  console.log(`\nTwo threads (${cores()} cores), ms: median (p90); speed-up = one thread / two threads; ratio < 1: edgeinfer faster`);
  console.log('| model | edgeinfer 1 thread | edgeinfer 2 threads | onnxruntime-web 2 threads | edgeinfer speed-up | ' +
    'onnxruntime-web speed-up | edgeinfer 2t / onnxruntime-web 2t | max diff 2t vs 1t |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const m of models) {
    const t = report.threads[m], one = report.models[m];
    const ms = (r, e) => (r && r.engines[e] ? r.engines[e].medianMs : NaN);
    const cell = (e) => (t.engines[e] ? `${fmt(ms(t, e), 0)} (${fmt(t.engines[e].p90Ms, 0)})` : '-');
    console.log(`| ${MODELS[m]} | ${cell('ei-plain')} | ${cell('ei-threads')} | ${cell('ort-web-2')} | ` +
      `${ratio(ms(t, 'ei-plain'), ms(t, 'ei-threads'))} | ${ratio(ms(one, 'ort-web'), ms(t, 'ort-web-2'))} | ` +
      `${ratio(ms(t, 'ei-threads'), ms(t, 'ort-web-2'))} | ${t.diff['ei-threads vs ei-plain'].toExponential(1)} |`);
  }
}

function cores() {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

main(process.argv.slice(2)).catch((err) => {
  console.error(`bench: ${err.message}`);
  process.exitCode = 1;
});
