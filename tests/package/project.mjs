// Temporary projects that install the packed tarball (make package) the way a user does, offline:
// `npm install --offline --ignore-scripts <tarball>`, under its own name and, for the alias
// recipe, under onnxruntime-web / onnxruntime-node / onnxruntime-common
// (`"onnxruntime-web": "file:edgeinfer-<version>.tgz"` is what `npm:edgeinfer@<version>` gives).
// Projects live in build/ (the same file system as node_modules, so client libraries can be
// hard-linked in rather than copied) and are removed by the caller.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ROOT } from '../js/helpers.mjs';

export const VERSION = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;
export const TARBALL = join(ROOT, 'build', `edgeinfer-${VERSION}.tgz`);
export const ORT_NAMES = ['onnxruntime-web', 'onnxruntime-node', 'onnxruntime-common'];

export function requireTarball() {
  assert.ok(existsSync(TARBALL), `${TARBALL} is missing: build it with make package`);
}

/**
 * A fresh project with the tarball installed as `edgeinfer` and under each name of `aliases`;
 * `links` are packages of this repository's node_modules hard-linked in (client libraries).
 */
export function makeProject(label, { aliases = [], links = [], type = 'module' } = {}) {
  requireTarball();
  mkdirSync(join(ROOT, 'build'), { recursive: true });
  const dir = mkdtempSync(join(ROOT, 'build', `pkg-${label}-`));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `try-${label}`, private: true, type }));
  const specs = ['edgeinfer', ...aliases].map((name) => `${name}@file:${TARBALL}`);
  execFileSync('npm', ['install', '--offline', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error', ...specs],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  for (const name of links) {
    const from = join(ROOT, 'node_modules', name);
    assert.ok(existsSync(from), `node_modules/${name} is missing: run npm ci`);
    const to = join(dir, 'node_modules', name);
    mkdirSync(dirname(to), { recursive: true });
    // Hard links of the library's own files (not of its nested node_modules, which may hold a
    // genuine onnxruntime), so that it resolves its imports from inside this project.
    try {
      execFileSync('cp', ['-al', from, to], { stdio: 'ignore' });
    } catch {
      rmSync(to, { recursive: true, force: true });
      execFileSync('cp', ['-a', from, to]); // another file system: a copy
    }
    rmSync(join(to, 'node_modules'), { recursive: true, force: true });
  }
  return dir;
}

export function removeProject(dir) {
  if (dir) rmSync(dir, { recursive: true, force: true });
}

/** Runs a script of the project with node and returns its stdout parsed as JSON. */
export function runNode(dir, file, text, args = []) {
  writeFileSync(join(dir, file), text);
  const out = execFileSync(process.execPath, [...args, file], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  return JSON.parse(out);
}
