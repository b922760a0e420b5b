// Assembles the demo site: the pages of demo/, the wasm build of dist/, the models and their
// samples, the app icons, and a service worker whose precache list and cache name are written
// here from what was assembled.
//
//   node demo/build.mjs OUTDIR        (make demo uses build/demo-site)
//
// OUTDIR, served at / (the folder is emptied first):
//   index.html fashion.html tabular.html playground.html   the pages
//   css/ js/                                              from demo/
//   manifest.webmanifest, icons/icon.svg, icon-192.png, icon-512.png, icon-maskable-512.png
//   dist/edgeinfer.js .mjs -worker.js .wasm -relaxed.wasm -threads.wasm  from dist/ (make wasm)
//   models/<name>/model.onnx and the files its page reads (see MODEL_FILES)
//   models/index.json                                     {"models": [names of the models present]}
//   sw.js                                                 demo/sw.js after two generated lines:
//       CACHE_NAME  'edgeinfer-demo-' + a hash of every precached path and its content
//       PRECACHE    every file above (and './'), relative to the site root
// A model whose folder is not there yet is left out with a warning; its page says so.

import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pngIcon, svgIcon } from './icons.mjs';

const DEMO = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(DEMO, '..');
const DIST_FILES = ['edgeinfer.js', 'edgeinfer.mjs', 'edgeinfer-worker.js', 'edgeinfer.wasm', 'edgeinfer-relaxed.wasm', 'edgeinfer-threads.wasm', 'edgeinfer-threads-relaxed.wasm'];
// Files of models/<name>/ the pages use: plain names, or a folder and the extension of its files.
const MODEL_FILES = {
  digits: ['model.onnx', 'samples.json'],
  fashion: ['model.onnx', 'labels.json', { dir: 'samples', ext: '.png' }],
  cancer: ['model.onnx', 'features.json', 'test_x.npy', 'test_y.npy'],
};

function copy(from, to) {
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(from, to);
}

function copyTree(from, to, keep = () => true) {
  for (const name of readdirSync(from).sort()) {
    const src = join(from, name);
    if (statSync(src).isDirectory()) copyTree(src, join(to, name), keep);
    else if (keep(name)) copy(src, join(to, name));
  }
}

function listFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listFiles(p));
    else out.push(p);
  }
  return out;
}

function build(outDir) {
  const out = resolve(outDir);
  if (out === ROOT || ROOT.startsWith(out + sep)) throw new Error(`refusing to empty ${out}: it holds the repository`);
  // Only an empty folder or an earlier site is emptied, never a folder that happens to be named.
  if (existsSync(out) && readdirSync(out).length && !(existsSync(join(out, 'sw.js')) && existsSync(join(out, 'index.html')))) {
    throw new Error(`refusing to empty ${out}: it is not empty and not a demo site`);
  }
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const warnings = [];

  // Pages, styles, scripts, manifest.
  for (const name of readdirSync(DEMO)) {
    if (name.endsWith('.html') || name === 'manifest.webmanifest') copy(join(DEMO, name), join(out, name));
  }
  copyTree(join(DEMO, 'css'), join(out, 'css'));
  copyTree(join(DEMO, 'js'), join(out, 'js'));

  // Icons.
  mkdirSync(join(out, 'icons'));
  writeFileSync(join(out, 'icons', 'icon.svg'), svgIcon());
  writeFileSync(join(out, 'icons', 'icon-192.png'), pngIcon(192));
  writeFileSync(join(out, 'icons', 'icon-512.png'), pngIcon(512));
  writeFileSync(join(out, 'icons', 'icon-maskable-512.png'), pngIcon(512, { maskable: true }));

  // The runtime.
  for (const f of DIST_FILES) {
    const src = join(ROOT, 'dist', f);
    if (!existsSync(src)) throw new Error(`${src} is missing: build it with \`make wasm\``);
    copy(src, join(out, 'dist', f));
  }

  // Models.
  for (const [model, files] of Object.entries(MODEL_FILES)) {
    const dir = join(ROOT, 'models', model);
    if (!existsSync(join(dir, 'model.onnx'))) {
      warnings.push(`models/${model}/model.onnx is not there yet: the demo goes without it`);
      continue;
    }
    for (const f of files) {
      if (typeof f === 'string') {
        if (existsSync(join(dir, f))) copy(join(dir, f), join(out, 'models', model, f));
        else warnings.push(`models/${model}/${f} is missing`);
      } else if (existsSync(join(dir, f.dir))) {
        copyTree(join(dir, f.dir), join(out, 'models', model, f.dir), (name) => name.endsWith(f.ext));
      } else {
        warnings.push(`models/${model}/${f.dir}/ is missing`);
      }
    }
  }

  // Which models the pages can use (a page asks this rather than get a 404 for a missing one).
  const present = Object.keys(MODEL_FILES).filter((m) => existsSync(join(out, 'models', m, 'model.onnx')));
  mkdirSync(join(out, 'models'), { recursive: true });
  writeFileSync(join(out, 'models', 'index.json'), `${JSON.stringify({ models: present })}\n`);

  // The service worker: precache everything assembled above.
  const files = listFiles(out).map((p) => relative(out, p).split(sep).join('/'));
  const hash = createHash('sha256');
  for (const f of files) {
    hash.update(`${f}\0`);
    hash.update(createHash('sha256').update(readFileSync(join(out, f))).digest());
  }
  hash.update(readFileSync(join(DEMO, 'sw.js')));
  const cacheName = `edgeinfer-demo-${hash.digest('hex').slice(0, 16)}`;
  const precache = ['./', ...files];
  writeFileSync(join(out, 'sw.js'),
    '// Generated by demo/build.mjs: the files to precache and a cache name made from their content.\n' +
    `const CACHE_NAME = ${JSON.stringify(cacheName)};\n` +
    `const PRECACHE = ${JSON.stringify(precache, null, 1)};\n\n` +
    readFileSync(join(DEMO, 'sw.js'), 'utf8'));

  return { out, files: precache.length, cacheName, warnings };
}

const outDir = process.argv[2];
if (!outDir) {
  console.error('usage: node demo/build.mjs OUTDIR');
  process.exit(2);
}
try {
  const r = build(outDir);
  for (const w of r.warnings) console.warn(`demo: warning: ${w}`);
  console.log(`demo: ${r.out} (${r.files} precached URLs, cache ${r.cacheName})`);
} catch (err) {
  console.error(`demo: ${err.message}`);
  process.exit(1);
}
