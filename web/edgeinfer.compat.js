// What code written for onnxruntime-web expects beyond sessions and tensors: its session and
// run options, its `env` flags (wasmPaths, wasmBinary, proxy, logLevel, ...), image <-> tensor
// conversion, and the other named exports of onnxruntime-common (registerBackend, TRACE*).
// Options edgeinfer cannot honour fail with a message that names them; options that only tune
// onnxruntime itself (threads, arenas, optimisation levels) are checked and have no effect.
//
// Not loaded by itself: web/build.mjs appends this text to edgeinfer.core.js in every script,
// so it shares the core's scope (fail, Tensor, env, ...). Only function declarations here: the
// core's `edgeinfer` object refers to them before this text runs.

// The onnxruntime-common API version this API follows (env.versions.common).
function ortApiVersion() {
  return '1.30.0';
}

const LOG_LEVELS = ['verbose', 'info', 'warning', 'error', 'fatal'];

function checkLogLevel(level) {
  if (level !== undefined && !LOG_LEVELS.includes(level)) {
    throw fail('INVALID_ARGUMENT', `env.logLevel: unsupported logging level '${level}' (one of ${LOG_LEVELS.join(', ')})`);
  }
  return level;
}

function checkOneOf(what, value, allowed) {
  if (value !== undefined && !allowed.includes(value)) {
    throw fail('INVALID_ARGUMENT', `${what}: expected one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}, got ${JSON.stringify(value)}`);
  }
}

function checkSeverity(what, level) {
  if (level !== undefined && !(Number.isInteger(level) && level >= 0 && level <= 4)) {
    throw fail('INVALID_ARGUMENT', `${what}: expected 0 (verbose) to 4 (fatal), got ${JSON.stringify(level)}`);
  }
}

function unsupportedOption(name, why) {
  return fail('UNSUPPORTED', `${name}: ${why}`);
}

// ---- execution providers and session options ----

const OUR_PROVIDERS = ['wasm', 'cpu'];

// onnxruntime tries the providers in order and falls back to the next one it has; edgeinfer
// has one provider, so a list naming it (or 'cpu') is fine whatever else it names.
function checkProviders(list) {
  if (list === undefined) return;
  if (!Array.isArray(list)) throw fail('INVALID_ARGUMENT', `executionProviders: expected an array, got ${describe(list)}`);
  const names = list.map((p) => (typeof p === 'string' ? p : p && typeof p.name === 'string' ? p.name : describe(p)));
  if (names.length && !names.some((n) => OUR_PROVIDERS.includes(n))) {
    throw unsupportedOption(`executionProviders [${names.map((n) => `'${n}'`).join(', ')}]`,
      "edgeinfer runs models with its own WebAssembly (SIMD) runtime only, as the 'wasm' or 'cpu' provider; " +
      "add 'wasm' to the list to fall back to it");
  }
}

function checkDimOverrides(overrides) {
  if (overrides === undefined) return {};
  if (!overrides || typeof overrides !== 'object') {
    throw fail('INVALID_ARGUMENT', `freeDimensionOverrides: expected an object of dim name -> size, got ${describe(overrides)}`);
  }
  for (const [k, v] of Object.entries(overrides)) {
    if (!Number.isSafeInteger(v) || v < 0) throw fail('INVALID_ARGUMENT', `freeDimensionOverrides['${k}']: expected a size >= 0, got ${JSON.stringify(v)}`);
  }
  return { ...overrides };
}

/**
 * Checks InferenceSession.create's options: onnxruntime's SessionOptions and edgeinfer's own
 * (worker, wasm, workerUrl). Returns what the session uses: { worker, overrides }.
 */
function sessionOptions(o) {
  checkProviders(o.executionProviders);
  checkOneOf('graphOptimizationLevel', o.graphOptimizationLevel, ['disabled', 'basic', 'extended', 'layout', 'all']);
  checkOneOf('executionMode', o.executionMode, ['sequential', 'parallel']);
  checkSeverity('logSeverityLevel', o.logSeverityLevel);
  for (const k of ['intraOpNumThreads', 'interOpNumThreads', 'logVerbosityLevel']) {
    if (o[k] !== undefined && !(Number.isInteger(o[k]) && o[k] >= 0)) throw fail('INVALID_ARGUMENT', `${k}: expected an integer >= 0, got ${JSON.stringify(o[k])}`);
  }
  for (const k of ['enableCpuMemArena', 'enableMemPattern', 'enableProfiling', 'enableGraphCapture', 'worker']) {
    if (o[k] !== undefined && typeof o[k] !== 'boolean') throw fail('INVALID_ARGUMENT', `${k}: expected a boolean, got ${describe(o[k])}`);
  }
  if (o.externalData !== undefined && (!Array.isArray(o.externalData) || o.externalData.length)) {
    throw unsupportedOption('externalData', 'edgeinfer cannot load weights stored outside the .onnx file; ' +
      'save the model with its weights inside (onnx.save_model(..., save_as_external_data=False))');
  }
  if (o.enableProfiling) throw unsupportedOption('enableProfiling', 'edgeinfer has no profiler; time session.run() instead');
  if (o.enableGraphCapture) throw unsupportedOption('enableGraphCapture', 'graph capture is a WebGPU feature; edgeinfer runs on WebAssembly');
  if (o.optimizedModelFilePath !== undefined) throw unsupportedOption('optimizedModelFilePath', 'edgeinfer does not write optimised models');
  const loc = o.preferredOutputLocation;
  const locs = loc === undefined ? [] : typeof loc === 'string' ? [loc] : Object.values(loc);
  for (const l of locs) {
    if (l !== 'cpu' && l !== 'cpu-pinned') throw unsupportedOption(`preferredOutputLocation '${l}'`, "edgeinfer's outputs are always on the CPU ('cpu')");
  }
  const proxy = env.wasm && env.wasm.proxy;
  return { worker: o.worker !== undefined ? o.worker : !!proxy, overrides: checkDimOverrides(o.freeDimensionOverrides) };
}

// A session's metadata with the dims named in freeDimensionOverrides fixed to their size.
function applyOverrides(list, overrides) {
  if (!Object.keys(overrides).length) return list;
  return list.map((m) => {
    if (!m.isTensor || !m.dims) return m;
    const dims = m.dims.map((d) => (typeof d === 'string' && Object.prototype.hasOwnProperty.call(overrides, d) ? overrides[d] : d));
    return { ...m, shape: dims, dims };
  });
}

// A feed must have the size freeDimensionOverrides gives a dim.
function checkOverriddenDims(spec, declared, overrides) {
  if (!declared || !declared.dims || declared.dims.length !== spec.dims.length) return;
  declared.dims.forEach((d, i) => {
    if (typeof d === 'string' && Object.prototype.hasOwnProperty.call(overrides, d) && overrides[d] !== spec.dims[i]) {
      throw fail('INVALID_SHAPE', `input '${spec.name}': dim ${i} ('${d}') is ${spec.dims[i]}, but freeDimensionOverrides sets ${d} = ${overrides[d]}`);
    }
  });
}

/**
 * session.run's second and third arguments, read as onnxruntime reads them: an array of output
 * names, or an object that is fetches if it names an output with null or a Tensor (into which
 * the output is copied), and run options otherwise. Returns { names, into, options }.
 */
function runArguments(outputNames, arg1, arg2) {
  let names = outputNames;
  const into = {};
  let options = {};
  let rest = arg2;
  if (Array.isArray(arg1)) {
    if (!arg1.length) throw fail('INVALID_ARGUMENT', 'run: fetches is an empty array; name at least one output, or leave it out');
    names = arg1;
  } else if (arg1 && typeof arg1 === 'object') {
    if (isTensorLike(arg1)) throw fail('INVALID_ARGUMENT', 'run: the second argument is a Tensor; fetches names outputs');
    const fetched = Object.keys(arg1).filter((k) => arg1[k] === null || isTensorLike(arg1[k]));
    const unknown = fetched.filter((k) => !outputNames.includes(k));
    if (unknown.length) {
      throw fail('INVALID_ARGUMENT', `unknown output '${unknown[0]}': the model's outputs are ${outputNames.map((o) => `'${o}'`).join(', ')}`);
    }
    if (fetched.length) {
      names = fetched;
      for (const n of fetched) if (arg1[n]) into[n] = arg1[n];
    } else {
      options = arg1; // run options, e.g. { logSeverityLevel, tag }
      rest = undefined;
    }
  } else if (arg1 !== undefined && arg1 !== null) {
    throw fail('INVALID_ARGUMENT', `run: the second argument must be fetches (output names) or run options, got ${describe(arg1)}`);
  }
  if (rest !== undefined && rest !== null) {
    if (typeof rest !== 'object') throw fail('INVALID_ARGUMENT', `run: options must be an object, got ${describe(rest)}`);
    options = rest;
  }
  checkSeverity('run options logSeverityLevel', options.logSeverityLevel);
  if (options.tag !== undefined && typeof options.tag !== 'string') throw fail('INVALID_ARGUMENT', `run options tag: expected a string, got ${describe(options.tag)}`);
  if (options.terminate) throw fail('INVALID_STATE', 'run options terminate is true: the run was not started');
  return { names, into, options };
}

function isTensorLike(x) {
  return !!x && typeof x === 'object' && typeof x.type === 'string' && x.dims !== undefined && x.data !== undefined;
}

// An output copied into the tensor the caller passed in fetches, as onnxruntime does.
function copyInto(name, target, t) {
  const same = target.type === t.type && ArrayBuffer.isView(target.data) && target.data.byteLength === t.data.byteLength &&
    target.dims.length === t.dims.length && target.dims.every((d, i) => d === t.dims[i]);
  if (!same) {
    throw fail('INVALID_ARGUMENT', `output '${name}': the tensor given in fetches is ${target.type} [${target.dims}], ` +
      `but the output is ${t.type} [${t.dims}]`);
  }
  // Bytes, not values: float16 data may be a Float16Array on one side and raw bits on the other.
  new Uint8Array(target.data.buffer, target.data.byteOffset, target.data.byteLength)
    .set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  return target;
}

// ---- env.wasm: onnxruntime-web's flags ----

// Where the wasm comes from according to onnxruntime's wasmPaths (a folder, in which the build
// is chosen as next to the script, or { wasm: url } of one file) / wasmBinary, and the checked
// flags. env.wasm.simd says which build to load: 'plain' or onnxruntime's 'fixed' the SIMD128
// build, 'relaxed' the relaxed-SIMD one where the engine runs it (SIMD128 elsewhere), true (or
// unset) the one this engine runs best; false is refused (edgeinfer needs SIMD).
function ortWasmFlags(c) {
  if (c.simd === false) throw unsupportedOption('env.wasm.simd = false', 'edgeinfer needs WebAssembly SIMD (every current browser has it)');
  checkOneOf('env.wasm.simd', c.simd, [true, 'fixed', 'plain', 'relaxed']);
  if (c.numThreads !== undefined && !(Number.isInteger(c.numThreads) && c.numThreads >= 0)) {
    throw fail('INVALID_ARGUMENT', `env.wasm.numThreads: expected an integer >= 0, got ${JSON.stringify(c.numThreads)}`);
  }
  let url;
  let folder;
  const paths = c.wasmPaths;
  if (typeof paths === 'string' || (typeof URL === 'function' && paths instanceof URL)) {
    folder = String(paths);
  } else if (paths && typeof paths === 'object' && paths.wasm !== undefined) {
    url = String(paths.wasm);
  } else if (paths !== undefined && paths !== null && typeof paths !== 'object') {
    throw fail('INVALID_ARGUMENT', `env.wasm.wasmPaths: expected a URL prefix or { wasm }, got ${describe(paths)}`);
  }
  if (url && /ort-wasm[^/]*\.wasm([?#]|$)/.test(url)) {
    throw fail('INVALID_ARGUMENT', `env.wasm.wasmPaths names onnxruntime-web's ${url}; edgeinfer loads its own edgeinfer.wasm ` +
      '(point wasmPaths at the folder that holds it, or leave it unset)');
  }
  return { url, folder, buffer: c.wasmBinary, simd: c.simd === 'fixed' ? 'plain' : c.simd === true ? undefined : c.simd };
}

// ---- images ----

function channelParams(norm, fill) {
  const one = (v, d) => (v === undefined ? [d, d, d, d] : typeof v === 'number' ? [v, v, v, v] : [v[0], v[1], v[2], v[3] === undefined ? fill : v[3]]);
  return { mean: one(norm && norm.mean, 255), bias: one(norm && norm.bias, 0) };
}

// Pixels (RGBA or RGB, interleaved) -> a [1, C, H, W] (or NHWC) tensor, with onnxruntime's
// normalisation: value = (pixel + bias) / mean, mean 255 and bias 0 by default.
function pixelsToTensor(pixels, width, height, options) {
  const o = options || {};
  const from = o.format || 'RGBA';
  const to = o.tensorFormat || 'RGB';
  checkOneOf('fromImage format', from, ['RGBA', 'RGB']);
  checkOneOf('fromImage tensorFormat', to, ['RGB', 'RGBA', 'BGR', 'RBG']);
  checkOneOf('fromImage tensorLayout', o.tensorLayout, ['NCHW', 'NHWC']);
  checkOneOf('fromImage dataType', o.dataType, ['float32', 'uint8']);
  const stride = from === 'RGBA' ? 4 : 3;
  const n = width * height;
  if (!Number.isSafeInteger(n) || n <= 0 || pixels.length < n * stride) {
    throw fail('INVALID_ARGUMENT', `fromImage: ${width}x${height} ${from} pixels need ${n * stride} values, got ${pixels.length}`);
  }
  const channels = to.length;
  const order = Array.from(to, (ch) => 'RGBA'.indexOf(ch));
  const { mean, bias } = channelParams(o.norm, 255);
  const out = o.dataType === 'uint8' ? new Uint8Array(n * channels) : new Float32Array(n * channels);
  const nhwc = o.tensorLayout === 'NHWC';
  for (let c = 0; c < channels; c++) {
    const src = order[c];
    for (let i = 0; i < n; i++) {
      const v = src < stride ? pixels[i * stride + src] : 255;
      out[nhwc ? i * channels + c : c * n + i] = (v + bias[src]) / mean[src];
    }
  }
  const dims = nhwc ? [1, height, width, channels] : [1, channels, height, width];
  return new Tensor(o.dataType === 'uint8' ? 'uint8' : 'float32', out, dims);
}

function makeCanvas(w, h) {
  if (typeof OffscreenCanvas === 'function') return new OffscreenCanvas(w, h);
  if (typeof document !== 'undefined') {
    const c = document.createElement('canvas');
    c.width = w;
    c.height = h;
    return c;
  }
  return null;
}

// The RGBA pixels of anything a canvas can draw (an image element, an ImageBitmap, a canvas).
function drawnPixels(image, w, h, what) {
  const canvas = makeCanvas(w, h);
  const ctx = canvas && canvas.getContext('2d');
  if (!ctx) throw unsupportedOption(`Tensor.fromImage(${what})`, 'no 2D canvas here (OffscreenCanvas or document) to read the pixels with');
  ctx.drawImage(image, 0, 0, w, h);
  return ctx.getImageData(0, 0, w, h).data;
}

/**
 * Tensor.fromImage: ImageData (or any { data, width, height } of RGBA pixels, e.g. in Node), an
 * HTMLImageElement, ImageBitmap or canvas (drawn on a canvas, resized to resizedWidth x
 * resizedHeight if given), or a URL (fetched and decoded with createImageBitmap).
 */
async function imageToTensor(image, options) {
  const o = options || {};
  if (typeof image === 'string' || (typeof URL === 'function' && image instanceof URL)) {
    if (typeof createImageBitmap !== 'function') throw unsupportedOption('Tensor.fromImage(url)', 'this platform cannot decode images (no createImageBitmap)');
    const resp = await fetchResponse(String(image));
    checkResponse(resp, String(image));
    image = await createImageBitmap(await resp.blob());
  }
  if (image && typeof image === 'object' && image.data && typeof image.width === 'number' && typeof image.height === 'number' &&
    !(o.resizedWidth && o.resizedHeight && (o.resizedWidth !== image.width || o.resizedHeight !== image.height))) {
    return pixelsToTensor(image.data, image.width, image.height, { ...o, format: o.format || 'RGBA' });
  }
  const drawable = image && typeof image === 'object' && typeof image.width === 'number' && typeof image.height === 'number';
  if (!drawable) throw fail('INVALID_ARGUMENT', `Tensor.fromImage: expected ImageData, an image, an ImageBitmap, a canvas or a URL, got ${describe(image)}`);
  let src = image;
  if (image.data && typeof ImageData === 'function' && !(image instanceof ImageData)) {
    src = new ImageData(new Uint8ClampedArray(image.data), image.width, image.height);
  }
  if (typeof ImageData === 'function' && src instanceof ImageData) src = await createImageBitmap(src);
  const w = o.resizedWidth || image.width;
  const h = o.resizedHeight || image.height;
  return pixelsToTensor(drawnPixels(src, w, h, describe(image)), w, h, { ...o, format: 'RGBA' });
}

/**
 * tensor.toImageData: a [1, C, H, W] (or NHWC with tensorLayout) float32 or uint8 tensor of C = 3
 * or 4 channels -> RGBA pixels, pixel = (value - bias) * mean. An ImageData where the platform
 * has one, else { data: Uint8ClampedArray, width, height, colorSpace }.
 */
function tensorToImageData(t, options) {
  const o = options || {};
  checkOneOf('toImageData tensorLayout', o.tensorLayout, ['NCHW', 'NHWC']);
  const nhwc = o.tensorLayout === 'NHWC';
  if (t.dims.length !== 4 || t.dims[0] !== 1 || (t.type !== 'float32' && t.type !== 'uint8')) {
    throw fail('INVALID_ARGUMENT', `toImageData: expected a float32 or uint8 tensor of dims [1, C, H, W] (NCHW) or [1, H, W, C] (NHWC), got ${t.type} [${t.dims}]`);
  }
  const [channels, height, width] = nhwc ? [t.dims[3], t.dims[1], t.dims[2]] : [t.dims[1], t.dims[2], t.dims[3]];
  const format = o.format || (channels === 4 ? 'RGBA' : 'RGB');
  checkOneOf('toImageData format', format, ['RGB', 'RGBA', 'BGR', 'RBG']);
  if (format.length !== channels) throw fail('INVALID_ARGUMENT', `toImageData: format ${format} needs ${format.length} channels, the tensor has ${channels}`);
  const { mean, bias } = channelParams(o.norm, 255);
  const n = width * height;
  const rgba = new Uint8ClampedArray(n * 4).fill(255);
  for (let c = 0; c < channels; c++) {
    const dst = 'RGBA'.indexOf(format[c]);
    for (let i = 0; i < n; i++) rgba[i * 4 + dst] = (t.data[nhwc ? i * channels + c : c * n + i] - bias[dst]) * mean[dst];
  }
  if (typeof ImageData === 'function') return new ImageData(rgba, width, height);
  return { data: rgba, width, height, colorSpace: 'srgb' };
}

function tensorToDataURL(t, options) {
  const img = tensorToImageData(t, options);
  if (typeof document === 'undefined') throw unsupportedOption('tensor.toDataURL()', 'needs a document canvas; use toImageData() here');
  const canvas = document.createElement('canvas'); // an OffscreenCanvas has no toDataURL
  canvas.width = img.width;
  canvas.height = img.height;
  canvas.getContext('2d').putImageData(img, 0, 0);
  return canvas.toDataURL();
}

// Tensors that live on a GPU or in an ML context: edgeinfer has none.
function noDeviceTensor(what) {
  return unsupportedOption(what, "edgeinfer's tensors are CPU data (location 'cpu'); read the data back to the CPU first");
}

// new Tensor({ location, type, data, dims }): 'cpu-pinned' is CPU data; GPU locations are refused.
function locationArgs(o) {
  if (o.location === undefined) {
    throw fail('INVALID_ARGUMENT', `new Tensor: expected a type, a typed array or { location, type, data, dims }, got ${describe(o)}`);
  }
  if (o.location !== 'cpu' && o.location !== 'cpu-pinned') throw noDeviceTensor(`new Tensor({ location: '${o.location}' })`);
  return [o.type, o.data, o.dims];
}

// ---- the rest of onnxruntime-common's exports ----

/** onnxruntime's custom backends: edgeinfer is the backend, so there is nothing to register. */
function registerBackend(name) {
  throw unsupportedOption(`registerBackend('${name}')`, 'edgeinfer runs every session on its own WebAssembly runtime and takes no other backend');
}

/** The providers a session can name, in onnxruntime-node's format. */
function listSupportedBackends() {
  return OUR_PROVIDERS.map((name) => ({ name, bundled: true }));
}

// onnxruntime's trace hooks: with env.trace set, they mark the browser's performance timeline.
function TRACE(deviceType, label) {
  if (env.trace && typeof console.timeStamp === 'function') console.timeStamp(`${deviceType}::ORT::${label}`);
}
function TRACE_FUNC_BEGIN(extraMsg) {
  TRACE('CPU', `BEGIN${extraMsg ? ` ${extraMsg}` : ''}`);
}
function TRACE_FUNC_END(extraMsg) {
  TRACE('CPU', `END${extraMsg ? ` ${extraMsg}` : ''}`);
}
function TRACE_EVENT_BEGIN(extraMsg) {
  TRACE('CPU', `EVENT_BEGIN${extraMsg ? ` ${extraMsg}` : ''}`);
}
function TRACE_EVENT_END(extraMsg) {
  TRACE('CPU', `EVENT_END${extraMsg ? ` ${extraMsg}` : ''}`);
}
