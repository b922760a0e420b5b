// Types of edgeinfer's JavaScript API (dist/edgeinfer.mjs, and the global `edgeinfer` that the
// classic script dist/edgeinfer.js defines). The API is a subset of onnxruntime-web's.

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
  /** Raw IEEE 754 half-precision bits. */
  float16: Uint16Array;
  /** Raw bfloat16 bits (the top 16 bits of a float32); only Cast computes with it. */
  bfloat16: Uint16Array;
}
export type TensorType = keyof TensorDataTypeMap;

/** Codes of EdgeInferError: the C library's status names, and the loader's own. */
export type ErrorCode =
  | 'INVALID_ARGUMENT' | 'INVALID_MODEL' | 'UNSUPPORTED' | 'INVALID_SHAPE' | 'OUT_OF_MEMORY'
  | 'INVALID_STATE'
  /** edgeinfer.wasm, edgeinfer-worker.js or the model could not be fetched or compiled. */
  | 'LOAD_FAILED'
  /** The wasm instance trapped (it is replaced for later sessions) or a worker died. */
  | 'RUNTIME_ERROR';

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
  /** The type follows from the array: Float32Array -> 'float32', Uint8Array -> 'uint8', ... */
  constructor(data: TensorDataTypeMap[T], dims?: readonly number[]);
  readonly type: T;
  readonly data: TensorDataTypeMap[T];
  readonly dims: readonly number[];
  /** Number of elements. */
  readonly size: number;
  readonly location: 'cpu';
  /** The same data with other dims (no copy). */
  reshape(dims: readonly number[]): Tensor<T>;
  /** Does nothing (CPU data); for onnxruntime compatibility. */
  dispose(): void;
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
  /** With none of the above: load edgeinfer-relaxed.wasm ('relaxed') or edgeinfer.wasm ('plain'). */
  simd?: 'relaxed' | 'plain';
}

export interface SessionOptions {
  /**
   * Run the session in a dedicated worker (a Web Worker, or worker_threads in Node). The
   * returned session has the same methods; feeds are copied and the copies transferred, so the
   * caller's arrays stay usable.
   */
  worker?: boolean;
  /** Overrides env.wasm for this session. */
  wasm?: WasmSource;
  /** Overrides env.workerUrl for this session. */
  workerUrl?: string | URL;
}

export type FeedsType = Record<string, Tensor | TensorLike>;
export type ReturnType = Record<string, Tensor>;

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
  readonly inputMetadata: readonly ValueMetadata[];
  readonly outputMetadata: readonly ValueMetadata[];
  /**
   * Runs the model on every input. Returns all outputs, or those named in `fetches`. Rejects
   * with an EdgeInferError carrying the C library's message when the run fails.
   */
  run(feeds: FeedsType, fetches?: readonly string[]): Promise<ReturnType>;
  /** Frees the session and its model; calling it again does nothing. */
  release(): Promise<void>;
  /** Does nothing; for onnxruntime compatibility. */
  startProfiling(): void;
  /** Does nothing; for onnxruntime compatibility. */
  endProfiling(): void;
}

export interface Env {
  /** Read when the first session is created, and again whenever it is replaced. */
  wasm: WasmSource;
  /** URL of edgeinfer-worker.js (default: next to the loader script). */
  workerUrl?: string | URL;
  readonly versions: { readonly edgeinfer: string };
  /** The build loaded by default; undefined before the first session or when `wasm` names the module. */
  readonly wasmBuild: 'relaxed' | 'plain' | undefined;
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

export interface EdgeInfer {
  InferenceSession: typeof InferenceSession;
  Tensor: typeof Tensor;
  EdgeInferError: typeof EdgeInferError;
  env: Env;
  decodeTensorProto: typeof decodeTensorProto;
  inspect: typeof inspect;
  version: string;
}
declare const edgeinfer: EdgeInfer;
export default edgeinfer;

declare global {
  /** Defined by the classic script dist/edgeinfer.js. */
  var edgeinfer: EdgeInfer;
}
