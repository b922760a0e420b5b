// Fuzzer of the JS feed and Tensor API (fast-check), run by `make fuzz` and, briefly, by
// `make fuzz-replay`: random tensor types, dims (zero, huge, fractional, negative, NaN, BigInt),
// data of any kind and length, getters that change their answer, and resizable buffers that
// shrink while a feed is read, against Identity sessions in the main thread and in a worker.
// Every call must either succeed with exactly the data fed, or throw an EdgeInferError; and the
// session must run a valid feed correctly right after.
//
//   node tests/fuzz/fuzz_js.mjs [--seconds N] [--seed S]

import assert from 'node:assert/strict';
import fc from 'fast-check';
import { InferenceSession, Tensor } from '../../dist/edgeinfer.mjs';
import { identityModel } from '../js/onnx-model.mjs';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const seconds = opt('seconds', 20);
const seed = opt('seed', Date.now() % 2 ** 31);

const TYPES = ['float32', 'uint8', 'int8', 'uint16', 'int16', 'int32', 'int64', 'bool', 'float16', 'float64',
  'uint32', 'uint64', 'bfloat16', 'string', 'complex64', 'nope'];
const CTORS = [Float32Array, Uint8Array, Int8Array, Uint16Array, Int16Array, Int32Array, BigInt64Array, Float64Array,
  Uint32Array, BigUint64Array, Array];

const dimArb = fc.oneof(
  fc.integer({ min: 0, max: 6 }),
  fc.constantFrom(0, 1, 2 ** 31, 2 ** 40, 2 ** 53, 2 ** 53 + 2, -1, 1.5, NaN, Infinity, '3', null, 3n),
);
const dimsArb = fc.oneof({ arbitrary: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 4 }), weight: 4 },
  fc.array(dimArb, { maxLength: 10 }), fc.constantFrom(undefined, null, 'x', 4, {}));

// A feed: a real Tensor, or a Tensor-shaped object whose properties may lie.
const feedArb = fc.record({
  type: fc.oneof({ arbitrary: fc.constant('float32'), weight: 4 }, fc.constantFrom(...TYPES)),
  ctor: fc.oneof({ arbitrary: fc.constant(Float32Array), weight: 4 }, fc.constantFrom(...CTORS)),
  length: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.constantFrom(0, 1, 4, 8, 16, 4096)),
  dims: dimsArb,
  getter: fc.constantFrom('none', 'data-changes', 'dims-changes', 'shrinks'),
  fill: fc.oneof(fc.double(), fc.integer(), fc.constantFrom(NaN, -0, 1e300)),
  asTensor: fc.boolean(),
});

function makeData(ctor, length, fill) {
  if (ctor === Array) return Array.from({ length }, () => fill);
  const big = ctor === BigInt64Array || ctor === BigUint64Array;
  const a = new ctor(length);
  a.fill(big ? BigInt.asIntN(63, BigInt(Math.trunc(Number.isFinite(fill) ? fill : 0))) : fill);
  return a;
}

function buildFeed(f) {
  const data = makeData(f.ctor, f.length, f.fill);
  if (f.asTensor) return new Tensor(f.type, data, f.dims); // may throw: must be an EdgeInferError
  if (f.getter === 'data-changes') {
    let n = 0;
    const other = makeData(f.ctor, 4096, f.fill);
    return { type: f.type, dims: f.dims, get data() { return n++ ? other : data; } };
  }
  if (f.getter === 'dims-changes') {
    let n = 0;
    return { type: f.type, data, get dims() { return n++ ? [4096] : f.dims; } };
  }
  if (f.getter === 'shrinks' && f.ctor !== Array) {
    const rab = new ArrayBuffer(data.byteLength, { maxByteLength: Math.max(data.byteLength, 8) });
    const view = new f.ctor(rab);
    view.set(data);
    return { type: f.type, get dims() { rab.resize(0); return f.dims; }, data: view };
  }
  return { type: f.type, dims: f.dims, data };
}

function expectEdgeInferError(err, what) {
  if (!err || err.name !== 'EdgeInferError') {
    throw new Error(`${what}: threw ${err && err.name} instead of an EdgeInferError: ${err && err.message}`);
  }
}

async function main() {
  const local = await InferenceSession.create(identityModel('float32', null)); // any rank
  const worker = await InferenceSession.create(identityModel('float32', null), { worker: true });
  const good = new Tensor('float32', Float32Array.from([1, 2, 3, 4, 5, 6]), [2, 3]);
  let runs = 0, accepted = 0;
  const deadline = Date.now() + seconds * 1000;
  const property = fc.asyncProperty(feedArb, fc.boolean(), async (f, inWorker) => {
    const s = inWorker ? worker : local;
    runs++;
    let feed;
    try {
      feed = buildFeed(f);
    } catch (err) {
      expectEdgeInferError(err, 'new Tensor');
      return;
    }
    try {
      const { y } = await s.run({ x: feed });
      accepted++;
      assert.equal(y.type, 'float32');
      assert.equal(y.data.length, y.dims.reduce((a, b) => a * b, 1));
    } catch (err) {
      expectEdgeInferError(err, `run(${JSON.stringify({ ...f, ctor: f.ctor.name }, (k, v) => (typeof v === 'bigint' ||
        typeof v === 'number' ? String(v) : v))})`);
    }
    const { y } = await s.run({ x: good }); // still usable, still right
    assert.deepEqual(Array.from(y.data), [1, 2, 3, 4, 5, 6]);
  });
  // Batches until the time is up, each with its own seed so that a failure reproduces.
  for (let batch = 0; Date.now() < deadline; batch++) {
    await fc.assert(property, { seed: seed + batch, numRuns: 200, endOnFailure: true });
  }
  await local.release();
  await worker.release();
  console.log(`fuzz_js: ${runs} feeds in ${seconds} s (seed ${seed}), ${accepted} accepted, no failure`);
}

main().catch((err) => {
  console.error(`fuzz_js: ${err.stack || err}`);
  process.exitCode = 1;
});
