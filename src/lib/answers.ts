/**
 * Answer extraction and normalisation: turns a model's free text into the short string that votes
 * are counted on and that experiments score. Pure; no DOM.
 *
 * Rule set (applied in this order; each rule is one function below and is unit-tested):
 *
 * 1. Focus. If the text contains an answer marker — "answer is" (with or without a colon), "answer:", "final answer",
 *    "answer would be", "\boxed{…}" or "####" (GSM8K's convention) — only the text after the
 *    LAST marker is read (the model's final word wins over its working). Otherwise the whole text.
 * 2. Type. `number`, `choice`, `yesno` and `text` force one reading; `auto` picks, on the focus:
 *    a lone option letter ("B", "(B)", "B)", "option B") → choice; a leading yes/no/true/false →
 *    yesno; any number → number; otherwise text.
 * 3. Readings.
 *    - number: after a marker, the FIRST number after it; without one, the LAST number in the text
 *      (working comes before the result, as self-consistency's answer parsing assumes, Wang et al. 2022).
 *      Thousands separators dropped ("1,000" → "1000"), a leading "+" dropped, trailing decimal
 *      zeros dropped ("42.50" → "42.5", "3.0" → "3"), "-0" → "0". Number words are not read.
 *    - choice: the option letter A–J, upper-cased; "(b)", "b)", "option b", "answer is b" count,
 *      a bare lower-case "a" inside prose does not (it is the article).
 *    - yesno: the first of yes/no/true/false/correct/incorrect, mapped to "yes" or "no".
 *    - text: the first sentence/line of the focus, lower-cased, punctuation removed (except a
 *      decimal point or separator between digits), the articles a/an/the removed, whitespace
 *      collapsed (the SQuAD normalisation, Rajpurkar et al. 2016, keeping numbers intact).
 * 4. No answer. When the reading finds nothing the answer is "" (an abstention: votes skip it).
 */

export type AnswerType = 'auto' | 'number' | 'choice' | 'yesno' | 'text';
export type ResolvedAnswerType = Exclude<AnswerType, 'auto'>;

export const ANSWER_TYPES: readonly AnswerType[] = ['auto', 'number', 'choice', 'yesno', 'text'];

export interface ExtractedAnswer {
  /** The normalised answer; "" when nothing could be read. */
  answer: string;
  /** The reading that produced it (for `auto`, the one that was picked). */
  type: ResolvedAnswerType;
}

/**
 * Markers after which the answer follows. Order does not matter: the last occurrence in the text wins.
 * `\boxed{` is what Du et al. (2023) ask debaters to write for arithmetic.
 */
const MARKER = /(?:final\s+answer\s*(?:is|:)?|answer\s+(?:is|would\s+be|will\s+be|should\s+be)(?:\s*:)?|answer\s*[:=]|\\boxed\{|####)/gi;

/** Rule 1: the text after the last answer marker, or the whole text. */
export function focusText(text: string): { focus: string; marked: boolean } {
  let last = -1;
  for (const m of text.matchAll(MARKER)) last = (m.index ?? 0) + m[0].length;
  if (last < 0) return { focus: text, marked: false };
  return { focus: text.slice(last), marked: true };
}

/** A number token; a fresh RegExp per use, since a shared global RegExp carries lastIndex between calls. */
const numberPattern = () => /[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?/g;

/** Canonical form of one number token: "1,000" → "1000", "+4" → "4", "42.50" → "42.5", "-0" → "0". */
export function normaliseNumber(token: string): string {
  let s = token.replace(/,/g, '').replace(/^\+/, '');
  let sign = '';
  if (s.startsWith('-')) {
    sign = '-';
    s = s.slice(1);
  }
  let [int = '0', frac = ''] = s.split('.');
  int = int.replace(/^0+(?=\d)/, '');
  frac = frac.replace(/0+$/, '');
  const body = frac ? `${int}.${frac}` : int;
  return body === '0' ? '0' : sign + body;
}

/** Reading `number`: the first number after a marker, else the last number in the text. */
export function readNumber(text: string): string {
  const { focus, marked } = focusText(text);
  const all = [...focus.matchAll(numberPattern())].map((m) => m[0]);
  const pick = marked ? all[0] : all[all.length - 1];
  return pick === undefined ? '' : normaliseNumber(pick);
}

/** Option letters we read: A–J (MMLU-style four, up to ten for larger sets). */
const LETTER = 'A-Ja-j';
const CHOICE_PATTERNS: RegExp[] = [
  // "(B)" anywhere, the form Du et al. (2023) ask for in MMLU debates.
  new RegExp(`\\(([${LETTER}])\\)`),
  // "option B", "choice b", "letter C".
  new RegExp(`\\b(?:option|choice|letter)\\s+([${LETTER}])\\b`, 'i'),
  // "B)" or "B." or "B:" at the start of the focus or of a line.
  new RegExp(`(?:^|\\n)\\s*([${LETTER}])\\s*[).:](?:\\s|$)`),
  // A capital letter standing alone as a word: "B", "the answer is B".
  /(?:^|[^A-Za-z])([A-J])(?![A-Za-z'])/,
];

/** Reading `choice`: the option letter, upper-cased, or "". */
export function readChoice(text: string): string {
  const { focus, marked } = focusText(text);
  for (const pattern of CHOICE_PATTERNS) {
    const m = pattern.exec(focus);
    if (m?.[1]) return m[1].toUpperCase();
  }
  // After a marker a lower-case single letter is a choice ("the answer is b"), not an article.
  if (marked) {
    const m = new RegExp(`^\\s*([${LETTER}])(?![A-Za-z'])`).exec(focus);
    if (m?.[1]) return m[1].toUpperCase();
  }
  return '';
}

const YES = new Set(['yes', 'true', 'correct', 'yeah', 'yep']);
const NO = new Set(['no', 'false', 'incorrect', 'nope']);

/** Reading `yesno`: "yes" or "no" from the first yes/no-like word, or "". */
export function readYesNo(text: string): string {
  const { focus } = focusText(text);
  for (const m of focus.toLowerCase().matchAll(/[a-z]+/g)) {
    if (YES.has(m[0])) return 'yes';
    if (NO.has(m[0])) return 'no';
  }
  return '';
}

/** SQuAD-style normalisation of a short phrase: lower case, no punctuation, no articles, single spaces. */
export function normaliseText(text: string): string {
  return text
    .toLowerCase()
    // Punctuation goes, except a decimal point or separator between digits ("3.5" stays "3.5").
    .replace(/(?<!\d)[.,]|[.,](?!\d)/g, ' ')
    .replace(/[^\P{P}.,]+|\p{S}+/gu, ' ')
    .replace(/\b(?:a|an|the)\b/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Reading `text`: the first sentence or line of the focus, normalised. */
export function readText(text: string): string {
  const { focus } = focusText(text);
  const trimmed = focus.trim();
  // First sentence: up to a line break or a sentence end followed by space/end. Decimal points
  // ("3.5") are not sentence ends because a digit follows them.
  const m = /^([\s\S]*?)(?:\n|[.!?](?=\s|$)|$)/.exec(trimmed);
  return normaliseText(m?.[1] ?? trimmed);
}

/** Rule 2 for `auto`: which reading fits this text. */
export function detectType(text: string): ResolvedAnswerType {
  const { focus } = focusText(text);
  const head = focus.trim();
  const firstLine = head.split('\n')[0] ?? '';
  // A capital letter alone on the line ("B", "(B)", "B."), "(b)"/"B)" leading, or "option b".
  if (/^\(?[A-J]\)?[).:]?$/.test(firstLine)) return 'choice';
  if (/^\([A-Ja-j]\)/.test(head) || /^[A-J]\)/.test(head) || /\b(?:option|choice)\s+[A-Ja-j]\b/i.test(head)) return 'choice';
  if (/^(?:yes|no|true|false)\b/i.test(head)) return 'yesno';
  if (numberPattern().test(focus)) return 'number';
  return 'text';
}

/** Extracts and normalises the answer in `text` with the reading `type` (see the rule set above). */
export function extractAnswer(text: string, type: AnswerType = 'auto'): ExtractedAnswer {
  const resolved: ResolvedAnswerType = type === 'auto' ? detectType(text) : type;
  switch (resolved) {
    case 'number':
      return { answer: readNumber(text), type: resolved };
    case 'choice':
      return { answer: readChoice(text), type: resolved };
    case 'yesno':
      return { answer: readYesNo(text), type: resolved };
    case 'text':
      return { answer: readText(text), type: resolved };
  }
}

export function isAnswerType(value: unknown): value is AnswerType {
  return typeof value === 'string' && (ANSWER_TYPES as readonly string[]).includes(value);
}
