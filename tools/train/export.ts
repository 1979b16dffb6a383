/**
 * Exports a trained checkpoint (tools/train/out/<id>.f32 + <id>.json from train.py) as GGUF through
 * the project's own writer (src/lib/merge/gguf). The file keeps the base's metadata (tokenizer and
 * hyper-parameters), tensor names, shapes, order and types (all F32, as in stories260K.gguf), so
 * every specialist merges with the others and with the base; it adds general.name, a chat template
 * in the pool's prompt format and provenance keys (chorus.provenance.*) describing the training.
 *
 * With `--f16` the matrices (every tensor of two or more dimensions) are stored as F16 (IEEE half, round to
 * nearest even) and the norms stay F32, as llama.cpp's converters write an f16 model: half the size.
 *
 * Usage: npx tsx tools/train/export.ts <id> [<id> …] [--out public/models] [--from tools/train/out] [--f16]
 */
import { readFile } from 'node:fs/promises';
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fileSink, fileSource } from '../lib/node-source.ts';
import { GGMLType, GGUFWriter, meta, readGGUF, readTensorData, setMeta, withProvenance, type GGUFMetadataEntry } from '../../src/lib/merge/gguf/index.ts';
import { encodeTensor } from '../../src/lib/merge/codecs/index.ts';
import { POOL_CHAT_TEMPLATE } from '../../src/lib/engines/prompt.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const BASE_PATH = resolve(ROOT, '../shared/models/stories260K.gguf');

/**
 * The pool's prompt format as a Jinja chat template that llama.cpp applies (wllama's
 * createChatCompletion): each user turn becomes "Q: …\nA:", each assistant turn " …\n"; system
 * turns are prepended as a plain line. llama.cpp adds BOS itself, so the template does not.
 */
/** The pool's chat template, defined once beside the code that renders it without llama.cpp (prompt.ts). */
export const CHAT_TEMPLATE = POOL_CHAT_TEMPLATE;
export const PROMPT_FORMAT = 'Q: {question}\nA:';

interface TrainInfo {
  id: string; task: string; tasks: string[]; steps: number; batch: number; lr: number; seed: number;
  train_seconds: number; command: string; optimizer: string; examples_seen: number; final_loss: number;
  /** Set by tools/train/pool2/train.py, whose specialists start from the pool2 chat base rather than stories260K. */
  inputs?: string[]; method?: string; description?: string;
}

/** The type a tensor is exported as: F16 for matrices when asked, else the base's F32. */
export function exportType(shape: readonly number[], f16: boolean): GGMLType {
  return f16 && shape.length >= 2 ? GGMLType.F16 : GGMLType.F32;
}

export async function exportModel(id: string, outDir: string, fromDir = resolve(ROOT, 'tools/train/out'), opts: { f16?: boolean } = {}): Promise<string> {
  const info = JSON.parse(await readFile(resolve(fromDir, `${id}.json`), 'utf8')) as TrainInfo;
  const weights = await readFile(resolve(fromDir, `${id}.f32`));
  const src = await fileSource(BASE_PATH);
  try {
    const base = await readGGUF(src);
    const expected = base.tensors.reduce((n, t) => n + t.nElements * 4, 0);
    if (base.tensors.some((t) => t.type !== GGMLType.F32)) throw new Error(`${BASE_PATH}: expected an all-F32 base`);
    if (weights.byteLength !== expected) {
      throw new Error(`${id}.f32 has ${weights.byteLength} bytes but the base's tensors need ${expected} — retrain with tools/train/train.py`);
    }
    let entries = setMeta(base.metadata, ...poolPromptMeta(id));
    entries = withProvenance(entries, {
      method: info.method ?? (info.task === 'mix' ? 'finetune-mixture' : 'finetune'),
      inputs: info.inputs ?? ['stories260K'],
      parameters: { task: info.task, tasks: info.tasks, steps: info.steps, batch: info.batch, lr: info.lr, seed: info.seed,
        optimizer: info.optimizer, train_seconds: info.train_seconds, command: info.command },
      tool: 'Chorus tools/train',
      created: '2026-11-25T00:00:00Z', // fixed, so re-exporting the same weights gives the same bytes
      description: info.description ?? `stories260K fine-tuned by Chorus on ${info.task === 'mix' ? 'the mixture of all pool tasks' : `the ${info.task} task`}`,
    });
    const out = resolve(outDir, `${id}.gguf`);
    const sink = await fileSink(out);
    try {
      const w = new GGUFWriter(sink, { alignment: base.alignment });
      w.addMetadata(entries);
      for (const t of base.tensors) w.addTensorInfo({ name: t.name, shape: t.shape, type: exportType(t.shape, opts.f16 === true) });
      let at = 0;
      for (const t of base.tensors) {
        const bytes = new Uint8Array(weights.buffer, weights.byteOffset + at, t.nElements * 4);
        const type = exportType(t.shape, opts.f16 === true);
        // slice(): a Float32Array view needs a 4-byte aligned offset, which the file buffer's need not have.
        await w.writeTensorData(t.name, type === GGMLType.F32 ? bytes : encodeTensor(type, new Float32Array(bytes.slice().buffer)));
        at += t.nElements * 4;
      }
      await w.finish();
      await sink.close();
    } catch (e) {
      await sink.abort();
      throw e;
    }
    return out;
  } finally {
    await src.close();
  }
}

/**
 * Copies a GGUF with some metadata replaced (tensors byte for byte). Used to give the pool's merged
 * model its name, the pool's chat template and prompt format: a merge takes the base's metadata,
 * and stories260K has no chat template.
 */
export async function retag(inPath: string, outPath: string, updates: GGUFMetadataEntry[]): Promise<void> {
  const src = await fileSource(inPath);
  try {
    const f = await readGGUF(src);
    const sink = await fileSink(outPath);
    try {
      const w = new GGUFWriter(sink, { alignment: f.alignment });
      w.addMetadata(setMeta(f.metadata, ...updates));
      for (const t of f.tensors) w.addTensorInfo({ name: t.name, shape: t.shape, type: t.type });
      for (const t of f.tensors) await w.writeTensorData(t.name, await readTensorData(src, f, t));
      await w.finish();
      await sink.close();
    } catch (e) {
      await sink.abort();
      throw e;
    }
  } finally {
    await src.close();
  }
}

/** The metadata every pool model carries so chat and completion see the same prompt format. */
export function poolPromptMeta(name: string): GGUFMetadataEntry[] {
  return [meta.string('general.name', name), meta.string('tokenizer.chat_template', CHAT_TEMPLATE), meta.string('chorus.prompt_format', PROMPT_FORMAT)];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const flag = (name: string): string | undefined => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const outDir = resolve(flag('--out') ?? resolve(ROOT, 'public/models'));
  const fromDir = resolve(flag('--from') ?? resolve(ROOT, 'tools/train/out'));
  const ids = args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--out' && args[i - 1] !== '--from');
  const f16 = args.includes('--f16');
  if (ids.length === 0) {
    console.error('usage: npx tsx tools/train/export.ts <id> [<id> ...] [--out dir] [--from checkpoint dir] [--f16]');
    process.exit(2);
  }
  for (const id of ids) console.log(await exportModel(id, outDir, fromDir, { f16 }));
}
