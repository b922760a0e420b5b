// The dynamic-int8 benchmark: a BERT-mini-sized float32 encoder (tests/js/encoder-model.mjs: 4
// layers, hidden 256, 4 heads, FFN 1024, 128 tokens) and its copy by `edgeinfer quantize --dynamic`,
// both run by edgeinfer's plain SIMD wasm build on one thread: CPU time per run (process.cpuUsage,
// median), the two models interleaved run by run so that load on a shared machine hits both alike.
//
//   node tests/bench/dynq.mjs [--runs N]

import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../js/helpers.mjs';
import { encoderModel } from '../js/encoder-model.mjs';

const args = process.argv.slice(2);
const RUNS = Number(args.includes('--runs') ? args[args.indexOf('--runs') + 1] : 20);
const DIR = join(ROOT, 'build', 'bench-models');
mkdirSync(DIR, { recursive: true });
const SHAPE = { dim: 256, heads: 4, ffn: 1024, layers: 4, seq: 128 };
const f32 = join(DIR, 'encoder.onnx'), q8 = join(DIR, 'encoder.dynq.onnx');
writeFileSync(f32, encoderModel(SHAPE));
const r = spawnSync(join(ROOT, 'build', 'edgeinfer'), ['quantize', f32, '-o', q8, '--dynamic'], { encoding: 'utf8' });
if (r.status !== 0) throw new Error(r.stderr);

const ei = await import(join(ROOT, 'dist', 'edgeinfer.mjs'));
const x = new ei.Tensor('float32', Float32Array.from({ length: SHAPE.seq * SHAPE.dim }, (_, i) => Math.sin(i * 0.37)), [1, SHAPE.seq, SHAPE.dim]);
const sessions = { float32: await ei.InferenceSession.create(readFileSync(f32), { numThreads: 1 }), 'dynamic int8': await ei.InferenceSession.create(readFileSync(q8), { numThreads: 1 }) };
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const times = Object.fromEntries(Object.keys(sessions).map((k) => [k, []]));
for (let i = -3; i < RUNS; i++) {
  for (const [k, s] of Object.entries(sessions)) {
    const c0 = cpuMs();
    await s.run({ x });
    if (i >= 0) times[k].push(cpuMs() - c0);
  }
}
const median = (t) => t.sort((a, b) => a - b)[t.length >> 1];
const ms = Object.fromEntries(Object.entries(times).map(([k, t]) => [k, median(t)]));
console.log(`encoder ${JSON.stringify(SHAPE)}, edgeinfer plain SIMD wasm, 1 thread, CPU ms per run (median of ${RUNS}):`);
for (const [k, v] of Object.entries(ms)) console.log(`  ${k.padEnd(14)} ${v.toFixed(1)} ms`);
console.log(`  int8 speed-up  ${(ms.float32 / ms['dynamic int8']).toFixed(2)}x`);
for (const s of Object.values(sessions)) await s.release();
