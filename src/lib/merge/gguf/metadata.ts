/**
 * Building and editing GGUF metadata: typed constructors (so callers never pick a value type by
 * hand), replace/remove helpers that keep the original order (so a rewritten file differs from its
 * input only where intended), and the provenance keys Chorus adds to every file it writes.
 * Key names follow llama.cpp's gguf-py constants (general.*, general.base_model.*).
 */
import { GGUFValueType, type GGUFMetadataEntry, type GGUFScalar } from './types.ts';

const scalar =
  (type: GGUFValueType) =>
  (key: string, value: GGUFScalar): GGUFMetadataEntry => ({ key, type, value });
const array =
  (arrayType: GGUFValueType) =>
  (key: string, value: GGUFScalar[]): GGUFMetadataEntry => ({ key, type: GGUFValueType.ARRAY, arrayType, value });

/** Typed constructors: `meta.string('general.name', 'x')`, `meta.u32('llama.block_count', 5)`. */
export const meta = {
  u8: scalar(GGUFValueType.UINT8) as (key: string, value: number) => GGUFMetadataEntry,
  i8: scalar(GGUFValueType.INT8) as (key: string, value: number) => GGUFMetadataEntry,
  u16: scalar(GGUFValueType.UINT16) as (key: string, value: number) => GGUFMetadataEntry,
  i16: scalar(GGUFValueType.INT16) as (key: string, value: number) => GGUFMetadataEntry,
  u32: scalar(GGUFValueType.UINT32) as (key: string, value: number) => GGUFMetadataEntry,
  i32: scalar(GGUFValueType.INT32) as (key: string, value: number) => GGUFMetadataEntry,
  f32: scalar(GGUFValueType.FLOAT32) as (key: string, value: number) => GGUFMetadataEntry,
  f64: scalar(GGUFValueType.FLOAT64) as (key: string, value: number) => GGUFMetadataEntry,
  bool: scalar(GGUFValueType.BOOL) as (key: string, value: boolean) => GGUFMetadataEntry,
  string: scalar(GGUFValueType.STRING) as (key: string, value: string) => GGUFMetadataEntry,
  u64: scalar(GGUFValueType.UINT64) as (key: string, value: bigint) => GGUFMetadataEntry,
  i64: scalar(GGUFValueType.INT64) as (key: string, value: bigint) => GGUFMetadataEntry,
  stringArray: array(GGUFValueType.STRING) as (key: string, value: string[]) => GGUFMetadataEntry,
  i32Array: array(GGUFValueType.INT32) as (key: string, value: number[]) => GGUFMetadataEntry,
  u32Array: array(GGUFValueType.UINT32) as (key: string, value: number[]) => GGUFMetadataEntry,
  f32Array: array(GGUFValueType.FLOAT32) as (key: string, value: number[]) => GGUFMetadataEntry,
  array: (key: string, arrayType: GGUFValueType, value: GGUFScalar[]): GGUFMetadataEntry => ({ key, type: GGUFValueType.ARRAY, arrayType, value }),
};

/** A copy of `entries` with `entry` replacing the entry of the same key in place, or appended. */
export function setMeta(entries: readonly GGUFMetadataEntry[], ...updates: GGUFMetadataEntry[]): GGUFMetadataEntry[] {
  const out = [...entries];
  for (const u of updates) {
    const i = out.findIndex((e) => e.key === u.key);
    if (i >= 0) out[i] = u;
    else out.push(u);
  }
  return out;
}

/** A copy of `entries` without the given keys, or without keys starting with a prefix ending in '.'. */
export function removeMeta(entries: readonly GGUFMetadataEntry[], ...keys: string[]): GGUFMetadataEntry[] {
  return entries.filter((e) => !keys.some((k) => e.key === k || (k.endsWith('.') && e.key.startsWith(k))));
}

export interface Provenance {
  /** How the file was made: "linear", "slerp", "ties", "finetune", … */
  method: string;
  /** The input models, in order (file or model names). */
  inputs: string[];
  /** Method parameters; stored as JSON so any shape survives. */
  parameters?: Record<string, unknown>;
  /** Tool name and version, e.g. "Chorus 0.1.0". */
  tool?: string;
  /** ISO-8601 time of creation. */
  created?: string;
  /** Optional short description for general.description. */
  description?: string;
}

/** The prefix of every key Chorus writes about how a file was produced. */
export const PROVENANCE_PREFIX = 'chorus.provenance.';

/**
 * Provenance entries for a file Chorus wrote: chorus.provenance.{method,inputs,parameters,tool,created},
 * plus llama.cpp's standard general.base_model.count / general.base_model.N.name, which tools like
 * the Hugging Face hub read. Apply with `setMeta(removeMeta(entries, PROVENANCE_PREFIX, 'general.base_model.'), ...provenanceMetadata(p))`.
 */
export function provenanceMetadata(p: Provenance): GGUFMetadataEntry[] {
  const out: GGUFMetadataEntry[] = [
    meta.string(`${PROVENANCE_PREFIX}method`, p.method),
    meta.stringArray(`${PROVENANCE_PREFIX}inputs`, p.inputs),
    meta.string(`${PROVENANCE_PREFIX}parameters`, JSON.stringify(p.parameters ?? {}, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))),
    meta.string(`${PROVENANCE_PREFIX}tool`, p.tool ?? 'Chorus'),
    meta.string(`${PROVENANCE_PREFIX}created`, p.created ?? new Date().toISOString()),
    meta.u32('general.base_model.count', p.inputs.length),
    ...p.inputs.map((name, i) => meta.string(`general.base_model.${i}.name`, name)),
  ];
  if (p.description !== undefined) out.push(meta.string('general.description', p.description));
  return out;
}

/** Replaces any earlier provenance in `entries` with `p`, keeping everything else (tokenizer, chat template) as is. */
export function withProvenance(entries: readonly GGUFMetadataEntry[], p: Provenance): GGUFMetadataEntry[] {
  return setMeta(removeMeta(entries, PROVENANCE_PREFIX, 'general.base_model.'), ...provenanceMetadata(p));
}
