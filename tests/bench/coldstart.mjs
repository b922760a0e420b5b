// Cold start and per-inference latency of edgeinfer's wasm build against onnxruntime-web's wasm
// backend, in Node. Not a test: it prints tables.
//
//   node tests/bench/coldstart.mjs [--reps N] [--runs N] [--cold-model NAME] [--models a,b,c]
//
// Cold start: the time from before the library's import to the first output (import, session
// creation from the model bytes already in memory, first run) for build/models/<cold-model>.onnx,
// each measurement in a fresh Node process (--reps of them per runtime, default 5, interleaved),
// median reported. Latency: in one process per runtime and model, two warm-up runs, then
// --runs timed runs (default 20), median reported.
//
// Runtimes: edgeinfer (dist/edgeinfer.mjs, single-threaded), onnxruntime-web with
// env.wasm.numThreads = 1 (the same single thread, for a fair comparison) and with its default
// thread count (which is min(4, ceil(cores / 2)): the number it picked is printed).

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { readNpy } from '../js/npy.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const MODELS_DIR = join(ROOT, 'build', 'models');
const SELF = fileURLToPath(import.meta.url);

const RUNTIMES = {
  edgeinfer: { label: 'edgeinfer (wasm, 1 thread)' },
  'ort-web-1': { label: 'onnxruntime-web (wasm, numThreads=1)' },
  'ort-web': { label: 'onnxruntime-web (wasm, default threads)' },
};

// ---- child: one measurement, printed as one JSON line ----

async function loadRuntime(name) {
  if (name === 'edgeinfer') {
    const ei = await import(pathToFileURL(join(ROOT, 'dist', 'edgeinfer.mjs')).href);
    return {
      threads: 1,
      create: (bytes) => ei.InferenceSession.create(bytes),
      tensor: (t) => new ei.Tensor(t.dtype, t.data, t.shape),
    };
  }
  const ort = await import('onnxruntime-web');
  if (name === 'ort-web-1') ort.env.wasm.numThreads = 1;
  return {
    get threads() { return ort.env.wasm.numThreads; },
    create: (bytes) => ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] }),
    tensor: (t) => new ort.Tensor(t.dtype, t.data, t.shape),
  };
}

async function child(mode, runtime, model, runs) {
  const bytes = new Uint8Array(readFileSync(join(MODELS_DIR, `${model}.onnx`)));
  const input = readNpy(readFileSync(join(MODELS_DIR, `${model}.input.npy`)));
  const t0 = performance.now();
  const rt = await loadRuntime(runtime);
  const t1 = performance.now();
  const session = await rt.create(bytes);
  const t2 = performance.now();
  const feeds = { [session.inputNames[0]]: rt.tensor(input) };
  const first = await session.run(feeds);
  const t3 = performance.now();
  const out = first[session.outputNames[0]].data;
  const result = {
    threads: rt.threads,
    importMs: t1 - t0,
    createMs: t2 - t1,
    firstRunMs: t3 - t2,
    totalMs: t3 - t0,
    sinceProcessStartMs: t3, // performance.now() counts from the process's start
    output: Array.from(out.subarray(0, Math.min(out.length, 1000)), Number),
  };
  if (mode === 'latency') {
    await session.run(feeds);
    const times = [];
    for (let i = 0; i < runs; i++) {
      const a = performance.now();
      await session.run(feeds);
      times.push(performance.now() - a);
    }
    result.medianMs = median(times);
    result.minMs = Math.min(...times);
  }
  if (session.release) await session.release();
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

// ---- parent ----

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function spawnChild(mode, runtime, model, runs) {
  const r = spawnSync(process.execPath, [SELF, '--child', mode, runtime, model, String(runs)],
    { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20, timeout: 600_000 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${runtime} ${mode} ${model}: exit ${r.status ?? r.signal}\n${r.stderr}`);
  const line = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (!line) throw new Error(`${runtime} ${mode} ${model}: no result\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(line);
}

function maxAbsDiff(a, b) {
  let m = 0;
  for (let i = 0; i < Math.min(a.length, b.length); i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const pad = (s, n) => String(s).padEnd(n);
const num = (x, n = 9) => (Number.isFinite(x) ? x.toFixed(x < 10 ? 3 : 1) : '-').padStart(n);

function parseArgs(argv) {
  const o = { reps: 5, runs: 20, coldModel: 'mobilenet_v2', models: ['mobilenet_v2', 'resnet18', 'mlp'] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (a === '--reps') o.reps = Number(v);
    else if (a === '--runs') o.runs = Number(v);
    else if (a === '--cold-model') o.coldModel = v;
    else if (a === '--models') o.models = v.split(',');
    else throw new Error(`unknown argument '${a}'`);
    i++;
  }
  if (!(o.reps >= 1 && o.runs >= 1)) throw new Error('--reps and --runs must be at least 1');
  return o;
}

async function main(argv) {
  if (argv[0] === '--child') return child(argv[1], argv[2], argv[3], Number(argv[4]));
  const o = parseArgs(argv);
  for (const m of new Set([o.coldModel, ...o.models])) {
    for (const f of [`${m}.onnx`, `${m}.input.npy`]) {
      if (!existsSync(join(MODELS_DIR, f))) throw new Error(`build/models/${f} is missing (make build/models/.stamp)`);
    }
  }
  if (!existsSync(join(ROOT, 'dist', 'edgeinfer.mjs'))) throw new Error('dist/ is missing (make wasm)');
  const names = Object.keys(RUNTIMES);
  const sizeOf = (f) => readFileSync(join(ROOT, f)).length;
  console.log(`Node ${process.version}; model files: ${o.coldModel}.onnx ${sizeOf(`build/models/${o.coldModel}.onnx`)} bytes; ` +
    `edgeinfer.wasm ${sizeOf('dist/edgeinfer.wasm')} bytes, onnxruntime-web wasm ` +
    `${sizeOf('node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm')} bytes`);

  // Cold start: reps interleaved across runtimes so that drift hits them alike.
  const cold = Object.fromEntries(names.map((n) => [n, []]));
  for (let rep = 0; rep < o.reps; rep++) {
    for (const n of names) cold[n].push(spawnChild('cold', n, o.coldModel, 0));
  }
  console.log(`\nCold start, ${o.coldModel}: import + session creation + first output, median of ${o.reps} fresh processes (ms)`);
  console.log(`${pad('runtime', 42)}${pad('threads', 8)}${'import'.padStart(9)}${'create'.padStart(9)}${'1st run'.padStart(9)}` +
    `${'total'.padStart(9)}${'from proc start'.padStart(17)}  max |diff| vs edgeinfer`);
  const coldMedian = {};
  for (const n of names) {
    const rs = cold[n];
    const m = (k) => median(rs.map((r) => r[k]));
    coldMedian[n] = m('totalMs');
    const diff = maxAbsDiff(rs[0].output, cold.edgeinfer[0].output);
    console.log(`${pad(RUNTIMES[n].label, 42)}${pad(rs[0].threads, 8)}${num(m('importMs'))}${num(m('createMs'))}` +
      `${num(m('firstRunMs'))}${num(m('totalMs'))}${num(m('sinceProcessStartMs'), 17)}  ${diff.toExponential(2)}`);
  }
  for (const n of names.filter((x) => x !== 'edgeinfer')) {
    console.log(`ratio ${RUNTIMES[n].label} / edgeinfer (total): ${(coldMedian[n] / coldMedian.edgeinfer).toFixed(2)}x`);
  }

  // Latency.
  console.log(`\nPer-inference latency: median of ${o.runs} runs after 2 warm-up runs (ms)`);
  console.log(`${pad('model', 14)}${names.map((n) => n.padStart(12)).join('')}   ratio ort-web-1/edgeinfer  ratio ort-web/edgeinfer`);
  for (const model of o.models) {
    const lat = {};
    for (const n of names) lat[n] = spawnChild('latency', n, model, o.runs).medianMs;
    console.log(`${pad(model, 14)}${names.map((n) => num(lat[n], 12)).join('')}   ` +
      `${(lat['ort-web-1'] / lat.edgeinfer).toFixed(2).padStart(22)}x ${(lat['ort-web'] / lat.edgeinfer).toFixed(2).padStart(23)}x`);
  }
}

main(process.argv.slice(2)).then(
  () => { process.exitCode = process.exitCode || 0; },
  (err) => { console.error(`coldstart: ${err.message}`); process.exitCode = 1; });
