// Reads NumPy .npy files (format versions 1, 2 and 3) into edgeinfer tensor parts: the type
// name edgeinfer's Tensor takes, the shape, and a typed array in C (row-major) order.
//
//   const { type, shape, data } = parseNpy(arrayBuffer);
//   new Tensor(type, data, shape)
//
// The file is a magic string, a version, a header length, a Python dict literal such as
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } and the raw data. Big-endian
// data is swapped to the machine's order; Fortran-order data is reordered to C order.

// descr kind + size -> edgeinfer type name and array constructor.
const TYPES = {
  f2: ['float16', Uint16Array], // raw half bits, as edgeinfer's Tensor holds float16
  f4: ['float32', Float32Array],
  f8: ['float64', Float64Array],
  i1: ['int8', Int8Array],
  i2: ['int16', Int16Array],
  i4: ['int32', Int32Array],
  i8: ['int64', BigInt64Array],
  u1: ['uint8', Uint8Array],
  u2: ['uint16', Uint16Array],
  u4: ['uint32', Uint32Array],
  u8: ['uint64', BigUint64Array],
  b1: ['bool', Uint8Array],
};

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export class NpyError extends Error {
  constructor(message) {
    super(message);
    this.name = 'NpyError';
  }
}

function field(header, key) {
  const m = new RegExp(`['"]${key}['"]\\s*:\\s*`).exec(header);
  if (!m) throw new NpyError(`the .npy header has no '${key}': ${header.trim()}`);
  return header.slice(m.index + m[0].length);
}

function parseHeader(header) {
  const descr = /^['"]([^'"]*)['"]/.exec(field(header, 'descr'));
  const fortran = /^(True|False)/.exec(field(header, 'fortran_order'));
  const shape = /^\(([^)]*)\)/.exec(field(header, 'shape'));
  if (!descr || !fortran || !shape) throw new NpyError(`cannot read the .npy header: ${header.trim()}`);
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s !== '').map((s) => {
    const n = Number(s.replace(/L$/, ''));
    if (!Number.isSafeInteger(n) || n < 0) throw new NpyError(`bad dimension '${s}' in the .npy shape (${shape[1]})`);
    return n;
  });
  return { descr: descr[1], fortranOrder: fortran[1] === 'True', shape: dims };
}

// C-order copy of data stored in Fortran order (first index fastest).
function toCOrder(src, shape) {
  const out = new src.constructor(src.length);
  const rank = shape.length;
  const fStride = new Array(rank);
  let s = 1;
  for (let d = 0; d < rank; d++) {
    fStride[d] = s;
    s *= shape[d];
  }
  const idx = new Array(rank).fill(0);
  for (let i = 0; i < out.length; i++) {
    let j = 0;
    for (let d = 0; d < rank; d++) j += idx[d] * fStride[d];
    out[i] = src[j];
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

/**
 * Parses a .npy file. Returns { type, shape, data } with `type` an edgeinfer tensor type name
 * ('float32', 'int64', ...). Throws NpyError with the reason when the file cannot be used.
 */
export function parseNpy(buffer) {
  const bytes = buffer instanceof Uint8Array ? buffer : new Uint8Array(buffer);
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
  if (bytes.length < 10 || magic.some((b, i) => bytes[i] !== b)) {
    throw new NpyError('not a .npy file (it does not start with \\x93NUMPY)');
  }
  const major = bytes[6];
  if (major < 1 || major > 3) throw new NpyError(`.npy format version ${major}.${bytes[7]} is not supported (1, 2 or 3 are)`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const headerStart = major === 1 ? 10 : 12;
  const dataStart = headerStart + headerLen;
  if (dataStart > bytes.length) throw new NpyError('the .npy file ends inside its header');
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, dataStart));
  const { descr, fortranOrder, shape } = parseHeader(header);

  const m = /^([<>|=])([a-z])(\d+)$/.exec(descr);
  const info = m && TYPES[`${m[2]}${m[3]}`];
  if (!info) throw new NpyError(`the .npy dtype '${descr}' is not supported (numeric and bool types are)`);
  const [type, Ctor] = info;
  const size = Ctor.BYTES_PER_ELEMENT;
  const count = shape.reduce((a, b) => a * b, 1);
  if (dataStart + count * size > bytes.length) {
    throw new NpyError(`the .npy file holds ${bytes.length - dataStart} bytes of data; shape (${shape}) of ${descr} needs ${count * size}`);
  }
  // A copy: aligned for the typed array, and free to be swapped or handed to a worker.
  const raw = new Uint8Array(count * size);
  raw.set(bytes.subarray(dataStart, dataStart + count * size));
  const bigEndian = m[1] === '>' || (m[1] === '=' && !LITTLE_ENDIAN);
  if (size > 1 && bigEndian === LITTLE_ENDIAN) {
    for (let i = 0; i < raw.length; i += size) raw.subarray(i, i + size).reverse();
  }
  let data = new Ctor(raw.buffer);
  if (type === 'bool') data = data.map((v) => (v ? 1 : 0));
  if (fortranOrder && shape.length > 1) data = toCOrder(data, shape);
  return { type, shape, data };
}
