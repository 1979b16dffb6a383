// Chorus service worker (template: tools/pwa/sw-plugin.mjs prepends VERSION, PRECACHE and ON_DEMAND at build).
// Install: fetch the shell's files (PRECACHE) into a versioned cache. Fetch: same-origin GETs are
// answered from the cache first (the build is immutable per VERSION); an ON_DEMAND file (an engine
// most visitors never start) is stored the first time it is fetched; navigations fall back to the
// cached shell; anything else (model downloads, OpenAI-compatible servers) goes to the network.
// Cached responses keep their COOP/COEP headers, so the page stays cross-origin isolated offline
// (wllama needs SharedArrayBuffer).
// Updates: a new build's worker installs and then waits; the page sees it waiting, says an update
// is ready, and sends 'skip-waiting' when the user chooses to reload (src/app/updates.svelte.ts).
/* global VERSION, PRECACHE, ON_DEMAND */
const CACHE = `chorus-${VERSION}`;
const onDemand = new Set(ON_DEMAND.map((u) => new URL(u, self.registration.scope).href));

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      // cache: 'reload' skips the HTTP cache so the precache holds exactly this build.
      await cache.addAll(PRECACHE.map((url) => new Request(url, { cache: 'reload' })));
    })(),
  );
});

self.addEventListener('message', (event) => {
  if (event.data?.type === 'skip-waiting') self.skipWaiting();
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      for (const key of await caches.keys()) {
        if (!key.startsWith('chorus-') || key === CACHE) continue;
        // Engines cached on first use by the previous build: same hashed name, same bytes; keep them.
        const old = await caches.open(key);
        for (const req of await old.keys()) {
          const res = onDemand.has(req.url) && !(await cache.match(req)) ? await old.match(req) : undefined;
          if (res) await cache.put(req, res);
        }
        await caches.delete(key);
      }
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
        const res = await fetch(req);
        if (onDemand.has(url.href) && res.status === 200) event.waitUntil(cache.put(url.href, res.clone()));
        return res;
      } catch (err) {
        // Offline and not cached: a navigation still gets the app shell (it is a single-page app).
        if (req.mode === 'navigate') {
          const shell = await cache.match('./');
          if (shell) return shell;
        }
        throw err;
      }
    })(),
  );
});
