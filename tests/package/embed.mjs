// Runs transformers.js's feature-extraction pipeline on the tiny encoder of tiny_bert.py, from a
// local folder with remote models disabled, and prints the embeddings and which runtime ran them
// as JSON. Run from a project whose node_modules decide what onnxruntime-node is:
//   node embed.mjs MODELS_DIR DTYPE [SENTENCES_JSON]
import { createRequire } from 'node:module';
import { pipeline, env } from '@huggingface/transformers';

const [modelsDir, dtype, sentences] = process.argv.slice(2);
env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = modelsDir;
env.useFSCache = false;

const SENTENCES = sentences ? JSON.parse(sentences) : ['The quick brown fox jumps over the lazy dog.', 'Models run offline in the browser!',
  'a', 'Sometimes important things happen between two old houses, and nobody knows why.'];

const extractor = await pipeline('feature-extraction', 'tiny-bert', { dtype, device: 'cpu' });
const pooled = await extractor(SENTENCES, { pooling: 'mean', normalize: true });
const tokens = await extractor(SENTENCES[1]);
const ort = createRequire(import.meta.url)('onnxruntime-node');
console.log(JSON.stringify({
  runtime: ort.env && ort.env.versions && ort.env.versions.edgeinfer ? `edgeinfer ${ort.env.versions.edgeinfer}` : 'onnxruntime-node',
  wasmMemoryBytes: ort.env && ort.env.wasmMemoryBytes,
  pooled: { dims: pooled.dims, data: Array.from(pooled.data) },
  tokens: { dims: tokens.dims, data: Array.from(tokens.data) },
}));
