// The JavaScript side of edgeinfer: loads edgeinfer.wasm and wraps the C API of
// include/edgeinfer.h in a subset of onnxruntime-web's API (InferenceSession, Tensor, env).
//
// This text is not loaded by itself. web/build.mjs wraps it, unchanged, into
//   dist/edgeinfer.mjs         ES module (import.meta.url locates the wasm)
//   dist/edgeinfer.js          classic script: defines the global `edgeinfer`
//   dist/edgeinfer-worker.js   the script a `{ worker: true }` session runs in (with worker.js)
// Each wrapper defines SCRIPT_URL, the URL this script was loaded from (or undefined when it
// cannot tell), before this text; edgeinfer.wasm and edgeinfer-worker.js are looked for next to it,
// unless ASSET_URLS (also from the wrapper) gives their URLs.
//
// Memory: the wasm instance's memory may grow during any call that allocates, and growing
// detaches every view of the old buffer, so views are taken from `memory.buffer` afresh after
// such calls (Runtime.heap()). Model bytes are copied into wasm memory once and handed to the C
// side with EI_LOAD_TAKE, so weights are read in place. Input buffers are malloc'd once per
// session input and reused while they are large enough; outputs are copied out after each run.
//
// The loader evaluates no strings as code, imports no modules at run time and makes no object
// URLs, so it runs under a Content-Security-Policy of script-src 'self' 'wasm-unsafe-eval'.

const VERSION = '0.1.0';

// ---- environment ----

const IS_NODE = typeof process === 'object' && process !== null &&
  typeof process.versions === 'object' && process.versions !== null &&
  typeof process.versions.node === 'string';

// Node's built-in modules without a module import: process.getBuiltinModule (Node >= 20.16), or
// `require` where this script runs as CommonJS.
function nodeBuiltin(name) {
  if (typeof process.getBuiltinModule === 'function') return process.getBuiltinModule(name);
  if (typeof require === 'function') return require(name); // eslint-disable-line no-undef
  throw new EdgeInferError(`edgeinfer needs Node.js >= 20.16 (process.getBuiltinModule) to load ${name}; ` +
    `this is Node.js ${process.versions.node}`, 'UNSUPPORTED');
}

// ---- errors ----

// Status names in the order of ei_status in include/edgeinfer.h.
const STATUS_CODES = ['OK', 'INVALID_ARGUMENT', 'INVALID_MODEL', 'UNSUPPORTED', 'INVALID_SHAPE',
  'OUT_OF_MEMORY', 'INVALID_STATE', 'PENDING'];
const PENDING = 7; // EI_STATUS_PENDING: ei_session_run_step stopped at the end of a slice

/**
 * Every error edgeinfer throws. `code` is the C status name ('INVALID_MODEL', 'INVALID_SHAPE', ...)
 * for errors the C library reported, and for JS-side errors one of 'INVALID_ARGUMENT',
 * 'INVALID_STATE', 'UNSUPPORTED', 'OUT_OF_MEMORY', 'LOAD_FAILED' (the wasm, the worker or a model
 * could not be fetched or compiled), 'RUNTIME_ERROR' (the wasm instance trapped or a worker died)
 * and 'ABORTED' (a run's AbortSignal fired).
 */
class EdgeInferError extends Error {
  constructor(message, code = 'RUNTIME_ERROR') {
    super(message);
    this.name = 'EdgeInferError';
    this.code = code;
  }
}

function fail(code, message) {
  return new EdgeInferError(message, code);
}

// ---- tensors ----

// ONNX element types by onnxruntime's type name. `id` is ei_dtype (= TensorProto.DataType).
const DTYPES = {
  float32: { id: 1, ctor: Float32Array },
  uint8: { id: 2, ctor: Uint8Array },
  int8: { id: 3, ctor: Int8Array },
  uint16: { id: 4, ctor: Uint16Array },
  int16: { id: 5, ctor: Int16Array },
  int32: { id: 6, ctor: Int32Array },
  int64: { id: 7, ctor: BigInt64Array },
  bool: { id: 9, ctor: Uint8Array },
  float16: { id: 10, ctor: Uint16Array }, // raw IEEE half bits, or a Float16Array (see Float16)
  float64: { id: 11, ctor: Float64Array },
  uint32: { id: 12, ctor: Uint32Array },
  uint64: { id: 13, ctor: BigUint64Array },
  bfloat16: { id: 16, ctor: Uint16Array }, // raw bits (the top half of a float32); Cast converts
};
const TYPE_BY_ID = [];
for (const [name, info] of Object.entries(DTYPES)) TYPE_BY_ID[info.id] = name;
const ONNX_TYPE_NAMES = ['undefined', 'float32', 'uint8', 'int8', 'uint16', 'int16', 'int32', 'int64',
  'string', 'bool', 'float16', 'float64', 'uint32', 'uint64', 'complex64', 'complex128', 'bfloat16'];
const MAX_DIMS = 8; // EI_MAX_DIMS

// float16 data is a Float16Array where the platform has one (as onnxruntime-web does), else the
// raw half bits in a Uint16Array; a float16 tensor accepts either and keeps a Float16Array view.
const Float16 = typeof Float16Array === 'function' ? Float16Array : undefined; // eslint-disable-line no-undef

function fitsType(type, data) {
  return data instanceof DTYPES[type].ctor || (type === 'float16' && Float16 !== undefined && data instanceof Float16);
}

// The type a typed array stands for when no type is given (Uint8Array is uint8, not bool).
const TYPE_BY_CTOR = new Map([[Float32Array, 'float32'], [Float64Array, 'float64'],
  [Int8Array, 'int8'], [Uint8Array, 'uint8'], [Int16Array, 'int16'], [Uint16Array, 'uint16'],
  [Int32Array, 'int32'], [Uint32Array, 'uint32'], [BigInt64Array, 'int64'],
  [BigUint64Array, 'uint64'], [Uint8ClampedArray, 'uint8']]);
if (Float16) TYPE_BY_CTOR.set(Float16, 'float16');

function describe(x) {
  if (x === null) return 'null';
  if (typeof x !== 'object') return typeof x;
  return (x.constructor && x.constructor.name) || 'object';
}

function checkDims(dims, what) {
  if (!Array.isArray(dims) && !ArrayBuffer.isView(dims)) {
    throw fail('INVALID_ARGUMENT', `${what}: dims must be an array of numbers, got ${describe(dims)}`);
  }
  const out = Array.from(dims, Number);
  if (out.length > MAX_DIMS) {
    throw fail('INVALID_ARGUMENT', `${what}: rank ${out.length} is more than edgeinfer's ${MAX_DIMS}`);
  }
  for (const d of out) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw fail('INVALID_ARGUMENT', `${what}: bad dimension ${d} in [${Array.from(dims)}]`);
    }
  }
  return out;
}

function fromPlainArray(type, Ctor, values) {
  const big = Ctor === BigInt64Array || Ctor === BigUint64Array;
  const Out = type === 'float16' && Float16 ? Float16 : Ctor;
  return Out.from(values, (v, i) => {
    if (type === 'bool') return v ? 1 : 0;
    if (big && (typeof v === 'bigint' || Number.isInteger(v))) return BigInt(v);
    if (!big && typeof v === 'number') return v;
    const shown = typeof v === 'bigint' ? `${v}n` : typeof v === 'number' ? String(v) : describe(v);
    throw fail('INVALID_ARGUMENT', `${type} tensor: element ${i} of the array (${shown}) is not ` +
      (big ? 'an integer or a BigInt' : 'a number'));
  });
}

// Marks edgeinfer's tensors across copies of the loader (see Tensor[Symbol.hasInstance]).
const TENSOR_BRAND = Symbol.for('edgeinfer.Tensor');

/**
 * A dense, row-major tensor on the CPU, like onnxruntime's Tensor:
 *   new Tensor('float32', new Float32Array(6), [2, 3])
 *   new Tensor(new Float32Array(6), [2, 3])     type from the array
 *   new Tensor('int64', [1, 2, 3])               plain arrays are converted; dims default to [length]
 * int64 and uint64 use BigInt64Array / BigUint64Array, bool uses Uint8Array of 0 and 1, float16
 * a Float16Array where the platform has one (else Uint16Array of raw half bits), string an array
 * of strings (which no model input of edgeinfer takes). The data is used as given, not copied.
 */
class Tensor {
  constructor(typeOrData, dataOrDims, maybeDims) {
    let type;
    let data;
    let dims;
    if (typeOrData && typeof typeOrData === 'object' && !ArrayBuffer.isView(typeOrData) && !Array.isArray(typeOrData)) {
      [type, data, dims] = locationArgs(typeOrData);
    } else if (typeof typeOrData === 'string') {
      type = typeOrData;
      data = dataOrDims;
      dims = maybeDims;
    } else {
      data = typeOrData;
      dims = dataOrDims;
      type = data && (TYPE_BY_CTOR.get(data.constructor) || (Array.isArray(data) && plainArrayType(data)));
      if (!type) {
        throw fail('INVALID_ARGUMENT', `new Tensor(data, dims): cannot tell the type of ${describe(data)}; ` +
          "pass it first, as in new Tensor('float32', data, dims)");
      }
    }
    const info = DTYPES[type];
    if (type === 'string') {
      if (!Array.isArray(data) || data.some((v) => typeof v !== 'string')) {
        throw fail('INVALID_ARGUMENT', `a string tensor needs an array of strings, got ${describe(data)}`);
      }
    } else if (!info) {
      throw fail('UNSUPPORTED', `tensor type '${type}' is not supported (supported: ${Object.keys(DTYPES).join(', ')}, string)`);
    } else {
      if (Array.isArray(data)) data = fromPlainArray(type, info.ctor, data);
      if (data instanceof Uint8ClampedArray && type === 'uint8') data = new Uint8Array(data.buffer, data.byteOffset, data.length);
      if (!fitsType(type, data)) {
        throw fail('INVALID_ARGUMENT', `a ${type} tensor needs a ${info.ctor.name}, got ${describe(data)}`);
      }
      if (type === 'float16' && Float16 && !(data instanceof Float16)) data = new Float16(data.buffer, data.byteOffset, data.length);
    }
    dims = dims === undefined ? [data.length] : checkDims(dims, `${type} tensor`);
    const size = dims.reduce((a, b) => a * b, 1);
    if (size !== data.length) {
      throw fail('INVALID_ARGUMENT', `tensor dims [${dims}] hold ${size} elements but the data has ${data.length}`);
    }
    this.type = type;
    this.data = data;
    this.dims = dims;
    this.size = size;
    this.location = typeOrData && typeOrData.location === 'cpu-pinned' ? 'cpu-pinned' : 'cpu';
  }

  /** Tensors of edgeinfer's other builds (the ES module and CommonJS copies) are Tensors too. */
  static [Symbol.hasInstance](x) {
    return x !== null && typeof x === 'object' && x[TENSOR_BRAND] === true;
  }

  get [TENSOR_BRAND]() {
    return true;
  }

  /** The data (already on the CPU). */
  async getData() {
    return this.data;
  }

  /** A tensor of the same data with other dims (no copy). */
  reshape(dims) {
    return new Tensor(this.type, this.data, dims);
  }

  /** Nothing to free for CPU data; here for onnxruntime compatibility. */
  dispose() {}

  get texture() {
    throw noDeviceTensor('tensor.texture');
  }

  get gpuBuffer() {
    throw noDeviceTensor('tensor.gpuBuffer');
  }

  get mlTensor() {
    throw noDeviceTensor('tensor.mlTensor');
  }

  /** An image tensor [1, C, H, W] as ImageData (see edgeinfer.compat.js). */
  toImageData(options) {
    return tensorToImageData(this, options);
  }

  toDataURL(options) {
    return tensorToDataURL(this, options);
  }

  static fromImage(image, options) {
    return imageToTensor(image, options);
  }

  static fromPinnedBuffer(type, buffer, dims) {
    return new Tensor({ location: 'cpu-pinned', type, data: buffer, dims: dims === undefined ? [buffer.length] : dims });
  }

  static fromTexture() {
    throw noDeviceTensor('Tensor.fromTexture()');
  }

  static fromGpuBuffer() {
    throw noDeviceTensor('Tensor.fromGpuBuffer()');
  }

  static fromMLTensor() {
    throw noDeviceTensor('Tensor.fromMLTensor()');
  }
}

// The type of a plain array given without one, as onnxruntime reads it.
function plainArrayType(values) {
  if (values.length && values.every((v) => typeof v === 'string')) return 'string';
  if (values.length && values.every((v) => typeof v === 'boolean')) return 'bool';
  return undefined;
}

// Checks one feed (an edgeinfer Tensor or anything shaped like one, e.g. onnxruntime's) and
// returns what the backends need: its type, dims and a fixed-length byte view of its data.
// Each property is read exactly once, so a getter (or a resizable buffer shrunk in between)
// cannot pass the checks with one value and be copied with another; the backends copy
// exactly `bytes.byteLength` bytes and check that the view still holds them.
function feedSpec(name, index, t) {
  if (!t || typeof t !== 'object') throw fail('INVALID_ARGUMENT', `input '${name}': expected a Tensor, got ${describe(t)}`);
  const type = t.type, rawDims = t.dims, data = t.data;
  if (typeof type !== 'string' || rawDims === undefined) {
    throw fail('INVALID_ARGUMENT', `input '${name}': expected a Tensor, got ${describe(t)}`);
  }
  const info = DTYPES[type];
  if (!info) {
    throw fail('UNSUPPORTED', `input '${name}': tensor type '${type}' is not supported ` +
      `(supported: ${Object.keys(DTYPES).join(', ')})`);
  }
  if (!fitsType(type, data)) {
    throw fail('INVALID_ARGUMENT', `input '${name}': a ${type} tensor needs a ${info.ctor.name}, ` +
      `got ${describe(data)}`);
  }
  const dims = checkDims(rawDims, `input '${name}'`);
  const size = dims.reduce((a, b) => a * b, 1);
  const length = data.length;
  if (size !== length) {
    throw fail('INVALID_ARGUMENT', `input '${name}': dims [${dims}] hold ${size} elements but the data has ${length}`);
  }
  const nbytes = size * info.ctor.BYTES_PER_ELEMENT;
  let bytes;
  try {
    bytes = new Uint8Array(data.buffer, data.byteOffset, nbytes);
  } catch (err) {
    throw fail('INVALID_ARGUMENT', `input '${name}': its data no longer holds ${size} elements (${err.message})`);
  }
  return { name, index, type, dtype: info.id, dims, bytes };
}

// The bytes of a feed, checked again just before they are copied.
function feedBytes(f) {
  const want = f.dims.reduce((a, b) => a * b, 1) * DTYPES[f.type].ctor.BYTES_PER_ELEMENT;
  if (f.bytes.byteLength !== want) {
    throw fail('INVALID_ARGUMENT', `input '${f.name}': its data changed size while being read (${f.bytes.byteLength} ` +
      `bytes, the dims need ${want})`);
  }
  return f.bytes;
}

// ---- fetching bytes ----

function isResponse(x) {
  return typeof Response === 'function' && x instanceof Response;
}

function isFileLocation(url) {
  return IS_NODE && !/^(https?|data|blob):/i.test(String(url));
}

// Node: a file: URL, an absolute or relative path.
async function readNodeFile(location) {
  const fs = nodeBuiltin('node:fs');
  const where = /^file:/i.test(String(location)) ? new URL(String(location)) : String(location);
  try {
    const buf = await fs.promises.readFile(where);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (err) {
    throw fail('LOAD_FAILED', `cannot read ${location}: ${err.message}`);
  }
}

async function fetchResponse(url) {
  try {
    return await fetch(url, { credentials: 'same-origin' });
  } catch (err) {
    throw fail('LOAD_FAILED', `cannot fetch ${url}: ${err.message}`);
  }
}

function checkResponse(resp, url) {
  if (!resp.ok) {
    throw fail('LOAD_FAILED', `cannot fetch ${url || resp.url || 'the response'}: HTTP ${resp.status} ${resp.statusText}`.trim());
  }
}

function toBytes(x, what) {
  if (x instanceof Uint8Array) return x;
  if (x instanceof ArrayBuffer) return new Uint8Array(x);
  if (typeof SharedArrayBuffer === 'function' && x instanceof SharedArrayBuffer) return new Uint8Array(x);
  if (ArrayBuffer.isView(x)) return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  throw fail('INVALID_ARGUMENT', `${what}: expected an ArrayBuffer or Uint8Array, got ${describe(x)}`);
}

// A server that answers a model URL with a web page (a 404 page served as 200, a login page, a
// single-page app's index.html) gives bytes that are no model: say so instead of "corrupt".
function notHtml(bytes, resp, where) {
  const type = (resp.headers.get('content-type') || '').split(';')[0].trim().toLowerCase();
  const head = TEXT.decode(bytes.subarray(0, 64)).replace(/^\uFEFF?\s*/, '').toLowerCase();
  if (type === 'text/html' || head.startsWith('<!doctype html') || head.startsWith('<html')) {
    throw fail('LOAD_FAILED', `${where} is an HTML page (content-type ${type || 'none'}), not an ONNX model: ` +
      'check the model URL');
  }
  return bytes;
}

// InferenceSession.create's source: { bytes, owned, where }, where `owned` tells whether the bytes
// are a buffer nobody else holds (so a worker may take it without a copy); or, for a file in Node
// and a fetched response, { file | response, where }, read later straight into wasm memory
// (Runtime.place) or into JS (modelBytes) for a worker.
async function readModel(source, byteOffset, byteLength) {
  if (typeof source === 'string' || (typeof URL === 'function' && source instanceof URL)) {
    if (isFileLocation(source)) return { file: source, where: String(source) };
    const resp = await fetchResponse(String(source));
    checkResponse(resp, String(source));
    return { response: resp, where: String(source) };
  }
  if (source && typeof source.then === 'function') source = await source;
  if (isResponse(source)) {
    checkResponse(source, source.url);
    return { response: source, where: source.url || 'the response' };
  }
  if (source instanceof ArrayBuffer && typeof byteOffset === 'number') {
    if (!Number.isSafeInteger(byteOffset) || (byteLength !== undefined && !Number.isSafeInteger(byteLength))) {
      throw fail('INVALID_ARGUMENT', `byteOffset ${byteOffset} / byteLength ${byteLength}: expected non-negative integers`);
    }
    const end = typeof byteLength === 'number' ? byteOffset + byteLength : source.byteLength;
    if (byteOffset < 0 || end > source.byteLength || end < byteOffset) {
      throw fail('INVALID_ARGUMENT', `byteOffset ${byteOffset} / byteLength ${byteLength} are outside the ` +
        `${source.byteLength}-byte buffer`);
    }
    return { bytes: new Uint8Array(source, byteOffset, end - byteOffset), owned: false, where: 'the buffer' };
  }
  return { bytes: toBytes(source, 'InferenceSession.create'), owned: false, where: 'the buffer' };
}

// A model of readModel with its bytes in JS.
async function modelBytes(model) {
  if (model.bytes) return model;
  const bytes = model.file ? await readNodeFile(model.file)
    : notHtml(new Uint8Array(await model.response.arrayBuffer()), model.response, model.where);
  return { bytes, owned: true, where: model.where };
}

// ---- the wasm module ----

function defaultUrl(file) {
  if (ASSET_URLS[file]) return ASSET_URLS[file];
  if (!SCRIPT_URL) return undefined;
  return new URL(file, SCRIPT_URL).href;
}

// A wasm build's URL: in the folder env.wasm.wasmPaths names, if it names one, else as above.
function wasmFileUrl(cfg, file) {
  return cfg.folder !== undefined ? `${cfg.folder}${file}` : defaultUrl(file);
}

const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d]; // "\0asm"

function preview(bytes) {
  let s = '';
  for (let i = 0; i < Math.min(bytes.length, 40); i++) {
    const c = bytes[i];
    s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '.';
  }
  return s;
}

async function compileBytes(bytes, where, contentType) {
  if (bytes.length < 8 || WASM_MAGIC.some((b, i) => bytes[i] !== b)) {
    throw fail('LOAD_FAILED', `expected a .wasm file at ${where} but got ${contentType || 'other data'} ` +
      `(${bytes.length} bytes starting with ${JSON.stringify(preview(bytes))}); ` +
      'set edgeinfer.env.wasm = { url } to where edgeinfer.wasm is served');
  }
  try {
    return await WebAssembly.compile(bytes);
  } catch (err) {
    if (/Content.Security.Policy|unsafe-eval/i.test(err.message)) {
      throw fail('LOAD_FAILED', "the page's Content-Security-Policy does not allow WebAssembly: add " +
        `'wasm-unsafe-eval' to script-src (${err.message})`);
    }
    throw fail('LOAD_FAILED', `${where} is not a usable WebAssembly module: ${err.message}`);
  }
}

async function compileResponse(resp, where) {
  checkResponse(resp, where);
  const type = (resp.headers.get('content-type') || '').split(';')[0].trim().toLowerCase();
  if (type === 'application/wasm' && typeof WebAssembly.compileStreaming === 'function') {
    try {
      return await WebAssembly.compileStreaming(resp.clone());
    } catch (err) {
      // Read the bytes below: they tell whether this is wasm at all.
    }
  }
  return compileBytes(new Uint8Array(await resp.arrayBuffer()), where, type || 'no content type');
}

// The two builds: edgeinfer-relaxed.wasm runs its GEMM and convolution kernels on relaxed
// multiply-add, which engines with relaxed SIMD fuse; edgeinfer.wasm needs SIMD128 only.
const WASM_FILES = { relaxed: 'edgeinfer-relaxed.wasm', plain: 'edgeinfer.wasm' };
// A module whose one function is f32x4.relaxed_madd of its three v128 parameters.
const RELAXED_PROBE = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  0x01, 0x08, 0x01, 0x60, 0x03, 0x7b, 0x7b, 0x7b, 0x01, 0x7b, 0x03, 0x02, 0x01, 0x00,
  0x0a, 0x0d, 0x01, 0x0b, 0x00, 0x20, 0x00, 0x20, 0x01, 0x20, 0x02, 0xfd, 0x85, 0x02, 0x0b]);

// Which build to fetch when env.wasm gives no module, bytes or URL (env.wasm.simd checked by
// ortWasmFlags): 'plain' when asked for, else 'relaxed' where this engine validates the probe
// and 'plain' elsewhere, so that asking for 'relaxed' never breaks an engine without it.
function simdBuild(choice) {
  if (choice === 'plain') return 'plain';
  return WebAssembly.validate(RELAXED_PROBE) ? 'relaxed' : 'plain';
}

// Compiles the module env.wasm points to; entry.build says which of the two builds it is
// (undefined when env.wasm gave a module, bytes, a response or a URL).
async function compileWasm(cfg, entry) {
  if (cfg.module) {
    if (!(cfg.module instanceof WebAssembly.Module)) {
      throw fail('INVALID_ARGUMENT', `env.wasm.module: expected a WebAssembly.Module, got ${describe(cfg.module)}`);
    }
    return cfg.module;
  }
  if (cfg.buffer) return compileBytes(toBytes(cfg.buffer, 'env.wasm.buffer'), 'env.wasm.buffer');
  if (cfg.response) {
    const resp = await cfg.response;
    if (!isResponse(resp)) {
      throw fail('INVALID_ARGUMENT', `env.wasm.response: expected a Response, got ${describe(resp)}`);
    }
    return compileResponse(resp, resp.url || 'env.wasm.response');
  }
  if (cfg.url === undefined) {
    const build = simdBuild(cfg.simd);
    try {
      const module = await compileUrl(wasmFileUrl(cfg, WASM_FILES[build]));
      entry.build = build;
      return module;
    } catch (err) {
      // A site that serves only edgeinfer.wasm still works where relaxed SIMD would be chosen
      // (unless env.wasm.simd asked for 'relaxed': then its file must be there).
      if (build !== 'relaxed' || cfg.simd !== undefined || !(err instanceof EdgeInferError)) throw err;
      const module = await compileUrl(wasmFileUrl(cfg, WASM_FILES.plain));
      entry.build = 'plain';
      return module;
    }
  }
  return compileUrl(String(cfg.url));
}

async function compileUrl(url) {
  if (!url) {
    throw fail('LOAD_FAILED', 'cannot tell where edgeinfer.wasm is (this script was not loaded from a URL); ' +
      'set edgeinfer.env.wasm = { url } or { buffer }');
  }
  if (isFileLocation(url)) return compileBytes(await readNodeFile(url), url);
  return compileResponse(await fetchResponse(url), url);
}

// ---- one wasm instance ----

const EI_LOAD_TAKE = 2;
// Bytes past the end of every buffer handed to the C side, so that a vector load running over
// a tail stays inside the buffer (EI_PAD in src/graph/graph.h).
const PAD = 16;
// Layout of the scratch block every call shares (calls never overlap: JS is single-threaded).
const SCRATCH_TENSOR = 0; // ei_tensor: dtype i32 @0, rank i32 @4, dims i64[8] @8, data ptr @72
const SCRATCH_HANDLE = 88; // an out-pointer (ei_model **, ei_session **)
const SCRATCH_NAME = 96; // 256 bytes: ei_tensor_decode's name
const SCRATCH_ERR = 352; // 256 bytes: ei_tensor_decode's message
const SCRATCH_OPTIONS = 608; // ei_session_options: limits (3 x i64) @0, threadpool ptr @24
const SCRATCH_BYTES = 640;
const LIMIT_FIELDS = ['tensorBytes', 'sessionBytes', 'loopIterations']; // in ei_limits order

// options.limits of InferenceSession.create, checked: { tensorBytes?, sessionBytes?, loopIterations? }.
function checkLimits(limits) {
  if (limits === undefined || limits === null) return null;
  if (typeof limits !== 'object') throw fail('INVALID_ARGUMENT', `options.limits: expected an object, got ${describe(limits)}`);
  const out = {};
  for (const key of Object.keys(limits)) {
    if (!LIMIT_FIELDS.includes(key)) {
      throw fail('INVALID_ARGUMENT', `options.limits.${key} is not a limit (${LIMIT_FIELDS.join(', ')})`);
    }
    const v = limits[key];
    if (v === undefined) continue;
    if (!Number.isSafeInteger(v) || v <= 0) throw fail('INVALID_ARGUMENT', `options.limits.${key} = ${v}: expected a positive integer`);
    out[key] = v;
  }
  return out;
}
const TEXT = new TextDecoder();
const TEXT_ENCODER = new TextEncoder();

// What a module imports, answered: the single-threaded builds import only
// emscripten_notify_memory_growth; the threaded build imports its shared memory and the few
// functions its libc calls (see "threads" below). Anything else throws when called.
function wasmImports(module, memory, getExports) {
  let u8 = new Uint8Array(0);
  const heap = () => (u8.buffer === memory.buffer ? u8 : (u8 = new Uint8Array(memory.buffer)));
  const known = {
    emscripten_notify_memory_growth: () => {},
    emscripten_memcpy_big: (d, s, n) => { heap().copyWithin(d >>> 0, s >>> 0, (s >>> 0) + (n >>> 0)); },
    emscripten_get_now: () => performance.now(),
    emscripten_resize_heap: (size) => {
      try { memory.grow(Math.ceil(((size >>> 0) - memory.buffer.byteLength) / 65536)); return 1; } catch { return 0; }
    },
    // The main thread's pthread record: libc asks JS to register it.
    __emscripten_init_main_thread_js: (tb) => { getExports()._emscripten_thread_init(tb, 1, 1, IS_NODE ? 1 : 0); },
    setTempRet0: () => {},
  };
  const imports = { env: { memory } };
  for (const imp of WebAssembly.Module.imports(module)) {
    if (imp.kind !== 'function') continue; // anything else fails in instantiate with its own message
    imports[imp.module] = imports[imp.module] || {};
    imports[imp.module][imp.name] = (imp.module === 'env' && known[imp.name]) || (() => {
      throw fail('UNSUPPORTED', `edgeinfer.wasm called ${imp.module}.${imp.name}, which the loader does not provide`);
    });
  }
  return imports;
}

class Runtime {
  constructor(instance, memory) {
    this.x = instance.exports;
    this.memory = memory || this.x.memory;
    this.broken = null;
    this.live = 0; // sessions in this instance
    this.pool = 0; // the threaded build's ei_threadpool
    this.workers = [];
    this.u8 = new Uint8Array(0);
    this.dv = new DataView(this.u8.buffer);
    this.call(this.x._initialize ? '_initialize' : '__wasm_call_ctors');
    // The threaded build's thread-local variables need a block of their own in each thread.
    if (this.x.emscripten_tls_init) this.call('emscripten_tls_init');
    this.scratch = this.malloc(SCRATCH_BYTES);
  }

  // memory: the shared memory the threaded build imports (the other builds make their own).
  static async create(module, memory) {
    let rt = null;
    let instance;
    try {
      instance = await WebAssembly.instantiate(module, wasmImports(module, memory || {}, () => instance.exports));
    } catch (err) {
      throw fail('LOAD_FAILED', `cannot instantiate edgeinfer.wasm: ${err.message}`);
    }
    rt = new Runtime(instance, memory);
    return rt;
  }

  // Views of the current memory buffer, made again after it grew.
  heap() {
    const buf = this.memory.buffer;
    if (this.u8.buffer !== buf) {
      this.u8 = new Uint8Array(buf);
      this.dv = new DataView(buf);
    }
    return this.u8;
  }

  view() {
    this.heap();
    return this.dv;
  }

  // Every call into the wasm goes through here: a trap leaves the instance in an unknown state,
  // so it is retired and later sessions get a fresh one.
  call(name, ...args) {
    if (this.broken) {
      throw fail('RUNTIME_ERROR', `edgeinfer.wasm stopped after an earlier error (${this.broken.message})`);
    }
    try {
      return this.x[name](...args);
    } catch (err) {
      this.broken = err;
      if (this.workers.length) stopThreads(this); // the instance is retired: its workers too
      if (err instanceof EdgeInferError) throw err;
      throw fail('RUNTIME_ERROR', `edgeinfer.wasm failed in ${name}: ${err && err.message}`);
    }
  }

  malloc(bytes) {
    const p = this.call('malloc', Math.max(bytes, 1)) >>> 0;
    if (!p) throw fail('OUT_OF_MEMORY', `out of memory: cannot allocate ${bytes} bytes in wasm memory`);
    return p;
  }

  free(p) {
    if (p) this.call('free', p);
  }

  str(p) {
    p >>>= 0;
    if (!p) return '';
    const u8 = this.heap();
    let end = p;
    while (end < u8.length && u8[end] !== 0) end++;
    return TEXT.decode(u8.slice(p, end)); // a copy: TextDecoder refuses views of shared memory
  }

  handle() {
    return this.view().getUint32(this.scratch + SCRATCH_HANDLE, true);
  }

  statusError(status, message) {
    return fail(STATUS_CODES[status] || 'RUNTIME_ERROR', message || `edgeinfer status ${status}`);
  }

  // Loading needs about three times the model in memory (the bytes, packed weights, the arena).
  // Growing once to that size up front is much faster than growing in many small steps from
  // inside malloc; the target is absolute, so sessions made again and again do not grow memory.
  reserve(length) {
    const want = 3 * length + (16 << 20), have = this.memory.buffer.byteLength;
    if (want > have && want < 2 ** 31) {
      try { this.memory.grow(Math.ceil((want - have) / 65536)); } catch { /* malloc grows as needed */ }
    }
  }

  // Puts a model of readModel into wasm memory: { ptr, length }, zero padded by PAD bytes. A file
  // or a response body goes straight there, each byte written once (fresh memory costs most at
  // its first write): a file in one block of its size; a body chunk by chunk into a block of its
  // Content-Length (or 1 MB) that doubles when more comes (a compressed body's length is that of
  // its encoding).
  async place({ bytes, file, response, where }) {
    if (bytes) return this.placeBytes(bytes);
    let p = 0, off = 0, fd = -1;
    const fs = file && nodeBuiltin('node:fs');
    try {
      if (file) fd = fs.openSync(/^file:/i.test(String(file)) ? new URL(String(file)) : String(file), 'r');
      let cap = file ? fs.fstatSync(fd).size : Number(response.headers.get('content-length')) || (1 << 20);
      const reader = response && response.body && response.body.getReader();
      this.reserve(cap);
      p = this.malloc(cap + PAD);
      for (;;) {
        let chunk = file ? off < cap && fs.readSync(fd, this.heap(), p + off, cap - off, off) : reader && (await reader.read()).value;
        if (!chunk) break;
        if (!file) chunk = toBytes(chunk, `${where}: a chunk of the body`);
        const n = file ? chunk : chunk.length;
        if (off + n > cap) {
          cap = Math.max(2 * cap, off + n);
          const q = this.malloc(cap + PAD);
          this.heap().copyWithin(q, p, p + off);
          this.free(p);
          p = q;
        }
        if (!file) this.heap().set(chunk, p + off);
        off += n;
      }
      if (response) notHtml(this.heap().slice(p, p + Math.min(off, 64)), response, where);
    } catch (err) {
      this.free(p);
      throw err instanceof EdgeInferError ? err : fail('LOAD_FAILED', `cannot read ${where}: ${err && err.message}`);
    } finally {
      if (fd >= 0) fs.closeSync(fd);
    }
    this.heap().fill(0, p + off, p + off + PAD);
    return { ptr: p, length: off };
  }

  // Bytes copied into wasm memory, as Runtime.place gives them: { ptr, length }.
  placeBytes(bytes) {
    this.reserve(bytes.length);
    return { ptr: this.copyIn(bytes), length: bytes.length };
  }

  // Loads a model placed in wasm memory (or bytes, copied there) and returns its handle (the
  // caller frees it with ei_model_free) and where its bytes lie; throws the C message when
  // loading fails. The C side owns the bytes from here on (EI_LOAD_TAKE), even when it fails.
  loadModel(src) {
    if (src instanceof Uint8Array) src = this.placeBytes(src);
    const p = src.ptr;
    this.view().setUint32(this.scratch + SCRATCH_HANDLE, 0, true);
    const st = this.call('ei_model_load', p, src.length, EI_LOAD_TAKE, this.scratch + SCRATCH_HANDLE);
    const model = this.handle();
    if (st !== 0) {
      const msg = model ? this.str(this.call('ei_model_errmsg', model)) : 'out of memory';
      if (model) this.call('ei_model_free', model);
      throw this.statusError(st, `cannot load the model: ${msg}`);
    }
    return { model, ptr: p, length: src.length };
  }

  // Copies bytes into fresh wasm memory (zero padded by PAD bytes).
  copyIn(bytes) {
    const p = this.malloc(bytes.length + PAD);
    const heap = this.heap();
    heap.set(bytes, p);
    heap.fill(0, p + bytes.length, p + bytes.length + PAD);
    return p;
  }

  writeTensor(at, dtype, dims, dataPtr) {
    const dv = this.view();
    dv.setInt32(at, dtype, true);
    dv.setInt32(at + 4, dims.length, true);
    for (let d = 0; d < MAX_DIMS; d++) dv.setBigInt64(at + 8 + 8 * d, BigInt(d < dims.length ? dims[d] : 0), true);
    dv.setUint32(at + 72, dataPtr, true);
  }

  // Copies an ei_tensor's data out of wasm memory into a new Tensor.
  readTensor(at, what) {
    const dv = this.view();
    const dtype = dv.getInt32(at, true);
    const rank = dv.getInt32(at + 4, true);
    const type = TYPE_BY_ID[dtype];
    if (!type) {
      throw fail('UNSUPPORTED', `${what} has type ${ONNX_TYPE_NAMES[dtype] || dtype}, which edgeinfer's JS API does not support`);
    }
    const dims = [];
    for (let d = 0; d < rank; d++) {
      const n = dv.getBigInt64(at + 8 + 8 * d, true);
      if (n < 0n || n > BigInt(Number.MAX_SAFE_INTEGER)) {
        throw fail('INVALID_SHAPE', `${what} has dim ${n} at axis ${d}, beyond what a JavaScript number holds exactly`);
      }
      dims.push(Number(n));
    }
    const ptr = dv.getUint32(at + 72, true);
    const Ctor = DTYPES[type].ctor;
    const count = dims.reduce((a, b) => a * b, 1);
    const bytes = count * Ctor.BYTES_PER_ELEMENT;
    const data = new Ctor(count); // own memory, never a view of (possibly shared) wasm memory
    new Uint8Array(data.buffer).set(this.heap().subarray(ptr, ptr + bytes));
    return new Tensor(type, data, dims);
  }

  // Parses a serialized TensorProto (e.g. a .pb file of the ONNX test suites).
  decodeTensor(bytes) {
    const p = this.copyIn(bytes);
    const t = this.scratch + SCRATCH_TENSOR;
    try {
      this.writeTensor(t, 0, [], 0);
      const st = this.call('ei_tensor_decode', p, bytes.length, t, this.scratch + SCRATCH_NAME, 256,
        this.scratch + SCRATCH_ERR, 256);
      if (st !== 0) throw this.statusError(st, `cannot decode the TensorProto: ${this.str(this.scratch + SCRATCH_ERR)}`);
      const name = this.str(this.scratch + SCRATCH_NAME);
      try {
        return { name, tensor: this.readTensor(t, `tensor '${name}'`) };
      } finally {
        this.call('ei_tensor_free_data', t);
      }
    } finally {
      this.free(p);
    }
  }
}

// Compiled modules and instances, shared by the sessions of this thread that use the same wasm.
let wasmCache = null;

// wasm memory never shrinks: when the last session of an instance that grew beyond this is
// released, the instance is dropped (its memory goes back to the system) and the next session
// gets a fresh one.
const RETIRE_BYTES = 64 << 20;

function sessionEnded(rt) {
  rt.live--;
  if (rt.pool) { // a threaded instance keeps workers busy-waiting: stop them with the last session
    if (rt.live === 0) stopThreads(rt);
    return;
  }
  const entry = wasmCache;
  if (rt.live > 0 || !entry || entry.loaded !== rt || rt.memory.buffer.byteLength <= RETIRE_BYTES) return;
  entry.loaded = null;
  entry.runtime = null;
}

function wasmConfig(options) {
  const c = (options && options.wasm) || env.wasm || {};
  if (typeof c !== 'object') throw fail('INVALID_ARGUMENT', `env.wasm: expected an object, got ${describe(c)}`);
  const ort = ortWasmFlags(c); // onnxruntime-web's wasmPaths, wasmBinary, simd
  return { url: c.url !== undefined ? c.url : ort.url, folder: ort.folder, buffer: c.buffer || ort.buffer, response: c.response, module: c.module, simd: ort.simd };
}

function cacheEntry(cfg) {
  const same = wasmCache && ['url', 'folder', 'buffer', 'response', 'module', 'simd'].every((k) => wasmCache.cfg[k] === cfg[k]);
  if (!same) {
    const entry = { cfg, module: null, runtime: null, build: undefined };
    entry.module = compileWasm(cfg, entry).catch((err) => {
      if (wasmCache === entry) wasmCache = null; // try again next time
      throw err;
    });
    wasmCache = entry;
  }
  return wasmCache;
}

function getModule(cfg) {
  return cacheEntry(cfg).module;
}

async function getRuntime(cfg) {
  const entry = cacheEntry(cfg);
  for (;;) {
    const pending = entry.runtime;
    if (!pending) break;
    const rt = await pending.catch(() => null);
    if (rt && !rt.broken) return rt;
    if (entry.runtime === pending) entry.runtime = null; // failed or trapped: make a fresh instance
  }
  const made = entry.module.then((m) => Runtime.create(m));
  entry.runtime = made;
  made.then((rt) => { entry.loaded = rt; }, () => { if (entry.runtime === made) entry.runtime = null; });
  return made;
}

// ---- threads ----
//
// A session on more than one thread runs in a threaded build (edgeinfer-threads.wasm, or
// edgeinfer-threads-relaxed.wasm where relaxed SIMD runs), one instance per thread of this page,
// whose memory is a shared WebAssembly.Memory. Its C thread pool
// (src/graph/threadpool.c) gets threads-1 workers: each loads edgeinfer-worker.js (the same
// script as { worker: true } sessions, so a Content-Security-Policy that allows one allows the
// other), instantiates the same module on the same memory with its own stack, and calls
// ei_threadpool_work, which only returns when the pool is freed. Workers never run JS for the
// session: the calling thread splits each heavy node with them in C. When threads cannot run
// (no SharedArrayBuffer, a page that is not cross-origin isolated, a worker that fails to
// start), the session runs on one thread in the single-threaded build, after one notice.

// The threaded builds: SIMD128, and relaxed SIMD picked as for one thread (simdBuild).
const THREADS_FILES = { plain: 'edgeinfer-threads.wasm', relaxed: 'edgeinfer-threads-relaxed.wasm' };
const THREAD_STACK = 256 << 10; // bytes of stack per worker: the kernels it runs need little
const THREAD_START_MS = 10000; // a worker that has not started by then counts as failed
// Pages of the threaded build's memory (its -sINITIAL_MEMORY and -sMAXIMUM_MEMORY in the Makefile).
const SHARED_PAGES = { initial: 256, maximum: 32768 };
let threaded = null; // { runtime: Promise<Runtime>, rt } of this thread
let threadsModule = null; // { url, module: Promise<WebAssembly.Module> }
let noticed = false;

// One console notice per page: why the sessions run on fewer threads than they could.
function threadNotice(why) {
  if (noticed) return;
  noticed = true;
  console.warn(`edgeinfer: running on one thread: ${why}`);
}

// Why this context cannot run threads, or '' when it can.
function threadsUnavailable() {
  if (!IS_NODE && typeof Worker !== 'function') return 'this context cannot start workers (a service worker runs sessions on one thread)';
  if (!IS_NODE && !globalThis.crossOriginIsolated) {
    return 'the page is not cross-origin isolated. Serve it with "Cross-Origin-Opener-Policy: same-origin" and ' +
      '"Cross-Origin-Embedder-Policy: require-corp" (or have its service worker add them) to use every core';
  }
  if (typeof SharedArrayBuffer !== 'function' || typeof Atomics !== 'object') return 'this engine has no SharedArrayBuffer';
  return '';
}

function cores() {
  if (IS_NODE) {
    const os = nodeBuiltin('node:os');
    return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  }
  return (typeof navigator === 'object' && navigator.hardwareConcurrency) || 1;
}

// The threads a session runs on: options.numThreads, else env.wasm.numThreads, else
// min(4, cores) (0 also means the default), and 1 where threads cannot run or env.wasm names
// the module itself (a single-threaded build, unless it is edgeinfer-threads.wasm's folder).
function threadCount(options, cfg) {
  let n = options.numThreads;
  if (n === undefined) n = (options.wasm || env.wasm || {}).numThreads;
  if (n !== undefined && !(Number.isInteger(n) && n >= 0 && n <= 64)) {
    throw fail('INVALID_ARGUMENT', `numThreads: expected a whole number from 0 (the default) to 64, got ${describe(n)}`);
  }
  if (n === 1 || cfg.module || cfg.buffer || cfg.response || cfg.url !== undefined) return 1;
  const why = threadsUnavailable();
  if (why) {
    threadNotice(why);
    return 1;
  }
  return n || Math.min(4, cores());
}

// Starts worker `index` of rt's pool; resolves once it is inside ei_threadpool_work.
function startThread(rt, module, url, index) {
  const stack = rt.malloc(THREAD_STACK);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker ${index} did not start within ${THREAD_START_MS} ms`)), THREAD_START_MS);
    const done = (err) => { clearTimeout(timer); if (err) reject(err); else resolve(); };
    let w;
    try {
      w = spawnWorker(url, (msg) => done(msg.ok ? null : new Error(msg.error)), (what) => done(new Error(`a worker ${what}`)));
    } catch (err) {
      done(err);
      return;
    }
    rt.workers.push(w);
    w.postMessage({ op: 'thread', args: { module, memory: rt.memory, pool: rt.pool, index, stack, stackSize: THREAD_STACK } });
  });
}

// The compiled threaded build: the relaxed one where simdBuild picks it (the SIMD128 one when
// that file cannot be had), compiled once per URL.
async function threadsModuleFor(cfg) {
  const compile = (file) => {
    if (!threadsModule || threadsModule.url !== file) threadsModule = { url: file, module: compileUrl(file) };
    return threadsModule.module.catch((err) => {
      threadsModule = null; // try again next time
      throw err;
    });
  };
  if (cfg.threadsUrl) return compile(cfg.threadsUrl);
  const build = simdBuild(cfg.simd);
  try {
    return await compile(wasmFileUrl(cfg, THREADS_FILES[build]));
  } catch (err) {
    if (build !== 'relaxed' || cfg.simd !== undefined) throw err;
    return compile(wasmFileUrl(cfg, THREADS_FILES.plain));
  }
}

async function makeThreadedRuntime(cfg, threads) {
  const url = cfg.workerUrl || env.workerUrl || defaultUrl('edgeinfer-worker.js');
  if (!url) throw new Error('cannot tell where edgeinfer-worker.js is; set edgeinfer.env.workerUrl');
  const module = await threadsModuleFor(cfg);
  const memory = new WebAssembly.Memory({ ...SHARED_PAGES, shared: true });
  const rt = await Runtime.create(module, memory);
  try {
    const st = rt.call('ei_threadpool_create', threads, rt.scratch + SCRATCH_HANDLE);
    if (st !== 0) throw rt.statusError(st, `cannot make a pool of ${threads} threads`);
    rt.pool = rt.handle();
    rt.threads = threads;
    const starts = [];
    for (let i = 1; i < threads; i++) starts.push(startThread(rt, module, url, i));
    await Promise.all(starts);
  } catch (err) {
    stopThreads(rt);
    throw err;
  }
  return rt;
}

// The threaded instance of this thread, made with `threads` threads if there is none yet (the
// first threaded session fixes the count until its instance is dropped with the last session).
async function getThreadedRuntime(cfg, threads) {
  if (threaded) {
    const rt = await threaded.runtime.catch(() => null);
    if (rt && !rt.broken && rt.pool) return rt;
    threaded = null;
  }
  const entry = { runtime: makeThreadedRuntime(cfg, threads), rt: null };
  threaded = entry;
  entry.runtime.then((rt) => { entry.rt = rt; }, () => { if (threaded === entry) threaded = null; });
  return entry.runtime;
}

function stopThreads(rt) {
  for (const w of rt.workers) w.terminate();
  rt.workers = [];
  rt.pool = 0;
  if (threaded && rt === threaded.rt) threaded = null;
}

// Where a worker session's worker finds the threaded build this thread would pick.
function threadsUrlFor(cfg) {
  return wasmFileUrl(cfg, THREADS_FILES[simdBuild(cfg.simd)]);
}

// Runtime.place, counted as a session meanwhile: a body streaming in awaits, and the release of
// another session must not retire the instance (or stop its threads) in between.
async function placeIn(rt, model) {
  rt.live++;
  try {
    return await rt.place(model);
  } finally {
    rt.live--;
  }
}

// The instance a session of `threads` threads runs in: the threaded one, or this thread's
// single-threaded one (also when threads cannot start, after the notice saying why).
async function runtimeFor(cfg, threads) {
  if (threads > 1) {
    try {
      return await getThreadedRuntime(cfg, threads);
    } catch (err) {
      threadNotice(`the threaded build could not start (${err && err.message})`);
    }
  }
  return getRuntime(cfg);
}

// ---- sessions ----

function ioMetadata(rt, model, isOutput, index, name) {
  const dtype = rt.call('ei_model_io_dtype', model, isOutput, index);
  const rank = rt.call('ei_model_io_rank', model, isOutput, index);
  let dims = null;
  if (rank >= 0) {
    dims = [];
    for (let d = 0; d < rank; d++) {
      const n = Number(rt.call('ei_model_io_dim', model, isOutput, index, d));
      const sym = rt.str(rt.call('ei_model_io_dim_name', model, isOutput, index, d));
      dims.push(n >= 0 ? n : sym !== '' ? sym : null);
    }
  }
  if (dtype === 0) return { name, isTensor: false };
  return {
    name,
    isTensor: true,
    type: ONNX_TYPE_NAMES[dtype] || `onnx type ${dtype}`,
    shape: dims || [], // onnxruntime's field: [] when the rank is unknown
    dims, // null when the rank is unknown; a null entry is a dim with neither size nor name
  };
}

// The next task of the event loop (not a microtask, and without setTimeout's 4 ms clamp), so that
// a run in slices lets the page (and an AbortSignal) act between them.
function nextTask() {
  return new Promise((resolve) => {
    if (IS_NODE) return setImmediate(resolve); // 4x cheaper there
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = () => { port1.close(); resolve(); };
    port2.postMessage(0);
  });
}

// A slice of a run with an AbortSignal lasts about SLICE_MS: the node budget of the next slice
// doubles below it and halves above.
const SLICE_MS = 8;

// A session in this thread's wasm instance. A trap of that instance (a bug) retires it; the
// session whose call trapped then refuses to run, and every other one is made again on a fresh
// instance at its next run, from its options and its model bytes read from the old instance's
// memory: they were copied there once (no JS copy is kept), and their checksum, taken then, must
// still match, else the session fails clearly and must be created again. Runs of one session
// take turns, since a run with a signal goes in slices (ei_session_run_step) that yield to the
// event loop between them.
class LocalBackend {
  static create(rt, src, limits, cfg, where) {
    const x = new LocalBackend(limits, cfg, where);
    x.open(rt, src);
    return x;
  }

  constructor(limits, cfg, where) {
    this.limits = limits;
    this.cfg = cfg;
    this.where = where;
    this.session = 0;
    this.model = 0;
    this.inputs = []; // per model input: {ptr, cap} of its reusable wasm buffer
    this.turn = Promise.resolve(); // the end of the last run asked for
    this.queued = 0; // runs asked for and not ended
    // this.trap: the error that ended this session
  }

  open(rt, src) {
    this.rt = rt;
    rt.live++;
    this.counted = true;
    try {
      this.load(src, this.limits);
    } catch (err) {
      this.release();
      throw err;
    }
  }

  load(src, limits) {
    const rt = this.rt;
    const { model, ptr, length } = rt.loadModel(src);
    this.model = model;
    this.src = { ptr, length, sum: rt.call('ei_checksum', ptr, length) };
    rt.view().setUint32(rt.scratch + SCRATCH_HANDLE, 0, true);
    const at = rt.scratch + SCRATCH_OPTIONS;
    rt.call('ei_session_options_default', at);
    const dv = rt.view();
    if (limits) LIMIT_FIELDS.forEach((k, i) => { if (limits[k] !== undefined) dv.setBigInt64(at + 8 * i, BigInt(limits[k]), true); });
    dv.setUint32(at + 24, rt.pool, true);
    const st = rt.call('ei_session_create_with', this.model, at, rt.scratch + SCRATCH_HANDLE);
    this.session = rt.handle();
    if (st !== 0) {
      const msg = this.session ? rt.str(rt.call('ei_session_errmsg', this.session)) : 'out of memory';
      this.release();
      throw rt.statusError(st, msg);
    }
    const meta = { inputNames: [], outputNames: [], inputMetadata: [], outputMetadata: [], numThreads: rt.pool ? rt.threads : 1 };
    for (const isOutput of [0, 1]) {
      const n = rt.call('ei_model_io_count', this.model, isOutput);
      for (let i = 0; i < n; i++) {
        const name = rt.str(rt.call('ei_model_io_name', this.model, isOutput, i));
        (isOutput ? meta.outputNames : meta.inputNames).push(name);
        (isOutput ? meta.outputMetadata : meta.inputMetadata).push(ioMetadata(rt, this.model, isOutput, i, name));
      }
    }
    this.meta = meta;
    this.inputs = meta.inputNames.map(() => ({ ptr: 0, cap: 0 }));
  }

  // This session again, on a fresh instance, after another session's trap retired its instance.
  async revive() {
    const old = this.rt, { ptr, length, sum } = this.src;
    this.release();
    const rt = await runtimeFor(this.cfg, old.threads); // as many threads as before
    const src = rt.placeBytes(old.heap().subarray(ptr, ptr + length));
    if (rt.call('ei_checksum', src.ptr, length) !== sum) {
      rt.free(src.ptr);
      throw (this.trap = fail('RUNTIME_ERROR', `the session made from ${this.where} was lost: another session's ` +
        'error overwrote its model; create the session again'));
    }
    this.open(rt, src);
  }

  errmsg() {
    return this.rt.str(this.rt.call('ei_session_errmsg', this.session));
  }

  // Calls into the wasm for this session: a trap there is this session's, and ends it.
  guard(fn) {
    if (this.trap) throw this.trap;
    if (!this.session) throw fail('INVALID_STATE', 'the session was released');
    const rt = this.rt, healthy = !rt.broken;
    try {
      return fn();
    } catch (err) {
      if (healthy && rt.broken) {
        err.message += ` (the session made from ${this.where}${this.runningNode()})`;
        this.trap = fail('RUNTIME_ERROR', `the session made from ${this.where} trapped (${rt.broken.message}); create the session again`);
      }
      throw err;
    }
  }

  // ", at node 'name' (Op, opset n)" for the node a trapped run was at, asked of the retired instance.
  runningNode() {
    try {
      const p = this.rt.x.ei_session_run_node(this.session);
      return p ? `, at ${this.rt.str(p)}` : '';
    } catch {
      return '';
    }
  }

  // feeds: feedSpec() results, one per model input; outputIndices: which outputs to return;
  // signal: an AbortSignal, to run in slices.
  run(feeds, outputIndices, signal) {
    // The feeds are read now: into wasm memory when the session is free to run at once, else
    // copied until its turn comes.
    const later = this.queued > 0 || (this.rt.broken && !this.trap);
    if (later) feeds = feeds.map((f) => ({ ...f, bytes: Uint8Array.prototype.slice.call(feedBytes(f)) }));
    const go = async () => {
      for (let again = true; ; again = false) {
        if (this.rt.broken && !this.trap) await this.revive();
        try {
          return await this.runHere(feeds, outputIndices, signal);
        } catch (err) {
          // Another session trapped while this run paused between slices: run it again.
          if (!again || this.trap || !this.rt.broken) throw err;
        }
      }
    };
    this.queued++;
    const turn = later ? this.turn.then(go) : go();
    this.turn = turn.catch(() => {}).then(() => { this.queued--; });
    return turn;
  }

  async runHere(feeds, outputIndices, signal) {
    const rt = this.rt, s = this.session;
    this.guard(() => this.bind(feeds));
    for (let budget = 1, st = PENDING, t0; st === PENDING; budget = performance.now() - t0 < SLICE_MS ? budget * 2 : budget / 2 + 0.5 | 0) {
      t0 = performance.now();
      st = this.guard(() => (signal ? rt.call('ei_session_run_step', s, BigInt(budget)) : rt.call('ei_session_run', s)));
      if (st !== PENDING) this.check(st);
      else if (await nextTask(), signal.aborted) {
        this.guard(() => rt.call('ei_session_run_cancel', s));
        throw fail('ABORTED', 'the run was cancelled (AbortSignal)');
      }
    }
    return this.guard(() => outputIndices.map((i) => {
      const t = rt.scratch + SCRATCH_TENSOR;
      this.check(rt.call('ei_session_output', this.session, i, t));
      return rt.readTensor(t, `output '${this.meta.outputNames[i]}'`);
    }));
  }

  check(st) {
    if (st !== 0) throw this.rt.statusError(st, this.errmsg());
  }

  // Copies the feeds into the session's input buffers and binds them.
  bind(feeds) {
    const rt = this.rt;
    for (const f of feeds) {
      const buf = this.inputs[f.index];
      const data = feedBytes(f);
      const bytes = data.byteLength;
      if (buf.cap < bytes) {
        rt.free(buf.ptr);
        buf.ptr = 0;
        buf.cap = 0;
        buf.ptr = rt.malloc(bytes + PAD);
        buf.cap = bytes;
      }
      rt.heap().set(data, buf.ptr);
      const t = rt.scratch + SCRATCH_TENSOR;
      rt.writeTensor(t, f.dtype, f.dims, buf.ptr);
      this.check(rt.call('ei_session_set_input', this.session, f.index, t));
    }
  }

  release() {
    const rt = this.rt;
    if (!rt.broken) { // else its memory is gone with the instance
      for (const b of this.inputs) rt.free(b.ptr);
      if (this.session) rt.call('ei_session_free', this.session);
      if (this.model) rt.call('ei_model_free', this.model);
    }
    this.inputs = [];
    this.session = 0;
    this.model = 0;
    if (this.counted) {
      this.counted = false;
      sessionEnded(rt);
    }
  }
}

// Starts edgeinfer-worker.js as a Web Worker (worker_threads in Node); onError gets what went wrong.
// In Node the worker does not keep the process alive (WorkerBackend refs it during requests).
function spawnWorker(url, onMessage, onError) {
  let w;
  if (IS_NODE) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(url) && !/^file:/i.test(url) && !/^[a-z]:[\\/]/i.test(url)) {
      throw fail('LOAD_FAILED', `Node.js starts workers from files only: workerUrl ${url} is not a file path or ` +
        'file: URL (point env.workerUrl at a local copy of edgeinfer-worker.js)');
    }
    const { Worker: NodeWorker } = nodeBuiltin('node:worker_threads');
    w = new NodeWorker(/^file:/i.test(url) ? new URL(url) : url, { name: 'edgeinfer' });
    w.on('message', onMessage);
    w.on('error', (err) => onError(`failed: ${err && err.message}`));
    w.on('exit', (code) => onError(`exited with code ${code}`));
    w.unref();
  } else {
    w = new Worker(url, { type: 'classic', name: 'edgeinfer' });
    w.onmessage = (e) => onMessage(e.data);
    w.onerror = (e) => {
      if (e && typeof e.preventDefault === 'function') e.preventDefault();
      onError(e && e.message ? `failed: ${e.message}` : 'could not be loaded or failed (check that the URL serves edgeinfer-worker.js)');
    };
    w.onmessageerror = () => onError('sent a message that could not be read');
  }
  return w;
}

// A session that lives in a dedicated worker (a Web Worker, or worker_threads in Node).
// Requests and replies carry an id; buffers are transferred, never shared.
class WorkerBackend {
  // threading: { threads, threadsUrl } for the worker's own runtime (see runtimeFor).
  static async create(module, model, options, threading) {
    const url = options.workerUrl || env.workerUrl || defaultUrl('edgeinfer-worker.js');
    if (!url) {
      throw fail('LOAD_FAILED', 'cannot tell where edgeinfer-worker.js is (this script was not loaded from a URL); ' +
        'set edgeinfer.env.workerUrl');
    }
    // The caller's buffer stays theirs: transfer a copy unless the bytes were fetched here (a
    // Node Buffer's slice() is a view of a shared pool, so copy with Uint8Array's own slice).
    const b = model.bytes;
    const bytes = model.owned && b.byteOffset === 0 && b.byteLength === b.buffer.byteLength
      ? b : Uint8Array.prototype.slice.call(b);
    let w = null;
    try {
      w = new WorkerBackend(String(url));
      w.meta = await w.request('create', { module, bytes, limits: checkLimits(options.limits), ...threading,
        workerUrl: String(url), where: model.where }, [bytes.buffer]);
    } catch (err) {
      if (w) w.terminate();
      if (err instanceof EdgeInferError) throw err;
      throw fail('RUNTIME_ERROR', `cannot start the edgeinfer worker (${url}): ${err && err.message}`);
    }
    return w;
  }

  constructor(url) {
    this.url = url;
    this.nextId = 1;
    this.pending = new Map();
    this.dead = null;
    this.worker = spawnWorker(url, (msg) => this.onMessage(msg),
      (what) => this.die(fail('RUNTIME_ERROR', `the edgeinfer worker (${url}) ${what}`)));
  }

  request(op, args, transfer) {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (IS_NODE && this.pending.size === 1) this.worker.ref();
      this.worker.postMessage({ id, op, args }, transfer || []);
    });
  }

  onMessage(msg) {
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (IS_NODE && this.pending.size === 0) this.worker.unref();
    if (msg.ok) p.resolve(msg.value);
    else p.reject(fail(msg.error.code, msg.error.message));
  }

  die(err) {
    if (this.dead) return;
    this.dead = err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  async run(feeds, outputIndices, signal) {
    // Copies (never Buffer#slice, a view), so that the caller's arrays stay usable; the copies are transferred.
    const sent = feeds.map((f) => ({ ...f, bytes: Uint8Array.prototype.slice.call(feedBytes(f)) }));
    const onAbort = () => { // the only way to stop wasm code running in a worker
      this.die(fail('ABORTED', 'the run was cancelled (AbortSignal); its worker was stopped, so this session ' +
        'cannot run again: create it again'));
      this.worker.terminate();
    };
    if (signal) signal.addEventListener('abort', onAbort, { once: true });
    try {
      const outs = await this.request('run', { feeds: sent, outputIndices }, sent.map((f) => f.bytes.buffer));
      return outs.map((t) => new Tensor(t.type, t.data, t.dims));
    } finally {
      if (signal) signal.removeEventListener('abort', onAbort);
    }
  }

  async release() {
    try {
      if (!this.dead) await this.request('release', {});
    } finally {
      this.terminate();
    }
  }

  terminate() {
    this.die(fail('INVALID_STATE', 'the session was released'));
    this.worker.terminate();
  }
}

/**
 * A loaded model, ready to run. Make one with `await InferenceSession.create(source, options)`.
 */
class InferenceSession {
  #backend;
  #inputIndex;
  #outputIndex;
  #released = false;

  #overrides;

  constructor(backend, key, overrides = {}) {
    if (key !== CREATE_KEY) throw fail('INVALID_ARGUMENT', 'use await InferenceSession.create(model) to make a session');
    this.#backend = backend;
    this.#overrides = overrides;
    const m = backend.meta;
    this.inputNames = Object.freeze(m.inputNames.slice());
    this.outputNames = Object.freeze(m.outputNames.slice());
    this.inputMetadata = Object.freeze(applyOverrides(m.inputMetadata, overrides));
    this.outputMetadata = Object.freeze(applyOverrides(m.outputMetadata, overrides));
    this.#inputIndex = new Map(m.inputNames.map((n, i) => [n, i]));
    this.#outputIndex = new Map(m.outputNames.map((n, i) => [n, i]));
    /** The threads this session's runs use (1 where threads cannot run; see "threads"). */
    this.numThreads = m.numThreads;
  }

  /**
   * Loads a model. `source`: a URL or (in Node) a file path, an ArrayBuffer (optionally with
   * byteOffset and byteLength, as onnxruntime allows), a Uint8Array, or a Response.
   * options.worker: run the session in a dedicated worker (default: env.wasm.proxy);
   * options.wasm overrides env.wasm; options.workerUrl overrides env.workerUrl; options.limits:
   * { tensorBytes, sessionBytes, loopIterations }, the session's limits (include/edgeinfer.h),
   * defaults for those absent; onnxruntime's session options are checked by sessionOptions()
   * (edgeinfer.compat.js).
   */
  static async create(source, byteOffsetOrOptions, byteLength, maybeOptions) {
    let options = byteOffsetOrOptions;
    let byteOffset;
    if (typeof byteOffsetOrOptions === 'number') {
      byteOffset = byteOffsetOrOptions;
      if (typeof byteLength !== 'number') {
        options = byteLength;
        byteLength = undefined;
      } else {
        options = maybeOptions;
      }
    }
    options = options || {};
    if (typeof options !== 'object') throw fail('INVALID_ARGUMENT', `options: expected an object, got ${describe(options)}`);
    const { worker, overrides } = sessionOptions(options);
    const cfg = wasmConfig(options);
    checkLimits(options.limits); // before any work
    const threads = threadCount(options, cfg);
    const [model, runtimeOrModule] = await Promise.all([
      readModel(source, byteOffset, byteLength),
      worker ? getModule(cfg) : runtimeFor(cfg, threads),
    ]);
    const backend = worker
      ? await WorkerBackend.create(runtimeOrModule, await modelBytes(model), options, { threads, threadsUrl: threadsUrlFor(cfg) })
      : LocalBackend.create(runtimeOrModule, await placeIn(runtimeOrModule, model), checkLimits(options.limits), cfg, model.where);
    return new InferenceSession(backend, CREATE_KEY, overrides);
  }

  /**
   * Runs the model. `feeds` maps every input name to a Tensor; the result maps output names
   * (all outputs, or those named in `fetches`) to new Tensors. As in onnxruntime, the second
   * argument may be run options instead, and fetches may give tensors to copy outputs into.
   * Run options' signal (an AbortSignal) cancels: checked before the run; on this thread the
   * run then goes in slices and abort() stops it between two (the session stays usable); in
   * worker mode it stops a run in progress by terminating the session's worker (the session
   * then refuses to run). Other sessions are not affected.
   */
  async run(feeds, fetches, runOptions) {
    if (this.#released) throw fail('INVALID_STATE', 'the session was released; create a new one to run the model');
    if (!feeds || typeof feeds !== 'object') throw fail('INVALID_ARGUMENT', `run: feeds must be an object of Tensors, got ${describe(feeds)}`);
    const specs = [];
    for (const name of Object.keys(feeds)) {
      const index = this.#inputIndex.get(name);
      if (index === undefined) {
        throw fail('INVALID_ARGUMENT', `unknown input '${name}': the model's inputs are ${this.inputNames.map((n) => `'${n}'`).join(', ') || 'none'}`);
      }
      specs.push(feedSpec(name, index, feeds[name]));
      checkOverriddenDims(specs[specs.length - 1], this.#backend.meta.inputMetadata[index], this.#overrides);
    }
    const missing = this.inputNames.filter((n) => !Object.prototype.hasOwnProperty.call(feeds, n));
    if (missing.length) {
      throw fail('INVALID_ARGUMENT', `missing input${missing.length > 1 ? 's' : ''} ${missing.map((n) => `'${n}'`).join(', ')}`);
    }
    const { names, into, options } = runArguments(this.outputNames, fetches, runOptions);
    const signal = options.signal;
    if (signal !== undefined && !(typeof AbortSignal === 'function' && signal instanceof AbortSignal)) {
      throw fail('INVALID_ARGUMENT', `run: options.signal must be an AbortSignal, got ${describe(signal)}`);
    }
    if (signal && signal.aborted) throw fail('ABORTED', 'the run was cancelled (AbortSignal) before it started');
    const indices = names.map((n) => {
      const i = this.#outputIndex.get(n);
      if (i === undefined) {
        throw fail('INVALID_ARGUMENT', `unknown output '${n}': the model's outputs are ${this.outputNames.map((o) => `'${o}'`).join(', ')}`);
      }
      return i;
    });
    const tensors = await this.#backend.run(specs, indices, signal);
    const result = {};
    names.forEach((n, k) => { result[n] = into[n] ? copyInto(n, into[n], tensors[k]) : tensors[k]; });
    return result;
  }

  /** Frees the session and its model. Calling it again does nothing. */
  async release() {
    if (this.#released) return;
    this.#released = true;
    await this.#backend.release();
  }

  startProfiling() {}

  endProfiling() {}
}

const CREATE_KEY = Symbol('create');

/**
 * Decodes a serialized ONNX TensorProto (such as the input_*.pb / output_*.pb files of the ONNX
 * test suites) with the C decoder. float16 data becomes float32. Returns { name, tensor }.
 */
async function decodeTensorProto(bytes, options) {
  const rt = await getRuntime(wasmConfig(options));
  return rt.decodeTensor(toBytes(bytes, 'decodeTensorProto'));
}

/**
 * Describes a model without running it: IR version, producer, opset imports (by domain, ''
 * for ai.onnx), every node in file order with its op and whether this build runs it, the
 * compiled graph a session runs (`compiled`: [{ op, name, fused }] after the compile passes,
 * or { error } when no session can be made), weight bytes, and the inputs' and outputs'
 * metadata. Loads the model in this thread's wasm instance and frees it again; unsupported
 * ops are no error here.
 */
// The graph a session of this model runs after the compile passes, node by node in execution
// order, with what was fused into each ({ op, name, fused }); or { error } when no session can
// be made.
function compiledGraph(rt, model) {
  rt.view().setUint32(rt.scratch + SCRATCH_HANDLE, 0, true);
  const st = rt.call('ei_session_create', model, rt.scratch + SCRATCH_HANDLE);
  const session = rt.handle();
  try {
    if (st !== 0) return { error: session ? rt.str(rt.call('ei_session_errmsg', session)) : 'out of memory' };
    return Array.from({ length: rt.call('ei_session_node_count', session) }, (_, i) => ({
      op: rt.str(rt.call('ei_session_node_op', session, i)),
      name: rt.str(rt.call('ei_session_node_name', session, i)),
      fused: rt.str(rt.call('ei_session_node_fused', session, i)),
    }));
  } finally {
    if (session) rt.call('ei_session_free', session);
  }
}

async function inspect(source, options = {}) {
  const cfg = wasmConfig(options);
  const [src, rt] = await Promise.all([readModel(source), getRuntime(cfg)]);
  const { model } = rt.loadModel(await rt.place(src));
  try {
    const nodes = [];
    const domains = new Set(['']);
    for (let i = 0, n = rt.call('ei_model_node_count', model); i < n; i++) {
      const domain = rt.str(rt.call('ei_model_node_domain', model, i));
      domains.add(domain === 'ai.onnx' ? '' : domain);
      nodes.push({
        op: rt.str(rt.call('ei_model_node_op', model, i)),
        domain,
        name: rt.str(rt.call('ei_model_node_name', model, i)),
        supported: rt.call('ei_model_node_supported', model, i) === 1,
      });
    }
    const opsetImports = {};
    for (const domain of domains) {
      const name = TEXT_ENCODER.encode(domain);
      const q = rt.copyIn(name); // copyIn pads with zeros: a C string
      const version = Number(rt.call('ei_model_opset', model, q));
      rt.free(q);
      if (version > 0) opsetImports[domain] = version;
    }
    const io = (isOutput) => Array.from({ length: rt.call('ei_model_io_count', model, isOutput) }, (_, i) =>
      ioMetadata(rt, model, isOutput, i, rt.str(rt.call('ei_model_io_name', model, isOutput, i))));
    return {
      irVersion: Number(rt.call('ei_model_ir_version', model)),
      producer: rt.str(rt.call('ei_model_producer', model)),
      opsetImports,
      nodes,
      compiled: compiledGraph(rt, model),
      weightBytes: Number(rt.call('ei_model_weight_bytes', model)),
      inputs: io(0),
      outputs: io(1),
    };
  } finally {
    rt.call('ei_model_free', model);
  }
}

/**
 * Settings shared by every session of this thread, like onnxruntime's `env`.
 * env.wasm: where edgeinfer.wasm comes from: { url }, { buffer }, { response } or { module }
 *   (default: next to this script, edgeinfer-relaxed.wasm where the engine runs relaxed SIMD and
 *   edgeinfer.wasm elsewhere or when that file cannot be loaded), or onnxruntime-web's flags:
 *   wasmPaths (a folder URL ending in '/', or { wasm: url }: edgeinfer.wasm there), wasmBinary (the
 *   bytes), proxy (sessions run in a worker), simd ('plain' / 'fixed' picks that build, 'relaxed'
 *   the relaxed build where the engine runs it, true the default choice, false is refused), numThreads (0 or unset:
 *   min(4, cores) where threads can run, see "threads"; 1: the single-threaded builds). Read when
 *   the first session is created and again whenever it changes to another source.
 * env.wasmBuild: 'relaxed' or 'plain', the build this thread loaded by default (undefined before
 *   the first session and when env.wasm names the module itself).
 * env.workerUrl: edgeinfer-worker.js for worker sessions (default: next to this script).
 * env.logLevel: 'verbose' | 'info' | 'warning' | 'error' | 'fatal' (checked; edgeinfer logs nothing).
 * env.webgpu, env.webgl: onnxruntime-web's objects, so that setting their flags does not throw;
 *   edgeinfer has no WebGPU or WebGL backend (asking for one in executionProviders fails).
 * env.wasmMemoryBytes: current size of this thread's wasm memory, both instances (the
 *   single-threaded one and the threaded one) counted: 0 before the first session, and after the
 *   last session of an instance grown beyond 64 MiB is released (that memory is given back and the
 *   next session gets a fresh instance; a threaded instance is always dropped with its last
 *   session, and its workers stopped).
 */
let logLevel = 'warning';
const env = {
  wasm: {},
  webgpu: {},
  webgl: {},
  workerUrl: undefined,
  debug: false,
  trace: false,
  versions: { common: ortApiVersion(), edgeinfer: VERSION },
  get wasmBuild() {
    return wasmCache ? wasmCache.build : undefined;
  },
  get logLevel() {
    return logLevel;
  },
  set logLevel(level) {
    logLevel = checkLogLevel(level) || logLevel;
  },
  get wasmMemoryBytes() {
    const bytes = (rt) => (rt && !rt.broken ? rt.memory.buffer.byteLength : 0);
    return bytes(wasmCache && wasmCache.loaded) + bytes(threaded && threaded.rt);
  },
};

const edgeinfer = {
  InferenceSession,
  Tensor,
  env,
  registerBackend,
  listSupportedBackends,
  TRACE,
  TRACE_FUNC_BEGIN,
  TRACE_FUNC_END,
  TRACE_EVENT_BEGIN,
  TRACE_EVENT_END,
  EdgeInferError,
  decodeTensorProto,
  inspect,
  version: VERSION,
};
