// The int8 benchmark: mobilenet_v2 and resnet18 of build/bench-models quantized to QDQ int8 by
// `edgeinfer quantize --weights int8 --calibrate` (over the bench input and three noisy copies of it), then
//  - accuracy: top-1 of the int8 model against the float32 one (onnxruntime-node), and the largest
//    difference between edgeinfer's and onnxruntime-node's outputs on the int8 model;
//  - speed: CPU time per inference (process.cpuUsage, the median of N runs after warm-up: the
//    machines this runs on are shared, and CPU time is less noisy there than wall time) of
//    edgeinfer's plain SIMD wasm build on one thread and of onnxruntime-web (wasm, 1 thread) on the float32 and
//    the int8 model, as ratios.
//
//   node tests/bench/int8.mjs [--runs N] [--models a,b]   (make bench-int8)

import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ortNode from 'onnxruntime-node';
import { ROOT } from '../js/helpers.mjs';
import { readNpy, writeNpy } from '../js/npy.mjs';

const args = process.argv.slice(2);
const opt = (name, def) => (args.includes(name) ? args[args.indexOf(name) + 1] : def);
const RUNS = Number(opt('--runs', 15));
const NAMES = opt('--models', 'mobilenet_v2,resnet18').split(',');
const DIR = join(ROOT, 'build', 'bench-models');

function sh(cmd, argv) {
  const r = spawnSync(cmd, argv, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')}: ${r.stderr}`);
}

// The model quantized by `edgeinfer quantize`, calibrated on the input and three noisy copies of it.
function quantize(name, x) {
  const dir = join(DIR, `${name}.calib`);
  mkdirSync(dir, { recursive: true });
  let seed = 1;
  for (let t = 0; t < 4; t++) {
    const data = Float32Array.from(x.data, (v) => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return t ? v + (seed / 2 ** 32 - 0.5) * 0.5 : v;
    });
    writeFileSync(join(dir, `${t}.npy`), writeNpy('<f4', x.shape, data));
  }
  const out = join(DIR, `${name}.qdq.onnx`);
  sh(join(ROOT, 'build', 'edgeinfer'), ['quantize', join(DIR, `${name}.onnx`), '-o', out, '--weights', 'int8', '--calibrate', dir]);
  return out;
}

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
async function cpuTime(run) {
  for (let i = 0; i < 3; i++) await run();
  const t = [];
  for (let i = 0; i < RUNS; i++) {
    const c0 = cpuMs();
    await run();
    t.push(cpuMs() - c0);
  }
  return t.sort((a, b) => a - b)[Math.floor(t.length / 2)];
}
const argmax = (a) => a.reduce((best, v, i) => (v > a[best] ? i : best), 0);

const ei = await import(join(ROOT, 'dist', 'edgeinfer.mjs'));
const ortWeb = await import('onnxruntime-web');
ortWeb.env.wasm.numThreads = 1;

for (const name of NAMES) {
  const x = readNpy(readFileSync(join(DIR, `${name}.input.npy`)));
  const qdq = quantize(name, x);
  const files = { f32: join(DIR, `${name}.onnx`), int8: qdq };
  const out = {}, ms = {};
  for (const [kind, file] of Object.entries(files)) {
    const bytes = readFileSync(file);
    const ref = await ortNode.InferenceSession.create(file);
    out[`ort-${kind}`] = Object.values(await ref.run({ [ref.inputNames[0]]: new ortNode.Tensor('float32', Float32Array.from(x.data), x.shape) }))[0].data;
    const s = await ei.InferenceSession.create(bytes, { numThreads: 1 });
    const feeds = { [s.inputNames[0]]: new ei.Tensor('float32', Float32Array.from(x.data), x.shape) };
    out[`ei-${kind}`] = Object.values(await s.run(feeds))[0].data;
    ms[`edgeinfer ${kind}`] = await cpuTime(() => s.run(feeds));
    await s.release();
    const w = await ortWeb.InferenceSession.create(new Uint8Array(bytes), { executionProviders: ['wasm'] });
    const wf = { [w.inputNames[0]]: new ortWeb.Tensor('float32', Float32Array.from(x.data), x.shape) };
    ms[`onnxruntime-web ${kind}`] = await cpuTime(() => w.run(wf));
  }
  let diff = 0;
  for (let i = 0; i < out['ort-int8'].length; i++) diff = Math.max(diff, Math.abs(out['ei-int8'][i] - out['ort-int8'][i]));
  console.log(`${name}: top-1 float32 ${argmax(out['ort-f32'])}, int8 onnxruntime ${argmax(out['ort-int8'])}, ` +
    `int8 edgeinfer ${argmax(out['ei-int8'])}; max |edgeinfer - onnxruntime| on int8 ${diff.toExponential(2)}`);
  console.log('  CPU ms per run: ' + Object.entries(ms).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', '));
  console.log(`  edgeinfer float32 / int8: ${(ms['edgeinfer f32'] / ms['edgeinfer int8']).toFixed(2)}x; ` +
    `onnxruntime-web int8 / edgeinfer int8: ${(ms['onnxruntime-web int8'] / ms['edgeinfer int8']).toFixed(2)}x`);
}
