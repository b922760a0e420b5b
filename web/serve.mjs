// A small static file server for the demo and the browser tests. It listens on 127.0.0.1 only,
// serves GET and HEAD for files under one root folder (index.html for a folder), with the MIME
// types the browser needs to take the files as they are (application/wasm, so that
// WebAssembly.compileStreaming works; text/javascript for .js and .mjs), and refuses paths that
// leave the root, symlinks included (the real path of every file must be inside the real root).
// Every request error is an answer, never a crash: 400 for a target that is not a URL, 414 for
// one longer than MAX_URL, 403 outside the root. Redirects (a folder without its slash) go to
// the same-origin path of the folder. /favicon.ico, when the root has none, is a small icon.
//
//   import { serve } from './web/serve.mjs';
//   const server = await serve({ root: 'dist', port: 0 });   // port 0: a free port
//   console.log(server.url); ... await server.close();
//
//   node web/serve.mjs [--root DIR] [--port N]      (defaults: the current folder, 8080)
//
// From the command line (make demo) every response also carries Cross-Origin-Opener-Policy and
// Cross-Origin-Embedder-Policy, so that its pages are cross-origin isolated and run threaded.

import { createReadStream, promises as fs } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const HOST = '127.0.0.1';
export const MAX_URL = 4096;

// The icon of /favicon.ico when the root has none (a browser asks for it on every page).
const FAVICON = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" ' +
  'fill="#1a73e8"/><path d="M4 4h8v2H6v1h5v2H6v1h6v2H4z" fill="#fff"/></svg>';

export const MIME_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.onnx': 'application/octet-stream',
  '.npy': 'application/octet-stream',
  '.pb': 'application/octet-stream',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.ico': 'image/x-icon',
};

function send(res, status, text, extra = {}) {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...extra });
  res.end(text);
}

// The file for a URL path under root, or null when the path is not acceptable.
function fileFor(root, pathname) {
  let decoded;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return null;
  }
  if (decoded.includes('\0')) return null;
  const file = resolve(root, `.${decoded.startsWith('/') ? decoded : `/${decoded}`}`);
  return inside(root, file) ? file : null;
}

function inside(root, file) {
  return file === root || file.startsWith(root + sep);
}

// The same-origin URL path of a folder under root, with its trailing slash.
function folderPath(root, dir) {
  const rel = relative(root, dir);
  return `/${rel ? `${rel.split(sep).map(encodeURIComponent).join('/')}/` : ''}`;
}

/**
 * Starts the server.
 * @param {{root: string, port?: number, headers?: (url: URL) => Object<string, string>,
 *   log?: (line: string) => void}} options root: the folder served; port: 0 (default) for a
 *   free one; headers: extra response headers per request (e.g. a Content-Security-Policy);
 *   log: called with one line per request
 * @returns {Promise<{url: string, port: number, server: import('node:http').Server,
 *   close: () => Promise<void>}>}
 */
export async function serve({ root, port = 0, headers = () => ({}), log = null }) {
  if (!root) throw new Error('serve: root is required');
  const base = resolve(root);
  const realBase = await fs.realpath(base);
  const server = createServer((req, res) => {
    handle(req, res).catch(() => { // a failure of the handler itself: answer if still possible
      if (!res.headersSent) send(res, 500, 'server error\n');
      else res.destroy();
    });
  });
  server.on('clientError', (err, socket) => { // unparsable requests, header overflows, ...
    if (socket.writable && !socket.headersSent) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  async function handle(req, res) {
    const target = String(req.url || '');
    const done = (status, what = target.slice(0, 200)) => log && log(`${req.method} ${what} ${status}`);
    if (target.length > MAX_URL) {
      done(414);
      return send(res, 414, 'URI too long\n');
    }
    let url;
    try { // the target appended, not resolved: '//x' is a path here, not another host
      if (!target.startsWith('/')) throw new Error('not a path');
      url = new URL(`http://${HOST}${target}`);
    } catch {
      done(400);
      return send(res, 400, 'bad request\n');
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      done(405);
      return send(res, 405, 'method not allowed\n', { Allow: 'GET, HEAD' });
    }
    let file = fileFor(base, url.pathname);
    if (!file) {
      done(403);
      return send(res, 403, 'forbidden\n');
    }
    try {
      let stat = await fs.stat(file);
      if (stat.isDirectory()) {
        if (!url.pathname.endsWith('/')) {
          done(301);
          return send(res, 301, 'moved\n', { Location: `${folderPath(base, file)}${url.search}` });
        }
        file = join(file, 'index.html');
        stat = await fs.stat(file);
      }
      if (!stat.isFile()) throw Object.assign(new Error('not a file'), { code: 'ENOENT' });
      if (!inside(realBase, await fs.realpath(file))) { // a symlink out of the root
        done(403);
        return send(res, 403, 'forbidden\n');
      }
      res.writeHead(200, {
        'Content-Type': MIME_TYPES[extname(file).toLowerCase()] || 'application/octet-stream',
        'Content-Length': stat.size,
        'Cache-Control': 'no-cache',
        'X-Content-Type-Options': 'nosniff',
        ...headers(url),
      });
      done(200);
      if (req.method === 'HEAD') return res.end();
      createReadStream(file).on('error', () => res.destroy()).pipe(res);
    } catch (err) {
      const status = err.code === 'ENOENT' || err.code === 'ENOTDIR' ? 404 : err.code === 'ENAMETOOLONG' ? 414 : 500;
      if (status === 404 && url.pathname === '/favicon.ico') {
        done(200);
        return send(res, 200, FAVICON, { 'Content-Type': 'image/svg+xml', 'Cache-Control': 'max-age=86400' });
      }
      done(status);
      send(res, status, { 404: 'not found\n', 414: 'URI too long\n' }[status] || 'server error\n');
    }
  }
  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, HOST, () => {
      server.off('error', fail);
      ok();
    });
  });
  const actual = server.address().port;
  return {
    url: `http://${HOST}:${actual}`,
    port: actual,
    server,
    close: () => new Promise((ok) => {
      server.close(() => ok());
      server.closeAllConnections();
    }),
  };
}

function parseArgs(argv) {
  const opts = { root: '.', port: 8080 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if ((a === '--root' || a === '--port') && i + 1 < argv.length) {
      opts[a.slice(2)] = a === '--port' ? Number(argv[++i]) : argv[++i];
    } else {
      throw new Error(`unknown argument '${a}' (usage: node web/serve.mjs [--root DIR] [--port N])`);
    }
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) throw new Error(`bad port ${opts.port}`);
  return opts;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const opts = parseArgs(process.argv.slice(2));
    // Cross-origin isolated, so that the pages it serves may run sessions on several threads.
    const isolation = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };
    const s = await serve({ root: opts.root, port: opts.port, headers: () => isolation, log: (line) => console.log(line) });
    console.log(`serving ${resolve(opts.root)} on ${s.url}/`);
  } catch (err) {
    console.error(`serve: ${err.message}`);
    process.exitCode = 1;
  }
}
