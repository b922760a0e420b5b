// Types of edgeinfer's JavaScript API (the package's `edgeinfer` and `edgeinfer/ort` entries:
// dist/edgeinfer.mjs and dist/edgeinfer.cjs, and the global `edgeinfer` that the classic script
// dist/edgeinfer.js defines). The API is onnxruntime-web's, so that code written for it runs
// with `onnxruntime-web` aliased to edgeinfer; what edgeinfer cannot do fails with an error
// that names it.

/** Tensor element types and the arrays that hold them. */
export interface TensorDataTypeMap {
  float32: Float32Array;
  float64: Float64Array;
  int8: Int8Array;
  uint8: Uint8Array;
  int16: Int16Array;
  uint16: Uint16Array;
  int32: Int32Array;
  uint32: Uint32Array;
  int64: BigInt64Array;
  uint64: BigUint64Array;
  /** 0 or 1 per element. */
  bool: Uint8Array;
  /** A Float16Array where the platform has one (its data is accepted too), else raw IEEE half bits. */
  float16: Uint16Array | (typeof globalThis extends { Float16Array: infer F } ? F extends abstract new (...args: any) => infer A ? A : never : never);
  /** Raw bfloat16 bits (the top 16 bits of a float32); only Cast computes with it. */
  bfloat16: Uint16Array;
}
export type TensorType = keyof TensorDataTypeMap;

/** Options of Tensor.fromImage and tensor.toImageData, as in onnxruntime-common. */
export interface ImageOptions {
  /** Pixel layout of raw input pixels (default 'RGBA'). */
  format?: 'RGBA' | 'RGB' | 'BGR' | 'RBG';
  /** Channels of the tensor and their order (default 'RGB'). */
  tensorFormat?: 'RGB' | 'RGBA' | 'BGR' | 'RBG';
  tensorLayout?: 'NCHW' | 'NHWC';
  dataType?: 'float32' | 'uint8';
  /** value = (pixel + bias) / mean; mean 255 and bias 0 by default. */
  norm?: { mean?: number | number[]; bias?: number | number[] };
  /** Images are drawn at this size first (needs a canvas). */
  resizedWidth?: number;
  resizedHeight?: number;
}

/** Raw RGBA pixels with their size: ImageData, or the same fields (e.g. in Node). */
export interface PixelData {
  readonly data: Uint8ClampedArray | Uint8Array;
  readonly width: number;
  readonly height: number;
}

/** Codes of EdgeInferError: the C library's status names, and the loader's own. */
export type ErrorCode =
  | 'INVALID_ARGUMENT' | 'INVALID_MODEL' | 'UNSUPPORTED' | 'INVALID_SHAPE' | 'OUT_OF_MEMORY'
  | 'INVALID_STATE'
  /** edgeinfer.wasm, edgeinfer-worker.js or the model could not be fetched or compiled. */
  | 'LOAD_FAILED'
  /** The wasm instance trapped (this session is dead; the instance's other sessions are made
   *  again on a fresh one at their next run) or a worker died. */
  | 'RUNTIME_ERROR'
  /** The run's AbortSignal fired. */
  | 'ABORTED';

/** Every error edgeinfer throws (or rejects with). The runtime stays usable afterwards. */
export declare class EdgeInferError extends Error {
  readonly name: 'EdgeInferError';
  /** The C status name, or the loader's own code. */
  readonly code: ErrorCode;
  constructor(message: string, code?: ErrorCode);
}

/** A dense, row-major tensor in JavaScript memory. The data is used as given, not copied. */
export declare class Tensor<T extends TensorType = TensorType> {
  constructor(type: T, data: TensorDataTypeMap[T] | ReadonlyArray<number | bigint | boolean>, dims?: readonly number[]);
  /** String tensors can be made (no model input of edgeinfer takes them). */
  constructor(type: 'string', data: readonly string[], dims?: readonly number[]);
  /** The type follows from the array: Float32Array -> 'float32', Uint8Array -> 'uint8', ... */
  constructor(data: TensorDataTypeMap[T] | Uint8ClampedArray | readonly string[] | readonly boolean[], dims?: readonly number[]);
  /** onnxruntime's form: 'cpu' and 'cpu-pinned' work; GPU locations throw UNSUPPORTED. */
  constructor(params: { location: 'cpu' | 'cpu-pinned'; type: T; data: TensorDataTypeMap[T]; dims: readonly number[] });
  readonly type: T;
  readonly data: TensorDataTypeMap[T];
  readonly dims: readonly number[];
  /** Number of elements. */
  readonly size: number;
  readonly location: 'cpu' | 'cpu-pinned';
  /** Resolves to `data`. */
  getData(releaseData?: boolean): Promise<TensorDataTypeMap[T]>;
  /** The same data with other dims (no copy). */
  reshape(dims: readonly number[]): Tensor<T>;
  /** Does nothing (CPU data); for onnxruntime compatibility. */
  dispose(): void;
  /** Throw UNSUPPORTED: edgeinfer's tensors are CPU data. */
  readonly texture: never;
  readonly gpuBuffer: never;
  readonly mlTensor: never;
  /** A [1, C, H, W] (or NHWC) image tensor as pixels: ImageData, or { data, width, height } without one. */
  toImageData(options?: ImageOptions): ImageData | PixelData;
  /** Needs a document canvas. */
  toDataURL(options?: ImageOptions): string;
  /** Pixels (ImageData or { data, width, height }), an image, ImageBitmap or canvas, or an image URL. */
  static fromImage(image: PixelData | ImageBitmap | HTMLImageElement | HTMLCanvasElement | OffscreenCanvas | string,
    options?: ImageOptions): Promise<Tensor<'float32'> | Tensor<'uint8'>>;
  static fromPinnedBuffer<T extends TensorType>(type: T, buffer: TensorDataTypeMap[T], dims?: readonly number[]): Tensor<T>;
  /** Throw UNSUPPORTED (GPU data). */
  static fromTexture(texture: unknown, options: unknown): never;
  static fromGpuBuffer(buffer: unknown, options: unknown): never;
  static fromMLTensor(tensor: unknown, options: unknown): never;
}

/** Anything with the fields of a Tensor, e.g. an onnxruntime Tensor, can be fed. */
export interface TensorLike {
  readonly type: string;
  readonly data: TensorDataTypeMap[TensorType];
  readonly dims: readonly number[];
}

/** An input or output of a model, as onnxruntime-web describes it. */
export type ValueMetadata =
  | {
    readonly name: string;
    readonly isTensor: true;
    /** ONNX element type name; may be one that Tensor does not support, e.g. 'string'. */
    readonly type: string;
    /**
     * onnxruntime's field: a number per fixed dim, the name of a symbolic dim, null for a dim
     * with neither; [] when the rank is unknown.
     */
    readonly shape: ReadonlyArray<number | string | null>;
    /** Like shape, but null when the rank is unknown. */
    readonly dims: ReadonlyArray<number | string | null> | null;
  }
  | { readonly name: string; readonly isTensor: false };

/**
 * Where edgeinfer.wasm comes from. Default: next to the loader script, edgeinfer-relaxed.wasm
 * where the engine runs relaxed SIMD (and edgeinfer.wasm is there to fall back on), else edgeinfer.wasm.
 */
export interface WasmSource {
  /** URL of edgeinfer.wasm (in Node also a file path or file: URL). */
  url?: string | URL;
  /** The bytes of edgeinfer.wasm. */
  buffer?: ArrayBuffer | Uint8Array;
  /** A response (or its promise) for edgeinfer.wasm, e.g. from a service worker cache. */
  response?: Response | Promise<Response>;
  /** An already compiled module. */
  module?: WebAssembly.Module;
  /** With none of the above: load edgeinfer.wasm ('plain', or onnxruntime's 'fixed') or edgeinfer-relaxed.wasm
   * ('relaxed', where the engine validates relaxed SIMD; edgeinfer.wasm elsewhere); true or unset: the same,
   * falling back to edgeinfer.wasm when the relaxed file cannot be loaded. */
  simd?: boolean | 'relaxed' | 'plain' | 'fixed';
}

export type ExecutionProvider = string | { readonly name: string; readonly [option: string]: unknown };

export interface SessionOptions {
  /**
   * Run the session in a dedicated worker (a Web Worker, or worker_threads in Node). The
   * returned session has the same methods; feeds are copied and the copies transferred, so the
   * caller's arrays stay usable. Default: env.wasm.proxy.
   */
  worker?: boolean;
  /** Must name 'wasm' or 'cpu' if it names anything ('webgpu' or 'webnn' alone: UNSUPPORTED). */
  executionProviders?: readonly ExecutionProvider[];
  /** Fixes symbolic dims: the metadata shows the size, feeds must have it. */
  freeDimensionOverrides?: { readonly [dimName: string]: number };
  /** Checked; edgeinfer always optimises the same way. */
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'layout' | 'all';
  /** Checked; edgeinfer logs nothing. */
  logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
  logVerbosityLevel?: number;
  logId?: string;
  /** Checked, no effect (edgeinfer plans one arena per session). */
  enableCpuMemArena?: boolean;
  enableMemPattern?: boolean;
  executionMode?: 'sequential' | 'parallel';
  intraOpNumThreads?: number;
  interOpNumThreads?: number;
  /** Only 'cpu' (or 'cpu-pinned'). */
  preferredOutputLocation?: string | { readonly [outputName: string]: string };
  /** Weights outside the model file: a non-empty list is UNSUPPORTED. */
  externalData?: readonly unknown[];
  /** true is UNSUPPORTED. */
  enableProfiling?: boolean;
  enableGraphCapture?: boolean;
  /** UNSUPPORTED. */
  optimizedModelFilePath?: string;
  extra?: Record<string, unknown>;
  /** Overrides env.wasm for this session. */
  wasm?: WasmSource;
  /** Overrides env.workerUrl for this session. */
  workerUrl?: string | URL;
  /** Limits of this session (include/edgeinfer.h); each a positive integer, defaults when absent. */
  limits?: SessionLimits;
  /** Threads for this session (overrides env.wasm.numThreads; 0 the default). */
  numThreads?: number;
}

export interface SessionLimits {
  /** Largest tensor in bytes (default and ceiling 1 GiB in wasm). */
  tensorBytes?: number;
  /** The session's memory in bytes: activations, folded constants, scratch (default 1 GiB in wasm). */
  sessionBytes?: number;
  /** Loop and Scan body runs per run, nested loops included (default 2^24). */
  loopIterations?: number;
}

export type FeedsType = Record<string, Tensor | TensorLike>;
export type ReturnType = Record<string, Tensor>;
/** Output names, or output name -> null (return it) or a Tensor (copy the output into it). */
export type FetchesType = readonly string[] | Record<string, Tensor | null>;

export interface RunOptions {
  /** Checked; edgeinfer logs nothing. */
  logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
  logVerbosityLevel?: number;
  /** true refuses to start the run (INVALID_STATE). */
  terminate?: boolean;
  tag?: string;
  extra?: Record<string, unknown>;
  /**
   * Cancels the run (it rejects with code 'ABORTED'). Checked before the run starts. On this
   * thread, a run with a signal goes in slices of about 8 ms that yield to the event loop, and
   * abort() stops it between two nodes, or two iterations of a Loop or Scan of the model's
   * graph; the session is ready for its next run. A `{ worker: true }` session stops a run in
   * progress by terminating its worker, after which the session refuses to run (create it again).
   */
  signal?: AbortSignal;
}

export declare class InferenceSession {
  /** Use InferenceSession.create. */
  private constructor();
  /**
   * Loads a model: a URL (in Node also a file path), an ArrayBuffer (or a part of one), a
   * Uint8Array or a Response. Node needs version 20.16 or newer for file access and workers.
   */
  static create(source: string | URL | Uint8Array | ArrayBufferLike | Response | Promise<Response>,
    options?: SessionOptions): Promise<InferenceSession>;
  static create(buffer: ArrayBufferLike, byteOffset: number, byteLength?: number,
    options?: SessionOptions): Promise<InferenceSession>;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** The threads this session's runs use. */
  readonly numThreads: number;
  readonly inputMetadata: readonly ValueMetadata[];
  readonly outputMetadata: readonly ValueMetadata[];
  /**
   * Runs the model on every input. Returns all outputs, or those named in `fetches`. Rejects
   * with an EdgeInferError carrying the C library's message when the run fails.
   */
  run(feeds: FeedsType, options?: RunOptions): Promise<ReturnType>;
  run(feeds: FeedsType, fetches: FetchesType, options?: RunOptions): Promise<ReturnType>;
  /** Frees the session and its model; calling it again does nothing. */
  release(): Promise<void>;
  /** Does nothing; for onnxruntime compatibility. */
  startProfiling(): void;
  /** Does nothing; for onnxruntime compatibility. */
  endProfiling(): void;
}

/** env.wasm: edgeinfer's WasmSource, or onnxruntime-web's flags. */
export interface WasmFlags extends WasmSource {
  /** A folder URL ending in '/' (edgeinfer.wasm is looked for in it), or { wasm: url of edgeinfer.wasm }. */
  wasmPaths?: string | URL | { wasm?: string | URL; mjs?: string | URL };
  /** The bytes of edgeinfer.wasm. */
  wasmBinary?: ArrayBufferLike | Uint8Array;
  /** Sessions run in a worker (as the `worker` session option). */
  proxy?: boolean;
  /** Which build: 'fixed' / 'plain' SIMD128, 'relaxed' relaxed SIMD where the engine runs it, true the best this engine runs; false is UNSUPPORTED. */
  simd?: boolean | 'fixed' | 'plain' | 'relaxed';
  /** Threads per session: 0 or unset min(4, cores) where threads can run (SharedArrayBuffer and,
   * in pages, cross-origin isolation; else one thread and one console notice), 1 the single-threaded builds. */
  numThreads?: number;
  trace?: boolean;
  initTimeout?: number;
}

export interface Env {
  /** Read when the first session is created, and again whenever it changes to another source. */
  wasm: WasmFlags;
  /** URL of edgeinfer-worker.js (default: next to the loader script). */
  workerUrl?: string | URL;
  /** The build loaded by default; undefined before the first session or when `wasm` names the module. */
  readonly wasmBuild: 'relaxed' | 'plain' | undefined;
  /** Checked against onnxruntime's levels; edgeinfer logs nothing. */
  logLevel: 'verbose' | 'info' | 'warning' | 'error' | 'fatal';
  debug?: boolean;
  /** With trace set, TRACE*() mark the browser's performance timeline (console.timeStamp). */
  trace?: boolean;
  /** onnxruntime-web's objects, so that setting their flags does not throw; no WebGPU/WebGL backend. */
  webgpu: Record<string, unknown>;
  webgl: Record<string, unknown>;
  /** common: the onnxruntime-common API version followed. No `web`: this is not onnxruntime-web. */
  readonly versions: { readonly common: string; readonly edgeinfer: string };
  /** Current size of this thread's wasm memory in bytes (0 before the first session). */
  readonly wasmMemoryBytes: number;
}
export declare const env: Env;

/**
 * Decodes a serialized ONNX TensorProto (such as the .pb files of the ONNX test suites) with
 * the C decoder; float16 data becomes float32.
 */
export declare function decodeTensorProto(bytes: Uint8Array | ArrayBuffer,
  options?: { wasm?: WasmSource }): Promise<{ name: string; tensor: Tensor }>;

/** What inspect() tells about a model. */
export interface ModelInfo {
  irVersion: number;
  producer: string;
  /** Opset version by domain; '' is ai.onnx. */
  opsetImports: Record<string, number>;
  /** Every node in file order; `supported` is false when this build lacks its op. */
  nodes: { op: string; domain: string; name: string; supported: boolean }[];
  /** The graph a session runs after the compile passes, in execution order; `fused` names what was
   * merged into a node ("BatchNormalization+Relu", "" for nothing). { error } when no session can be made. */
  compiled: { op: string; name: string; fused: string }[] | { error: string };
  weightBytes: number;
  inputs: ValueMetadata[];
  outputs: ValueMetadata[];
}

/**
 * Describes a model without running it (unsupported ops are listed, not thrown). Takes the
 * same sources as InferenceSession.create.
 */
export declare function inspect(source: string | URL | Uint8Array | ArrayBufferLike | Response | Promise<Response>,
  options?: { wasm?: WasmSource }): Promise<ModelInfo>;

export declare const version: string;

/** Throws UNSUPPORTED: edgeinfer is the backend and takes no other. */
export declare function registerBackend(name: string, backend: unknown, priority: number): never;
/** onnxruntime-node's list: [{ name: 'wasm', bundled: true }, { name: 'cpu', bundled: true }]. */
export declare function listSupportedBackends(): { name: string; bundled: boolean }[];
/** onnxruntime's trace hooks: console.timeStamp marks when env.trace is set. */
export declare function TRACE(deviceType: string, label: string): void;
export declare function TRACE_FUNC_BEGIN(extraMsg?: string): void;
export declare function TRACE_FUNC_END(extraMsg?: string): void;
export declare function TRACE_EVENT_BEGIN(extraMsg?: string): void;
export declare function TRACE_EVENT_END(extraMsg?: string): void;

export interface EdgeInfer {
  InferenceSession: typeof InferenceSession;
  Tensor: typeof Tensor;
  EdgeInferError: typeof EdgeInferError;
  env: Env;
  decodeTensorProto: typeof decodeTensorProto;
  inspect: typeof inspect;
  registerBackend: typeof registerBackend;
  listSupportedBackends: typeof listSupportedBackends;
  TRACE: typeof TRACE;
  TRACE_FUNC_BEGIN: typeof TRACE_FUNC_BEGIN;
  TRACE_FUNC_END: typeof TRACE_FUNC_END;
  TRACE_EVENT_BEGIN: typeof TRACE_EVENT_BEGIN;
  TRACE_EVENT_END: typeof TRACE_EVENT_END;
  version: string;
}
declare const edgeinfer: EdgeInfer;
export default edgeinfer;

declare global {
  /** Defined by the classic script dist/edgeinfer.js. */
  var edgeinfer: EdgeInfer;
  /** Defined by dist/edgeinfer-ort.js (after edgeinfer.js): the same object. */
  var ort: EdgeInfer;
}
