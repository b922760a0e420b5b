// The one-core SIMD128 peak of this engine and machine, measured: a hand-assembled wasm loop
// over 12 independent f32x4 accumulators, acc = acc * b + c, as f32x4.mul + f32x4.add (plain
// SIMD128) or as one f32x4.relaxed_madd. Twelve chains hide the latency of the mul-add chain on
// current cores, so the loop runs at the multiply/add throughput: the ceiling for any f32 kernel.
//
//   measurePeak({ relaxed }) -> GFLOP/s (best of several timed runs), or null when the engine
//   cannot compile the relaxed loop.

const ACCS = 12;

function uleb(n) {
  const out = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

function f32(x) {
  return [...new Uint8Array(Float32Array.of(x).buffer)];
}

// (func (param n i32) (result f32)): locals 1..12 accumulators, 13 b, 14 c.
function peakModule(relaxed) {
  const B = ACCS + 1;
  const C = ACCS + 2;
  const splat = (x, local) => [0x43, ...f32(x), 0xfd, 0x13, 0x21, local];
  const code = [0x01, 14, 0x7b, ...splat(0.999999, B), ...splat(1e-6, C)];
  for (let i = 1; i <= ACCS; i++) code.push(...splat(i, i));
  code.push(0x03, 0x40);
  for (let i = 1; i <= ACCS; i++) {
    code.push(0x20, i, 0x20, B);
    if (relaxed) code.push(0x20, C, 0xfd, ...uleb(0x105));
    else code.push(0xfd, ...uleb(0xe6), 0x20, C, 0xfd, ...uleb(0xe4));
    code.push(0x21, i);
  }
  // n = n - 1; loop while n != 0
  code.push(0x20, 0, 0x41, 1, 0x6b, 0x22, 0, 0x0d, 0, 0x0b);
  // the sum of every accumulator's lane 0 keeps them all live
  code.push(0x20, 1, 0xfd, 0x1f, 0);
  for (let i = 2; i <= ACCS; i++) code.push(0x20, i, 0xfd, 0x1f, 0, 0x92);
  code.push(0x0b);
  const body = [...uleb(code.length), ...code];
  const section = (id, bytes) => [id, ...uleb(bytes.length), ...bytes];
  return Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, 1, 0x7f, 1, 0x7d]),
    ...section(3, [1, 0]),
    ...section(7, [1, 4, ...new TextEncoder().encode('peak'), 0x00, 0]),
    ...section(10, [1, ...body])]);
}

export function measurePeak({ relaxed = false, ms = 40, reps = 9 } = {}) {
  const bytes = peakModule(relaxed);
  if (!WebAssembly.validate(bytes)) return null;
  const { peak } = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports;
  let n = 1 << 12;
  for (;;) { // calibrate to about `ms` per call (the loop also tiers up here)
    const t0 = performance.now();
    peak(n);
    const dt = performance.now() - t0;
    if (dt > ms / 4) {
      n = Math.max(1, Math.round((n * ms) / dt));
      break;
    }
    n *= 4;
  }
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    peak(n);
    best = Math.min(best, performance.now() - t0);
  }
  return (n * ACCS * 4 * 2) / (best * 1e6);
}
