// Writes the JS files of dist/ from web/: the loader is written once (edgeinfer.core.js, with
// the onnxruntime-compatible extras of edgeinfer.compat.js) and each output only adds a few
// lines around it that say where the script was loaded from and how it hands out its API. No
// bundler: each script is only minified (esbuild's minifier, a dev dependency), because what a
// page downloads (edgeinfer.wasm + one script) must stay under 400 KB. The banner names the
// sha-256 of the sources it was made from, so a test can tell a stale dist/ from a fresh one.
//
//   node web/build.mjs OUTDIR
//     OUTDIR/edgeinfer.mjs          ES module:  import edgeinfer from './edgeinfer.mjs' (the package's `import`)
//     OUTDIR/edgeinfer.cjs          CommonJS:   require('edgeinfer') (the package's `require`); sets no global
//     OUTDIR/edgeinfer.js           classic script: <script src> or importScripts -> global `edgeinfer`
//                                   (and module.exports when required as CommonJS)
//     OUTDIR/edgeinfer-ort.js       opt-in, after edgeinfer.js: the same API also as the global `ort`
//     OUTDIR/edgeinfer-worker.js    the worker of `{ worker: true }` sessions (core + edgeinfer.worker.js)
//     OUTDIR/edgeinfer.d.ts         types

import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { uncomment } from './uncomment.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const read = (f) => readFileSync(join(here, f), 'utf8').trimEnd();
/** The sources of dist/'s scripts, hashed into their banners. */
export const SOURCES = ['build.mjs', 'uncomment.mjs', 'edgeinfer.core.js', 'edgeinfer.compat.js', 'edgeinfer.worker.js', 'edgeinfer.d.ts'];
export function sourceHash(dir = here) {
  const h = createHash('sha256');
  for (const f of SOURCES) h.update(readFileSync(join(dir, f)));
  return h.digest('hex').slice(0, 16);
}
const core = `${uncomment(read('edgeinfer.core.js'))}\n\n${uncomment(read('edgeinfer.compat.js'))}`;
const worker = uncomment(read('edgeinfer.worker.js'));
const version = /const VERSION = '([^']+)'/.exec(core)[1];
const banner = (what) => `// edgeinfer ${version}: ${what}. Generated from web/ (sources ${sourceHash()}) by web/build.mjs; edit the sources there.\n`;

// The module's named exports: onnxruntime-common's (so that code written for onnxruntime-web
// links against edgeinfer), onnxruntime-node's listSupportedBackends, and edgeinfer's own.
// The `edgeinfer` object of the core holds the same names.
const NAMES = ['InferenceSession', 'Tensor', 'env', 'registerBackend', 'listSupportedBackends',
  'TRACE', 'TRACE_FUNC_BEGIN', 'TRACE_FUNC_END', 'TRACE_EVENT_BEGIN', 'TRACE_EVENT_END',
  'EdgeInferError', 'decodeTensorProto', 'inspect'];

// Where a classic script was loaded from: its <script> element, the worker that imported it,
// or the CommonJS module it was required as.
const classicUrl = `const ASSET_URLS = {};
const SCRIPT_URL = (function () {
  if (typeof document !== 'undefined') return (document.currentScript && document.currentScript.src) || undefined;
  if (typeof self !== 'undefined' && self.location) return self.location.href;
  if (typeof __filename === 'string') return nodeBuiltin('node:url').pathToFileURL(__filename).href;
  return undefined;
})();`;

const outputs = {
  'edgeinfer.mjs': `${banner('ES module')}const SCRIPT_URL = import.meta.url;
// Literal new URL('./file', import.meta.url): bundlers (Vite, webpack, Parcel) see these, copy the
// files into the build and put their final URLs here.
const ASSET_URLS = {
  'edgeinfer.wasm': new URL('./edgeinfer.wasm', import.meta.url).href,
  'edgeinfer-relaxed.wasm': new URL('./edgeinfer-relaxed.wasm', import.meta.url).href,
  'edgeinfer-threads.wasm': new URL('./edgeinfer-threads.wasm', import.meta.url).href,
  'edgeinfer-threads-relaxed.wasm': new URL('./edgeinfer-threads-relaxed.wasm', import.meta.url).href,
  'edgeinfer-worker.js': new URL('./edgeinfer-worker.js', import.meta.url).href,
};

${core}

export { ${NAMES.join(', ')}, VERSION as version };
export default edgeinfer;
`,
  'edgeinfer.cjs': `${banner('CommonJS module')}'use strict';
${classicUrl}

${core}

module.exports = { ${NAMES.join(', ')}, version: VERSION };
`,
  'edgeinfer.js': `${banner('classic script, defines the global `edgeinfer`')}(function () {
'use strict';
${classicUrl}

${core}

globalThis.edgeinfer = edgeinfer;
if (typeof module === 'object' && module && typeof module.exports === 'object') module.exports = edgeinfer;
})();
`,
  'edgeinfer-ort.js': `${banner('opt-in after edgeinfer.js: the global `ort`')}(function () {
'use strict';
// Scripts written for onnxruntime-web's script tag read the global \`ort\`; transformers.js also
// takes a runtime from globalThis[Symbol.for('onnxruntime')].
if (typeof globalThis.edgeinfer !== 'object') {
  throw new Error('edgeinfer-ort.js: load edgeinfer.js first (<script src="edgeinfer.js"></script> before this script)');
}
globalThis.ort = globalThis.edgeinfer;
globalThis[Symbol.for('onnxruntime')] = globalThis.edgeinfer;
})();
`,
  'edgeinfer-worker.js': `${banner('worker script of { worker: true } sessions')}(function () {
'use strict';
const ASSET_URLS = {};
const SCRIPT_URL = typeof self !== 'undefined' && self.location ? self.location.href : undefined;

${core}

${worker}
})();
`,
  'edgeinfer.d.ts': `${banner('types')}${read('edgeinfer.d.ts')}\n`,
};

// Every script is minified but for its banner; the types are not.
async function minify(name, text) {
  if (!name.endsWith('.js') && !name.endsWith('.mjs') && !name.endsWith('.cjs')) return text;
  let esbuild;
  try {
    esbuild = await import('esbuild');
  } catch (err) {
    throw new Error(`web/build.mjs needs esbuild (a dev dependency): run npm ci (${err.message})`);
  }
  const nl = text.indexOf('\n') + 1;
  const { code } = await esbuild.transform(text.slice(nl), { minify: true, format: name.endsWith('.mjs') ? 'esm' : name.endsWith('.cjs') ? 'cjs' : undefined, legalComments: 'none' });
  return text.slice(0, nl) + code;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const outDir = process.argv[2];
  if (!outDir) {
    console.error('usage: node web/build.mjs OUTDIR');
    process.exit(2);
  }
  mkdirSync(outDir, { recursive: true });
  for (const [name, text] of Object.entries(outputs)) writeFileSync(join(outDir, name), await minify(name, text));
}
