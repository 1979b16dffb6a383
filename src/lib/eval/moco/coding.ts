/**
 * MoCo's coding score, ported from model_collaboration/data/eval.py (`extract_code_block`,
 * `extract_function_name`, `evaluate_code_solution`): the last fenced block of the reply (else the
 * whole reply), its first `def` aliased as `candidate`, then the item's `test` (which defines
 * `check(candidate)`) and the call `check(candidate)`. The program is run by a PythonSandbox
 * (src/lib/eval/python.ts: Pyodide in a worker in the tab, in a child process in Node) with no
 * network or host files, and killed after the time limit; it passes when it ends without an
 * exception. MoCo's limit is 10 s for the whole program (CODE_EXECUTION_TIMEOUT).
 */
import type { ItemScore, PythonSandbox } from '../task.ts';
import { PY_S, PY_W, pyStrip } from './py.ts';

/** MoCo's CODE_EXECUTION_TIMEOUT, in milliseconds. */
export const CODE_TIMEOUT_MS = 10_000;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * MoCo's `extract_code_block`: the last ```` ```python ```` block (language optional, IGNORECASE),
 * else the last ```` ``` ```` block of any kind (its info string then stays in the code, as in
 * MoCo), else the whole reply; stripped.
 */
export function extractCodeBlock(response: string, language = 'python'): string {
  // MoCo pastes the language into its pattern unescaped; escaping only differs for names with
  // regex characters, which no data set uses.
  const tagged = [...response.matchAll(new RegExp(`\`\`\`(?:${escapeRegExp(language)})?${PY_S}*\\n([^]*?)\`\`\``, 'giu'))];
  if (tagged.length > 0) return pyStrip(tagged[tagged.length - 1]![1]!);
  const any = [...response.matchAll(new RegExp(`\`\`\`${PY_S}*\\n?([^]*?)\`\`\``, 'gu'))];
  if (any.length > 0) return pyStrip(any[any.length - 1]![1]!);
  return pyStrip(response);
}

const DEF = new RegExp(`def${PY_S}+(${PY_W}+)${PY_S}*\\(`, 'u');

/** MoCo's `extract_function_name`: the name in the first `def name(` anywhere in the code, or null. */
export function firstFunctionName(code: string): string | null {
  return DEF.exec(code)?.[1] ?? null;
}

/**
 * The program MoCo runs: the code, `candidate = <first def>`, the item's test, `check(candidate)`.
 * Null when there is no test or no function (MoCo scores those 0 without running anything).
 */
export function buildCodingProgram(code: string, test: string): string | null {
  if (!test) return null;
  const name = firstFunctionName(code);
  if (name === null) return null;
  return `${code}\n\ncandidate = ${name}\n\n${test}\n\ncheck(candidate)\n`;
}

/**
 * Scores one reply: 1 when the assembled program runs to the end in the sandbox. A failed run
 * carries the sandbox's reason in `error` (the traceback's last line, e.g. "AssertionError", or the
 * time limit), for the item view. (MoCo counts a return code of 0 as a pass, so a program that calls
 * `sys.exit(0)` before `check(candidate)` passes there; in the sandbox SystemExit is an exception and
 * fails.)
 */
export async function scoreCoding(response: string, test: string, python: PythonSandbox | undefined, timeoutMs = CODE_TIMEOUT_MS): Promise<ItemScore> {
  const code = extractCodeBlock(response);
  const program = buildCodingProgram(code, test);
  if (program === null) return { parsed: code, score: 0 };
  if (!python) {
    return { parsed: code, score: 0, error: 'coding items need a Python sandbox (ctx.python: Pyodide in the tab, a child process in Node) — none was given' };
  }
  const r = await python.run(program, timeoutMs);
  if (r.ok) return { parsed: code, score: 1 };
  return { parsed: code, score: 0, error: r.timedOut ? `the program ran past ${timeoutMs} ms and was stopped` : (r.error ?? 'the program failed') };
}
