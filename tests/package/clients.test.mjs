// Published libraries written for onnxruntime run unchanged on edgeinfer, through the alias
// only: in a fresh project, the packed tarball is installed under the names onnxruntime-node,
// onnxruntime-web and onnxruntime-common, and the library (from this repository's
// node_modules) is linked in. Each library runs the same script twice, once from here (the
// genuine onnxruntime of node_modules) and once from that project, and the results must agree:
//   - transformers.js feature-extraction (Node: onnxruntime-node) on the tiny BERT encoder of
//     tiny_bert.py, fp32 and dtype 'q8' (DynamicQuantizeLinear + MatMulInteger): embeddings
//     within 1e-4;
//   - vad-web's NonRealTimeVAD (onnxruntime-web, its bundled Silero model) on a generated
//     speech-like signal: the same segments, within one frame.
// Needs build/tiny-bert (make build/tiny-bert/.stamp) and the tarball (make package).

import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT, requireFile } from '../js/helpers.mjs';
import { makeProject, removeProject } from './project.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const BUILD = join(ROOT, 'build');
const projects = [];
after(() => projects.forEach(removeProject));

// Runs one of this folder's scripts in `dir` and returns the JSON of its last line.
function run(dir, script, args = []) {
  if (dir !== HERE) for (const f of [script, 'speech.mjs']) copyFileSync(join(HERE, f), join(dir, f));
  const out = execFileSync(process.execPath, [script, ...args], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  return JSON.parse(out.trim().split('\n').pop());
}

function maxDiff(a, b) {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test('transformers.js feature-extraction, fp32 and q8: embeddings within 1e-4 of onnxruntime-node', (t) => {
  requireFile(join(BUILD, 'tiny-bert', 'onnx', 'model_quantized.onnx'), 'make build/tiny-bert/.stamp');
  const dir = makeProject('transformers', {
    aliases: ['onnxruntime-node', 'onnxruntime-web', 'onnxruntime-common'],
    links: ['@huggingface/transformers', '@huggingface/tokenizers', '@huggingface/jinja', 'sharp', '@img/colour',
      '@img/sharp-linux-x64', '@img/sharp-libvips-linux-x64', 'detect-libc', 'semver'],
  });
  projects.push(dir);
  for (const dtype of ['fp32', 'q8']) {
    const genuine = run(HERE, 'embed.mjs', [BUILD, dtype]);
    const ours = run(dir, 'embed.mjs', [BUILD, dtype]);
    assert.equal(genuine.runtime, 'onnxruntime-node');
    assert.match(ours.runtime, /^edgeinfer /, 'the alias made transformers.js use edgeinfer');
    assert.ok(ours.wasmMemoryBytes > 0, 'edgeinfer ran the model');
    for (const k of ['pooled', 'tokens']) {
      assert.deepEqual(ours[k].dims, genuine[k].dims, `${dtype} ${k} dims`);
      const d = maxDiff(ours[k].data, genuine[k].data);
      t.diagnostic(`${dtype} ${k} [${ours[k].dims}]: max |edgeinfer - onnxruntime-node| = ${d.toExponential(2)}`);
      assert.ok(d <= 1e-4, `${dtype} ${k}: max difference ${d}`);
    }
  }
});

test('vad-web NonRealTimeVAD: the same speech segments as on onnxruntime-web, within one frame', (t) => {
  const dir = makeProject('vad', { aliases: ['onnxruntime-web', 'onnxruntime-common'], links: ['@ricky0123/vad-web'] });
  projects.push(dir);
  const genuine = run(HERE, 'vad.mjs');
  const ours = run(dir, 'vad.mjs');
  assert.match(genuine.runtime, /^onnxruntime-web /);
  assert.match(ours.runtime, /^edgeinfer /);
  t.diagnostic(`segments (ms): onnxruntime-web ${JSON.stringify(genuine.segments)}, edgeinfer ${JSON.stringify(ours.segments)}`);
  assert.ok(genuine.segments.length >= 2, 'the signal has several speech segments');
  assert.equal(ours.segments.length, genuine.segments.length);
  ours.segments.forEach((s, i) => {
    assert.ok(Math.abs(s.start - genuine.segments[i].start) <= genuine.frameMs, `segment ${i} start`);
    assert.ok(Math.abs(s.end - genuine.segments[i].end) <= genuine.frameMs, `segment ${i} end`);
  });
});
