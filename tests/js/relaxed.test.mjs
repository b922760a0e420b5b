// The relaxed-SIMD build, dist/edgeinfer-relaxed.wasm: web/relaxed-opcodes.mjs rewrites exactly
// the pre-standard fma instructions of a module and refuses what it does not understand; the
// loader picks the relaxed build where the engine validates relaxed SIMD (Node 20 with
// --experimental-wasm-relaxed-simd) and the plain one elsewhere, env.wasm.simd = 'plain' overrides
// that, 'relaxed' insists on the relaxed file where the engine runs it;
// the relaxed build passes the wasm/native conformance parity and the model tests; and it stays
// within the download budget.

import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { rewriteRelaxedMadd } from '../../web/relaxed-opcodes.mjs';
import { DIST, ROOT, requireDist, requireFile } from './helpers.mjs';

const RELAXED_FLAG = '--experimental-wasm-relaxed-simd';
const DIGITS = join(ROOT, 'models', 'digits', 'model.onnx');

// ---- the opcode rewrite, on hand-assembled modules ----

// A module of functions () -> (), one per body (locals and instructions, ending in 0x0b).
function moduleOf(...bodies) {
  const code = [bodies.length];
  for (const b of bodies) code.push(b.length, ...b);
  return Uint8Array.of(0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    0x01, 0x04, 0x01, 0x60, 0x00, 0x00,
    0x03, bodies.length + 1, bodies.length, ...bodies.map(() => 0),
    0x0a, code.length, ...code);
}
const FMA = [0xfd, 0xaf, 0x01];
const V128_ZERO = [0xfd, 0x0c, ...new Array(16).fill(0)];

test('relaxed-opcodes rewrites the pre-standard fma and nothing that only looks like it', () => {
  const body = [0x00,
    0x41, ...FMA, 0x1a, // i32.const 22525 (its LEB128 is fd af 01), drop
    0xfd, 0x0c, ...FMA, ...new Array(13).fill(0), 0x1a, // v128.const with the same bytes, drop
    ...V128_ZERO, ...V128_ZERO, ...V128_ZERO, ...FMA, 0x1a, // f32x4.fma, drop
    0x0b];
  const input = moduleOf(body, [0x00, 0x0b]);
  // fma's sub-opcode: 2 bytes before drop and end of the first body, then the second body (3 bytes).
  const subAt = input.length - 7;
  const { bytes, rewritten, standard } = rewriteRelaxedMadd(input);
  assert.equal(rewritten, 1);
  assert.equal(standard, 0);
  const changed = [...bytes.keys()].filter((i) => bytes[i] !== input[i]);
  assert.deepEqual(changed, [subAt, subAt + 1]);
  assert.deepEqual([...bytes.subarray(subAt - 1, subAt + 2)], [0xfd, 0x85, 0x02]);
  assert.deepEqual(rewriteRelaxedMadd(bytes), { bytes, rewritten: 0, standard: 1 });
});

test('relaxed-opcodes refuses what it does not understand', () => {
  const refuse = (bytes, re) => assert.throws(() => rewriteRelaxedMadd(bytes), re);
  refuse(moduleOf([0x00, 0x06, 0x40, 0x0b, 0x0b]), /function 0 of the code section: unknown opcode 0x6/);
  refuse(moduleOf([0x00, ...V128_ZERO, ...V128_ZERO, ...V128_ZERO, 0xfd, 0xb0, 0x01, 0x1a, 0x0b]),
    /pre-standard SIMD opcode 0xfd 0xb0/);
  refuse(moduleOf([0x00, 0xfc, 0x12, 0x0b]), /unknown opcode 0xfc 18/);
  refuse(moduleOf([0x00, 0x01, 0x0b, 0x01]), /function body ends at/);
  refuse(moduleOf([0x00, 0x41]), /unexpected end of data/);
  refuse(moduleOf([0x00, 0x02, 0x40, 0x0b]), /unexpected end of data/); // a block left open
  refuse(Uint8Array.of(0x00, 0x61, 0x73, 0x6d, 0x02, 0x00, 0x00, 0x00), /not a version 1 wasm module/);
  const noCode = Uint8Array.of(0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00);
  refuse(noCode, /expected one code section, found 0/);
});

test('the builds decode completely: the plain one has no relaxed op, the relaxed one only standard madds', () => {
  requireDist();
  requireFile(join(DIST, 'edgeinfer-relaxed.wasm'), 'build it with `make wasm`');
  const plain = rewriteRelaxedMadd(readFileSync(join(DIST, 'edgeinfer.wasm')));
  assert.deepEqual([plain.rewritten, plain.standard], [0, 0]);
  const relaxed = rewriteRelaxedMadd(readFileSync(join(DIST, 'edgeinfer-relaxed.wasm')));
  assert.equal(relaxed.rewritten, 0);
  assert.ok(relaxed.standard > 20, `${relaxed.standard} relaxed_madd in edgeinfer-relaxed.wasm`);
});

test('the relaxed build plus its loader stays under 400 KB raw', (t) => {
  const wasm = readFileSync(join(DIST, 'edgeinfer-relaxed.wasm')).length;
  const js = readFileSync(join(DIST, 'edgeinfer.js')).length;
  t.diagnostic(`edgeinfer-relaxed.wasm ${wasm} + edgeinfer.js ${js} = ${wasm + js} bytes`);
  assert.ok(wasm + js < 400000, `the download is ${wasm + js} bytes, over the 400,000-byte budget`);
});

// ---- which build the loader picks: in fresh processes, with and without the engine flag ----

function runDigits({ relaxed, simd, dir = DIST }) {
  const script = `
    import { readFileSync } from 'node:fs';
    const ei = await import(${JSON.stringify(pathToFileURL(join(dir, 'edgeinfer.mjs')).href)});
    ${simd !== undefined ? `ei.env.wasm = { simd: ${JSON.stringify(simd)} };` : ''}
    try {
      const s = await ei.InferenceSession.create(readFileSync(${JSON.stringify(DIGITS)}));
      const x = new Float32Array(64).map((_, i) => (i % 7) / 7);
      const out = await s.run({ image: new ei.Tensor('float32', x, [1, 1, 8, 8]) });
      console.log(JSON.stringify({ build: ei.env.wasmBuild, probs: Array.from(out.probs.data) }));
    } catch (e) {
      console.log(JSON.stringify({ code: e.code, message: e.message }));
    }`;
  const args = [...(relaxed ? [RELAXED_FLAG] : []), '--input-type=module', '-e', script];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

test('the loader picks edgeinfer-relaxed.wasm where relaxed SIMD validates, edgeinfer.wasm elsewhere', () => {
  requireDist();
  const plain = runDigits({ relaxed: false });
  const relaxed = runDigits({ relaxed: true });
  assert.equal(plain.build, 'plain', plain.message);
  assert.equal(relaxed.build, 'relaxed', relaxed.message);
  assert.equal(relaxed.probs.length, 10);
  relaxed.probs.forEach((p, i) => assert.ok(Math.abs(p - plain.probs[i]) <= 1e-5, `probs[${i}] ${p} vs ${plain.probs[i]}`));
});

test("env.wasm.simd: 'plain' everywhere, 'relaxed' wherever the engine runs it", () => {
  requireDist();
  assert.equal(runDigits({ relaxed: true, simd: 'plain' }).build, 'plain');
  assert.equal(runDigits({ relaxed: true, simd: 'fixed' }).build, 'plain');
  assert.equal(runDigits({ relaxed: true, simd: 'relaxed' }).build, 'relaxed');
  assert.equal(runDigits({ relaxed: false, simd: 'relaxed' }).build, 'plain');
  const bad = runDigits({ relaxed: true, simd: 'fast' });
  assert.equal(bad.code, 'INVALID_ARGUMENT');
  assert.match(bad.message, /env\.wasm\.simd: expected .*relaxed.*, got "fast"/);
});

test('where only edgeinfer.wasm is deployed, an engine with relaxed SIMD falls back to it', () => {
  requireDist();
  const dir = mkdtempSync(join(tmpdir(), 'edgeinfer-plain-only-'));
  try {
    for (const f of ['edgeinfer.mjs', 'edgeinfer.wasm']) copyFileSync(join(DIST, f), join(dir, f));
    assert.equal(runDigits({ relaxed: true, dir }).build, 'plain');
    const forced = runDigits({ relaxed: true, simd: 'relaxed', dir }); // asked for, so no fallback
    assert.equal(forced.code, 'LOAD_FAILED');
    assert.match(forced.message, /edgeinfer-relaxed\.wasm/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---- the parity and model tests again, on the relaxed build ----

// Runs a test file of tests/js in one process with relaxed SIMD on; tests/js/relaxed-check.mjs
// fails that process unless its sessions ran on the relaxed build.
// Without the parent's NODE_TEST_CONTEXT the child reports in plain TAP, not to this runner.
const childEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_TEST_CONTEXT'));

function runOnRelaxed(file) {
  const r = spawnSync(process.execPath,
    [RELAXED_FLAG, '--import', pathToFileURL(join(ROOT, 'tests', 'js', 'relaxed-check.mjs')).href,
      join(ROOT, 'tests', 'js', file)],
    { cwd: ROOT, encoding: 'utf8', timeout: 1_500_000, maxBuffer: 256 << 20, env: childEnv });
  const failed = r.stdout.split('\n').filter((l) => /^\s*not ok /.test(l));
  assert.equal(r.status, 0, `${file} on the relaxed build: exit ${r.status ?? r.signal}\n${failed.join('\n')}\n` +
    `${r.stderr.slice(-4000)}`);
  assert.ok(/^# pass [1-9]/m.test(r.stdout), `${file} ran no test:\n${r.stdout.slice(-2000)}`);
}

test('relaxed build: wasm/native conformance parity (tests/js/conformance.test.mjs)', { timeout: 1_600_000 }, () => {
  requireDist();
  runOnRelaxed('conformance.test.mjs');
});

test('relaxed build: the exported models match onnxruntime (tests/js/wasm-models.test.mjs)', { timeout: 1_600_000 }, () => {
  requireDist();
  runOnRelaxed('wasm-models.test.mjs');
});
