// The timing loop shared by the Node and the browser bench (tests/bench/bench.mjs,
// tests/bench/browser-page.mjs): engines already holding a session for one model, each
// `{ run() -> Promise }`, are warmed up and then timed in rounds, every round running each
// engine in turn with the order rotating, so that drift hits all engines alike. A sample is one
// run, or for an engine faster than 1 ms the mean of as many back-to-back runs as fill about
// 1 ms (the browser's timer ticks in 5 us steps).

export function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (pos - lo);
}

/**
 * sessions: {engine: {run}}. runs: timed samples per engine, 0 for about 2 s of the slowest
 * engine (10 to 300). Returns {runs, engines: {engine: {medianMs, p90Ms, batch}}}, batch: runs
 * per sample.
 */
export async function timeEngines(sessions, runs = 0) {
  const live = Object.keys(sessions);
  let slowest = 0;
  const batch = {};
  for (const e of live) {
    // Warm-up: at least 5 runs and 300 ms, so that the engine's code has tiered up.
    const t0 = performance.now();
    let n = 0;
    for (; n < 5 || performance.now() - t0 < 300; n++) await sessions[e].run();
    const t1 = performance.now();
    await sessions[e].run();
    const one = Math.min(performance.now() - t1, (t1 - t0) / n);
    batch[e] = Math.max(1, Math.min(1000, Math.round(1 / Math.max(one, 1e-3))));
    slowest = Math.max(slowest, one * batch[e]);
  }
  const total = runs || Math.max(10, Math.min(300, Math.round(2000 / Math.max(slowest, 1e-3))));
  const rounds = Math.min(10, total);
  const perRound = Math.ceil(total / rounds);
  const times = Object.fromEntries(live.map((e) => [e, []]));
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < live.length; i++) {
      const e = live[(i + r) % live.length];
      for (let k = 0; k < perRound; k++) {
        const t0 = performance.now();
        for (let b = 0; b < batch[e]; b++) await sessions[e].run();
        times[e].push((performance.now() - t0) / batch[e]);
      }
    }
  }
  const engines = {};
  for (const e of live) engines[e] = { medianMs: quantile(times[e], 0.5), p90Ms: quantile(times[e], 0.9), batch: batch[e] };
  return { runs: rounds * perRound, engines };
}

export function maxAbsDiff(a, b) {
  if (!a || !b || a.length !== b.length) return NaN;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
