/**
 * MoCo's data files, read unchanged (model_collaboration/data/<task>.json in BunsenFeng/
 * model_collaboration): one JSON object with `name` (or `dataset`), `task_type` and `dev` / `test`
 * arrays of items. Items by task type:
 *   multiple_choice  {id, question, choices: {"A": text, …}, answer: "B"}
 *   exact_match      {id, input, output}
 *   f1_match         {id, input, output}   (output may be a string holding a list of aliases)
 *   noncompliance    {id, input, category}
 *   coding           {id, input, test, language: "python"}   (test defines check(candidate))
 * Other fields (domain, country, …) are kept in `raw`. Prompts are built as MoCo's
 * `prepare_inputs` builds them and sent as a chat user message, as MoCo's generation does
 * (`apply_chat_template` on a single user turn). Scoring is MoCo's `get_scores` (answer.ts,
 * choice.ts, noncompliance.ts, coding.ts), with corrected variants as separate metrics.
 *
 * Task types that MoCo scores with a judge or reward model are refused by name with the reason.
 * Every malformed item is reported (file, split, index, id and field); things MoCo's own files do
 * that MoCo tolerates (ids used twice, a null reference or choice) load with a warning.
 */
import type { EvalDataset, EvalItem, EvalSplit, ItemScore, ScoreContext } from '../task.ts';
import { DatasetError } from '../datasets.ts';
import { throwIfProblems } from '../problems.ts';
import { exactMatch, extractAnswer, extractAnswerCorrected, f1Score, isAliasList, maxOver, parseAliases, parseAliasesCorrected } from './answer.ts';
import { choiceScore, choiceScoreCorrected, formatMcq, optionLetter } from './choice.ts';
import { isNoncompliance, isNoncomplianceCorrected } from './noncompliance.ts';
import { scoreCoding } from './coding.ts';
import { pyFormat, pyRstrip } from './py.ts';

export const MOCO_TASK_TYPES = ['multiple_choice', 'exact_match', 'f1_match', 'noncompliance', 'coding'] as const;
export type MocoTaskType = (typeof MOCO_TASK_TYPES)[number];

/** Task types MoCo scores with a model of its own, and why Chorus cannot score them the same way. */
export const JUDGED_TASK_TYPES: Readonly<Record<string, string>> = {
  reward_model: 'MoCo scores it with a reward model (Skywork/Skywork-Reward-Llama-3.1-8B-v0.2)',
  general_verifier: 'MoCo scores it by asking a verifier model (TIGER-Lab/general-verifier) whether each answer matches the reference',
  generation_diversity: 'MoCo scores it by the RoBERTa-embedding distance between each reply and reference replies',
  text_generation: 'MoCo scores its dev split with a reward model and leaves its test split unscored',
};

/** MoCo's instruction for exact_match and f1_match, verbatim (eval.py `prepare_inputs`). */
export const BOX_INSTRUCTION = 'Please provide the final, direct answer wrapped exactly as \\box{ANSWER}';

/** MoCo's default `max_response_length` (main.py). */
export const MOCO_MAX_TOKENS = 512;

/** The primary metric of each task type; `<metric>_corrected` names the corrected variant. */
export const MOCO_METRIC: Readonly<Record<MocoTaskType, string>> = {
  multiple_choice: 'choice',
  exact_match: 'exact_match',
  f1_match: 'f1',
  noncompliance: 'noncompliance',
  coding: 'pass',
};

/** An item once checked: the fields scoring reads, whatever file it came from. */
export type MocoItem = Record<string, unknown> & { id: string | number };

export interface MocoSource {
  /** File name used in messages, e.g. "gsm8k.json". */
  file: string;
  name: string;
  taskType: string;
  splits: Partial<Record<EvalSplit, unknown>>;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The refusal of a judged or unknown task type, or null when the type is supported. */
export function taskTypeProblem(file: string, taskType: unknown): string | null {
  if (typeof taskType !== 'string') return `${file}: "task_type" is missing — it must be one of ${MOCO_TASK_TYPES.join(', ')}`;
  // Own keys only: "toString" or "__proto__" would otherwise read Object.prototype's members as a judge.
  const judged = Object.hasOwn(JUDGED_TASK_TYPES, taskType) ? JUDGED_TASK_TYPES[taskType] : undefined;
  if (judged) {
    return `${file}: task_type "${taskType}" needs a judge: ${judged}, which Chorus does not run — choose a data set of another task type (${MOCO_TASK_TYPES.join(', ')})`;
  }
  if (!(MOCO_TASK_TYPES as readonly string[]).includes(taskType)) {
    return `${file}: task_type "${taskType}" is not one MoCo scores — use one of ${MOCO_TASK_TYPES.join(', ')}`;
  }
  return null;
}

/** What is wrong with one item for its task type (field-level), or null. Warnings go to `warn`. */
type Warn = (kind: string, msg: string) => void;

function itemProblem(type: MocoTaskType, it: Record<string, unknown>, warn: Warn): string | null {
  switch (type) {
    case 'multiple_choice': {
      if (typeof it.question !== 'string') return 'missing "question" (the question text)';
      if (!isObject(it.choices) || Object.keys(it.choices).length < 2) return '"choices" must be an object of at least two options, e.g. {"A": "Paris", "B": "Lyon"}';
      if (typeof it.answer !== 'string') return 'missing "answer" (the key of the correct choice, e.g. "B")';
      const keys = Object.keys(it.choices);
      if (!keys.includes(it.answer)) return `"answer" is "${it.answer}", which is not one of the choice keys ${keys.join(', ')}`;
      for (const [k, v] of Object.entries(it.choices)) {
        if (typeof v !== 'string') warn('choice-not-text', `choice "${k}" is ${pyFormat(v)}, not text — the prompt shows "${pyFormat(v)}" as MoCo's does`);
      }
      const letter = optionLetter(keys.indexOf(it.answer));
      if (letter !== it.answer) {
        warn('answer-key', `the answer "${it.answer}" is option ${letter} of ${keys.join(', ')}: MoCo's score compares the letter with "${it.answer}" and can never be 1 here; metric choice_corrected maps the letter back to the key`);
      }
      return null;
    }
    case 'exact_match':
    case 'f1_match':
      if (typeof it.input !== 'string') return 'missing "input" (the question text)';
      if (!('output' in it)) return 'missing "output" (the reference answer)';
      if (it.output === null) {
        warn('null-output', '"output" is null — MoCo compares the answer with an empty reference, and so does this score');
        return null;
      }
      if (Array.isArray(it.output)) {
        if (it.output.length === 0 || !it.output.every((a) => typeof a === 'string')) return '"output" as a list must hold at least one text alias';
        return null;
      }
      if (typeof it.output !== 'string') return `"output" must be text (write ${JSON.stringify(it.output)} as "${pyFormat(it.output)}")`;
      return null;
    case 'noncompliance':
      if (typeof it.input !== 'string') return 'missing "input" (the request)';
      if (typeof it.category !== 'string') return 'missing "category" (e.g. "Requests with safety concerns")';
      return null;
    case 'coding': {
      const input = it.input ?? it.question ?? it.prompt;
      if (typeof input !== 'string') return 'missing "input" (the problem statement)';
      const test = it.test ?? it.test_code;
      if (typeof test !== 'string') return 'missing "test" (Python that defines check(candidate))';
      if (test.trim() === '') {
        warn('empty-test', '"test" is empty — MoCo scores every reply 0 here (there is nothing to run), and so does this score');
        return null;
      }
      if (!/\bdef\s+check\s*\(/.test(test)) return '"test" does not define check(candidate)';
      if (it.language !== undefined && it.language !== 'python') return `"language" is "${String(it.language)}" — only "python" is run, as in MoCo`;
      return null;
    }
  }
}

/** MoCo's prompt for an item (eval.py `prepare_inputs`). */
export function mocoPrompt(type: MocoTaskType, it: Record<string, unknown>): string {
  switch (type) {
    case 'multiple_choice':
      // Object.values keeps the file's order for letter keys; JavaScript puts integer-like keys
      // ("1", "2") first in ascending order where Python keeps file order — the same for every
      // MoCo file (arc_challenge's "1"–"4" are written in order).
      return formatMcq(it.question as string, Object.values(it.choices as Record<string, unknown>));
    case 'exact_match':
    case 'f1_match':
      return `${pyRstrip(it.input as string)}\n\n${BOX_INSTRUCTION}`;
    case 'noncompliance':
      return it.input as string;
    case 'coding':
      return (it.input ?? it.question ?? it.prompt) as string;
  }
}

function referenceText(type: MocoTaskType, it: Record<string, unknown>): string {
  switch (type) {
    case 'multiple_choice': {
      const choices = it.choices as Record<string, unknown>;
      return `${it.answer as string}) ${pyFormat(choices[it.answer as string])}`;
    }
    case 'exact_match':
    case 'f1_match': {
      const out = it.output;
      if (Array.isArray(out)) return out.join(' | ');
      if (typeof out === 'string' && type === 'f1_match' && isAliasList(out)) return parseAliasesCorrected(out).join(' | ');
      return typeof out === 'string' ? out : '';
    }
    case 'noncompliance':
      return `declines (${it.category as string})`;
    case 'coding':
      return 'passes check(candidate)';
  }
}

/**
 * The reference texts to compare with: MoCo's reading and the corrected one. MoCo splits aliases
 * only for the task named "popqa" (`get_scores`); here any f1_match output that is a bracketed
 * list is split, which among MoCo's files is exactly popqa (wikidyk, the other f1_match file, has
 * none), so a renamed copy or a user's file of that shape is scored the same way.
 */
function references(type: MocoTaskType, output: unknown): { moco: string[]; corrected: string[] } {
  if (Array.isArray(output)) return { moco: output as string[], corrected: output as string[] };
  const ref = typeof output === 'string' ? output : '';
  if (type === 'f1_match' && isAliasList(ref)) return { moco: parseAliases(ref), corrected: parseAliasesCorrected(ref) };
  return { moco: [ref], corrected: [ref] };
}

/** Scores one reply to one item exactly as MoCo's `get_scores`, plus the corrected metric. */
export async function scoreMocoItem(type: MocoTaskType, it: Record<string, unknown>, output: string, ctx: ScoreContext): Promise<ItemScore> {
  const metric = MOCO_METRIC[type];
  switch (type) {
    case 'multiple_choice': {
      const choices = it.choices as Record<string, unknown>;
      const { parsed, score } = choiceScore(output, choices, it.answer as string);
      return { parsed, score, metrics: { [metric]: score, [`${metric}_corrected`]: choiceScoreCorrected(output, choices, it.answer as string) } };
    }
    case 'exact_match':
    case 'f1_match': {
      const fn = type === 'exact_match' ? exactMatch : f1Score;
      const refs = references(type, it.output);
      const parsed = extractAnswer(output);
      const score = maxOver(parsed, refs.moco, fn);
      const corrected = maxOver(extractAnswerCorrected(output), refs.corrected, fn);
      return { parsed, score, metrics: { [metric]: score, [`${metric}_corrected`]: corrected } };
    }
    case 'noncompliance': {
      const category = it.category as string;
      const score = isNoncompliance(output, category) ? 1 : 0;
      return {
        parsed: score === 1 ? 'declines' : 'complies',
        score,
        metrics: { [metric]: score, [`${metric}_corrected`]: isNoncomplianceCorrected(output, category) ? 1 : 0 },
      };
    }
    case 'coding':
      return scoreCoding(output, (it.test ?? it.test_code) as string, ctx.python);
  }
}

/**
 * MoCo's culturebench rule: items sharing a `question_id` score 1 only if all of them do. MoCo
 * applies it by name; here to any file whose items have `question_id` (among MoCo's, only culturebench).
 */
export function groupByQuestionId(items: readonly EvalItem[], scores: readonly number[]): number[] {
  const groups = new Map<unknown, number[]>();
  items.forEach((item, i) => {
    const qid = isObject(item.raw) ? item.raw.question_id : undefined;
    if (qid === undefined || qid === null) return;
    const g = groups.get(qid) ?? [];
    g.push(i);
    groups.set(qid, g);
  });
  const out = [...scores];
  for (const g of groups.values()) {
    const all = g.every((i) => scores[i] === 1) ? 1 : 0;
    for (const i of g) out[i] = all;
  }
  return out;
}

export interface BuildOptions {
  id: string;
  source: EvalDataset['source'];
  /** How an item is named in messages: "gsm8k.json: test[12] (id 57)" or "my.csv: row 14". */
  where?: (split: EvalSplit, index: number, id: unknown) => string;
}

/**
 * Checks every item of every split and builds the EvalDataset. Throws DatasetProblems listing
 * every bad item; the data set is only returned when all of them are good.
 */
export function buildMocoDataset(src: MocoSource, opts: BuildOptions): EvalDataset {
  const problem = taskTypeProblem(src.file, src.taskType);
  if (problem) throw new DatasetError(problem);
  const type = src.taskType as MocoTaskType;
  const where = opts.where ?? ((split, i, id) => `${src.file}: ${split}[${i}]${id === undefined ? '' : ` (id ${String(id)})`}`);
  const problems: string[] = [];
  // One warning per kind, with a count: MoCo's own files repeat the same quirk hundreds of times.
  const warned = new Map<string, { first: string; count: number }>();
  const warn = (kind: string, msg: string) => {
    const w = warned.get(kind);
    if (w) w.count++;
    else warned.set(kind, { first: msg, count: 1 });
  };
  const splits: Partial<Record<EvalSplit, EvalItem[]>> = {};
  let grouped = false;
  for (const split of ['dev', 'test'] as const) {
    const arr = src.splits[split];
    if (arr === undefined) continue;
    if (!Array.isArray(arr)) {
      problems.push(`${src.file}: "${split}" must be an array of items`);
      continue;
    }
    const seen = new Map<string, number>();
    const items: EvalItem[] = [];
    const renamed: string[] = [];
    arr.forEach((raw: unknown, i) => {
      if (!isObject(raw)) {
        problems.push(`${where(split, i, undefined)}: must be a JSON object`);
        return;
      }
      const at = where(split, i, raw.id);
      if (typeof raw.id !== 'string' && typeof raw.id !== 'number') {
        problems.push(`${at}: missing "id" (a string or number unique in the split)`);
        return;
      }
      const p = itemProblem(type, raw, (kind, w) => warn(kind, `${at}: ${w}`));
      if (p) {
        problems.push(`${at}: ${p}`);
        return;
      }
      // MoCo's files reuse ids (blend, math); results need one id per item, so later uses get #n.
      let id = String(raw.id);
      const n = (seen.get(id) ?? 0) + 1;
      seen.set(String(raw.id), n);
      if (n > 1) {
        renamed.push(id);
        id = `${id}#${n}`;
      }
      if (raw.question_id !== undefined) grouped = true;
      items.push({ id, prompt: mocoPrompt(type, raw), mode: 'chat', reference: referenceText(type, raw), raw });
    });
    if (renamed.length > 0) {
      warn(`dup-${split}`, `${src.file}: ${split}: ${renamed.length} item(s) reuse an id already used in the split (first: "${renamed[0]}"); each later use is named "<id>#2", "<id>#3", …`);
    }
    splits[split] = items;
  }
  if (problems.length === 0 && splits.dev === undefined && splits.test === undefined) {
    problems.push(`${src.file}: has neither a "dev" nor a "test" array — a MoCo data file holds its items in those two`);
  }
  throwIfProblems(problems);
  const ds: EvalDataset = {
    id: opts.id,
    name: src.name,
    source: opts.source,
    taskType: type,
    metric: MOCO_METRIC[type],
    splits,
    maxTokens: MOCO_MAX_TOKENS,
    score: (item, output, ctx) => scoreMocoItem(type, item.raw as Record<string, unknown>, output, ctx),
  };
  if (grouped) ds.groupScores = groupByQuestionId;
  if (warned.size > 0) ds.warnings = [...warned.values()].map((w) => (w.count > 1 ? `${w.first} (and ${w.count - 1} more like it)` : w.first));
  return ds;
}

/** "x.json is not valid JSON at line 3 column 7 (…)" from a JSON.parse error. */
export function jsonErrorMessage(file: string, text: string, e: unknown): string {
  const msg = (e as Error).message;
  const pos = /position (\d+)/.exec(msg);
  let at = '';
  if (pos) {
    const before = text.slice(0, Number(pos[1]));
    const line = before.split('\n').length;
    at = ` at line ${line} column ${before.length - before.lastIndexOf('\n')}`;
  }
  return `${file} is not valid JSON${at} (${msg})`;
}

const stem = (file: string) => (file.split(/[\\/]/).pop() ?? file).replace(/\.[^.]*$/, '');

/** Parses a MoCo data file's text into an EvalDataset (id "moco/<file stem>"). */
export function parseMocoFile(text: string, file: string): EvalDataset {
  const base = file.split(/[\\/]/).pop() ?? file;
  let data: unknown;
  try {
    data = JSON.parse(text.replace(/^\uFEFF/, '')); // a byte-order mark is not JSON but editors write one
  } catch (e) {
    throw new DatasetError(`${jsonErrorMessage(base, text, e)} — a MoCo data file is one JSON object`);
  }
  if (!isObject(data)) throw new DatasetError(`${base} must be one JSON object with "name", "task_type", "dev" and "test"`);
  const name = typeof data.name === 'string' ? data.name : typeof data.dataset === 'string' ? data.dataset : stem(base);
  return buildMocoDataset(
    { file: base, name, taskType: data.task_type as string, splits: { dev: data.dev, test: data.test } },
    { id: `moco/${stem(base)}`, source: 'moco' },
  );
}
