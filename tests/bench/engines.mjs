// The four engines of the bench behind one interface, for Node (tests/bench/bench.mjs) and the
// browser (tests/bench/browser-page.mjs) alike; `host` supplies what differs between the two:
//   host.read(path)        -> Promise<Uint8Array>, a file under the repository root
//   host.location(path)    -> the same file as each engine's create takes a model location (a
//                             file path in Node, a URL in the browser): each reads it its own way
//   host.edgeinfer(simd)   -> Promise<module of dist/edgeinfer.mjs>, one instance per build
//   host.ort(threads)      -> Promise<onnxruntime-web, set to that many threads (one per process)>
//   host.tfjs()            -> Promise<{ tf, wasmFiles: [names of the .wasm files it loaded] }>
// loadEngine(id, host) -> { info(), create(model) -> session | null }, session: { run() ->
// Promise<output data | null>, release() } (TF.js: null output, its weights are its own).
// benchModel(name, runs, host): every engine on one model, timed (tests/bench/measure.mjs).

import { readNpy } from '../js/npy.mjs';
import { maxAbsDiff, timeEngines } from './measure.mjs';
import { buildTfjsModel } from './tfjs_models.mjs';

export const MODELS = {
  mobilenet_v2: 'mobilenet_v2',
  resnet18: 'resnet18',
  squeezenet1_1: 'squeezenet1_1',
  shufflenet_v2_x1_0: 'shufflenet_v2_x1_0',
  efficientnet_b0: 'efficientnet_b0',
  mlp_b1: 'MLP batch 1',
  mlp_b256: 'MLP batch 256',
  digits: 'digits CNN 1x1x8x8',
  transformer: 'transformer d128 h4 seq64',
};

export const ENGINES = ['ei-plain', 'ei-relaxed', 'ort-web', 'tfjs-wasm'];
/** The two-thread comparison, in processes of its own (onnxruntime-web fixes its thread count per
 * process): edgeinfer on one thread and on two (both SIMD128), onnxruntime-web on two. */
export const THREAD_ENGINES = ['ei-plain', 'ei-threads', 'ort-web-2'];

export const ENGINE_LABELS = {
  'ei-plain': 'edgeinfer (SIMD128)',
  'ei-relaxed': 'edgeinfer (relaxed SIMD)',
  'ort-web': 'onnxruntime-web 1 thread',
  'ei-threads': 'edgeinfer 2 threads',
  'ort-web-2': 'onnxruntime-web 2 threads',
  'tfjs-wasm': 'TF.js wasm 1 thread',
};

/** Paths relative to the repository root of a model's ONNX file and input. The digits golden input
 * holds 8 images; `firstOnly` says the bench feeds the first one, as the 1x1x8x8 in its label says
 * (and as the TF.js model, built for one image, computes). */
export function modelFiles(name) {
  if (name === 'digits') return { onnx: 'models/digits/model.onnx', input: 'models/digits/golden/input.npy', firstOnly: true };
  return { onnx: `build/bench-models/${name}.onnx`, input: `build/bench-models/${name}.input.npy` };
}

/** The first sample of a batch, as a batch of one. */
function firstSample(t) {
  const per = t.shape.slice(1).reduce((a, b) => a * b, 1);
  return { ...t, shape: [1, ...t.shape.slice(1)], data: t.data.subarray(0, per) };
}

// edgeinfer and onnxruntime-web share the API: a session over the ONNX file, fed its input.
function onnxEngine(lib, info, options) {
  return {
    info,
    async create(name, host) {
      const f = modelFiles(name);
      const session = await lib.InferenceSession.create(host.location(f.onnx), options);
      const all = readNpy(await host.read(f.input));
      const t = f.firstOnly ? firstSample(all) : all;
      const feeds = { [session.inputNames[0]]: new lib.Tensor(t.dtype, t.data, t.shape) };
      return {
        async run() {
          const out = await session.run(feeds);
          return out[session.outputNames[0]].data;
        },
        release: () => session.release(),
      };
    },
  };
}

function tfjsEngine(tf, info) {
  return {
    info,
    async create(name) {
      const m = buildTfjsModel(tf, name);
      if (!m) return null;
      const session = {
        macs: 0,
        async run() {
          const y = m.run();
          await y.data();
          y.dispose();
          session.macs = m.macs;
          return null;
        },
        release: () => m.dispose(),
      };
      return session;
    },
  };
}

export async function loadEngine(id, host) {
  let engine;
  if (id === 'ei-plain' || id === 'ei-relaxed') {
    const simd = id === 'ei-plain' ? 'plain' : 'relaxed';
    const ei = await host.edgeinfer(simd);
    ei.env.wasm = { simd, numThreads: 1 };
    engine = onnxEngine(ei, () => `build ${ei.env.wasmBuild}`);
  } else if (id === 'ei-threads') {
    const ei = await host.edgeinfer('threads');
    ei.env.wasm = { simd: 'plain', numThreads: 2 };
    engine = onnxEngine(ei, () => `numThreads ${ei.env.wasm.numThreads}`);
  } else if (id === 'ort-web' || id === 'ort-web-2') {
    const ort = await host.ort(id === 'ort-web' ? 1 : 2);
    engine = onnxEngine(ort, () => `numThreads ${ort.env.wasm.numThreads}`, { executionProviders: ['wasm'] });
  } else {
    const { tf, wasmFiles, threads } = await host.tfjs();
    // The SIMD build is the one that runs XNNPACK; anything else would not be the peer we mean.
    if (wasmFiles.join() !== 'tfjs-backend-wasm-simd.wasm') {
      throw new Error(`TF.js loaded ${wasmFiles.join(', ') || 'no wasm file'}, expected tfjs-backend-wasm-simd.wasm`);
    }
    engine = tfjsEngine(tf, () => `${wasmFiles.join()}, threads ${threads}`);
  }
  return { info: engine.info, create: (name) => engine.create(name, host) };
}

/** All engines on one model in this process: {name, info, runs, engines, tfjsMacs, diff}. */
export async function benchModel(name, runs, host, engines = ENGINES) {
  const sessions = {};
  const info = {};
  const outputs = {};
  for (const e of engines) {
    const engine = await loadEngine(e, host);
    const s = await engine.create(name);
    info[e] = engine.info();
    if (!s) continue;
    sessions[e] = s;
    outputs[e] = await s.run();
  }
  const result = { name, info, ...(await timeEngines(sessions, runs)) };
  result.tfjsMacs = sessions['tfjs-wasm'] ? sessions['tfjs-wasm'].macs : null;
  result.diff = engines === ENGINES ? {
    'ei-plain vs ort-web': maxAbsDiff(outputs['ei-plain'], outputs['ort-web']),
    'ei-relaxed vs ort-web': maxAbsDiff(outputs['ei-relaxed'], outputs['ort-web']),
  } : {
    'ei-threads vs ei-plain': maxAbsDiff(outputs['ei-threads'], outputs['ei-plain']),
    'ei-threads vs ort-web-2': maxAbsDiff(outputs['ei-threads'], outputs['ort-web-2']),
  };
  for (const s of Object.values(sessions)) await s.release();
  return result;
}
