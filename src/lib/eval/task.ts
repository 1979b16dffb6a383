/**
 * The one shape every evaluation data set takes once loaded, whatever its source: the built-in pool
 * (public/datasets), MoCo's own data files (src/lib/eval/moco/), or a user's JSONL/CSV/Parquet with a
 * column mapping. The experiment runner (eval/runner.ts), the Experiments view and the playground's
 * data-set items read only this interface, so adding a source never touches them.
 */
import type { CodeSandbox } from './code.ts';

export type EvalSplit = 'dev' | 'test';

export interface EvalItem {
  /** The data set's own item id (kept as given: MoCo ids may be numbers, stored here as text). */
  id: string;
  /** The text sent to the model. */
  prompt: string;
  /**
   * 'completion': the prompt is already in the model's completion format (the pool's `Q: …\nA:`) and
   * is sent raw; 'chat': it is a user message, wrapped in the model's chat template.
   */
  mode: 'completion' | 'chat';
  /** The reference answer as a person should read it (letter, text, aliases joined, test summary). */
  reference: string;
  /** The item as the source holds it, for scoring and for the item view. */
  raw: unknown;
  /**
   * Which part of a mixed data set the item comes from (the pool's task id). Statistics are also
   * reported per group, and the trained router breaks ties between agents by their group score.
   */
  group?: string;
}

/** What scoring one output gives: MoCo's per-item score in [0, 1] and the answer it parsed. */
export interface ItemScore {
  parsed: string;
  score: number;
  /** Further named metrics of the same output (e.g. a corrected variant of a MoCo rule). */
  metrics?: Record<string, number>;
  /** Why scoring could not run normally (sandbox timeout, missing judge); the score is then 0. */
  error?: string;
}

/**
 * Runs one Python program in a sandbox (no network, no host files, killed after `timeoutMs`) and
 * says whether it finished without an exception. Implemented with Pyodide in a worker (browser) and
 * in a child process (Node); see src/lib/eval/python.ts.
 */
export interface PythonSandbox {
  run(program: string, timeoutMs: number): Promise<{ ok: boolean; error?: string; timedOut?: boolean }>;
}

export interface ScoreContext {
  js?: CodeSandbox;
  python?: PythonSandbox;
  signal?: AbortSignal;
}

export interface EvalDataset {
  /** Stable id, e.g. "pool/arithmetic", "moco/gsm8k", "user/my-file". */
  id: string;
  name: string;
  source: 'pool' | 'moco' | 'user';
  /** MoCo's task_type, or the pool's metric. */
  taskType: string;
  /** Name of the primary metric (what `score` returns), e.g. "exact_match", "f1", "choice". */
  metric: string;
  splits: Partial<Record<EvalSplit, EvalItem[]>>;
  /** Generation budget for one answer. */
  maxTokens: number;
  /** Stop sequences for generation (the pool's one-line answers stop at "\n"); none when absent. */
  stop?: string[];
  score(item: EvalItem, output: string, ctx: ScoreContext): Promise<ItemScore>;
  /**
   * Rules that score items jointly, applied by the runner to a split's scores (in item order) after
   * every item is scored. MoCo's culturebench: items that share a `question_id` all score 1 only
   * when every one of them does (eval.py `get_scores`). Absent for data sets without such a rule.
   */
  groupScores?(items: readonly EvalItem[], scores: readonly number[]): number[];
  /** What the loader accepted but a person should know (renamed duplicate ids, null references). */
  warnings?: string[];
}
