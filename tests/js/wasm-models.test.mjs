// The exported end-to-end models through the wasm build: each model of build/models runs on its
// fixed input in dist/edgeinfer.mjs, and every output must match onnxruntime-node on the same
// input to within REL_TOLERANCE of the reference output's range (tests/models/reference.mjs, the
// comparison the native model tests use). The mlp also runs in a worker session.

import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InferenceSession, Tensor } from '../../dist/edgeinfer.mjs';
import { compareWithReference, REL_TOLERANCE } from '../models/reference.mjs';
import { readNpy } from './npy.mjs';
import { MODELS_DIR, requireDist, requireModel } from './helpers.mjs';

const CASES = [
  ['mobilenet_v2', false],
  ['resnet18', false],
  ['mlp', false],
  ['mlp', true],
  ['squeezenet1_1', false],
  ['shufflenet_v2_x0_5', false],
  ['mnasnet0_5', false],
  ['efficientnet_b0', false],
  ['googlenet', false],
  ['regnet_y_400mf', false],
  ['mobilenet_v3_small', false],
  ['densenet121', false],
  ['text_transformer', false],
  ['lstm', false],
  ['gru', false],
  ['unet', false],
  ['audio_conv1d', false],
  ['dynamic_reshape', false],
  ['causal_lm', false],
  ['swin_mini', false],
  ['convnext_mini', false],
  ['maxvit_mini', false],
  ['raft_small', false],
  ['roi_heads', false],
];

for (const [name, worker] of CASES) {
  test(`${name}${worker ? ' (worker session)' : ''}: the wasm build matches onnxruntime`, { timeout: 600_000 }, async (t) => {
    requireDist();
    requireModel(name);
    const modelPath = join(MODELS_DIR, `${name}.onnx`);
    const inputPath = join(MODELS_DIR, `${name}.input.npy`);
    const input = readNpy(readFileSync(inputPath));
    const s = await InferenceSession.create(modelPath, { worker });
    let results;
    try {
      const out = await s.run({ [s.inputNames[0]]: new Tensor(input.dtype, input.data, input.shape) });
      const outputs = {};
      for (const [k, v] of Object.entries(out)) outputs[k] = { dtype: v.type, shape: v.dims, data: v.data };
      results = await compareWithReference(modelPath, inputPath, outputs);
    } finally {
      await s.release();
    }
    assert.ok(results.length > 0);
    for (const r of results) {
      t.diagnostic(`${name}/${r.name}: max abs error ${r.maxAbsError.toExponential(3)}, output range ` +
        `${r.range.toExponential(3)}, ratio ${r.ratio.toExponential(3)} (limit ${REL_TOLERANCE})`);
    }
    const failures = results.filter((r) => !r.pass).map((r) => r.message);
    assert.ok(failures.length === 0, `${name} differs from onnxruntime:\n${failures.join('\n')}`);
  });
}
