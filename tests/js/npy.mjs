// Reader and writer for numpy's .npy files, the format the model tests use to pass tensors
// between Python, the native CLI and JavaScript.
//
// Format (numpy's NEP 1): the magic "\x93NUMPY", a major and minor version byte, the header
// length (uint16 LE in version 1.0, uint32 LE in 2.0 and 3.0), then an ASCII Python dict literal
// such as {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with spaces and a
// final '\n' so the data starts on a 64-byte boundary, then the raw little-endian elements in
// C order. Only plain numeric and bool dtypes in C order are handled; anything else is an error
// rather than a silent misread.
//
// dtype names are onnxruntime's tensor type strings ('float32', 'int64', 'bool', ...), so a
// result can go straight into `new ort.Tensor(dtype, data, shape)`.

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"

// descr kind+size -> [dtype name, TypedArray constructor]. float16 data stays as raw bits.
const BY_DESCR = {
  f2: ['float16', Uint16Array],
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

const BY_NAME = Object.fromEntries(
  Object.entries(BY_DESCR).map(([code, [name, ctor]]) => [name, { code, ctor }]));

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function toBytes(input) {
  if (input instanceof Uint8Array) return input; // includes Buffer
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  throw new TypeError('readNpy: expected a Buffer, Uint8Array or ArrayBuffer');
}

function parseHeader(text) {
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(text);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text);
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(text);
  if (!descr || !fortran || !shape) {
    throw new Error(`npy: cannot parse header ${JSON.stringify(text.trim())} ` +
      '(structured dtypes are not supported)');
  }
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s !== '').map((s) => {
    const n = Number(s.replace(/L$/, '')); // Python 2 wrote longs as 3L
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`npy: bad dimension '${s}' in shape`);
    return n;
  });
  return { descr: descr[1], fortranOrder: fortran[1] === 'True', shape: dims };
}

// Splits '<f4' into its byte order and the key in BY_DESCR.
function parseDescr(descr) {
  const m = /^([<>|=]?)([a-z]\d+)$/.exec(descr);
  const entry = m && BY_DESCR[m[2]];
  if (!entry) throw new Error(`npy: unsupported dtype '${descr}'`);
  const order = m[1];
  const size = entry[1].BYTES_PER_ELEMENT;
  if (order === '>' && size > 1) throw new Error(`npy: big-endian dtype '${descr}' is not supported`);
  return entry;
}

/**
 * Parses a .npy file.
 * @param {Uint8Array|ArrayBuffer} input the whole file
 * @returns {{dtype: string, shape: number[], data: ArrayBufferView}} data is a fresh TypedArray
 *   (BigInt64Array for int64, Uint8Array of 0/1 for bool, Uint16Array of raw bits for float16)
 */
export function readNpy(input) {
  const bytes = toBytes(input);
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new Error('npy: not a .npy file (bad magic)');
  }
  const major = bytes[6];
  let headerLen;
  let headerStart;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new Error('npy: truncated header');
    headerLen = view.getUint32(8, true);
    headerStart = 12;
  } else {
    throw new Error(`npy: unsupported format version ${major}.${bytes[7]}`);
  }
  const dataStart = headerStart + headerLen;
  if (dataStart > bytes.length) throw new Error('npy: truncated header');
  const decoder = new TextDecoder(major === 3 ? 'utf-8' : 'latin1');
  const header = parseHeader(decoder.decode(bytes.subarray(headerStart, dataStart)));
  if (header.fortranOrder) throw new Error('npy: fortran_order=True arrays are not supported');

  const [dtype, Ctor] = parseDescr(header.descr);
  if (!LITTLE_ENDIAN_HOST && Ctor.BYTES_PER_ELEMENT > 1) {
    throw new Error('npy: big-endian hosts are not supported');
  }
  const count = header.shape.reduce((a, b) => a * b, 1);
  const byteLen = count * Ctor.BYTES_PER_ELEMENT;
  if (bytes.length - dataStart < byteLen) {
    throw new Error(`npy: file holds ${bytes.length - dataStart} data bytes, ` +
      `shape [${header.shape}] of ${dtype} needs ${byteLen}`);
  }
  // Copy: the data offset inside a pooled Buffer need not be aligned for the TypedArray.
  // (new Uint8Array(view) copies; Buffer's own slice() would not.)
  const copy = new Uint8Array(bytes.subarray(dataStart, dataStart + byteLen));
  return { dtype, shape: header.shape, data: new Ctor(copy.buffer, 0, count) };
}

function headerText(code, shape) {
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  const order = code[1] === '1' ? '|' : '<';
  return `{'descr': '${order}${code}', 'fortran_order': False, 'shape': (${dims}), }`;
}

/**
 * Serialises a C-order array as a .npy file (format 1.0, or 2.0 if the header needs it).
 * @param {string} dtype a name from readNpy ('float32', 'int64', 'bool', ...) or a numpy
 *   descr such as '<f4'
 * @param {number[]} shape
 * @param {ArrayBufferView|number[]} data element count must equal the product of shape
 * @returns {Buffer|Uint8Array} a Buffer where Node's Buffer exists
 */
export function writeNpy(dtype, shape, data) {
  let entry = BY_NAME[dtype];
  if (!entry && typeof dtype === 'string' && /^[<>|=]/.test(dtype)) {
    entry = BY_NAME[parseDescr(dtype)[0]];
  }
  if (!entry) throw new Error(`npy: unsupported dtype '${dtype}'`);
  if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
    throw new Error(`npy: bad shape ${JSON.stringify(shape)}`);
  }
  if (!LITTLE_ENDIAN_HOST && entry.ctor.BYTES_PER_ELEMENT > 1) {
    throw new Error('npy: big-endian hosts are not supported');
  }
  const count = shape.reduce((a, b) => a * b, 1);
  const isBig = entry.ctor === BigInt64Array || entry.ctor === BigUint64Array;
  const typed = data instanceof entry.ctor ? data
    : isBig ? entry.ctor.from(data, (v) => BigInt(v)) : entry.ctor.from(data);
  if (typed.length !== count) {
    throw new Error(`npy: shape [${shape}] needs ${count} elements, got ${typed.length}`);
  }

  const text = headerText(entry.code, shape);
  // Pad with spaces so that preamble + header + '\n' is a multiple of 64.
  let preamble = 10;
  let total = Math.ceil((preamble + text.length + 1) / 64) * 64;
  if (total - preamble > 0xffff) {
    preamble = 12;
    total = Math.ceil((preamble + text.length + 1) / 64) * 64;
  }
  const headerLen = total - preamble;
  const body = new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
  const out = new Uint8Array(total + body.length);
  out.set(MAGIC, 0);
  out[6] = preamble === 10 ? 1 : 2;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (preamble === 10) view.setUint16(8, headerLen, true);
  else view.setUint32(8, headerLen, true);
  for (let i = 0; i < text.length; i++) out[preamble + i] = text.charCodeAt(i);
  out.fill(0x20, preamble + text.length, total - 1);
  out[total - 1] = 0x0a;
  out.set(body, total);
  return typeof Buffer === 'function' ? Buffer.from(out.buffer, out.byteOffset, out.length) : out;
}
