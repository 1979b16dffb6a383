/**
 * An in-memory CacheStorage for Node tests: the part of the Cache API that web-llm's
 * ArtifactCache and Chorus's mlc/cache.ts use (open, has, keys, match, put, add, delete), keyed by
 * URL as the browser's is. Browser tests use the real Cache Storage.
 */
class MemoryCache {
  readonly entries = new Map<string, { body: Uint8Array; headers: [string, string][] }>();
  #url(req: RequestInfo | URL): string {
    return typeof req === 'string' ? new URL(req).href : req instanceof URL ? req.href : req.url;
  }
  async match(req: RequestInfo | URL): Promise<Response | undefined> {
    const e = this.entries.get(this.#url(req));
    return e ? new Response(e.body.slice() as Uint8Array<ArrayBuffer>, { headers: e.headers }) : undefined;
  }
  async put(req: RequestInfo | URL, res: Response): Promise<void> {
    this.entries.set(this.#url(req), { body: new Uint8Array(await res.arrayBuffer()), headers: [...res.headers] });
  }
  async add(req: RequestInfo | URL): Promise<void> {
    throw new Error(`no network in this test: ${this.#url(req)} would have been fetched`);
  }
  async delete(req: RequestInfo | URL): Promise<boolean> {
    return this.entries.delete(this.#url(req));
  }
  async keys(): Promise<Request[]> {
    return [...this.entries.keys()].map((u) => new Request(u));
  }
}

export class MemoryCacheStorage {
  readonly caches = new Map<string, MemoryCache>();
  async open(name: string): Promise<Cache> {
    let c = this.caches.get(name);
    if (!c) this.caches.set(name, (c = new MemoryCache()));
    return c as unknown as Cache;
  }
  async has(name: string): Promise<boolean> {
    return this.caches.has(name);
  }
  async delete(name: string): Promise<boolean> {
    return this.caches.delete(name);
  }
  async keys(): Promise<string[]> {
    return [...this.caches.keys()];
  }
  async match(req: RequestInfo | URL): Promise<Response | undefined> {
    for (const c of this.caches.values()) {
      const r = await c.match(req);
      if (r) return r;
    }
    return undefined;
  }
  /** All URLs in one cache. */
  urls(name: string): string[] {
    return [...(this.caches.get(name)?.entries.keys() ?? [])].sort();
  }
}
