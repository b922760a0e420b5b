// End-to-end model tests for the native CLI: build/edgeinfer runs each exported model on its
// fixed input and every output must match onnxruntime-node on the same input to within
// REL_TOLERANCE of the reference output's range (see reference.mjs). Each model runs again on
// three threads, whose outputs must equal the one-thread outputs bit for bit (a split changes
// which thread computes an output, never the order of its sums).
//
// Needs `build/edgeinfer` (the native build; EDGEINFER_CLI overrides the path, e.g. for a
// sanitizer build) and `build/models` (written by tests/models/export_models.py). When either is missing the tests fail rather than skip, so a
// broken build step cannot turn into a green run.

import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readNpy } from '../js/npy.mjs';
import { compareWithReference, modelSignature, outputFileName, REL_TOLERANCE } from './reference.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = process.env.EDGEINFER_CLI ? resolve(process.env.EDGEINFER_CLI) : join(ROOT, 'build', 'edgeinfer');
const MODELS_DIR = join(ROOT, 'build', 'models');
const MODELS = [
  'mobilenet_v2',
  'resnet18',
  'mlp',
  'squeezenet1_1',
  'shufflenet_v2_x0_5',
  'mnasnet0_5',
  'efficientnet_b0',
  'googlenet',
  'regnet_y_400mf',
  'mobilenet_v3_small',
  'densenet121',
  'text_transformer',
  'lstm',
  'gru',
  'unet',
  'audio_conv1d',
  'dynamic_reshape',
  'causal_lm',
  'swin_mini',
  'convnext_mini',
  'maxvit_mini',
  'raft_small',
  'roi_heads',
];

function requireFile(path, hint) {
  assert.ok(existsSync(path), `${path} is missing: ${hint}`);
}

function runCli(modelPath, inputName, inputPath, outDir, threads = 1) {
  const args = ['run', modelPath, '-i', `${inputName}=${inputPath}`, '-o', outDir, '--threads', String(threads)];
  const r = spawnSync(CLI, args, { encoding: 'utf8', timeout: 300_000 });
  const cmd = `${CLI} ${args.join(' ')}`;
  if (r.error) assert.fail(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) {
    assert.fail(`${cmd} exited with ${r.status ?? r.signal}\n${r.stderr || r.stdout}`.trimEnd());
  }
}

for (const name of MODELS) {
  test(`${name}: build/edgeinfer matches onnxruntime`, { timeout: 600_000 }, async (t) => {
    const modelPath = join(MODELS_DIR, `${name}.onnx`);
    const inputPath = join(MODELS_DIR, `${name}.input.npy`);
    requireFile(CLI, 'build the native CLI first (make)');
    requireFile(modelPath, 'export the models first (/usr/bin/python3 tests/models/export_models.py build/models)');
    requireFile(inputPath, 'export the models first (/usr/bin/python3 tests/models/export_models.py build/models)');

    const { inputNames, outputNames } = await modelSignature(modelPath);
    const outDir = mkdtempSync(join(tmpdir(), `edgeinfer-${name}-`));
    try {
      runCli(modelPath, inputNames[0], inputPath, outDir);
      const outputs = {};
      for (const out of outputNames) {
        const file = join(outDir, outputFileName(out));
        assert.ok(existsSync(file),
          `${CLI} wrote no ${outputFileName(out)} (found: ${readdirSync(outDir).join(', ') || 'nothing'})`);
        outputs[out] = readNpy(readFileSync(file));
      }

      const results = await compareWithReference(modelPath, inputPath, outputs);
      for (const r of results) {
        t.diagnostic(`${name}/${r.name}: max abs error ${r.maxAbsError.toExponential(3)}, ` +
          `output range ${r.range.toExponential(3)}, ratio ${r.ratio.toExponential(3)} ` +
          `(limit ${REL_TOLERANCE})`);
      }
      const failures = results.filter((r) => !r.pass).map((r) => r.message);
      assert.ok(failures.length === 0, `${name} differs from onnxruntime:\n${failures.join('\n')}`);

      const threadedDir = join(outDir, 'threads3');
      runCli(modelPath, inputNames[0], inputPath, threadedDir, 3);
      for (const out of outputNames) {
        const a = readFileSync(join(outDir, outputFileName(out))), b = readFileSync(join(threadedDir, outputFileName(out)));
        assert.ok(a.equals(b), `${name}/${out}: the output on 3 threads differs from the output on 1`);
      }
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  });
}
