// Preloaded (node --import) by tests/js/relaxed.test.mjs into test files it runs a second time
// under --experimental-wasm-relaxed-simd: fails the process unless the loader chose the relaxed
// build for the sessions those tests created.
import { env } from '../../dist/edgeinfer.mjs';

process.on('beforeExit', () => {
  if (env.wasmBuild !== 'relaxed') {
    console.error(`relaxed-check: the tests ran on the '${env.wasmBuild}' build, expected 'relaxed'`);
    process.exitCode = 1;
  }
});
