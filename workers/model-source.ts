/**
 * Opens a worker's ModelSource (workers/engine.api.ts) as a Blob: a File as it is, a URL fetched
 * with byte progress, an OPFS path read from the origin-private file system. Shared by the engine
 * workers (engine.worker.ts for wllama, onnx.worker.ts for onnxruntime-web).
 */
import { EngineError } from '../src/lib/engines/engine.ts';
import { fetchWithProgress } from '../src/lib/store/download.ts';
import type { CallbackSink } from '../src/lib/rpc.ts';
import type { ModelSource } from './engine.api.ts';

export async function openSource(source: ModelSource, signal: AbortSignal, progress: CallbackSink<[number, number]> | null): Promise<Blob> {
  if (source.kind === 'blob') return source.blob;
  if (source.kind === 'url') {
    return fetchWithProgress(source.url, { signal, onProgress: (loaded, total) => progress?.send(loaded, total) });
  }
  let dir = await navigator.storage.getDirectory();
  const parts = source.path.split('/').filter(Boolean);
  const fileName = parts.pop();
  if (!fileName) throw new EngineError('bad-request', `OPFS path "${source.path}" names no file.`);
  try {
    for (const part of parts) dir = await dir.getDirectoryHandle(part);
    const file = await (await dir.getFileHandle(fileName)).getFile();
    progress?.send(file.size, file.size);
    return file;
  } catch {
    throw new EngineError('load-failed', `${source.name}: not found in the browser's model cache (OPFS ${source.path}) — import it again.`);
  }
}
