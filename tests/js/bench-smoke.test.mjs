// `make bench`'s harness (tests/bench/bench.mjs) runs end to end on the smallest model: all four
// engines load (TF.js on its SIMD build), every engine is timed, the edgeinfer builds agree with
// onnxruntime-web, and the MAC counts of the ONNX file and of the TF.js model are the
// architecture's. No timing is asserted.

import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, requireDist } from './helpers.mjs';

// models/digits: conv 1->16 3x3 and 16->32 3x3 on 8x8 (padded), max pool to 4x4, 512->64, 64->10.
const DIGITS_MACS = 8 * 8 * 16 * 9 + 8 * 8 * 32 * 16 * 9 + 512 * 64 + 64 * 10;

test('the bench harness runs the digits CNN on all four engines, with matching MAC counts', { timeout: 180_000 }, () => {
  requireDist();
  const dir = mkdtempSync(join(tmpdir(), 'edgeinfer-bench-'));
  try {
    const json = join(dir, 'bench.json');
    const r = spawnSync(process.execPath, ['--experimental-wasm-relaxed-simd', join(ROOT, 'tests', 'bench', 'bench.mjs'),
      '--models', 'digits', '--runs', '5', '--cold-models', 'digits', '--cold-reps', '1', '--thread-models', 'digits',
      '--json', json],
    { cwd: ROOT, encoding: 'utf8', timeout: 170_000 });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    const report = JSON.parse(readFileSync(json, 'utf8'));
    const d = report.models.digits;
    assert.equal(d.onnxMacs, DIGITS_MACS);
    assert.equal(d.tfjsMacs, DIGITS_MACS);
    assert.deepEqual(Object.keys(d.engines).sort(), ['ei-plain', 'ei-relaxed', 'ort-web', 'tfjs-wasm']);
    for (const [e, t] of Object.entries(d.engines)) assert.ok(t.medianMs > 0 && t.p90Ms >= t.medianMs, `${e}: ${JSON.stringify(t)}`);
    assert.equal(d.info['ei-plain'], 'build plain');
    assert.equal(d.info['ei-relaxed'], 'build relaxed');
    assert.match(d.info['tfjs-wasm'], /^tfjs-backend-wasm-simd\.wasm, threads 1$/);
    assert.ok(d.diff['ei-plain vs ort-web'] < 1e-4 && d.diff['ei-relaxed vs ort-web'] < 1e-4, JSON.stringify(d.diff));
    assert.ok(report.peakGflops.plain > 0 && report.peakGflops.relaxed > 0);
    for (const e of ['ei-plain', 'ei-relaxed', 'ort-web', 'tfjs-wasm']) {
      assert.ok(report.cold.digits[e].totalMs > 0 && report.cold.digits[e].peakRssMB > 0, e);
    }
    assert.match(r.stdout, /\| digits CNN 1x1x8x8 \| 0\.34M \/ same \|/);
    // the two-thread table: edgeinfer on one and two threads, onnxruntime-web on two
    const th = report.threads.digits;
    assert.deepEqual(Object.keys(th.engines).sort(), ['ei-plain', 'ei-threads', 'ort-web-2']);
    assert.equal(th.info['ei-threads'], 'numThreads 2');
    assert.equal(th.diff['ei-threads vs ei-plain'], 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
