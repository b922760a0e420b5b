// A speech-like test signal for the voice-activity tests (vad.mjs in Node, and the Vite page of
// tests/browser/bundlers.test.mjs): deterministic, generated, no recordings.

export const RATE = 16000;

// Voiced "syllables": a glottal pulse train (f0 gliding 110-190 Hz) through three formant
// resonators that move per syllable, under a syllable-rate envelope; silences are faint noise.
export function speechLike(plan) {
  let seed = 12345;
  const noise = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32 - 0.5);
  const total = plan.reduce((n, [, sec]) => n + Math.round(sec * RATE), 0);
  const out = new Float32Array(total);
  const vowels = [[730, 1090, 2440], [270, 2290, 3010], [530, 1840, 2480], [570, 840, 2410], [300, 870, 2240]];
  let at = 0;
  let phase = 0;
  for (const [kind, sec] of plan) {
    const n = Math.round(sec * RATE);
    const state = vowels.map(() => [0, 0]);
    for (let i = 0; i < n; i++, at++) {
      if (kind === 'silence') {
        out[at] = 0.002 * noise();
        continue;
      }
      const t = i / RATE;
      const syllable = Math.floor(t * 4);
      const f0 = 110 + 80 * (0.5 + 0.5 * Math.sin(2 * Math.PI * 0.7 * t + syllable));
      phase += f0 / RATE;
      const pulse = phase % 1 < 0.08 ? 1 : -0.08;
      const formants = vowels[(syllable + (kind === 'speech2' ? 2 : 0)) % vowels.length];
      let y = 0;
      formants.forEach((f, k) => {
        const r = Math.exp(-Math.PI * (80 + 40 * k) / RATE);
        const a1 = 2 * r * Math.cos(2 * Math.PI * f / RATE);
        const s = state[k];
        const v = pulse + a1 * s[0] - r * r * s[1] + 0.02 * noise();
        s[1] = s[0];
        s[0] = v;
        y += v / (k + 1);
      });
      const env = Math.sin(Math.PI * ((t * 4) % 1)) ** 0.5;
      out[at] = 0.05 * env * y;
    }
  }
  return out;
}

/** The signal both runtimes get: three stretches of speech between silences. */
export const signal = () => speechLike([['silence', 1.2], ['speech', 1.6], ['silence', 2.5], ['speech2', 2.3], ['silence', 2.5],
  ['speech', 1.2], ['silence', 2.0]]);
