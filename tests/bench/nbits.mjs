// The 4-bit benchmark: MatMulNBits (4-bit, block 32, packed zero points, as `edgeinfer quantize
// --weights int4` writes it; also block 128, onnxruntime's quantizer's default) against the float32
// MatMul of the same [K, N] weights, at M = 1 (token generation) and M = 64, for K = N = 1024 and
// 4096; then a transformer encoder layer (tests/js/encoder-model.mjs: hidden 512, feed-forward
// 2048, 1 and 16 tokens) quantized by `edgeinfer quantize --weights int4` against its float32 version. CPU time per run (process.cpuUsage) of edgeinfer's plain SIMD wasm build on one
// thread, the models of a comparison run in turn (interleaved) and the median of each taken.
//
//   node tests/bench/nbits.mjs [--runs N] [--sizes 1024,4096]   (make bench-nbits)

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../js/helpers.mjs';
import { encoderModel } from '../js/encoder-model.mjs';
import { makeModel } from '../js/onnx-model.mjs';

const args = process.argv.slice(2);
const opt = (name, def) => (args.includes(name) ? args[args.indexOf(name) + 1] : def);
const RUNS = Number(opt('--runs', 31));
const SIZES = opt('--sizes', '1024,4096').split(',').map(Number);
const TMP = mkdtempSync(join(tmpdir(), 'edgeinfer-bench-nbits-'));
const CLI = join(ROOT, 'build', 'edgeinfer');

let seed = 1;
const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5);
const floats = (n) => Float32Array.from({ length: n }, rand);

// One MatMul [M, K] x [K, N] with constant weights, float32.
function matmul(M, K, N) {
  return makeModel({
    inputs: [{ name: 'a', type: 'float32', dims: [M, K] }],
    outputs: [{ name: 'y', type: 'float32', dims: [M, N] }],
    initializers: [{ name: 'w', type: 'float32', dims: [K, N], data: floats(K * N) }],
    nodes: [{ op: 'MatMul', inputs: ['a', 'w'], outputs: ['y'] }],
  });
}

// The float32 model and its int4 copies written by `edgeinfer quantize`, blocks of 32 and 128.
function models(name, bytes) {
  const f32 = join(TMP, `${name}.onnx`), out = [bytes];
  writeFileSync(f32, bytes);
  for (const block of ['32', '128']) {
    const q4 = join(TMP, `${name}.int4-${block}.onnx`);
    const r = spawnSync(CLI, ['quantize', f32, '-o', q4, '--weights', 'int4', '--block-size', block], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
    out.push(readFileSync(q4));
  }
  return out;
}

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const median = (t) => t.sort((a, b) => a - b)[Math.floor(t.length / 2)];

const ei = await import(join(ROOT, 'dist', 'edgeinfer.mjs'));

async function session(bytes) {
  const s = await ei.InferenceSession.create(bytes, { numThreads: 1 });
  const [name] = s.inputNames, meta = s.inputMetadata?.[0];
  const dims = meta?.shape ?? meta?.dims;
  const feeds = { [name]: new ei.Tensor('float32', floats(dims.reduce((x, y) => x * y, 1)), dims) };
  return { s, run: () => s.run(feeds) };
}

// Median CPU ms per run of each model, run in turn; ratios are float32 time / int4 time.
async function compare(label, list) {
  const ss = await Promise.all(list.map(session));
  for (let i = 0; i < 3; i++) for (const x of ss) await x.run();
  const t = ss.map(() => []);
  for (let i = 0; i < RUNS; i++)
    for (const [k, x] of ss.entries()) {
      const c0 = cpuMs();
      await x.run();
      t[k].push(cpuMs() - c0);
    }
  const [f, ...q] = t.map(median);
  console.log(`${label}: float32 ${f.toFixed(3)} ms (${(list[0].length / 1e6).toFixed(2)} MB); ` + q.map((v, i) =>
    `int4 block ${i ? 128 : 32} ${v.toFixed(3)} ms (${(list[i + 1].length / 1e6).toFixed(2)} MB), ${(f / v).toFixed(2)}x`).join('; '));
  for (const x of ss) await x.s.release();
}

for (const K of SIZES)
  for (const M of [1, 64]) await compare(`MatMul M=${M} K=N=${K}`, models(`mm${M}x${K}`, matmul(M, K, K)));
for (const seq of [1, 16]) {
  const enc = encoderModel({ dim: 512, heads: 8, ffn: 2048, layers: 1, seq });
  await compare(`encoder dim=512 ffn=2048 seq=${seq}`, models(`encoder${seq}`, enc));
}
rmSync(TMP, { recursive: true, force: true });
