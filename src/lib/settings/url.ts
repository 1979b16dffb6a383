/**
 * The setup ⇄ URL codec. A link reproduces a run: every field is written, seed included, and the
 * method's knobs are all written (not only the changed ones), so a later change of a default does
 * not change what an old link runs.
 *
 * Format (a query string; put it after `#` or `?` — decodeSetup accepts either, or a whole URL):
 *
 *   v=1&m=vote&a=stories260K@0.7&a=stories260K@0.7&sys2=Be+brief&k.samples=3&k.answerType=number&s=42&n=48&p=What+is+2%2B2%3F
 *
 *   v      format version (1)
 *   m      method id
 *   a      one per agent, in order: <model id>@<temperature> (split at the LAST "@", so model ids may contain "@")
 *   sysN   system prompt of agent N (1-based), only when not empty
 *   k.<id> the method's knobs (booleans as 1/0)
 *   s      seed      n  max tokens      p  prompt      i  data-set item id (only when the prompt is one)
 *
 * Values are percent-encoded except the readable-and-safe `@ : / ,` and spaces are "+".
 * decodeSetup never throws: a missing field takes its default silently; an unknown key, a value
 * that does not parse or is out of range, too many agents, a knob the method does not have — each
 * falls back (default, clamp, drop) and adds a warning saying what was wrong and what was used.
 * A link is untrusted input, so decoding is linear in its length (one pass groups the values by
 * key), a link over MAX_LINK_LENGTH is refused whole, and at most MAX_WARNINGS warnings are kept
 * (then one line counting the rest).
 */
import type { Knob, KnobValue } from '../strategies/types.ts';
import { getStrategy, strategyById } from '../strategies/registry.ts';
import { checkKnob, defaultKnobs, parseKnobString } from '../strategies/knobs.ts';
import { AGENT_FIELDS, ITEM_ID, ITEM_KEY, MAX_AGENTS, SETUP_FIELDS, defaultSetup, type AgentSetup, type Field, type Setup } from './schema.ts';

export const URL_FORMAT_VERSION = '1';

/**
 * The longest link decodeSetup reads. The longest setup the schema allows (a 20,000-character
 * prompt, 8 agents with 4,000-character system prompts and 300-character model ids, every
 * character a 3-byte UTF-8 one, which percent-encodes to 9) is about 490,000 characters.
 */
export const MAX_LINK_LENGTH = 1_048_576;
/** Warnings kept per link; the rest are counted in one last line. */
export const MAX_WARNINGS = 20;

/** Collects warnings up to MAX_WARNINGS and counts the ones past it. */
class Warnings {
  readonly list: string[] = [];
  #dropped = 0;
  push(message: string): void {
    if (this.list.length < MAX_WARNINGS) this.list.push(message);
    else this.#dropped++;
  }
  done(): string[] {
    if (this.#dropped > 0) this.list.push(`… and ${this.#dropped} more problems in the link (not listed)`);
    return this.list;
  }
}

/** encodeURIComponent, keeping `@ : / ,` readable and writing spaces as "+"; lone surrogates become U+FFFD. */
function enc(value: string): string {
  const wellFormed = value.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
  return encodeURIComponent(wellFormed)
    .replace(/%20/g, '+')
    .replace(/%40/g, '@')
    .replace(/%3A/g, ':')
    .replace(/%2F/g, '/')
    .replace(/%2C/g, ',');
}

function knobString(value: KnobValue): string {
  if (typeof value === 'boolean') return value ? '1' : '0';
  return String(value);
}

/** The setup as a query string (no leading "?" or "#"). */
export function encodeSetup(setup: Setup): string {
  const parts: string[] = [`v=${URL_FORMAT_VERSION}`, `${SETUP_FIELDS.method.key}=${enc(setup.method)}`];
  for (const a of setup.agents) parts.push(`${AGENT_FIELDS.model.key}=${enc(`${a.model}@${String(a.temperature)}`)}`);
  setup.agents.forEach((a, i) => {
    if (a.system !== '') parts.push(`${AGENT_FIELDS.system.key}${i + 1}=${enc(a.system)}`);
  });
  const meta = strategyById.get(setup.method)?.meta;
  const order = meta ? meta.knobs.map((k) => k.id) : Object.keys(setup.knobs);
  for (const id of order) {
    const v = setup.knobs[id];
    if (v !== undefined) parts.push(`k.${enc(id)}=${enc(knobString(v))}`);
  }
  parts.push(`${SETUP_FIELDS.seed.key}=${setup.seed}`, `${SETUP_FIELDS.maxTokens.key}=${setup.maxTokens}`, `${SETUP_FIELDS.prompt.key}=${enc(setup.prompt)}`);
  if (setup.item) parts.push(`${ITEM_KEY}=${enc(setup.item)}`);
  return parts.join('&');
}

/** The query part of a whole URL, a "#…" hash, a "?…" search, or a bare query string. */
function queryPart(input: string): string {
  const hash = input.indexOf('#');
  if (hash >= 0) return input.slice(hash + 1);
  const q = input.indexOf('?');
  if (q >= 0) return input.slice(q + 1);
  return input;
}

type NumField = Extract<Field, { type: 'integer' | 'number' }>;

function readNumber(field: NumField, raw: string, warnings: Warnings, where = field.label): number {
  const n = raw.trim() === '' ? NaN : Number(raw);
  if (!Number.isFinite(n)) {
    warnings.push(`${where}: "${raw}" is not a number; using the default ${field.default}`);
    return field.default;
  }
  let v = field.type === 'integer' ? Math.round(n) : n;
  if (v !== n) warnings.push(`${where}: ${raw} is not a whole number; using ${v}`);
  if (v < field.min || v > field.max) {
    const clamped = Math.min(field.max, Math.max(field.min, v));
    warnings.push(`${where}: ${v} is outside ${field.min}–${field.max}; using ${clamped}`);
    v = clamped;
  }
  return v;
}

function readString(field: Extract<Field, { type: 'string' }>, raw: string, warnings: Warnings, where = field.label): string {
  if (raw.length > field.maxLength) {
    warnings.push(`${where} is ${raw.length} characters long; kept the first ${field.maxLength}`);
    return raw.slice(0, field.maxLength);
  }
  return raw;
}

function readAgent(raw: string, n: number, warnings: Warnings): AgentSetup {
  const at = raw.lastIndexOf('@');
  let model = raw;
  let temperature = AGENT_FIELDS.temperature.default;
  if (at >= 0) {
    const tail = raw.slice(at + 1);
    if (tail.trim() !== '' && Number.isFinite(Number(tail))) {
      model = raw.slice(0, at);
      temperature = readNumber(AGENT_FIELDS.temperature, tail, warnings, `Agent ${n} temperature`);
    }
  }
  return { model: readString(AGENT_FIELDS.model, model, warnings, `Agent ${n} model id`), system: '', temperature };
}

/** Parses a link into a setup; never throws (see the file comment for the fallback rules). */
export function decodeSetup(input: string): { setup: Setup; warnings: string[] } {
  const warnings = new Warnings();
  if (input.length > MAX_LINK_LENGTH) {
    warnings.push(`the link is ${input.length} characters long; links up to ${MAX_LINK_LENGTH} are read — it was cut or is not a Chorus link; using the default setup`);
    return { setup: defaultSetup(), warnings: warnings.done() };
  }
  try {
    return { setup: decode(queryPart(input), warnings), warnings: warnings.done() };
  } catch (e) {
    warnings.push(`the link could not be read (${e instanceof Error ? e.message : String(e)}); using the default setup`);
    return { setup: defaultSetup(), warnings: warnings.done() };
  }
}

const SYSTEM_KEY = new RegExp(`^${AGENT_FIELDS.system.key}(\\d+)$`);

/** Every key's values in link order, keys in order of first appearance: one pass over the link. */
function groupByKey(query: string): Map<string, string[]> {
  const byKey = new Map<string, string[]>();
  for (const [key, value] of new URLSearchParams(query)) {
    const values = byKey.get(key);
    if (values) values.push(value);
    else byKey.set(key, [value]);
  }
  return byKey;
}

function decode(query: string, warnings: Warnings): Setup {
  const setup = defaultSetup();
  // URLSearchParams.getAll scans every pair, so calling it per distinct key was quadratic
  // (10^5 keys took minutes); the values are grouped once instead.
  const params = groupByKey(query);
  const once = (key: string): string | undefined => {
    const all = params.get(key) ?? [];
    if (all.length > 1) warnings.push(`"${key}" appears ${all.length} times; using the first`);
    return all[0];
  };

  const version = once('v');
  if (version !== undefined && version !== URL_FORMAT_VERSION) {
    warnings.push(`the link is format version ${version} and this app reads version ${URL_FORMAT_VERSION}; reading what it can`);
  }

  const method = once(SETUP_FIELDS.method.key);
  if (method !== undefined) {
    if (strategyById.has(method)) setup.method = method;
    else warnings.push(`unknown method "${method}"; using ${setup.method} (methods: ${SETUP_FIELDS.method.options().join(', ')})`);
  }
  const meta = getStrategy(setup.method).meta;
  setup.knobs = defaultKnobs(meta);

  const agentValues = params.get(AGENT_FIELDS.model.key) ?? [];
  if (agentValues.length > 0) {
    if (agentValues.length > MAX_AGENTS) warnings.push(`the link has ${agentValues.length} agents; kept the first ${MAX_AGENTS}`);
    setup.agents = agentValues.slice(0, MAX_AGENTS).map((raw, i) => readAgent(raw, i + 1, warnings));
  }

  const seed = once(SETUP_FIELDS.seed.key);
  if (seed !== undefined) setup.seed = readNumber(SETUP_FIELDS.seed, seed, warnings);
  const maxTokens = once(SETUP_FIELDS.maxTokens.key);
  if (maxTokens !== undefined) setup.maxTokens = readNumber(SETUP_FIELDS.maxTokens, maxTokens, warnings);
  const prompt = once(SETUP_FIELDS.prompt.key);
  if (prompt !== undefined) setup.prompt = readString(SETUP_FIELDS.prompt, prompt, warnings);
  const item = once(ITEM_KEY);
  if (item !== undefined) {
    if (ITEM_ID.test(item)) setup.item = item;
    else warnings.push(`"${item}" is not a data-set item id (<task>-<split>-<n>, e.g. arithmetic-dev-1); the prompt is kept without a reference`);
  }

  for (const key of params.keys()) {
    if (key === 'v' || key === SETUP_FIELDS.method.key || key === AGENT_FIELDS.model.key) continue;
    if (key === SETUP_FIELDS.seed.key || key === SETUP_FIELDS.maxTokens.key || key === SETUP_FIELDS.prompt.key || key === ITEM_KEY) continue;
    const value = params.get(key)?.[0] ?? '';
    const sys = SYSTEM_KEY.exec(key);
    if (sys?.[1]) {
      const agent = setup.agents[Number(sys[1]) - 1];
      if (agent) agent.system = readString(AGENT_FIELDS.system, once(key) ?? value, warnings, `Agent ${sys[1]} system prompt`);
      else warnings.push(`"${key}" is a system prompt for agent ${sys[1]}, but the link has ${setup.agents.length} agent(s); ignored`);
      continue;
    }
    if (key.startsWith('k.')) {
      const id = key.slice(2);
      const knob: Knob | undefined = meta.knobs.find((k) => k.id === id);
      if (!knob) {
        warnings.push(`${meta.name} has no knob "${id}"; ignored`);
        continue;
      }
      const raw = once(key) ?? value;
      const parsed = parseKnobString(knob, raw);
      if (parsed === undefined) {
        warnings.push(`${meta.name} knob "${id}": "${raw}" does not parse; using the default ${JSON.stringify(knob.default)}`);
        continue;
      }
      const checked = checkKnob(knob, parsed, meta.name);
      setup.knobs[id] = checked.value;
      if (checked.warning) warnings.push(checked.warning);
      continue;
    }
    warnings.push(`unknown key "${key}" in the link; ignored`);
  }
  return setup;
}
