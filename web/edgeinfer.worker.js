// The message loop of dist/edgeinfer-worker.js, the script a `{ worker: true }` session runs in
// (a classic Web Worker in browsers, worker_threads in Node). web/build.mjs appends it to
// edgeinfer.core.js, whose LocalBackend does the work, so the worker needs no other script.
//
// Protocol (see WorkerBackend in edgeinfer.core.js): requests { id, op, args } with op one of
//   'create'  args { module: WebAssembly.Module, bytes: Uint8Array, limits, where } -> session metadata
//   'run'     args { feeds: feedSpec()[], outputIndices: number[] }    -> [{ type, dims, data }]
//   'release' args {}                                                   -> undefined
// replies { id, ok: true, value } or { id, ok: false, error: { message, code } }. Input and output
// buffers are transferred, so the data crosses once each way without a clone.

(function serveSession() {
  const port = IS_NODE ? nodeBuiltin('node:worker_threads').parentPort : self;
  if (!port) return; // not in a worker: nothing to serve
  let backend = null;

  async function handle(msg) {
    const { id, op, args } = msg;
    if (op === 'thread') {
      serveThread(args);
      return;
    }
    try {
      let value;
      let transfer = [];
      if (op === 'create') {
        if (backend) throw fail('INVALID_STATE', 'this worker already holds a session');
        const cfg = { module: args.module, threadsUrl: args.threadsUrl, workerUrl: args.workerUrl };
        backend = LocalBackend.create(await runtimeFor(cfg, args.threads || 1), args.bytes, args.limits, cfg, args.where);
        value = { ...backend.meta };
      } else if (op === 'run') {
        if (!backend) throw fail('INVALID_STATE', 'the session was released');
        value = (await backend.run(args.feeds, args.outputIndices)).map((t) => ({ type: t.type, dims: t.dims, data: t.data }));
        transfer = value.map((t) => t.data.buffer);
      } else if (op === 'release') {
        if (backend) backend.release();
        backend = null;
      } else {
        throw fail('INVALID_ARGUMENT', `unknown request '${op}'`);
      }
      port.postMessage({ id, ok: true, value }, transfer);
    } catch (err) {
      const code = err instanceof EdgeInferError ? err.code : 'RUNTIME_ERROR';
      port.postMessage({ id, ok: false, error: { message: String((err && err.message) || err), code } });
    }
  }

  // A worker of a threaded instance's pool (see "threads" in edgeinfer.core.js): the same module
  // on the same shared memory, with a stack of its own; ei_threadpool_work returns only when the
  // pool is freed, and the worker is terminated before that.
  function serveThread({ module, memory, pool, index, stack, stackSize }) {
    let x;
    try {
      x = new WebAssembly.Instance(module, wasmImports(module, memory, () => x)).exports;
      x.emscripten_stack_set_limits(stack + stackSize, stack);
      x.stackRestore(stack + stackSize);
      x.emscripten_tls_init();
    } catch (err) {
      port.postMessage({ ok: false, error: String((err && err.message) || err) });
      return;
    }
    port.postMessage({ ok: true });
    x.ei_threadpool_work(pool, index);
  }

  if (IS_NODE) port.on('message', handle);
  else self.onmessage = (e) => { handle(e.data); };
})();
