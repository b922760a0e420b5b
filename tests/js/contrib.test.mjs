// The com.microsoft operators (src/ops/contrib.c, src/ops/attention.c) against onnxruntime-node,
// which implements every one of them: a small generated model per case, run by onnxruntime, the
// native CLI and the wasm build, every output compared. Malformed cases must fail with a message
// naming the node, natively and in wasm, and `edgeinfer info --compiled` must list the contrib
// nodes as written (the compile passes leave other domains alone).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import ort from 'onnxruntime-node';
import { DIST, ROOT, requireDist, requireFile } from './helpers.mjs';
import { readNpy, writeNpy } from './npy.mjs';
import { makeModel } from './onnx-model.mjs';

// EDGEINFER_CLI runs another build of the CLI (the sanitizer one: build/edgeinfer-asan).
const CLI = process.env.EDGEINFER_CLI ? resolve(process.env.EDGEINFER_CLI) : join(ROOT, 'build', 'edgeinfer');
const TMP = mkdtempSync(join(tmpdir(), 'edgeinfer-contrib-'));
after(() => rmSync(TMP, { recursive: true, force: true }));
const MS = 'com.microsoft';

// Deterministic values in [-1, 1).
function values(n, seed) {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

const prod = (dims) => dims.reduce((a, b) => a * b, 1);
let seed = 1;
// Inputs: graph inputs unless init (then initializers); null in a node's list is an absent input.
const f32 = (name, dims, opts = {}) => ({ name, type: 'float32', dims, data: values(prod(dims), seed++).map(opts.map ?? ((v) => v)), init: opts.init });
const i32 = (name, dims, data, init) => ({ name, type: 'int32', dims, data: Int32Array.from(data), init });
const i64 = (name, dims, data, init) => ({ name, type: 'int64', dims, data: BigInt64Array.from(data.map(BigInt)), init });
const NPY = { float32: '<f4', int32: '<i4', int64: '<i8' };

// One node of `op` reading `inputs` and writing `outputs` (names, '' for an absent one; a name
// ending in ':i32' is an int32 output).
function spec({ op, domain = MS, attrs = {}, inputs, outputs = ['y'], opset = 13 }) {
  const present = inputs.filter(Boolean);
  const outs = outputs.map((o) => o.replace(/:i32$/, ''));
  return {
    bytes: makeModel({
      opset,
      domains: { [MS]: 1 },
      inputs: present.filter((t) => !t.init).map(({ name, type, dims }) => ({ name, type, dims })),
      outputs: outputs.filter(Boolean).map((o) => ({ name: o.replace(/:i32$/, ''), type: o.endsWith(':i32') ? 'int32' : 'float32' })),
      initializers: present.filter((t) => t.init),
      nodes: [{ op, domain, name: 'n0', attrs, inputs: inputs.map((t) => (t ? t.name : '')), outputs: outs }],
    }),
    feeds: present.filter((t) => !t.init),
    names: outs.filter(Boolean),
  };
}

function write(name, s) {
  requireFile(CLI, 'build it with `make`');
  requireDist();
  const path = join(TMP, `${name}.onnx`);
  writeFileSync(path, s.bytes);
  for (const t of s.feeds) writeFileSync(join(TMP, `${name}.${t.name}.npy`), writeNpy(NPY[t.type], t.dims, t.data));
  return path;
}

function runNative(name, path, s) {
  const args = ['run', path, ...s.feeds.flatMap((t) => ['-i', `${t.name}=${join(TMP, `${name}.${t.name}.npy`)}`]), '-o', `${path}.out`];
  return spawnSync(CLI, args, { encoding: 'utf8' });
}

let edgeinfer;
async function runWasm(s) {
  edgeinfer ??= await import(join(DIST, 'edgeinfer.mjs'));
  const sess = await edgeinfer.InferenceSession.create(s.bytes);
  try {
    return await sess.run(Object.fromEntries(s.feeds.map((t) => [t.name, new edgeinfer.Tensor(t.type, t.data, t.dims)])));
  } finally {
    await sess.release();
  }
}

function close(actual, expected, tol, what) {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const e = Number(expected[i]), a = Number(actual[i]);
    assert.ok(Math.abs(a - e) <= tol * Math.max(1, Math.abs(e)), `${what}[${i}]: ${a}, expected ${e}`);
  }
}

// Runs the case everywhere and compares every output with onnxruntime's.
async function check(name, opts, tol = 1e-4, expected = null) {
  const s = spec(opts);
  const path = write(name, s);
  const ref = expected ? null : await ort.InferenceSession.create(path);
  const want = expected ?? (await ref.run(Object.fromEntries(s.feeds.map((t) => [t.name, new ort.Tensor(t.type, t.data, t.dims)]))));
  const r = runNative(name, path, s);
  assert.equal(r.status, 0, r.stderr);
  const wasm = await runWasm(s);
  for (const o of s.names) {
    const native = readNpy(readFileSync(join(`${path}.out`, `${o}.npy`)));
    assert.deepEqual(native.shape, want[o].dims, `native ${o} shape`);
    close(native.data, want[o].data, tol, `native ${o}`);
    assert.deepEqual(wasm[o].dims, want[o].dims, `wasm ${o} shape`);
    close(wasm[o].data, want[o].data, tol, `wasm ${o}`);
  }
}

// A malformed case: both builds fail with a message naming the node and matching `re`.
async function fails(name, opts, re) {
  const s = spec(opts);
  const path = write(name, s);
  const r = runNative(name, path, s);
  assert.notEqual(r.status, 0, 'native run should fail');
  assert.match(r.stderr, /node 'n0'/);
  assert.match(r.stderr, re);
  await assert.rejects(runWasm(s), (e) => /node 'n0'/.test(e.message) && re.test(e.message));
}

const gamma = (h) => f32('gamma', [h], { init: true, map: (v) => 1 + v / 2 });

// ---- the GELU family and BiasAdd ----

test('Gelu', () => check('gelu', { op: 'Gelu', inputs: [f32('x', [2, 3, 8])] }));
test('FastGelu without and with bias', async () => {
  await check('fastgelu', { op: 'FastGelu', inputs: [f32('x', [4, 33], { map: (v) => 4 * v })] });
  await check('fastgelu_bias', { op: 'FastGelu', inputs: [f32('x', [2, 5, 16]), f32('b', [16], { init: true })] });
});
test('BiasGelu across blocks', () =>
  check('biasgelu', { op: 'BiasGelu', inputs: [f32('x', [2, 3, 300], { map: (v) => 3 * v }), f32('b', [300])] }));
test('QuickGelu with the default and a given alpha', async () => {
  await check('quickgelu', { op: 'QuickGelu', inputs: [f32('x', [3, 7], { map: (v) => 5 * v })] });
  await check('quickgelu_a', { op: 'QuickGelu', attrs: { alpha: 1.5 }, inputs: [f32('x', [2, 9])] });
});
// onnxruntime's CPU build has no BiasAdd (only its CUDA one): its definition, x + bias + skip, is the reference.
test('BiasAdd', async () => {
  const x = f32('x', [2, 3, 8]), b = f32('b', [8]), s = f32('s', [2, 3, 8]);
  const want = { y: { dims: [2, 3, 8], data: x.data.map((v, i) => v + b.data[i % 8] + s.data[i]) } };
  await check('biasadd', { op: 'BiasAdd', inputs: [x, b, s] }, 1e-6, want);
});
test('GELU family: a bias of the wrong length is refused', () =>
  fails('biasgelu_bad', { op: 'BiasGelu', inputs: [f32('x', [2, 3, 8]), f32('b', [7])] }, /bias has shape \[7\]/));

// ---- the layer-norm family ----

test('SkipLayerNormalization with beta, bias and the input_skip_bias_sum output', () =>
  check('skipln', {
    op: 'SkipLayerNormalization', attrs: { epsilon: 1e-5 },
    inputs: [f32('x', [2, 4, 16]), f32('skip', [2, 4, 16]), gamma(16), f32('beta', [16], { init: true }), f32('bias', [16])],
    outputs: ['y', '', '', 'sum'],
  }));
test('SkipLayerNormalization: gamma only, skip broadcast over the batch, 2-D input', async () => {
  await check('skipln_bcast', { op: 'SkipLayerNormalization', attrs: { epsilon: 1e-5 }, inputs: [f32('x', [3, 4, 16]), f32('skip', [4, 16]), gamma(16)] });
  await check('skipln_2d', { op: 'SkipLayerNormalization', attrs: { epsilon: 1e-5 }, inputs: [f32('x', [5, 32]), f32('skip', [5, 32]), gamma(32)] });
});
test('SkipSimplifiedLayerNormalization with and without bias', async () => {
  await check('skipsln', {
    op: 'SkipSimplifiedLayerNormalization', attrs: { epsilon: 1e-6 },
    inputs: [f32('x', [2, 3, 24]), f32('skip', [2, 3, 24]), gamma(24), f32('bias', [24])], outputs: ['y', '', '', 'sum'],
  });
  await check('skipsln_nobias', { op: 'SkipSimplifiedLayerNormalization', attrs: { epsilon: 1e-6 }, inputs: [f32('x', [4, 20]), f32('skip', [4, 20]), gamma(20)] });
});
test('SimplifiedLayerNormalization (default domain) over the last axis and from axis 1', async () => {
  await check('sln', { op: 'SimplifiedLayerNormalization', domain: '', attrs: { epsilon: 1e-5 }, inputs: [f32('x', [2, 3, 16]), gamma(16)], outputs: ['y', 'inv'] });
  await check('sln_axis1', { op: 'SimplifiedLayerNormalization', domain: '', attrs: { axis: 1 }, inputs: [f32('x', [2, 3, 4]), f32('s', [3, 4])] });
});
test('LayerNormalization before opset 17', () =>
  check('ln13', { op: 'LayerNormalization', domain: '', inputs: [f32('x', [2, 3, 10]), gamma(10), f32('b', [10])], outputs: ['y', 'mean', 'inv'] }));
test('layer-norm family: bad shapes are refused', async () => {
  await fails('skipln_gamma', { op: 'SkipLayerNormalization', inputs: [f32('x', [2, 4, 16]), f32('skip', [2, 4, 16]), gamma(15)] }, /gamma has shape \[15\]/);
  await fails('skipln_rank', { op: 'SkipLayerNormalization', inputs: [f32('x', [1, 2, 4, 16]), f32('skip', [1, 2, 4, 16]), gamma(16)] }, /expected 2 or 3 dims/);
  await fails('skipln_skip', { op: 'SkipLayerNormalization', inputs: [f32('x', [2, 4, 16]), f32('skip', [3, 16]), gamma(16)] }, /skip of shape \[3,16\]/);
});

test('EmbedLayerNormalization with segments, mask and every output', () =>
  check('embedln', {
    op: 'EmbedLayerNormalization', attrs: { epsilon: 1e-5 },
    inputs: [i32('ids', [2, 5], [1, 7, 3, 19, 0, 4, 4, 12, 8, 2]), i32('seg', [2, 5], [0, 0, 1, 1, 1, 0, 1, 0, 1, 0]),
      f32('word', [20, 16], { init: true }), f32('pos', [10, 16], { init: true }), f32('segemb', [2, 16], { init: true }),
      gamma(16), f32('beta', [16], { init: true }), i32('mask', [2, 5], [1, 1, 1, 0, 0, 1, 1, 1, 1, 1])],
    outputs: ['y', 'mask_index:i32', 'sum'],
  }));
test('EmbedLayerNormalization without segments, with position_ids', () =>
  check('embedln_pos', {
    op: 'EmbedLayerNormalization', attrs: { epsilon: 1e-5 },
    inputs: [i32('ids', [2, 3], [5, 6, 7, 1, 2, 3]), null, f32('word', [8, 12], { init: true }), f32('pos', [6, 12], { init: true }), null,
      gamma(12), f32('beta', [12], { init: true }), null, i32('pids', [1, 3], [4, 2, 0])],
    outputs: ['y', 'mask_index:i32'], // onnxruntime's shape inference needs output 1
  }));
test('EmbedLayerNormalization: an id outside the table is refused', () =>
  fails('embedln_id', {
    op: 'EmbedLayerNormalization',
    inputs: [i32('ids', [1, 2], [1, 9]), null, f32('word', [8, 12], { init: true }), f32('pos', [6, 12], { init: true }), null,
      gamma(12), f32('beta', [12], { init: true })],
  }, /input id 9 is outside the table of 8 rows/));

// ---- FusedMatMul, FusedConv, Trilu ----

test('FusedMatMul: transA with alpha, batched transB with broadcasting, plain 2-D', async () => {
  await check('fmm_ta', { op: 'FusedMatMul', attrs: { transA: 1, alpha: 0.5 }, inputs: [f32('a', [2, 4, 6]), f32('b', [4, 5])] });
  await check('fmm_tb', { op: 'FusedMatMul', attrs: { transB: 1 }, inputs: [f32('a', [2, 3, 4, 5]), f32('b', [3, 6, 5], { init: true })] });
  await check('fmm_2d', { op: 'FusedMatMul', inputs: [f32('a', [7, 9]), f32('b', [9, 3])] });
});
test('FusedMatMul: inner dims that differ are refused', () =>
  fails('fmm_bad', { op: 'FusedMatMul', attrs: { transB: 1 }, inputs: [f32('a', [3, 4]), f32('b', [4, 5])] }, /inner dimensions differ/));

const conv = (name, act, params, withB, withZ) => check(name, {
  op: 'FusedConv', attrs: { pads: [1, 1, 1, 1], activation: act, ...(params ? { activation_params: Float32Array.from(params) } : {}) },
  inputs: [f32('x', [1, 3, 6, 6]), f32('w', [4, 3, 3, 3], { init: true }), withB ? f32('b', [4], { init: true }) : null, withZ ? f32('z', [1, 4, 6, 6]) : null].slice(0, withZ ? 4 : withB ? 3 : 2),
});
test('FusedConv: Relu with bias, LeakyRelu with Z, Clip without bias, Sigmoid with Z', async () => {
  await conv('fconv_relu', 'Relu', null, true, false);
  await conv('fconv_leaky', 'LeakyRelu', [0.2], true, true);
  await conv('fconv_clip', 'Clip', [-0.3, 0.4], false, false);
  await conv('fconv_sigmoid', 'Sigmoid', null, false, true);
});
test('FusedConv: an unknown activation and a Z of the wrong shape are refused', async () => {
  const base = { op: 'FusedConv', attrs: { activation: 'Gelu2' }, inputs: [f32('x', [1, 2, 4, 4]), f32('w', [3, 2, 1, 1], { init: true })] };
  await fails('fconv_act', base, /activation 'Gelu2' is not supported/);
  await fails('fconv_z', { ...base, attrs: { activation: 'Relu' }, inputs: [...base.inputs, null, f32('z', [1, 2, 4, 4])] }, /input Z/);
});
test('Trilu (com.microsoft): upper with k, lower', async () => {
  await check('trilu_u', { op: 'Trilu', inputs: [f32('x', [2, 4, 5]), i64('k', [], [1], true)] });
  await check('trilu_l', { op: 'Trilu', attrs: { upper: 0 }, inputs: [f32('x', [3, 6])] });
});

// ---- RotaryEmbedding ----

const caches = (rows, half) => [f32('cos', [rows, half], { init: true }), f32('sin', [rows, half], { init: true })];
test('RotaryEmbedding: halves and interleaved, [B, S, hidden] and [B, N, S, H], partial rotary dim', async () => {
  await check('rope', { op: 'RotaryEmbedding', inputs: [f32('x', [2, 3, 16]), i64('pos', [2, 3], [0, 1, 2, 5, 6, 7]), ...caches(16, 4)] });
  await check('rope_il', { op: 'RotaryEmbedding', attrs: { interleaved: 1 }, inputs: [f32('x', [2, 3, 16]), i64('pos', [1], [2]), ...caches(16, 4)] });
  await check('rope_4d', { op: 'RotaryEmbedding', inputs: [f32('x', [1, 2, 3, 8]), i64('pos', [1, 3], [3, 4, 9]), ...caches(10, 4)] });
  await check('rope_part', { op: 'RotaryEmbedding', attrs: { num_heads: 2, rotary_embedding_dim: 4 }, inputs: [f32('x', [1, 3, 16]), i64('pos', [1], [0]), ...caches(8, 2)] });
});
test('RotaryEmbedding: a position outside the caches is refused', () =>
  fails('rope_pos', { op: 'RotaryEmbedding', inputs: [f32('x', [1, 2, 8]), i64('pos', [1, 2], [3, 12]), ...caches(8, 4)] }, /position 12 is outside/));

// ---- Attention ----
// (onnxruntime's CPU Attention crashes without a bias input, so every case has one.)

const attention = (name, attrs, { B = 2, S = 4, H = 8, hs = [8, 8, 8], mask = null, past = null, presentOut = false }) =>
  check(name, {
    op: 'Attention', attrs: { num_heads: 2, ...attrs },
    inputs: [f32('x', [B, S, H]), f32('w', [H, hs[0] + hs[1] + hs[2]], { init: true }), f32('bias', [hs[0] + hs[1] + hs[2]], { init: true }), mask, past],
    outputs: presentOut ? ['y', 'present'] : ['y'],
  });
test('Attention: no mask, a key-padding mask, unidirectional, qkv_hidden_sizes, end positions, past', async () => {
  await attention('att', {}, {});
  await attention('att_mask', {}, { mask: i32('mask', [2, 4], [1, 1, 1, 0, 1, 1, 0, 0]) });
  await attention('att_uni', { unidirectional: 1 }, { mask: i32('mask', [2, 4], [1, 1, 1, 1, 1, 1, 1, 0]) });
  await attention('att_qkv', { qkv_hidden_sizes: [8, 8, 12] }, { hs: [8, 8, 12] });
  await attention('att_end', {}, { mask: i32('mask', [2], [3, 2]) });
  await attention('att_endstart', {}, { mask: i32('mask', [4], [4, 3, 1, 0]) });
  await attention('att_mask3', {}, { mask: i32('mask', [2, 4, 4], [...Array(32).keys()].map((i) => (i * 7) % 5 ? 1 : 0)) });
  await attention('att_past', { unidirectional: 1 }, { S: 2, past: f32('past', [2, 2, 2, 3, 4]), presentOut: true });
});
test('Attention: num_heads that does not divide the hidden size, a 3-D mask with unidirectional are refused', async () => {
  await fails('att_heads', { op: 'Attention', attrs: { num_heads: 3 }, inputs: [f32('x', [1, 2, 8]), f32('w', [8, 24], { init: true }), f32('bias', [24])] }, /not positive multiples of num_heads = 3/);
  await fails('att_mask3_uni', {
    op: 'Attention', attrs: { num_heads: 2, unidirectional: 1 },
    inputs: [f32('x', [1, 2, 8]), f32('w', [8, 24], { init: true }), f32('bias', [24]), i32('mask', [1, 2, 2], [1, 1, 1, 1])],
  }, /\[B, S, T\] mask with unidirectional/);
});

// ---- MultiHeadAttention ----

test('MultiHeadAttention: separate Q/K/V, with bias and key padding, packed QKV, past, attention_bias, BNSH key/value', async () => {
  const qkv = (L = 5) => [f32('q', [2, 3, 8]), f32('k', [2, L, 8]), f32('v', [2, L, 8])];
  await check('mha', { op: 'MultiHeadAttention', attrs: { num_heads: 2 }, inputs: qkv() });
  await check('mha_bias_mask', {
    op: 'MultiHeadAttention', attrs: { num_heads: 2 },
    inputs: [...qkv(), f32('bias', [24], { init: true }), i32('kpm', [2, 5], [1, 1, 1, 1, 0, 1, 1, 0, 0, 0])],
  });
  await check('mha_kpm1d', { op: 'MultiHeadAttention', attrs: { num_heads: 2 }, inputs: [...qkv(), null, i32('kpm', [2], [4, 2])] });
  // onnxruntime's CPU kernel lacks packed QKV: the reference is its run of the same values unpacked.
  const packed = f32('qkv', [2, 3, 2, 3, 4]);
  const part = (j) => f32('qkv'[j], [2, 3, 8], { map: (_, i) => packed.data[Math.floor(i / 4) * 12 + j * 4 + (i % 4)] });
  const unpacked = spec({ op: 'MultiHeadAttention', attrs: { num_heads: 2 }, inputs: [part(0), part(1), part(2)] });
  const ref = await ort.InferenceSession.create(unpacked.bytes);
  const want = await ref.run(Object.fromEntries(unpacked.feeds.map((t) => [t.name, new ort.Tensor(t.type, t.data, t.dims)])));
  await check('mha_packed', { op: 'MultiHeadAttention', attrs: { num_heads: 2 }, inputs: [packed] }, 1e-4, want);
  await check('mha_past', {
    op: 'MultiHeadAttention', attrs: { num_heads: 2, unidirectional: 1 },
    inputs: [...qkv(3), f32('bias', [24]), null, null, f32('pk', [2, 2, 4, 4]), f32('pv', [2, 2, 4, 4])],
    outputs: ['y', 'pk_out', 'pv_out'],
  });
  await check('mha_abias', {
    op: 'MultiHeadAttention', attrs: { num_heads: 2, scale: 0.3 },
    inputs: [...qkv(), null, null, f32('ab', [1, 2, 3, 5])],
  });
  await check('mha_bnsh', { op: 'MultiHeadAttention', attrs: { num_heads: 2 }, inputs: [f32('q', [2, 3, 8]), f32('k', [2, 2, 6, 4]), f32('v', [2, 2, 6, 4])] });
});
test('MultiHeadAttention: a key of another hidden size is refused', () =>
  fails('mha_bad', { op: 'MultiHeadAttention', attrs: { num_heads: 2 }, inputs: [f32('q', [2, 3, 8]), f32('k', [2, 5, 6]), f32('v', [2, 5, 8])] }, /input key has shape \[2,5,6\]/));

// ---- GroupQueryAttention ----

const gqa = (name, { B = 2, S = 4, P = 0, N = 4, Nkv = 2, D = 16, seqlens, total, attrs = {}, packed = false, rotary = null, totalInput = false }, run = check) => {
  const kv = Nkv * D;
  return run(name, {
    op: 'GroupQueryAttention', attrs: { num_heads: N, kv_num_heads: Nkv, ...attrs },
    inputs: [packed ? f32('q', [B, S, N * D + 2 * kv]) : f32('q', [B, S, N * D]), packed ? null : f32('k', [B, S, kv]), packed ? null : f32('v', [B, S, kv]),
      P ? f32('pk', [B, Nkv, P, D]) : null, P ? f32('pv', [B, Nkv, P, D]) : null,
      i32('seqlens', [B], seqlens), i32('total', [], [total], !totalInput), ...(rotary ? caches(...rotary) : [])],
    outputs: ['y', 'pk_out', 'pv_out'],
  }, ...(run === check ? [] : [/does not fit/]));
};
test('GroupQueryAttention: prompt, decoding with a ragged past, rotary (both layouts), packed QKV, local window', async () => {
  await gqa('gqa_prompt', { seqlens: [3, 3], total: 4 });
  await gqa('gqa_decode', { S: 1, P: 5, seqlens: [5, 3], total: 6, totalInput: true });
  await gqa('gqa_rotary', { seqlens: [3, 3], total: 4, attrs: { do_rotary: 1 }, rotary: [16, 8] });
  await gqa('gqa_rotary_il', { S: 1, P: 3, seqlens: [3, 2], total: 4, attrs: { do_rotary: 1, rotary_interleaved: 1 }, rotary: [16, 8] });
  await gqa('gqa_packed', { B: 1, S: 3, seqlens: [2], total: 3, packed: true });
  await gqa('gqa_window', { B: 1, S: 5, seqlens: [4], total: 5, attrs: { local_window_size: 2 } });
});
test('GroupQueryAttention: seqlens_k past the cache is refused', () =>
  gqa('gqa_seqlens', { S: 1, P: 3, seqlens: [3, 7], total: 4 }, fails));
test('GroupQueryAttention: num_heads not a multiple of kv_num_heads is refused', () =>
  fails('gqa_heads', {
    op: 'GroupQueryAttention', attrs: { num_heads: 3, kv_num_heads: 2 },
    inputs: [f32('q', [1, 2, 48]), f32('k', [1, 2, 32]), f32('v', [1, 2, 32]), null, null, i32('seqlens', [1], [1]), i32('total', [], [2], true)],
  }, /num_heads a multiple of kv_num_heads/));

// ---- the compile step leaves contrib nodes as written ----

test('edgeinfer info --compiled lists contrib nodes unchanged next to fused standard ones', () => {
  const s = {
    bytes: makeModel({
      domains: { [MS]: 1 },
      inputs: [{ name: 'x', type: 'float32', dims: [2, 8] }],
      outputs: [{ name: 'y', type: 'float32', dims: [2, 8] }],
      initializers: [f32('w', [8, 8]), f32('b', [8]), f32('g', [8])],
      nodes: [
        { op: 'MatMul', inputs: ['x', 'w'], outputs: ['m'] },
        { op: 'Add', inputs: ['m', 'b'], outputs: ['a'] },
        { op: 'Relu', inputs: ['a'], outputs: ['r'] },
        { op: 'FastGelu', domain: MS, inputs: ['r', 'b'], outputs: ['f'] },
        { op: 'Relu', inputs: ['f'], outputs: ['r2'] },
        { op: 'SkipLayerNormalization', domain: MS, inputs: ['r2', 'x', 'g'], outputs: ['y'] },
      ],
    }),
  };
  requireFile(CLI, 'build it with `make`');
  const path = join(TMP, 'compiled.onnx');
  writeFileSync(path, s.bytes);
  const r = spawnSync(CLI, ['info', path, '--compiled'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.split('\n');
  const at = lines.findIndex((l) => l.startsWith('compiled'));
  const ops = lines.slice(at + 1).filter((l) => l.startsWith('  ')).map((l) => l.trim().replace(/\s{2,}.*$/, ''));
  assert.deepEqual(ops, ['MatMul [Add+Relu]', 'FastGelu', 'Relu', 'SkipLayerNormalization']);
});
