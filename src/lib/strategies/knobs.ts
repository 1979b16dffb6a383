/**
 * Knob values checked against a strategy's declared knobs: missing → default, out of range →
 * clamped, wrong type or unknown option → default, unknown knob → dropped; each fix is a warning
 * that says what was wrong and what was used instead. Never throws. Used by runStrategy and by the
 * URL decoder, so a hand-edited link and a programmatic run are held to the same rules.
 */
import type { Knob, KnobValue, StrategyMeta } from './types.ts';

export interface ResolvedKnobs {
  knobs: Record<string, KnobValue>;
  warnings: string[];
}

/** Parses a string (as found in a URL) into the knob's type; undefined when it does not parse. */
export function parseKnobString(knob: Knob, raw: string): KnobValue | undefined {
  switch (knob.type) {
    case 'number':
    case 'integer': {
      if (raw.trim() === '') return undefined;
      const n = Number(raw);
      return Number.isFinite(n) ? n : undefined;
    }
    case 'boolean':
      if (raw === '1' || raw === 'true') return true;
      if (raw === '0' || raw === 'false') return false;
      return undefined;
    case 'select':
    case 'text':
      return raw;
  }
}

/** Checks one value against its knob; returns the value to use and, if it was changed, why. */
export function checkKnob(knob: Knob, value: unknown, where: string): { value: KnobValue; warning?: string } {
  const fallback = (why: string) => ({ value: knob.default, warning: `${where} knob "${knob.id}": ${why}; using the default ${JSON.stringify(knob.default)}` });
  switch (knob.type) {
    case 'number':
    case 'integer': {
      if (typeof value !== 'number' || !Number.isFinite(value)) return fallback(`${JSON.stringify(value)} is not a number`);
      let v = value;
      if (knob.type === 'integer' && !Number.isInteger(v)) v = Math.round(v);
      if (v < knob.min || v > knob.max) {
        const clamped = Math.min(knob.max, Math.max(knob.min, v));
        return { value: clamped, warning: `${where} knob "${knob.id}": ${value} is outside ${knob.min}–${knob.max}; using ${clamped}` };
      }
      if (v !== value) return { value: v, warning: `${where} knob "${knob.id}": ${value} is not a whole number; using ${v}` };
      return { value: v };
    }
    case 'boolean':
      return typeof value === 'boolean' ? { value } : fallback(`${JSON.stringify(value)} is not true/false`);
    case 'select':
      return typeof value === 'string' && knob.options.some((o) => o.value === value)
        ? { value }
        : fallback(`${JSON.stringify(value)} is not one of ${knob.options.map((o) => o.value).join(', ')}`);
    case 'text':
      if (typeof value !== 'string') return fallback(`${JSON.stringify(value)} is not text`);
      return value.length <= knob.maxLength ? { value } : fallback(`the text is ${value.length} characters long, more than ${knob.maxLength}`);
  }
}

/** Every declared knob with a valid value; unknown ones dropped with a warning. */
export function resolveKnobs(meta: StrategyMeta, given: Record<string, unknown> = {}): ResolvedKnobs {
  const knobs: Record<string, KnobValue> = {};
  const warnings: string[] = [];
  for (const k of meta.knobs) {
    if (given[k.id] === undefined) {
      knobs[k.id] = k.default;
      continue;
    }
    const checked = checkKnob(k, given[k.id], meta.name);
    knobs[k.id] = checked.value;
    if (checked.warning) warnings.push(checked.warning);
  }
  for (const id of Object.keys(given)) {
    if (!meta.knobs.some((k) => k.id === id)) warnings.push(`${meta.name} has no knob "${id}"; ignored`);
  }
  return { knobs, warnings };
}

export function defaultKnobs(meta: StrategyMeta): Record<string, KnobValue> {
  return Object.fromEntries(meta.knobs.map((k) => [k.id, k.default]));
}
