// The demo's service worker: after the first visit every page, the runtime, the models and
// their samples come from the cache, so the demos work with the network off.
//
// demo/build.mjs writes this file into the site after two lines it generates:
//   CACHE_NAME  'edgeinfer-demo-<hash>', the hash of every precached file's path and content
//   PRECACHE    the URLs of those files, relative to this script
// A new build therefore installs into a new cache; activating it deletes the older ones.
// Precached URLs are answered cache-first (ignoring the query string); anything else goes to
// the network as usual.

const CACHE_PREFIX = 'edgeinfer-demo-';

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE_NAME);
    // cache: 'reload' skips the HTTP cache, so the copies are those of this build.
    await cache.addAll(PRECACHE.map((url) => new Request(url, { cache: 'reload' })));
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) {
      if (key.startsWith(CACHE_PREFIX) && key !== CACHE_NAME) await caches.delete(key);
    }
    await self.clients.claim();
  })());
});

const PRECACHED = new Set(PRECACHE.map((url) => new URL(url, self.registration.scope).href));

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  url.search = '';
  url.hash = '';
  if (!PRECACHED.has(url.href)) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE_NAME);
    const hit = await cache.match(url.href);
    return hit || fetch(request);
  })());
});
