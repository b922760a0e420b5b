// The demo's static server (web/serve.mjs) against hostile requests: every request error is an
// answer and the server keeps serving, symlinks never lead out of the root, redirects stay on the
// same origin, over-long URLs get 414, and a small bounded load on 127.0.0.1 is all answered.

import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '../../web/serve.mjs';

function makeRoot() {
  const top = mkdtempSync(join(tmpdir(), 'edgeinfer-serve-'));
  const root = join(top, 'root');
  mkdirSync(join(root, 'sub'), { recursive: true });
  writeFileSync(join(root, 'index.html'), '<!doctype html><title>root</title>');
  writeFileSync(join(root, 'sub', 'index.html'), 'sub');
  writeFileSync(join(root, 'a.txt'), 'inside');
  writeFileSync(join(top, 'secret.txt'), 'outside the root');
  symlinkSync(join(top, 'secret.txt'), join(root, 'leak.txt'));
  symlinkSync(top, join(root, 'up'));
  symlinkSync(join(root, 'a.txt'), join(root, 'alias.txt'));
  return root;
}

// One raw request line on a fresh connection; resolves with the status line (or '' if closed).
function rawRequest(port, line) {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1', () => sock.write(`${line}\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`));
    let data = '';
    sock.setEncoding('latin1');
    sock.on('data', (d) => { data += d; });
    sock.on('end', () => resolve(data.split('\r\n')[0]));
    sock.on('error', reject);
  });
}

test('request errors are answers, and the server keeps serving', async () => {
  const s = await serve({ root: makeRoot() });
  try {
    assert.match(await rawRequest(s.port, 'GET //[ HTTP/1.1'), /^HTTP\/1\.1 (400|404)/);
    assert.match(await rawRequest(s.port, 'GET * HTTP/1.1'), /^HTTP\/1\.1 400/);
    assert.match(await rawRequest(s.port, 'GET http://[ HTTP/1.1'), /^HTTP\/1\.1 400/);
    assert.match(await rawRequest(s.port, 'GET /%E0%A4%A HTTP/1.1'), /^HTTP\/1\.1 403/);
    assert.match(await rawRequest(s.port, 'BREW / HTTP/1.1'), /^HTTP\/1\.1 (400|405)/);
    assert.match(await rawRequest(s.port, 'GET / HTTP/1.1\r\nX: \u0001'), /^HTTP\/1\.1 400/);
    assert.equal((await fetch(`${s.url}/a.txt`)).status, 200);
  } finally {
    await s.close();
  }
});

test('symlinks never lead out of the root; those inside it are served', async () => {
  const s = await serve({ root: makeRoot() });
  try {
    assert.equal((await fetch(`${s.url}/leak.txt`)).status, 403);
    assert.equal((await fetch(`${s.url}/up/secret.txt`)).status, 403);
    const alias = await fetch(`${s.url}/alias.txt`);
    assert.equal(alias.status, 200);
    assert.equal(await alias.text(), 'inside');
  } finally {
    await s.close();
  }
});

test('redirects are same-origin paths; long URLs get 414; a favicon is always there', async () => {
  const s = await serve({ root: makeRoot() });
  try {
    for (const path of ['/.//sub', '//sub', '/sub']) {
      const r = await fetch(`${s.url}${path}`, { redirect: 'manual' });
      assert.equal(r.status, 301, path);
      assert.equal(r.headers.get('location'), '/sub/', path);
    }
    assert.equal((await fetch(`${s.url}/${'a'.repeat(5000)}`)).status, 414);
    const icon = await fetch(`${s.url}/favicon.ico`);
    assert.equal(icon.status, 200);
    assert.equal(icon.headers.get('content-type'), 'image/svg+xml');
  } finally {
    await s.close();
  }
});

test('a bounded load on 127.0.0.1 (400 requests, 20 at a time, a third of them hostile) is all answered', async () => {
  const s = await serve({ root: makeRoot() });
  try {
    const kinds = [
      async () => assert.equal((await fetch(`${s.url}/a.txt`)).status, 200),
      async () => assert.equal((await fetch(`${s.url}/missing`)).status, 404),
      async () => assert.match(await rawRequest(s.port, 'GET //[ HTTP/1.1'), /40[04]/),
    ];
    let next = 0;
    const worker = async () => {
      while (next < 400) {
        const i = next++;
        await kinds[i % kinds.length]();
      }
    };
    await Promise.all(Array.from({ length: 20 }, worker));
    assert.equal((await fetch(`${s.url}/`)).status, 200);
  } finally {
    await s.close();
  }
});
