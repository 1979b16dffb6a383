/**
 * Engine worker: hosts ONE loaded wllama model (one worker per loaded model). Thin: it turns
 * protocol requests into calls on WllamaEngine (src/lib/engines/wllama.ts) and streams replies.
 * Errors cross as data (code + message) and are rebuilt as EngineError on the page.
 */
import wasmUrl from '@wllama/wllama/esm/wasm/wllama.wasm?url';
import { EngineError } from '../src/lib/engines/engine.ts';
import { WllamaEngine, errorText } from '../src/lib/engines/wllama.ts';
import { fetchWithProgress } from '../src/lib/store/download.ts';
import type { EngineReply, EngineRequest, ModelSource } from './engine.protocol.ts';

const scope = self as unknown as DedicatedWorkerGlobalScope;
let engine: WllamaEngine | null = null;
const running = new Map<number, AbortController>();

function send(reply: EngineReply): void {
  scope.postMessage(reply);
}

function sendError(id: number, err: unknown): void {
  if (err instanceof EngineError) send({ type: 'error', id, code: err.code, message: err.message });
  else send({ type: 'error', id, code: 'internal', message: `engine worker: ${errorText(err)}` });
}

async function openSource(id: number, source: ModelSource, signal: AbortSignal): Promise<Blob> {
  if (source.kind === 'blob') return source.blob;
  if (source.kind === 'url') {
    return fetchWithProgress(source.url, { signal, onProgress: (loaded, total) => send({ type: 'progress', id, loaded, total }) });
  }
  let dir = await navigator.storage.getDirectory();
  const parts = source.path.split('/').filter(Boolean);
  const fileName = parts.pop();
  if (!fileName) throw new EngineError('bad-request', `OPFS path "${source.path}" names no file.`);
  try {
    for (const part of parts) dir = await dir.getDirectoryHandle(part);
    const file = await (await dir.getFileHandle(fileName)).getFile();
    send({ type: 'progress', id, loaded: file.size, total: file.size });
    return file;
  } catch {
    throw new EngineError('load-failed', `${source.name}: not found in the browser's model cache (OPFS ${source.path}) — import it again.`);
  }
}

async function handle(req: EngineRequest): Promise<void> {
  switch (req.type) {
    case 'load': {
      const ac = new AbortController();
      running.set(req.id, ac);
      try {
        if (engine) throw new EngineError('bad-request', 'this engine worker already hosts a model; start one worker per model.');
        const blob = await openSource(req.id, req.source, ac.signal);
        if (ac.signal.aborted) throw new EngineError('aborted', `loading ${req.source.name} was cancelled.`);
        engine = await WllamaEngine.load(blob, { wasmUrl, modelName: req.source.name, ...req.params });
        if (ac.signal.aborted) {
          await engine.unload();
          engine = null;
          throw new EngineError('aborted', `loading ${req.source.name} was cancelled.`);
        }
        send({ type: 'result', id: req.id, value: engine.info });
      } catch (err) {
        sendError(req.id, err);
      } finally {
        running.delete(req.id);
      }
      return;
    }
    case 'generate': {
      const ac = new AbortController();
      running.set(req.id, ac);
      try {
        if (!engine) throw new EngineError('unloaded', 'no model is loaded in this worker — load it again.');
        const stream = req.mode === 'chat' ? engine.chat(req.request, { signal: ac.signal }) : engine.complete(req.request, { signal: ac.signal });
        for await (const chunk of stream) send({ type: 'chunk', id: req.id, chunk });
        send({ type: 'result', id: req.id, value: null });
      } catch (err) {
        sendError(req.id, err);
      } finally {
        running.delete(req.id);
      }
      return;
    }
    case 'cancel':
      running.get(req.target)?.abort();
      send({ type: 'result', id: req.id, value: null });
      return;
    case 'unload':
      for (const ac of running.values()) ac.abort();
      try {
        await engine?.unload();
      } finally {
        engine = null;
        send({ type: 'result', id: req.id, value: null });
      }
      return;
  }
}

scope.onmessage = (e: MessageEvent<EngineRequest>) => {
  void handle(e.data);
};
