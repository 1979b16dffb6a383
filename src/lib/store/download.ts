/**
 * Fetch with byte progress and cancel, shared by the engine worker (load from URL) and the model
 * registry (download to OPFS). No DOM: fetch, streams and Blob exist in workers and Node.
 */
import { EngineError } from '../engines/engine.ts';

export interface DownloadOptions {
  signal?: AbortSignal;
  onProgress?: (loaded: number, total: number) => void;
}

/** Opens a URL, failing with an EngineError('network') that names the URL and what to do. */
export async function openUrl(url: string, signal?: AbortSignal): Promise<{ body: ReadableStream<Uint8Array>; total: number }> {
  let res: Response;
  try {
    res = await fetch(url, { signal });
  } catch (err) {
    if (signal?.aborted) throw new EngineError('aborted', `download of ${url} was cancelled.`);
    throw new EngineError('network', `could not download ${url}: ${err instanceof Error ? err.message : String(err)} — check the address and your connection (the server must allow cross-origin requests).`);
  }
  if (!res.ok || !res.body) {
    throw new EngineError('network', `could not download ${url}: the server answered ${res.status} ${res.statusText} — check the address.`);
  }
  return { body: res.body, total: Number(res.headers.get('content-length') ?? 0) };
}

/** Reads a whole stream, reporting progress; aborting cancels the read. */
export async function readAll(body: ReadableStream<Uint8Array>, total: number, opts: DownloadOptions & { label: string }): Promise<Blob> {
  const reader = body.getReader();
  const parts: Uint8Array[] = [];
  let loaded = 0;
  const onAbort = (): void => void reader.cancel().catch(() => undefined);
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (opts.signal?.aborted) throw new EngineError('aborted', `download of ${opts.label} was cancelled.`);
      if (done) break;
      parts.push(value);
      loaded += value.byteLength;
      opts.onProgress?.(loaded, Math.max(total, loaded));
    }
  } catch (err) {
    if (opts.signal?.aborted || err instanceof EngineError) throw err instanceof EngineError ? err : new EngineError('aborted', `download of ${opts.label} was cancelled.`);
    throw new EngineError('network', `download of ${opts.label} broke off after ${loaded} bytes (${String(err)}) — try again.`);
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
  return new Blob(parts as BlobPart[]);
}

export async function fetchWithProgress(url: string, opts: DownloadOptions = {}): Promise<Blob> {
  const { body, total } = await openUrl(url, opts.signal);
  return readAll(body, total, { ...opts, label: url });
}
