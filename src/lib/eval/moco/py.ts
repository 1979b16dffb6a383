/**
 * The few Python string semantics MoCo's scoring depends on, so that the TypeScript port gives the
 * same answer on the same text. JavaScript differs from CPython in small places that matter here:
 * - whitespace: `str.strip()`, `str.split()` and `re`'s `\s` use `str.isspace()`, which includes
 *   U+001C–U+001F and U+0085 and excludes U+FEFF; JavaScript's `trim()` and `\s` do the opposite
 *   (CPython Objects/unicodectype.c `_PyUnicode_IsWhitespace`; ECMA-262 WhiteSpace/LineTerminator).
 * - `\b` and `\w`: CPython's `re` treats every alphanumeric code point as a word character
 *   (`str.isalnum()`: letters and numbers in any script, plus `_`), JavaScript's only `[A-Za-z0-9_]`.
 * - `.` without DOTALL: CPython excludes only `\n`, JavaScript also `\r`, U+2028 and U+2029.
 * - `string.punctuation` is ASCII only.
 * Regular expressions below are therefore written with PY_S, PY_W and `[^\n]` instead of `\s`, `\w`
 * and `.`, and always with the `u` flag.
 */

/** The code points for which CPython's `str.isspace()` is true. */
export const PY_WS = ' \\t\\n\\r\\x0b\\x0c\\x1c\\x1d\\x1e\\x1f\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
/** `\s` as CPython's `re` reads it in a str pattern (a character class source). */
export const PY_S = `[${PY_WS}]`;
/** `\w` as CPython's `re` reads it in a str pattern. */
export const PY_W = '[\\p{L}\\p{N}_]';
/** `\b` before a word character: the previous character is not a word character. */
export const PY_B_BEFORE = `(?<!${PY_W})`;
/** `\b` after a word character: the next character is not a word character. */
export const PY_B_AFTER = `(?!${PY_W})`;

const LEAD = new RegExp(`^${PY_S}+`, 'u');
const TRAIL = new RegExp(`${PY_S}+$`, 'u');
const RUNS = new RegExp(`${PY_S}+`, 'u');

/** `s.strip()` */
export function pyStrip(s: string): string {
  return s.replace(LEAD, '').replace(TRAIL, '');
}

/** `s.rstrip()` */
export function pyRstrip(s: string): string {
  return s.replace(TRAIL, '');
}

/** `s.rstrip(chars)` for a set of literal characters. */
export function pyRstripChars(s: string, chars: string): string {
  let end = s.length;
  while (end > 0 && chars.includes(s[end - 1]!)) end--;
  return s.slice(0, end);
}

/** `s.split()` with no argument: runs of whitespace separate, no empty parts. */
export function pySplit(s: string): string[] {
  const t = pyStrip(s);
  return t === '' ? [] : t.split(RUNS);
}

/** `string.punctuation` */
export const ASCII_PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';

/**
 * `f"{value}"` for the JSON values a data file can hold where MoCo formats them into a prompt (a
 * choice text): None, True/False, numbers and strings. A JSON number with an integer value is
 * written as Python writes an int; other floats as JavaScript writes them, which matches Python's
 * repr between 1e-4 and 1e16. No MoCo file has a non-string choice other than one null.
 */
export function pyFormat(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  return JSON.stringify(value);
}
