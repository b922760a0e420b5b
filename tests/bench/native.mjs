// Native latency of the edgeinfer CLI against onnxruntime-node (its CPU provider), side by side
// in one run. Not a test: it prints a table. Both run single-threaded so the comparison is of
// kernels, not of core counts; onnxruntime's default thread count is shown too.
//
//   node tests/bench/native.mjs [--runs N] [--models a,b,c]
//
// edgeinfer: `build/edgeinfer bench MODEL --runs N -i input=...` (3 warm-up runs, median of N).
// onnxruntime-node: in this process, 3 warm-up runs, median of N.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import { readNpy } from '../js/npy.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const runs = Number(opt('--runs', 30));
const models = opt('--models', 'mobilenet_v2,resnet18,mlp').split(',');

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

async function ortLatency(modelPath, input, threads) {
  const opts = threads ? { intraOpNumThreads: threads, interOpNumThreads: 1 } : {};
  const session = await ort.InferenceSession.create(modelPath, opts);
  const feeds = { [session.inputNames[0]]: new ort.Tensor(input.dtype, input.data, input.shape) };
  for (let i = 0; i < 3; i++) await session.run(feeds);
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await session.run(feeds);
    times.push(performance.now() - t0);
  }
  await session.release();
  return median(times);
}

function edgeinferLatency(modelPath, inputPath, inputName) {
  const out = execFileSync(join(ROOT, 'build', 'edgeinfer'),
    ['bench', modelPath, '--runs', String(runs), '-i', `${inputName}=${inputPath}`], { encoding: 'utf8' });
  const m = out.match(/median\s+([0-9.]+)/);
  if (!m) throw new Error(`unexpected bench output:\n${out}`);
  return Number(m[1]);
}

const rows = [];
for (const name of models) {
  const modelPath = join(ROOT, 'build', 'models', `${name}.onnx`);
  const inputPath = join(ROOT, 'build', 'models', `${name}.input.npy`);
  const input = readNpy(readFileSync(inputPath));
  const probe = await ort.InferenceSession.create(modelPath);
  const inputName = probe.inputNames[0];
  await probe.release();
  const ei = edgeinferLatency(modelPath, inputPath, inputName);
  const ort1 = await ortLatency(modelPath, input, 1);
  const ortDefault = await ortLatency(modelPath, input, 0);
  rows.push({ name, ei, ort1, ortDefault });
}

console.log(`native latency, median of ${runs} runs (ms); ratio = onnxruntime / edgeinfer (> 1: edgeinfer faster)`);
console.log('model           edgeinfer  ort-node(1 thread)  ratio  ort-node(default threads)  ratio');
for (const r of rows) {
  console.log(`${r.name.padEnd(15)} ${r.ei.toFixed(3).padStart(9)}  ${r.ort1.toFixed(3).padStart(18)}  ` +
    `${(r.ort1 / r.ei).toFixed(2).padStart(5)}  ${r.ortDefault.toFixed(3).padStart(25)}  ${(r.ortDefault / r.ei).toFixed(2).padStart(5)}`);
}
