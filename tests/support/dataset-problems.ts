/**
 * The problems a data set reader refuses with, for tests: a DatasetProblems' whole list, or a
 * DatasetError's message as a list of one. Anything else is rethrown, and no refusal at all fails.
 */
import { DatasetError } from '../../src/lib/eval/datasets.ts';
import { DatasetProblems } from '../../src/lib/eval/problems.ts';

function problemsIn(e: unknown): readonly string[] {
  if (e instanceof DatasetProblems) return e.problems;
  if (e instanceof DatasetError) return [e.message];
  throw e;
}

export function problemsOf(f: () => unknown): readonly string[] {
  try {
    f();
  } catch (e) {
    return problemsIn(e);
  }
  throw new Error('expected a DatasetError');
}

export async function problemsOfAsync(p: Promise<unknown>): Promise<readonly string[]> {
  try {
    await p;
  } catch (e) {
    return problemsIn(e);
  }
  throw new Error('expected a DatasetError');
}
