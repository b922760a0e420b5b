// Runs @ricky0123/vad-web's NonRealTimeVAD (its bundled Silero model) over a generated
// speech-like signal with silences, and prints the speech segments it finds and which runtime
// ran them as JSON. Run from a project whose node_modules decide what onnxruntime-web is:
//   node vad.mjs
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { RATE, signal } from './speech.mjs';

const require = createRequire(import.meta.url);
const { NonRealTimeVAD } = require('@ricky0123/vad-web');
const ort = require('onnxruntime-web');
if (ort.env.wasm) ort.env.wasm.numThreads = 1;

const audio = signal();
const model = readFileSync(require.resolve('@ricky0123/vad-web/dist/silero_vad_legacy.onnx'));
const vad = await NonRealTimeVAD.new({ modelFetcher: async () => model.buffer.slice(model.byteOffset, model.byteOffset + model.length) });
const segments = [];
for await (const { start, end } of vad.run(audio, RATE)) segments.push({ start, end });
console.log(JSON.stringify({
  runtime: ort.env.versions && ort.env.versions.edgeinfer ? `edgeinfer ${ort.env.versions.edgeinfer}` : `onnxruntime-web ${ort.env.versions.web}`,
  frameMs: 1536 / 16,
  segments,
}));
