// wasm/native parity on the ONNX backend node suite: every case of build/onnx-node/node runs
// through dist/edgeinfer.mjs (the wasm build, through the public JS API) with the rules of the
// native runner tests/ops/conformance.c, and the cases that pass must be exactly the cases the
// native build passes.
//
// Rules (as in conformance.c): every model input and output is a tensor; input_K.pb and
// output_K.pb are matched to the model's inputs and outputs by the name stored in the .pb, by
// position when it has none; a float32 .pb for a float16 input is narrowed (round to nearest
// even), a float16 output is widened to compare with the decoded float32 .pb; dtypes and
// shapes must be identical; floats must satisfy |got - expected| <= 1e-7 + 1e-3 * |expected|
// (NaN matches NaN, an infinity the same infinity), integers and bools must be equal. A case
// passes when every test_data_set_* does, all run on one session.
//
// The native list is that of a fresh run of build/conformance (built by `make test-js`), so the
// comparison holds whatever tests/ops/passing.txt has caught up with; every case that list
// names must pass here too. Without build/conformance the list is tests/ops/passing.txt itself.

import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InferenceSession, decodeTensorProto } from '../../dist/edgeinfer.mjs';
import { NODE_SUITE, ROOT, requireDist, requireFile } from './helpers.mjs';

const ATOL = 1e-7;
const RTOL = 1e-3;
const NATIVE_RUNNER = join(ROOT, 'build', 'conformance');
const PASSING_LIST = join(ROOT, 'tests', 'ops', 'passing.txt');

const isDir = (p) => existsSync(p) && statSync(p).isDirectory();
const subdirs = (dir, prefix) => readdirSync(dir).filter((n) => n.startsWith(prefix) && isDir(join(dir, n))).sort();

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

function halfToFloat(h) {
  const sign = h >> 15 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? Number.NaN : sign * Infinity;
  return sign * (frac | 0x400) * 2 ** (exp - 25);
}

// float32 -> float16 bits, rounding to nearest even (float_to_half in conformance.c).
function floatToHalf(x) {
  f32[0] = x;
  const bits = u32[0];
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (h & 1))) h++;
    return sign | h;
  }
  let h = sign | (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++;
  return h;
}

const FLOAT_TYPES = new Set(['float32', 'float64']);
const INT_TYPES = new Set(['int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64']);

// null when got matches want, else the reason.
function compare(name, got, want) {
  if (got.dims.length !== want.dims.length || got.dims.some((d, i) => d !== want.dims[i])) {
    return `output '${name}': shape [${got.dims}], expected [${want.dims}]`;
  }
  let type = got.type;
  let data = got.data;
  if (type === 'float16' && want.type === 'float32') {
    data = Float32Array.from(got.data, halfToFloat);
    type = 'float32';
  }
  // The suite stores bfloat16 data as uint16: compare the bits.
  if (type === 'bfloat16' && want.type === 'uint16') type = 'uint16';
  if (type !== want.type) return `output '${name}': dtype ${type}, expected ${want.type}`;
  const n = want.data.length;
  let bad = 0;
  let first = -1;
  for (let i = 0; i < n; i++) {
    let ok;
    if (FLOAT_TYPES.has(type)) {
      const a = data[i];
      const b = want.data[i];
      if (Number.isNaN(b)) ok = Number.isNaN(a);
      else if (!Number.isFinite(b)) ok = a === b;
      else ok = !Number.isNaN(a) && Math.abs(a - b) <= ATOL + RTOL * Math.abs(b);
    } else if (INT_TYPES.has(type)) {
      ok = data[i] === want.data[i];
    } else if (type === 'bool') {
      ok = (data[i] !== 0) === (want.data[i] !== 0);
    } else {
      return `output '${name}': cannot compare dtype ${type}`;
    }
    if (!ok) {
      bad++;
      if (first < 0) first = i;
    }
  }
  if (bad) return `output '${name}': ${bad} of ${n} values differ; first at flat index ${first}: got ${data[first]}, expected ${want.data[first]}`;
  return null;
}

async function decodePb(dir, kind, k) {
  const file = join(dir, `${kind}_${k}.pb`);
  if (!existsSync(file)) return null;
  try {
    return await decodeTensorProto(readFileSync(file));
  } catch (err) {
    throw new Error(`${kind}_${k}.pb cannot be decoded: ${err.message}`);
  }
}

// Model index of a .pb tensor: by its name, else by its position.
function matchIo(names, name, k) {
  const i = name ? names.indexOf(name) : -1;
  if (i >= 0) return i;
  return k < names.length ? k : -1;
}

async function runDataSet(s, dir) {
  const feeds = {};
  for (let k = 0; ; k++) {
    const pb = await decodePb(dir, 'input', k);
    if (!pb) break;
    const idx = matchIo(s.inputNames, pb.name, k);
    if (idx < 0) throw new Error(`input_${k}.pb ('${pb.name}') matches no model input`);
    let t = pb.tensor;
    if (s.inputMetadata[idx].type === 'float16' && t.type === 'float32') {
      t = { type: 'float16', dims: t.dims, data: Uint16Array.from(t.data, floatToHalf) };
    }
    if (s.inputMetadata[idx].type === 'bfloat16' && t.type === 'uint16') {
      t = { type: 'bfloat16', dims: t.dims, data: t.data };
    }
    feeds[s.inputNames[idx]] = t;
  }
  const outputs = await s.run(feeds);
  for (let k = 0; ; k++) {
    const pb = await decodePb(dir, 'output', k);
    if (!pb) break;
    const idx = matchIo(s.outputNames, pb.name, k);
    if (idx < 0) throw new Error(`output_${k}.pb ('${pb.name}') matches no model output`);
    const name = s.outputNames[idx];
    const reason = compare(name, outputs[name], pb.tensor);
    if (reason) throw new Error(reason);
  }
}

/** Runs one case of the suite through the wasm build: { pass, reason }. */
export async function runCase(suite, name) {
  const dir = join(suite, name);
  let s = null;
  try {
    s = await InferenceSession.create(readFileSync(join(dir, 'model.onnx')));
    for (const [kind, list] of [['input', s.inputMetadata], ['output', s.outputMetadata]]) {
      const other = list.find((m) => !m.isTensor);
      if (other) throw new Error(`${kind} '${other.name}' is not a tensor (sequence, optional and map types are not supported)`);
    }
    const sets = subdirs(dir, 'test_data_set_');
    if (!sets.length) throw new Error('no test_data_set_* folder');
    for (const set of sets) {
      try {
        await runDataSet(s, join(dir, set));
      } catch (err) {
        throw new Error(sets.length > 1 ? `${set}: ${err.message}` : err.message);
      }
    }
    return { pass: true, reason: '' };
  } catch (err) {
    return { pass: false, reason: err.message };
  } finally {
    if (s) await s.release();
  }
}

function readList(path) {
  return readFileSync(path, 'utf8').split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean).sort();
}

// The native runner's passing cases and its failure reasons, from a fresh run.
function nativeRun(suite) {
  const dir = mkdtempSync(join(tmpdir(), 'edgeinfer-native-'));
  try {
    const out = join(dir, 'passing.txt');
    const r = spawnSync(NATIVE_RUNNER, ['--fork', '-v', '--suite', suite, '--write-passing', out],
      { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 600_000 });
    if (r.error) throw r.error;
    assert.equal(r.status, 0, `${NATIVE_RUNNER} exited with ${r.status ?? r.signal}:\n${r.stderr}`);
    const reasons = new Map();
    for (const line of r.stdout.split('\n')) {
      const m = /^FAIL (\S+): (.*)$/.exec(line);
      if (m) reasons.set(m[1], m[2]);
    }
    return { passing: readList(out), reasons };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the wasm build passes exactly the ONNX node test cases the native build passes', { timeout: 1_200_000 }, async (t) => {
  requireDist();
  requireFile(NODE_SUITE, 'generate the ONNX node suite first (make build/onnx-node/.stamp)');
  const cases = subdirs(NODE_SUITE, 'test_');
  assert.ok(cases.length > 0, `${NODE_SUITE} holds no test_* cases`);

  const wasm = new Map();
  for (const name of cases) wasm.set(name, await runCase(NODE_SUITE, name));
  const wasmPassing = cases.filter((n) => wasm.get(n).pass);

  let native;
  let source;
  if (existsSync(NATIVE_RUNNER)) {
    native = nativeRun(NODE_SUITE);
    source = `a fresh run of ${NATIVE_RUNNER}`;
  } else {
    requireFile(PASSING_LIST, `neither ${NATIVE_RUNNER} (make build/conformance) nor the list exists`);
    native = { passing: readList(PASSING_LIST), reasons: new Map() };
    source = PASSING_LIST;
  }
  t.diagnostic(`wasm: ${wasmPassing.length} of ${cases.length} cases pass; native (${source}): ${native.passing.length}`);

  const nativeSet = new Set(native.passing);
  const onlyNative = native.passing.filter((n) => !wasm.get(n)?.pass);
  const onlyWasm = wasmPassing.filter((n) => !nativeSet.has(n));
  const lines = [
    ...onlyNative.map((n) => `  passes natively, fails in wasm: ${n}: ${wasm.get(n)?.reason ?? 'not in the suite'}`),
    ...onlyWasm.map((n) => `  passes in wasm, fails natively: ${n}: ${native.reasons.get(n) ?? ''}`),
  ];
  assert.ok(lines.length === 0, `wasm and native differ on ${lines.length} cases:\n${lines.join('\n')}`);

  // The checked-in regression list holds in wasm too.
  if (existsSync(PASSING_LIST) && source !== PASSING_LIST) {
    const listed = readList(PASSING_LIST);
    const regressions = listed.filter((n) => !wasm.get(n)?.pass);
    assert.deepEqual(regressions, [], `cases of ${PASSING_LIST} that fail in wasm`);
    t.diagnostic(`${PASSING_LIST}: all ${listed.length} listed cases pass in wasm`);
  }
});
