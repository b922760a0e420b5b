// Side-by-side inference benchmark on one wasm core, in Node: edgeinfer's plain SIMD128 build
// and its relaxed-SIMD build, onnxruntime-web (wasm, 1 thread) and TF.js's wasm backend (its
// SIMD build, 1 thread: XNNPACK) on the same architectures with random weights. Not a test: it
// prints tables (and --json FILE writes the numbers). `make bench` runs it.
//
//   node --experimental-wasm-relaxed-simd tests/bench/bench.mjs [--models a,b] [--runs N]
//        [--cold-models a,b] [--cold-reps N] [--json FILE]
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
// import of the library, session creation from model bytes already read, first run; and the
// process's peak RSS after the first runs. Medians.
//
// Models: build/bench-models/ (tests/bench/export_bench_models.py, `make bench` exports them)
// and models/digits/model.onnx.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { readNpy } from '../js/npy.mjs';
import { measurePeak } from './peak.mjs';
import { buildTfjsModel } from './tfjs_models.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SELF = fileURLToPath(import.meta.url);
const BENCH_MODELS = join(ROOT, 'build', 'bench-models');
const RELAXED_FLAG = '--experimental-wasm-relaxed-simd';
const require = createRequire(join(ROOT, 'package.json'));

const MODELS = {
  mobilenet_v2: 'mobilenet_v2',
  resnet18: 'resnet18',
  squeezenet1_1: 'squeezenet1_1',
  shufflenet_v2_x1_0: 'shufflenet_v2_x1_0',
  efficientnet_b0: 'efficientnet_b0',
  mlp_b1: 'MLP batch 1',
  mlp_b256: 'MLP batch 256',
  digits: 'digits CNN 1x1x8x8',
  transformer: 'transformer d128 h4 seq64',
};
const ENGINES = ['ei-plain', 'ei-relaxed', 'ort-web', 'tfjs-wasm'];
const ENGINE_LABELS = {
  'ei-plain': 'edgeinfer (SIMD128)',
  'ei-relaxed': 'edgeinfer (relaxed SIMD)',
  'ort-web': 'onnxruntime-web 1 thread',
  'tfjs-wasm': 'TF.js wasm 1 thread',
};

function modelFiles(name) {
  if (name === 'digits') {
    return { onnx: join(ROOT, 'models', 'digits', 'model.onnx'), input: join(ROOT, 'models', 'digits', 'golden', 'input.npy') };
  }
  return { onnx: join(BENCH_MODELS, `${name}.onnx`), input: join(BENCH_MODELS, `${name}.input.npy`) };
}

// ---- the engines, each behind {create(name) -> {run() -> Promise<Float32Array|null>, release()}} ----

async function loadEngine(engine) {
  if (engine === 'ei-plain' || engine === 'ei-relaxed') {
    const simd = engine === 'ei-plain' ? 'plain' : 'relaxed';
    // Its own module instance per build (a query string makes it a distinct module).
    const ei = await import(`${pathToFileURL(join(ROOT, 'dist', 'edgeinfer.mjs')).href}?${simd}`);
    ei.env.wasm = { simd };
    return {
      info: () => `build ${ei.env.wasmBuild}`,
      async create(name) {
        const f = modelFiles(name);
        const session = await ei.InferenceSession.create(readFileSync(f.onnx));
        const t = readNpy(readFileSync(f.input));
        const feeds = { [session.inputNames[0]]: new ei.Tensor(t.dtype, t.data, t.shape) };
        return {
          async run() {
            const out = await session.run(feeds);
            return out[session.outputNames[0]].data;
          },
          release: () => session.release(),
        };
      },
    };
  }
  if (engine === 'ort-web') {
    const ort = await import('onnxruntime-web');
    ort.env.wasm.numThreads = 1;
    return {
      info: () => `numThreads ${ort.env.wasm.numThreads}`,
      async create(name) {
        const f = modelFiles(name);
        const session = await ort.InferenceSession.create(readFileSync(f.onnx), { executionProviders: ['wasm'] });
        const t = readNpy(readFileSync(f.input));
        const feeds = { [session.inputNames[0]]: new ort.Tensor(t.dtype, t.data, t.shape) };
        return {
          async run() {
            const out = await session.run(feeds);
            return out[session.outputNames[0]].data;
          },
          release: () => session.release(),
        };
      },
    };
  }
  // TF.js: note which wasm file the backend reads (it must be the SIMD build, which runs XNNPACK).
  const fs = require('node:fs');
  const loaded = [];
  const readFileSync0 = fs.readFileSync;
  fs.readFileSync = function spy(p, ...rest) {
    if (String(p).endsWith('.wasm')) loaded.push(String(p).split('/').pop());
    return readFileSync0.call(this, p, ...rest);
  };
  const tf = require('@tensorflow/tfjs-core');
  const backend = require('@tensorflow/tfjs-backend-wasm');
  backend.setWasmPaths(`${join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'wasm-out')}/`);
  backend.setThreadsCount(1);
  await tf.setBackend('wasm');
  await tf.ready();
  fs.readFileSync = readFileSync0;
  if (loaded.join() !== 'tfjs-backend-wasm-simd.wasm') {
    throw new Error(`TF.js loaded ${loaded.join(', ') || 'no wasm file'}, expected tfjs-backend-wasm-simd.wasm`);
  }
  return {
    info: () => `${loaded.join()}, threads ${backend.getThreadsCount()}`,
    async create(name) {
      const m = buildTfjsModel(tf, name);
      if (!m) return null;
      const session = {
        macs: 0,
        async run() {
          const y = m.run();
          const data = await y.data();
          y.dispose();
          session.macs = m.macs;
          return null; // random weights of its own: nothing to compare
        },
        release: () => m.dispose(),
      };
      return session;
    },
  };
}

// ---- children ----

function maxAbsDiff(a, b) {
  if (!a || !b || a.length !== b.length) return NaN;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (pos - lo);
}

async function latencyChild(name, runs) {
  const sessions = {};
  const info = {};
  const outputs = {};
  for (const e of ENGINES) {
    const engine = await loadEngine(e);
    const s = await engine.create(name);
    info[e] = engine.info();
    if (!s) continue;
    sessions[e] = s;
    outputs[e] = await s.run();
    // Warm-up: at least 5 runs and 300 ms, so the engines' code has tiered up.
    const t0 = performance.now();
    for (let i = 0; i < 5 || performance.now() - t0 < 300; i++) await s.run();
  }
  const live = Object.keys(sessions);
  // Size the rounds from one more timed run of the slowest engine: about 2 s per engine in all.
  let slowest = 0;
  for (const e of live) {
    const t0 = performance.now();
    await sessions[e].run();
    slowest = Math.max(slowest, performance.now() - t0);
  }
  const total = runs || Math.max(10, Math.min(300, Math.round(2000 / Math.max(slowest, 1e-3))));
  const rounds = Math.min(10, total);
  const perRound = Math.ceil(total / rounds);
  const times = Object.fromEntries(live.map((e) => [e, []]));
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < live.length; i++) {
      const e = live[(i + r) % live.length];
      for (let k = 0; k < perRound; k++) {
        const t0 = performance.now();
        await sessions[e].run();
        times[e].push(performance.now() - t0);
      }
    }
  }
  const result = { name, info, runs: rounds * perRound, engines: {} };
  for (const e of live) {
    result.engines[e] = { medianMs: quantile(times[e], 0.5), p90Ms: quantile(times[e], 0.9) };
  }
  result.tfjsMacs = sessions['tfjs-wasm'] ? sessions['tfjs-wasm'].macs : null;
  result.diff = {
    'ei-plain vs ort-web': maxAbsDiff(outputs['ei-plain'], outputs['ort-web']),
    'ei-relaxed vs ort-web': maxAbsDiff(outputs['ei-relaxed'], outputs['ort-web']),
  };
  for (const e of live) await sessions[e].release();
  return result;
}

async function coldChild(engineName, name) {
  const t0 = performance.now();
  const engine = await loadEngine(engineName);
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
  const files = names.map((n) => modelFiles(n).onnx);
  const r = spawnSync('/usr/bin/python3', [join(ROOT, 'tests', 'bench', 'onnx_macs.py'), ...files], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`onnx_macs.py: ${r.stderr}`);
  const byFile = JSON.parse(r.stdout);
  return Object.fromEntries(names.map((n) => [n, byFile[modelFiles(n).onnx]]));
}

const fmt = (x, width = 8) => {
  if (!Number.isFinite(x)) return '-'.padStart(width);
  const digits = x >= 100 ? 1 : x >= 1 ? 2 : x >= 0.1 ? 3 : 4;
  return x.toFixed(digits).padStart(width);
};
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) ? (a / b).toFixed(2) : '-');
const median = (xs) => quantile(xs, 0.5);

function parseArgs(argv) {
  const o = { models: Object.keys(MODELS), runs: 0, coldModels: ['mobilenet_v2', 'resnet18', 'digits'], coldReps: 3, json: null };
  for (let i = 0; i < argv.length; i += 2) {
    const [a, v] = [argv[i], argv[i + 1]];
    if (v === undefined) throw new Error(`${a} needs a value`);
    const list = () => v.split(',').filter(Boolean);
    if (a === '--models') o.models = list();
    else if (a === '--runs') o.runs = Number(v);
    else if (a === '--cold-models') o.coldModels = list();
    else if (a === '--cold-reps') o.coldReps = Number(v);
    else if (a === '--json') o.json = v;
    else throw new Error(`unknown argument '${a}'`);
  }
  for (const m of [...o.models, ...o.coldModels]) {
    if (!MODELS[m]) throw new Error(`unknown model '${m}' (known: ${Object.keys(MODELS).join(', ')})`);
    for (const f of Object.values(modelFiles(m))) {
      if (!existsSync(f)) throw new Error(`${f} is missing (make build/bench-models/.stamp)`);
    }
  }
  if (!existsSync(join(ROOT, 'dist', 'edgeinfer-relaxed.wasm'))) throw new Error('dist/ is missing (make wasm)');
  if (!(o.coldReps >= 1) || !(o.runs >= 0)) throw new Error('--cold-reps must be at least 1 and --runs at least 0');
  return o;
}

async function main(argv) {
  if (argv[0] === '--child') {
    const result = argv[1] === 'latency' ? await latencyChild(argv[2], Number(argv[3])) : await coldChild(argv[2], argv[3]);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const o = parseArgs(argv);
  const peak = { plain: measurePeak(), relaxed: measurePeak({ relaxed: true }) };
  if (!peak.relaxed) throw new Error(`this engine cannot run relaxed SIMD: run with node ${RELAXED_FLAG}`);
  const report = { node: process.version, peakGflops: peak, models: {}, cold: {} };
  console.log(`Node ${process.version}, one thread. Measured one-core peak: SIMD128 mul+add ${peak.plain.toFixed(1)} ` +
    `GFLOP/s, relaxed madd ${peak.relaxed.toFixed(1)} GFLOP/s`);

  const macs = onnxMacs(o.models);
  for (const m of o.models) {
    const r = spawnChild(['latency', m, String(o.runs)]);
    r.onnxMacs = macs[m];
    report.models[m] = r;
    if (!report.info) {
      report.info = r.info;
      console.log(ENGINES.map((e) => `${ENGINE_LABELS[e]}: ${r.info[e]}`).join('; '));
    }
  }
  printLatency(report, o.models);

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

function printLatency(report, models) {
  const { plain, relaxed } = report.peakGflops;
  console.log(`\nLatency, ms: median (p90) of the timed runs; ratios edgeinfer / peer (< 1: edgeinfer faster);` +
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
  console.log(`\nCold start, ms, median of ${reps} fresh processes each: import + create (model bytes already read) + first run;` +
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

main(process.argv.slice(2)).catch((err) => {
  console.error(`bench: ${err.message}`);
  process.exitCode = 1;
});
