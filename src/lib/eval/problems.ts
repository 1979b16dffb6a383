/**
 * A data set file with several bad lines or items: every problem is kept (nothing is silently
 * dropped), the message shows the first few, and `problems` holds them all for a view to list.
 */
import { DatasetError } from './datasets.ts';

const SHOWN = 5;

export class DatasetProblems extends DatasetError {
  override name = 'DatasetProblems';
  constructor(readonly problems: readonly string[]) {
    const more = problems.length > SHOWN ? `\n… and ${problems.length - SHOWN} more` : '';
    super(problems.slice(0, SHOWN).join('\n') + more);
  }
}

/** Throws DatasetProblems when any problem was found. */
export function throwIfProblems(problems: readonly string[]): void {
  if (problems.length > 0) throw new DatasetProblems(problems);
}
