/**
 * MoCo's multiple-choice prompt and parser, ported from model_collaboration/data/eval.py
 * (`format_mcq_question`, `parse_model_response_mcq`, and the comparison in `get_scores`).
 *
 * Options are lettered A, B, C… by position, whatever keys the item's `choices` object uses, and
 * MoCo then compares that positional letter with the item's `answer`. Where the keys are not the
 * letters (arc_challenge has items keyed "1"–"4", tablemwp_multiple_choice has a key "id"), a
 * correct reply can never score: an evident bug. choiceScoreCorrected maps the chosen position
 * back to the item's own key before comparing.
 */
import { pyFormat, pyStrip } from './py.ts';

/** MoCo's instruction line, verbatim. */
export const MCQ_INSTRUCTION = 'Please select the correct answer by choosing the letter corresponding to your choice.';

/** `chr(65 + i)`: A, B, C, … (past Z it continues into `[`, `\`, … as Python does). */
export function optionLetter(i: number): string {
  return String.fromCharCode(65 + i);
}

/** MoCo's `format_mcq_question`: the question, one `A) text` line per option, then the instruction. */
export function formatMcq(question: string, options: readonly unknown[]): string {
  let out = `${question}\n`;
  for (const [i, o] of options.entries()) out += `${optionLetter(i)}) ${pyFormat(o)}\n`;
  return `${out}${MCQ_INSTRUCTION}\n`;
}

/**
 * MoCo's `parse_model_response_mcq`, in its order: (1) the whole reply is a letter, or starts with
 * `a)`, `a.` or `a ` (lower-cased, stripped); (2) an option's text appears in the reply; (3) `a)`,
 * `(a)`, `answer is a` or `a.` appears anywhere. Each step tries the options in order. Returns the
 * position, or -1. An option that is not a string (one MoCo file has a null) would crash MoCo at
 * step 2 (`None.lower()`); it is skipped there.
 */
export function parseMcq(response: string, options: readonly unknown[]): number {
  const r = pyStrip(response.toLowerCase());
  for (let i = 0; i < options.length; i++) {
    const l = optionLetter(i).toLowerCase();
    if (r === l || r.startsWith(`${l})`) || r.startsWith(`${l}.`) || r.startsWith(`${l} `)) return i;
  }
  for (let i = 0; i < options.length; i++) {
    const o = options[i];
    if (typeof o === 'string' && r.includes(o.toLowerCase())) return i;
  }
  for (let i = 0; i < options.length; i++) {
    const l = optionLetter(i).toLowerCase();
    if (r.includes(`${l})`) || r.includes(`(${l})`) || r.includes(`answer is ${l}`) || r.includes(`${l}.`)) return i;
  }
  return -1;
}

/** MoCo's score: 1 when the positional letter it parsed equals the item's answer. */
export function choiceScore(response: string, choices: Record<string, unknown>, answer: string): { parsed: string; score: number } {
  const i = parseMcq(response, Object.values(choices));
  const parsed = i < 0 ? '' : optionLetter(i);
  return { parsed, score: parsed !== '' && parsed === answer ? 1 : 0 };
}

/** Corrected: the parsed position is mapped to the item's own key ("2", "id") before comparing. */
export function choiceScoreCorrected(response: string, choices: Record<string, unknown>, answer: string): number {
  const i = parseMcq(response, Object.values(choices));
  return i >= 0 && Object.keys(choices)[i] === answer ? 1 : 0;
}
