/**
 * MoCo's free-text scoring, ported from model_collaboration/data/eval.py (BunsenFeng/
 * model_collaboration): `extract_answer_text`, `normalize_answer` (SQuAD's normalisation),
 * `calculate_exact_match`, `calculate_f1_score`, and the alias handling of `get_scores` for
 * `f1_match`. Python string semantics come from py.ts, so the same reply gives the same score.
 *
 * Two rules have evident bugs; MoCo's behaviour is the default and the corrected rule is exported
 * under its own name:
 * - `\box{…}` is read with a lazy `\{(.*?)\}`, which stops at the first `}`: `\boxed{\frac{1}{2}}`
 *   gives `\frac{1`. extractAnswerCorrected reads to the matching brace.
 * - aliases are parsed by deleting `[ ] " '` and splitting on commas, which cuts an alias that
 *   contains a comma ("Washington, D.C.") into pieces that each count as a full answer.
 *   parseAliasesCorrected reads the list as JSON when it is JSON.
 */
import { ASCII_PUNCTUATION, PY_B_AFTER, PY_B_BEFORE, PY_S, pySplit, pyStrip, pyRstripChars } from './py.ts';

// extract_answer_text, first rule: every `\box{…}` / `\boxed{…}` (DOTALL, IGNORECASE), the last wins.
const BOX = new RegExp(`\\\\box(?:ed)?${PY_S}*\\{([^]*?)\\}`, 'giu');
// Second rule: `\box answer` up to the end of the line.
const INLINE_BOX = new RegExp(`\\\\box(?:ed)?${PY_S}+([^\\n\\r]*)`, 'iu');
// Then these, in order (IGNORECASE); the first that captures a non-empty first line wins.
const FALLBACK: readonly RegExp[] = [
  String.raw`Final Answer:${PY_S}*((?:[^<]|<[^<])*?)\n`,
  String.raw`Final Answer is:${PY_S}*((?:[^<]|<[^<])*?)\n`,
  String.raw`The answer is:${PY_S}*((?:[^<]|<[^<])*?)\n`,
  String.raw`Answer:${PY_S}*((?:[^<]|<[^<])*?)\n`,
  String.raw`Solution:${PY_S}*((?:[^<]|<[^<])*?)\n`,
  String.raw`The solution is:${PY_S}*((?:[^<]|<[^<])*?)\n`,
  String.raw`${PY_B_BEFORE}the answer${PY_S}*(?:is|=)?${PY_S}*[:\-]?${PY_S}*([^\n]+)`,
  String.raw`${PY_B_BEFORE}final answer${PY_S}*(?:is|=)?${PY_S}*[:\-]?${PY_S}*([^\n]+)`,
  String.raw`${PY_B_BEFORE}answer${PY_S}*(?:is|=)?${PY_S}*[:\-]?${PY_S}*([^\n]+)`,
].map((p) => new RegExp(p, 'iu'));

function afterBox(response: string): string | null {
  const inline = INLINE_BOX.exec(response);
  if (inline) {
    const c = pyStrip(inline[1]!);
    if (c) return c;
  }
  for (const re of FALLBACK) {
    const m = re.exec(response);
    if (!m) continue;
    let c = pyStrip(m[1]!);
    if (!c) continue;
    c = pyStrip(c.split(/[\n\r]/, 1)[0]!);
    c = pyRstripChars(c, '. ');
    if (c) return c;
  }
  return null;
}

/** MoCo's `extract_answer_text`: the last `\box{…}`, else `\box …`, else a marker, else the whole reply. */
export function extractAnswer(response: string): string {
  const boxes = [...response.matchAll(BOX)];
  if (boxes.length > 0) return pyStrip(boxes[boxes.length - 1]![1]!);
  return afterBox(response) ?? pyStrip(response);
}

const BOX_OPEN = new RegExp(`\\\\box(?:ed)?${PY_S}*\\{`, 'giu');

/**
 * extractAnswer with the box read to its matching brace (`\boxed{\frac{1}{2}}` → `\frac{1}{2}`).
 * Of nested boxes the innermost last one is taken; a box that never closes is skipped, as in MoCo.
 */
export function extractAnswerCorrected(response: string): string {
  let found: string | null = null;
  for (const m of response.matchAll(BOX_OPEN)) {
    const start = m.index + m[0].length;
    let depth = 1;
    let i = start;
    for (; i < response.length && depth > 0; i++) {
      if (response[i] === '{') depth++;
      else if (response[i] === '}') depth--;
    }
    if (depth === 0) found = response.slice(start, i - 1);
  }
  if (found !== null) return pyStrip(found);
  return afterBox(response) ?? pyStrip(response);
}

const PUNCT = new Set(ASCII_PUNCTUATION);
const ARTICLES = new RegExp(`${PY_B_BEFORE}(a|an|the)${PY_B_AFTER}`, 'gu');

/** SQuAD normalisation as MoCo's `normalize_answer`: lower case, no punctuation, no articles, single spaces. */
export function normalizeAnswer(s: string): string {
  const lower = s.toLowerCase();
  let noPunct = '';
  for (const ch of lower) if (!PUNCT.has(ch)) noPunct += ch;
  return pySplit(noPunct.replace(ARTICLES, ' ')).join(' ');
}

/** MoCo's `calculate_exact_match`: 1 when the normalised strings are equal. */
export function exactMatch(prediction: string, truth: string): number {
  return normalizeAnswer(prediction) === normalizeAnswer(truth) ? 1 : 0;
}

/** MoCo's `calculate_f1_score`: token-level F1 of the normalised strings (two empty strings score 1). */
export function f1Score(prediction: string, truth: string): number {
  const p = pySplit(normalizeAnswer(prediction));
  const g = pySplit(normalizeAnswer(truth));
  if (p.length === 0 && g.length === 0) return 1;
  if (p.length === 0 || g.length === 0) return 0;
  const counts = new Map<string, number>();
  for (const t of g) counts.set(t, (counts.get(t) ?? 0) + 1);
  let common = 0;
  for (const t of p) {
    const n = counts.get(t) ?? 0;
    if (n > 0) {
      common++;
      counts.set(t, n - 1);
    }
  }
  if (common === 0) return 0;
  const precision = common / p.length;
  const recall = common / g.length;
  return (2 * precision * recall) / (precision + recall);
}

/** Whether a reference is a string that holds a list of aliases (`"[\"Toulon\", \"Tolon\"]"`). */
export function isAliasList(reference: string): boolean {
  const t = pyStrip(reference);
  return t.startsWith('[') && t.endsWith(']');
}

/** MoCo's alias parsing (popqa): drop `[ ] " '`, split on commas, strip each part. */
export function parseAliases(reference: string): string[] {
  return reference.replace(/[[\]"']/g, '').split(',').map(pyStrip);
}

/** The aliases as the list means them: JSON when the text is a JSON array of strings, else MoCo's rule. */
export function parseAliasesCorrected(reference: string): string[] {
  try {
    const v: unknown = JSON.parse(reference);
    if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string')) return v;
  } catch {
    // Not JSON (e.g. Python's single-quoted repr): MoCo's rule below.
  }
  return parseAliases(reference);
}

/** The best score of `metric` over the aliases. */
export function maxOver(prediction: string, aliases: readonly string[], metric: (p: string, t: string) => number): number {
  let best = 0;
  for (const a of aliases) best = Math.max(best, metric(prediction, a));
  return best;
}
