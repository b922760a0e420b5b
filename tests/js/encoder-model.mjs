// A float32 transformer encoder built with onnx-model.mjs, for the dynamic-quantization test and
// benchmark: `layers` BERT-style layers over an input of hidden states x [1, seq, dim]: Q, K and V
// MatMuls (+ bias) of the same input, multi-head attention from standard ops (Reshape, Transpose,
// MatMul, Mul, Softmax), the output projection, residual Add and LayerNormalization, then the
// feed-forward MatMul -> erf GELU -> MatMul, residual and LayerNormalization. Weights are random
// (fixed seed), about 1/sqrt(fan-in) in size. Opset 17; output y [1, seq, dim].

import { makeModel } from './onnx-model.mjs';

function rand(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

export function encoderModel({ dim = 64, heads = 4, ffn = 256, layers = 2, seq = 16, seed = 7 } = {}) {
  const r = rand(seed), nodes = [], inits = [];
  const f32 = (name, dims, scale, offset = 0) => {
    const n = dims.reduce((a, b) => a * b, 1);
    inits.push({ name, type: 'float32', dims, data: Float32Array.from({ length: n }, () => offset + (r() * 2 - 1) * scale) });
    return name;
  };
  const i64 = (name, vals) => (inits.push({ name, type: 'int64', dims: [vals.length], data: BigInt64Array.from(vals.map(BigInt)) }), name);
  const scalar = (name, v) => (inits.push({ name, type: 'float32', dims: [], data: Float32Array.of(v) }), name);
  const node = (op, inputs, out, attrs = {}) => (nodes.push({ op, inputs, outputs: [out], name: out, attrs }), out);
  const dh = dim / heads;
  i64('heads_shape', [1, seq, heads, dh]);
  i64('hidden_shape', [1, seq, dim]);
  scalar('att_scale', 1 / Math.sqrt(dh));
  scalar('sqrt2', Math.SQRT2);
  scalar('one', 1);
  scalar('half', 0.5);
  const linear = (p, x, k, n) => node('Add', [node('MatMul', [x, f32(`${p}.w`, [k, n], 1 / Math.sqrt(k))], `${p}.mm`), f32(`${p}.b`, [n], 0.1)], p);
  const norm = (p, x) => node('LayerNormalization', [x, f32(`${p}.g`, [dim], 0.1, 1), f32(`${p}.b`, [dim], 0.1)], p, { axis: -1, epsilon: 1e-5 });
  let h = 'x';
  for (let l = 0; l < layers; l++) {
    const p = `l${l}`;
    const split = (name, perm) => node('Transpose', [node('Reshape', [linear(`${p}.${name}`, h, dim, dim), 'heads_shape'], `${p}.${name}.r`)], `${p}.${name}.t`, { perm });
    const q = split('q', [0, 2, 1, 3]), k = split('k', [0, 2, 3, 1]), v = split('v', [0, 2, 1, 3]);
    const att = node('Softmax', [node('Mul', [node('MatMul', [q, k], `${p}.qk`), 'att_scale'], `${p}.qk.s`)], `${p}.att`, { axis: -1 });
    const ctx = node('Reshape', [node('Transpose', [node('MatMul', [att, v], `${p}.av`)], `${p}.av.t`, { perm: [0, 2, 1, 3] }), 'hidden_shape'], `${p}.ctx`);
    const h1 = norm(`${p}.ln1`, node('Add', [h, linear(`${p}.o`, ctx, dim, dim)], `${p}.res1`));
    const u = linear(`${p}.up`, h1, dim, ffn);
    const erf = node('Add', [node('Erf', [node('Div', [u, 'sqrt2'], `${p}.gd`)], `${p}.ge`), 'one'], `${p}.ga`);
    const gelu = node('Mul', [node('Mul', [u, erf], `${p}.gm`), 'half'], `${p}.gelu`);
    h = norm(`${p}.ln2`, node('Add', [h1, linear(`${p}.down`, gelu, ffn, dim)], `${p}.res2`));
  }
  nodes.push({ op: 'Identity', inputs: [h], outputs: ['y'], name: 'y' });
  return makeModel({
    inputs: [{ name: 'x', type: 'float32', dims: [1, seq, dim] }],
    outputs: [{ name: 'y', type: 'float32', dims: [1, seq, dim] }],
    nodes,
    initializers: inits,
    opset: 17,
  });
}
