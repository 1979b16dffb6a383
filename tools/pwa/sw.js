// Chorus service worker (template: tools/pwa/sw-plugin.mjs prepends VERSION and PRECACHE at build).
// Install: fetch every file of the build into a versioned cache. Fetch: same-origin GETs are
// answered from the cache first (the build is immutable per VERSION), navigations fall back to the
// cached shell, and anything else (model downloads, OpenAI-compatible servers) goes to the network.
// Cached responses keep their COOP/COEP headers, so the page stays cross-origin isolated offline
// (wllama needs SharedArrayBuffer).
/* global VERSION, PRECACHE */
const CACHE = `chorus-${VERSION}`;

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      // cache: 'reload' skips the HTTP cache so the precache holds exactly this build.
      await cache.addAll(PRECACHE.map((url) => new Request(url, { cache: 'reload' })));
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const key of await caches.keys()) if (key.startsWith('chorus-') && key !== CACHE) await caches.delete(key);
      await self.clients.claim();
    })(),
  );
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  event.respondWith(
    (async () => {
      const cache = await caches.open(CACHE);
      const hit = await cache.match(req, { ignoreSearch: req.mode === 'navigate' });
      if (hit) return hit;
      try {
        return await fetch(req);
      } catch (err) {
        // Offline and not precached: a navigation still gets the app shell (it is a single-page app).
        if (req.mode === 'navigate') {
          const shell = await cache.match('./');
          if (shell) return shell;
        }
        throw err;
      }
    })(),
  );
});
