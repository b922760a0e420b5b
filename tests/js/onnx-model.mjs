// Writes small ONNX models for the JS tests, so they do not depend on Python or on files made
// elsewhere: just enough protobuf (varints, length-delimited fields) for ModelProto with nodes,
// typed inputs and outputs (fixed, symbolic or unknown dims) and raw-data initializers.
//
//   makeModel({
//     inputs: [{ name: 'x', type: 'float32', dims: ['batch', 3] }],
//     outputs: [{ name: 'y', type: 'float32', dims: ['batch', 3] }],
//     nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }],
//   }) -> Uint8Array
//
// dims entries: a number (dim_value), a string (dim_param), null (a dim with neither); dims
// itself null or absent: no shape (unknown rank). Field numbers are from onnx/onnx.proto.

export const ONNX_TYPES = {
  float32: 1, uint8: 2, int8: 3, uint16: 4, int16: 5, int32: 6, int64: 7, string: 8, bool: 9,
  float16: 10, float64: 11, uint32: 12, uint64: 13,
};

const enc = new TextEncoder();

function varint(n) {
  let v = BigInt.asUintN(64, BigInt(n));
  const out = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return out;
}

function concat(parts) {
  const len = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(len);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// A message is a list of fields; each helper returns the bytes of one field.
const tag = (field, wire) => varint((field << 3) | wire);
const fInt = (field, n) => Uint8Array.from([...tag(field, 0), ...varint(n)]);
const fBytes = (field, bytes) => concat([Uint8Array.from([...tag(field, 2), ...varint(bytes.length)]), bytes]);
const fStr = (field, s) => fBytes(field, enc.encode(s));
const fMsg = (field, parts) => fBytes(field, concat(parts));
const fFloat = (field, x) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setFloat32(0, x, true);
  return concat([Uint8Array.from(tag(field, 5)), b]);
};

function valueInfo({ name, type, dims }) {
  const tensor = [fInt(1, ONNX_TYPES[type] ?? 0)];
  if (dims) {
    tensor.push(fMsg(2, dims.map((d) => fMsg(1, d === null ? [] : typeof d === 'string' ? [fStr(2, d)] : [fInt(1, d)]))));
  }
  return [fStr(1, name), fMsg(2, [fMsg(1, tensor)])];
}

function tensorProto({ name, type, dims, data }) {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return [...dims.map((d) => fInt(1, d)), fInt(2, ONNX_TYPES[type]), fStr(8, name), fBytes(9, bytes)];
}

function attribute(name, value) {
  if (value && typeof value === 'object' && value.graph) return [fStr(1, name), fMsg(6, graphProto(value.graph)), fInt(20, 5)];
  if (typeof value === 'number' && Number.isInteger(value)) return [fStr(1, name), fInt(3, value), fInt(20, 2)];
  if (typeof value === 'number') return [fStr(1, name), fFloat(2, value), fInt(20, 1)];
  if (typeof value === 'string') return [fStr(1, name), fStr(4, value), fInt(20, 3)];
  if (Array.isArray(value)) return [fStr(1, name), ...value.map((v) => fInt(8, v)), fInt(20, 7)];
  if (value instanceof Float32Array) return [fStr(1, name), ...[...value].map((v) => fFloat(7, v)), fInt(20, 6)];
  throw new Error(`attribute ${name}: unsupported value ${value}`);
}

function nodeProto({ op, inputs, outputs, name = '', attrs = {}, domain = '' }) {
  return [
    ...inputs.map((i) => fStr(1, i)),
    ...outputs.map((o) => fStr(2, o)),
    fStr(3, name),
    fStr(4, op),
    ...Object.entries(attrs).map(([k, v]) => fMsg(5, attribute(k, v))),
    ...(domain ? [fStr(7, domain)] : []),
  ];
}

/** Serialises a TensorProto (raw_data), as in the .pb files of the ONNX test suites. */
export function makeTensorProto({ name = '', type, dims, data }) {
  return concat(tensorProto({ name, type, dims, data }));
}

function graphProto({ inputs = [], outputs, nodes, initializers = [], name = 'test' }) {
  return [
    ...nodes.map((n) => fMsg(1, nodeProto(n))),
    fStr(2, name),
    ...initializers.map((t) => fMsg(5, tensorProto(t))),
    ...inputs.map((v) => fMsg(11, valueInfo(v))),
    ...outputs.map((v) => fMsg(12, valueInfo(v))),
  ];
}

/**
 * Serialises a ModelProto (IR version 8, default-domain opset `opset`, 13 unless given, plus the
 * opsets of other domains in `domains`, e.g. { 'com.microsoft': 1 }). A node attribute given as
 * { graph: { nodes, outputs, inputs?, initializers? } } is a subgraph (If's branches, Loop's
 * body); its nodes may read the enclosing graph's values by name. A Float32Array attribute is a
 * list of floats; a node's `domain` is its operator set's domain.
 */
export function makeModel({ inputs, outputs, nodes, initializers = [], opset = 13, domains = {} }) {
  const graph = graphProto({ inputs, outputs, nodes, initializers });
  const imports = [['', opset], ...Object.entries(domains)].map(([d, v]) => fMsg(8, [fStr(1, d), fInt(2, v)]));
  return concat([fInt(1, 8), fStr(2, 'edgeinfer-tests'), fMsg(7, graph), ...imports]);
}

/** A model whose one node is Identity: output y is input x, for any dtype. */
export function identityModel(type, dims) {
  return makeModel({
    inputs: [{ name: 'x', type, dims }],
    outputs: [{ name: 'y', type, dims }],
    nodes: [{ op: 'Identity', inputs: ['x'], outputs: ['y'], name: 'id' }],
  });
}
