// Writes the JS files of dist/ from web/: the loader is written once (edgeinfer.core.js) and
// each output only adds a few lines around it that say where the script was loaded from and
// how it hands out its API. No bundler, no transformation of the code itself.
//
//   node web/build.mjs OUTDIR
//     OUTDIR/edgeinfer.mjs          ES module:  import edgeinfer from './edgeinfer.mjs'
//     OUTDIR/edgeinfer.js           classic script: <script src> or importScripts -> global `edgeinfer`
//                                   (and module.exports when required as CommonJS)
//     OUTDIR/edgeinfer-worker.js    the worker of `{ worker: true }` sessions (core + edgeinfer.worker.js)
//     OUTDIR/edgeinfer.d.ts         types

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { uncomment } from './uncomment.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const read = (f) => readFileSync(join(here, f), 'utf8').trimEnd();
const core = uncomment(read('edgeinfer.core.js'));
const worker = uncomment(read('edgeinfer.worker.js'));
const version = /const VERSION = '([^']+)'/.exec(core)[1];
const banner = (what) => `// edgeinfer ${version}: ${what}. Generated from web/ by web/build.mjs; edit the sources there.\n`;

// Where a classic script was loaded from: its <script> element, the worker that imported it,
// or the CommonJS module it was required as.
const classicUrl = `const SCRIPT_URL = (function () {
  if (typeof document !== 'undefined') return (document.currentScript && document.currentScript.src) || undefined;
  if (typeof self !== 'undefined' && self.location) return self.location.href;
  if (typeof __filename === 'string') return nodeBuiltin('node:url').pathToFileURL(__filename).href;
  return undefined;
})();`;

const outputs = {
  'edgeinfer.mjs': `${banner('ES module')}const SCRIPT_URL = import.meta.url;

${core}

export { InferenceSession, Tensor, EdgeInferError, env, decodeTensorProto, inspect, VERSION as version };
export default edgeinfer;
`,
  'edgeinfer.js': `${banner('classic script, defines the global `edgeinfer`')}(function () {
'use strict';
${classicUrl}

${core}

globalThis.edgeinfer = edgeinfer;
if (typeof module === 'object' && module && typeof module.exports === 'object') module.exports = edgeinfer;
})();
`,
  'edgeinfer-worker.js': `${banner('worker script of { worker: true } sessions')}(function () {
'use strict';
const SCRIPT_URL = typeof self !== 'undefined' && self.location ? self.location.href : undefined;

${core}

${worker}
})();
`,
  'edgeinfer.d.ts': `${banner('types')}${read('edgeinfer.d.ts')}\n`,
};

const outDir = process.argv[2];
if (!outDir) {
  console.error('usage: node web/build.mjs OUTDIR');
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });
for (const [name, text] of Object.entries(outputs)) writeFileSync(join(outDir, name), text);
