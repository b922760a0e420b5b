// The browser's side of the bench (tests/bench/browser.html, driven by `bench.mjs --browser`):
// the same engines, timing loop and peak microbenchmark as in Node, with files fetched from the
// bench's server. window.benchPeak() and window.benchModel(name, runs, threads) return what the
// Node bench's children return (threads: the two-thread engines).

import { THREAD_ENGINES, benchModel } from './engines.mjs';
import { measurePeak } from './peak.mjs';

const ORT_DIST = '/node_modules/onnxruntime-web/dist/';

const browserHost = {
  async read(path) {
    const r = await fetch(`/${path}`);
    if (!r.ok) throw new Error(`/${path}: HTTP ${r.status}`);
    return new Uint8Array(await r.arrayBuffer());
  },
  location: (path) => new URL(`/${path}`, location.href).href,
  edgeinfer: (simd) => import(`/dist/edgeinfer.mjs?${simd}`),
  async ort(threads = 1) { // one thread count per page: the bench opens a fresh page for each
    const ort = await import(`${ORT_DIST}ort.wasm.min.mjs`);
    ort.env.wasm.wasmPaths = ORT_DIST;
    ort.env.wasm.numThreads = threads;
    return ort;
  },
  async tfjs() {
    const { tf } = globalThis;
    // The page is cross-origin isolated (for the timer's resolution), which would make TF.js
    // pick its threaded build; one thread is its SIMD build.
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    tf.wasm.setWasmPaths('/node_modules/@tensorflow/tfjs-backend-wasm/wasm-out/');
    tf.wasm.setThreadsCount(1);
    await tf.setBackend('wasm');
    await tf.ready();
    const wasmFiles = performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname)
      .filter((p) => p.includes('/tfjs-backend-wasm/') && p.endsWith('.wasm')).map((p) => p.split('/').pop());
    return { tf, wasmFiles, threads: tf.wasm.getThreadsCount() };
  },
};

window.benchPeak = () => ({ plain: measurePeak(), relaxed: measurePeak({ relaxed: true }) });

window.benchModel = (name, runs, threads) => benchModel(name, runs, browserHost, threads ? THREAD_ENGINES : undefined);

window.benchReady = true;
