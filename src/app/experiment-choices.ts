/**
 * The Experiments tab's pure helpers (no Svelte, tested in Node): the experiment file built from the
 * tab's choices, and the link form of an experiment (`#experiment=<base64url of its JSON>`).
 */
import type { StrategyMeta } from '../lib/strategies/types.ts';

export interface Choices {
  datasets: string[];
  methods: string[];
  models: string[];
  split: 'dev' | 'test';
  limit: number;
  seed: number;
}

export const HASH_KEY = 'experiment';

/** base64url of UTF-8 text, for links (RFC 4648 §5). */
export function toBase64Url(text: string): string {
  let bin = '';
  for (const b of new TextEncoder().encode(text)) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
function fromBase64Url(s: string): string {
  const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/'));
  return new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
}

/** The experiment text a hash carries (`#experiment=<base64url JSON>`), or null. */
export function experimentFromHash(hash: string): string | null {
  const m = /(?:^#?|&)experiment=([A-Za-z0-9_-]+)/.exec(hash);
  if (!m) return null;
  try {
    return fromBase64Url(m[1]!);
  } catch {
    return null;
  }
}

/** An experiment file from the choices: one `single` entry per model, other methods over all chosen models. */
export function experimentFromChoices(c: Choices, metas: readonly StrategyMeta[], userFiles: readonly string[]): { text: string; notes: string[] } {
  const notes: string[] = [];
  const methods: unknown[] = [];
  for (const id of c.methods) {
    const meta = metas.find((m) => m.id === id);
    if (!meta) continue;
    if (id === 'single') {
      for (const m of c.models) methods.push({ method: 'single', agents: [m], label: m });
      continue;
    }
    const agents = meta.needs.maxAgents !== undefined ? c.models.slice(0, meta.needs.maxAgents) : c.models;
    if (agents.length < meta.needs.minAgents) {
      notes.push(`${meta.name} needs at least ${meta.needs.minAgents} models: choose more models to include it`);
      continue;
    }
    methods.push({ method: id, agents, label: meta.name });
  }
  // The person's own files hold one split (user.ts puts every row in "test").
  const datasets = c.datasets.map((d) => ({ path: d, split: userFiles.includes(d) ? 'test' : c.split, limit: c.limit }));
  const exp = { models: Object.fromEntries(c.models.map((m) => [m, m])), datasets, methods, seeds: [c.seed] };
  return { text: JSON.stringify(exp, null, 2), notes };
}
