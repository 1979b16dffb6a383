/**
 * The results table's model (pure, tested alone): rows are the experiment's method entries (and
 * the member models they are measured against), columns its data sets; each cell is the cell of
 * the results file shown on the split the experiment asked for (member cells on dev, used only to
 * pick the best single model, are not rows). Sorting by a column puts empty cells last.
 */
import type { CellResult, ResultsFile } from '../../lib/eval/results.ts';

export interface TableRow {
  label: string;
  /** Index into results.cells per data set column, or null when the row has no cell there. */
  cells: (number | null)[];
}

export interface Table {
  datasets: string[];
  rows: TableRow[];
}

export type SortKey = { by: 'label' } | { by: 'dataset'; index: number } | { by: 'mean' };

/** How a cell is named in the table: its first label, else "<model> (member)" for an added member cell. */
export function rowLabel(c: CellResult, seeds: number): string {
  const base = c.labels[0] ?? `${c.agents.map((a) => a.model).join(', ')} (member)`;
  return seeds > 1 ? `${base} · seed ${c.seed}` : base;
}

export function buildTable(results: ResultsFile): Table {
  const datasets = [...new Set(results.cells.map((c) => c.dataset))];
  // The split a data set is shown on: the one of its collaboration or labelled cells (the
  // experiment's split), else test.
  const shown = new Map<string, string>();
  for (const c of results.cells) if (c.labels.length > 0 || c.role === 'collaboration') shown.set(c.dataset, c.split);
  const seeds = new Set(results.cells.map((c) => c.seed)).size;
  const rows = new Map<string, TableRow>();
  results.cells.forEach((c, i) => {
    if (c.split !== (shown.get(c.dataset) ?? 'test')) return;
    const label = rowLabel(c, seeds);
    let row = rows.get(label);
    if (!row) {
      row = { label, cells: datasets.map(() => null) };
      rows.set(label, row);
    }
    row.cells[datasets.indexOf(c.dataset)] = i;
  });
  return { datasets, rows: [...rows.values()] };
}

function rowMean(results: ResultsFile, row: TableRow): number | null {
  const xs = row.cells.flatMap((i) => (i === null ? [] : [results.cells[i]!.score]));
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
}

export function sortRows(results: ResultsFile, rows: readonly TableRow[], key: SortKey, descending: boolean): TableRow[] {
  const value = (r: TableRow): number | string | null =>
    key.by === 'label' ? r.label : key.by === 'mean' ? rowMean(results, r) : r.cells[key.index] === null ? null : results.cells[r.cells[key.index]!]!.score;
  return [...rows].sort((a, b) => {
    const va = value(a);
    const vb = value(b);
    if (va === null || vb === null) return va === vb ? 0 : va === null ? 1 : -1;
    const d = typeof va === 'string' ? va.localeCompare(vb as string) : va - (vb as number);
    return descending ? -d : d;
  });
}

export { rowMean };

/** Background for a gain (−1…1): green above 0, red below, stronger with size; none without a gain or at 0. */
export function gainColour(gain: number | undefined): string | null {
  if (gain === undefined || gain === 0) return null;
  const a = Math.min(0.65, 0.12 + Math.abs(gain) * 1.5);
  return gain >= 0 ? `rgba(46, 160, 67, ${a.toFixed(2)})` : `rgba(218, 54, 51, ${a.toFixed(2)})`;
}

export const pct = (x: number): string => (x * 100).toFixed(1);
