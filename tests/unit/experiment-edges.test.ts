// The experiment file's edges (src/lib/eval/experiment.ts): every refusal's exact one-line message
// (field, what is wrong, the fix), the values each field accepts at its bounds, the model kinds, and
// the grid's wiring: which member cells a collaboration adds on its split and on dev (baseline, and
// the agents of a method that fits), a `single` entry that is a member cell or a collaboration,
// labels merged on equal cells, and memberCellKey matching the grid's keys.
import { describe, expect, it } from 'vitest';
import { expandGrid, ExperimentError, memberCellKey, parseExperiment } from '../../src/lib/eval/experiment.ts';

const BASE = { models: { a: 'a.gguf', b: 'b-builtin' }, datasets: [{ path: 'x.jsonl', split: 'test' }], methods: [{ method: 'vote', agents: ['a', 'b'] }] };
const parse = (patch: object) => parseExperiment(JSON.stringify({ ...BASE, ...patch }), 'e.json');
function refusal(patch: object | string): string {
  try {
    if (typeof patch === 'string') parseExperiment(patch, 'e.json');
    else parse(patch);
  } catch (e) {
    expect(e).toBeInstanceOf(ExperimentError);
    expect((e as Error).name).toBe('ExperimentError');
    return (e as Error).message;
  }
  throw new Error('expected an ExperimentError');
}
const ds = (d: object) => refusal({ datasets: [{ path: 'x.jsonl', split: 'test', ...d }] });
const method = (m: object) => refusal({ methods: [{ method: 'vote', agents: ['a', 'b'], ...m }] });

describe('parseExperiment: the top level and models', () => {
  it('the top level and unknown fields', () => {
    expect(refusal('[]')).toBe('e.json: the top level must be an object with "models", "datasets", "methods" and "seeds"');
    expect(refusal('null')).toBe('e.json: the top level must be an object with "models", "datasets", "methods" and "seeds"');
    expect(refusal({ extra: 1 })).toBe('e.json: "extra" is not a field of an experiment (models, datasets, methods, seeds, description): remove it');
    expect(parse({ description: 'why' }).seeds).toEqual([1]);
    expect(refusal('{"models": ')).toMatch(/^e\.json is not valid JSON \(.+\): fix the syntax$/);
    expect(() => parseExperiment('{')).toThrow(/^experiment\.json is not valid JSON/);
  });

  it('models: each kind, and each refusal', () => {
    const m = parse({
      models: { g: 'dir/M.GGUF', b: 'stories260K', o: { baseUrl: 'http://h:1/v1', model: 'q', apiKey: 'k' }, p: { baseUrl: 'https://h', model: 'q' }, f: { endpoints: [{ baseUrl: 'http://h', model: 'q', concurrency: 3 }, { baseUrl: 'http://i', model: 'r', apiKey: 's' }] } },
      methods: [{ method: 'single', agents: ['g'] }],
    }).models;
    expect(m).toEqual({
      g: { kind: 'gguf', path: 'dir/M.GGUF' },
      b: { kind: 'builtin', id: 'stories260K' },
      o: { kind: 'openai', baseUrl: 'http://h:1/v1', model: 'q', apiKey: 'k' },
      p: { kind: 'openai', baseUrl: 'https://h', model: 'q' },
      f: { kind: 'fleet', endpoints: [{ baseUrl: 'http://h', model: 'q', concurrency: 3 }, { baseUrl: 'http://i', model: 'r', apiKey: 's' }] },
    });
    expect('apiKey' in m.p!).toBe(false);
    // only a name ending in ".gguf" is a file
    const ids = parse({ models: { a: 'a.gguf.txt', b: 'xgguf', c: 'c.gguf ' } }).models;
    expect(ids).toEqual({ a: { kind: 'builtin', id: 'a.gguf.txt' }, b: { kind: 'builtin', id: 'xgguf' }, c: { kind: 'builtin', id: 'c.gguf ' } });
    expect(refusal({ models: {} })).toBe('e.json: "models" must be an object naming at least one model, e.g. {"base": "model.gguf"}');
    expect(refusal({ models: ['a'] })).toBe('e.json: "models" must be an object naming at least one model, e.g. {"base": "model.gguf"}');
    expect(refusal({ models: { a: ' ' } })).toBe('e.json: models.a is empty: give a .gguf path or a built-in model id');
    expect(refusal({ models: { a: 3 } })).toBe('e.json: models.a must be a .gguf path, a built-in model id, {"baseUrl", "model", "apiKey"?} or {"endpoints": [...]}');
    expect(refusal({ models: { a: { model: 'q' } } })).toBe('e.json: models.a must be a .gguf path, a built-in model id, {"baseUrl", "model", "apiKey"?} or {"endpoints": [...]}');
    expect(refusal({ models: { a: { endpoints: [] } } })).toBe('e.json: models.a has no endpoints: list at least one {"baseUrl", "model"}');
    expect(refusal({ models: { a: { baseUrl: 'ftp://h', model: 'q' } } })).toBe('e.json: models.a.baseUrl must be an http(s) URL (got "ftp://h")');
    expect(refusal({ models: { a: { baseUrl: ' http://h', model: 'q' } } })).toBe('e.json: models.a.baseUrl must be an http(s) URL (got " http://h")');
    expect(refusal({ models: { a: { baseUrl: 'http://h', model: '' } } })).toBe('e.json: models.a.model must be the model name the server knows');
    expect(refusal({ models: { a: { baseUrl: 'http://h', model: 'q', apiKey: 1 } } })).toBe('e.json: models.a.apiKey must be a string');
    expect(refusal({ models: { a: { endpoints: ['x'] } } })).toBe('e.json: models.a.endpoints[0] must be {"baseUrl", "model", "apiKey"?}');
    expect(refusal({ models: { a: { endpoints: [{ baseUrl: 'http://h', model: 'q' }, { baseUrl: 'http://h', model: 'q', concurrency: 0 }] } } })).toBe(
      'e.json: models.a.endpoints[1].concurrency must be a whole number ≥ 1, the requests this server takes at once (got 0)',
    );
    expect(refusal({ models: { a: { endpoints: [{ baseUrl: 'http://h', model: 'q', concurrency: 1.5 }] } } })).toMatch(/concurrency must be a whole number ≥ 1, .* \(got 1\.5\)$/);
    expect(refusal({ models: { a: { endpoints: [{ baseUrl: 'http://h', model: 'q', concurrency: '2' }] } } })).toMatch(/concurrency must be a whole number ≥ 1, .* \(got "2"\)$/);
    expect(parse({ models: { a: { endpoints: [{ baseUrl: 'http://h', model: 'q', concurrency: 1 }] }, b: 'b' } }).models.a).toEqual({ kind: 'fleet', endpoints: [{ baseUrl: 'http://h', model: 'q', concurrency: 1 }] });
  });
});

describe('parseExperiment: data sets', () => {
  it('accepts every field at its bounds', () => {
    const d = parse({ datasets: [{ path: 'u.csv', split: 'dev', limit: 1, devLimit: 2, maxTokens: 3, tasks: ['t'], name: 'N', mapping: { input: 'q', choices: ['a', 'b'], id: 'i' }, taskType: 'multiple_choice' }] }).datasets[0];
    expect(d).toEqual({ path: 'u.csv', split: 'dev', limit: 1, devLimit: 2, maxTokens: 3, tasks: ['t'], name: 'N', mapping: { input: 'q', choices: ['a', 'b'], id: 'i' }, taskType: 'multiple_choice' });
    expect(parse({}).datasets[0]).toStrictEqual({ path: 'x.jsonl', split: 'test' });
  });

  it('each refusal', () => {
    expect(refusal({ datasets: [] })).toBe('e.json: "datasets" must be a non-empty array of {"path", "split"}');
    expect(refusal({ datasets: {} })).toBe('e.json: "datasets" must be a non-empty array of {"path", "split"}');
    expect(refusal({ datasets: ['x'] })).toBe('e.json: datasets[0] must be an object {"path", "split", "limit"?}');
    expect(ds({ ratio: 1 })).toBe('e.json: datasets[0].ratio is not a data set field (path, split, limit, devLimit, tasks, name, mapping, taskType, maxTokens): remove it');
    expect(ds({ path: ' ' })).toBe('e.json: datasets[0].path must be the data set file, relative to the experiment file');
    expect(ds({ path: 3 })).toBe('e.json: datasets[0].path must be the data set file, relative to the experiment file');
    expect(ds({ split: undefined })).toBe('e.json: datasets[0].split must be "dev" or "test" (got undefined)');
    for (const k of ['limit', 'devLimit', 'maxTokens']) {
      expect(ds({ [k]: 0 })).toBe(`e.json: datasets[0].${k} must be a whole number ≥ 1 (got 0)`);
      expect(ds({ [k]: 2.5 })).toBe(`e.json: datasets[0].${k} must be a whole number ≥ 1 (got 2.5)`);
      expect(ds({ [k]: '5' })).toBe(`e.json: datasets[0].${k} must be a whole number ≥ 1 (got "5")`);
    }
    expect(ds({ tasks: 'arithmetic' })).toBe('e.json: datasets[0].tasks must be an array of task ids');
    expect(ds({ tasks: ['a', 1] })).toBe('e.json: datasets[0].tasks must be an array of task ids');
    expect(ds({ name: 1 })).toBe('e.json: datasets[0].name must be a string');
    expect(ds({ mapping: 'q' })).toBe('e.json: datasets[0].mapping must map fields to column names, e.g. {"input": "question", "reference": "answer"}');
    expect(ds({ mapping: { input: 'q', answer: 'a' } })).toBe('e.json: datasets[0].mapping.answer is not a mapping field (input, reference, aliases, choices, tests, category, id): remove it');
    expect(ds({ mapping: { input: 'q', reference: ['a'] } })).toBe('e.json: datasets[0].mapping.reference must be a column name (got ["a"])');
    expect(ds({ mapping: { input: 'q', choices: ['a', 2] } })).toBe('e.json: datasets[0].mapping.choices must be a column name or a list of column names (got ["a",2])');
    expect(ds({ mapping: { reference: 'a' } })).toBe('e.json: datasets[0].mapping.input must name the column holding the question');
    expect(ds({ taskType: 1 })).toBe('e.json: datasets[0].taskType must be a MoCo task type, e.g. "exact_match"');
    expect(refusal({ datasets: [{ path: 'x.jsonl', split: 'test' }, { path: 'y', split: 'x' }] })).toBe('e.json: datasets[1].split must be "dev" or "test" (got "x")');
  });
});

describe('parseExperiment: methods and seeds', () => {
  it('agents: a model id or an object; temperature 0 to 2; an empty system prompt dropped', () => {
    const m = parse({ methods: [{ method: 'vote', agents: ['a', { model: 'b', temperature: 2, system: 'Be brief.' }, { model: 'a', temperature: 0, system: '' }] }] }).methods[0]!;
    expect(m.agents).toStrictEqual([{ model: 'a', temperature: 0 }, { model: 'b', temperature: 2, system: 'Be brief.' }, { model: 'a', temperature: 0 }]);
    // members default to the agents' models once each, in order; the baseline to the members
    expect(m.members).toEqual(['a', 'b']);
    expect(m.baseline).toEqual(['a', 'b']);
    expect(m.knobs).toEqual({});
    expect('label' in m).toBe(false);
  });

  it('each refusal', () => {
    expect(refusal({ methods: [] })).toBe('e.json: "methods" must be a non-empty array of {"method", "agents"}');
    expect(refusal({ methods: [1] })).toBe('e.json: methods[0] must be an object {"method", "agents", "knobs"?}');
    expect(method({ seed: 1 })).toBe('e.json: methods[0].seed is not a method field (method, agents, knobs, label, members, baseline): remove it');
    expect(method({ method: 3 })).toMatch(/^e\.json: methods\[0\]\.method is 3; choose one of single, .* \(npm run experiment -- --list\)$/);
    expect(method({ agents: [] })).toBe('e.json: methods[0].agents must list at least one model id');
    expect(method({ agents: 'a' })).toBe('e.json: methods[0].agents must list at least one model id');
    expect(method({ agents: [['a']] })).toBe('e.json: methods[0].agents[0] must be a model id or {"model", "temperature"?, "system"?}');
    expect(method({ agents: [{ model: 'zz' }] })).toBe('e.json: methods[0].agents[0].model names model "zz", which "models" does not define (defined: a, b)');
    expect(method({ agents: [{ model: 'a', temperature: 2.01 }] })).toBe('e.json: methods[0].agents[0].temperature must be a number from 0 to 2 (got 2.01)');
    expect(method({ agents: [{ model: 'a', temperature: -0.1 }] })).toBe('e.json: methods[0].agents[0].temperature must be a number from 0 to 2 (got -0.1)');
    expect(method({ agents: [{ model: 'a', temperature: '1' }] })).toBe('e.json: methods[0].agents[0].temperature must be a number from 0 to 2 (got "1")');
    expect(method({ agents: [{ model: 'a', system: 1 }] })).toBe('e.json: methods[0].agents[0].system must be a string');
    expect(method({ method: 'debate', agents: ['a'] })).toBe('e.json: methods[0].agents has 1 agent(s); Debate needs at least 2: add agents');
    expect(method({ method: 'co-llm', agents: ['a', 'b', 'a'] })).toBe('e.json: methods[0].agents has 3 agents; Co-LLM deferral (training-free) takes at most 2: remove agents');
    expect(parse({ methods: [{ method: 'co-llm', agents: ['a', 'b'] }] }).methods[0]!.agents).toHaveLength(2);
    expect(method({ knobs: [] })).toBe('e.json: methods[0].knobs must be an object of knob values');
    expect(method({ knobs: { rounds: 1 } })).toMatch(/^e\.json: methods\[0\]\.knobs\.rounds is not a knob of vote \(knobs: samples, /);
    expect(method({ members: [] })).toBe('e.json: methods[0].members must be a non-empty array of model ids');
    expect(method({ baseline: 'a' })).toBe('e.json: methods[0].baseline must be a non-empty array of model ids');
    expect(method({ members: ['a', 'c'] })).toBe('e.json: methods[0].members[1] names model "c", which "models" does not define (defined: a, b)');
    expect(method({ label: ' ' })).toBe('e.json: methods[0].label must be a non-empty string');
    expect(method({ label: 2 })).toBe('e.json: methods[0].label must be a non-empty string');
    // "toString" is not a model even though every object has one
    expect(method({ agents: ['toString'] })).toBe('e.json: methods[0].agents[0] names model "toString", which "models" does not define (defined: a, b)');
  });

  it('members and baseline given; knobs and label kept', () => {
    const m = parse({ methods: [{ method: 'vote', agents: ['a'], members: ['b'], baseline: ['a', 'b'], knobs: { samples: 2 }, label: 'L' }] }).methods[0]!;
    expect(m).toEqual({ method: 'vote', agents: [{ model: 'a', temperature: 0 }], knobs: { samples: 2 }, members: ['b'], baseline: ['a', 'b'], label: 'L' });
    expect(parse({ methods: [{ method: 'vote', agents: ['a'], members: ['b'] }] }).methods[0]!.baseline).toEqual(['b']);
  });

  it('seeds: whole numbers from 0 to 2^31 − 1, none twice', () => {
    expect(parse({ seeds: [0, 2147483647] }).seeds).toEqual([0, 2147483647]);
    const msg = 'e.json: "seeds" must be a non-empty array of whole numbers from 0 to 2147483647';
    for (const seeds of [[], [-1], [2147483648], [1.5], ['1'], 1]) expect(refusal({ seeds }), JSON.stringify(seeds)).toBe(msg);
    expect(refusal({ seeds: [3, 4, 3] })).toBe('e.json: "seeds" lists a seed twice: remove the repeat');
  });
});

describe('expandGrid', () => {
  const grid = (methods: object[], extra: object = {}) => expandGrid(parse({ methods, ...extra }));
  const show = (cells: ReturnType<typeof expandGrid>) => cells.map((c) => `${c.role}:${c.method}(${c.agents.map((a) => a.model + (a.temperature ? `@${a.temperature}` : '')).join(',')})/${c.split}/d${c.dataset}/s${c.seed}[${c.labels.join('|')}]`);

  it('a collaboration adds its members and baseline on its split and the baseline on dev; labels default to method(agents)', () => {
    const cells = grid([{ method: 'vote', agents: ['a', { model: 'b', temperature: 0.5 }], members: ['a'], baseline: ['b'] }]);
    expect(show(cells)).toEqual([
      'collaboration:vote(a,b@0.5)/test/d0/s1[vote(a,b)]',
      'member:single(a)/test/d0/s1[]',
      'member:single(b)/test/d0/s1[]',
      'member:single(b)/dev/d0/s1[]',
    ]);
    expect(cells[0]).toMatchObject({ members: ['a'], baseline: ['b'] });
    expect(cells[1]).toMatchObject({ members: [], baseline: [], knobs: {} });
  });

  it('a method that fits on dev also gets its agents\' dev cells; data sets × seeds in order', () => {
    const cells = grid([{ method: 'router', agents: ['a', 'b'], baseline: ['a'], label: 'r' }], { datasets: [{ path: 'x', split: 'test' }, { path: 'y', split: 'dev' }], seeds: [5, 6] });
    expect(show(cells.filter((c) => c.role === 'collaboration'))).toEqual(['collaboration:router(a,b)/test/d0/s5[r]', 'collaboration:router(a,b)/test/d0/s6[r]', 'collaboration:router(a,b)/dev/d1/s5[r]', 'collaboration:router(a,b)/dev/d1/s6[r]']);
    expect(show(cells.filter((c) => c.role === 'member' && c.dataset === 0 && c.seed === 5))).toEqual([
      'member:single(a)/test/d0/s5[]', 'member:single(b)/test/d0/s5[]', 'member:single(a)/dev/d0/s5[]', 'member:single(b)/dev/d0/s5[]',
    ]);
    // vote does not fit: only the baseline on dev
    const vote = grid([{ method: 'vote', agents: ['a', 'b'], baseline: ['a'] }]);
    expect(show(vote.filter((c) => c.split === 'dev'))).toEqual(['member:single(a)/dev/d0/s1[]']);
  });

  it('a single greedy entry measured against itself is the member cell; with a system prompt, knobs, sampling or other members it is a collaboration', () => {
    expect(show(grid([{ method: 'single', agents: ['a'], label: 'A' }]))).toEqual(['member:single(a)/test/d0/s1[A]']);
    for (const entry of [
      { method: 'single', agents: [{ model: 'a', system: 'S' }] },
      { method: 'single', agents: [{ model: 'a', temperature: 0.7 }] },
      { method: 'single', agents: ['a'], members: ['b'] },
      { method: 'single', agents: ['a'], baseline: ['b'] },
      { method: 'single', agents: ['a'], members: ['a', 'b'] },
    ]) {
      expect(grid([entry])[0]!.role, JSON.stringify(entry)).toBe('collaboration');
    }
    // a vote of one greedy agent is not a member entry either
    expect(grid([{ method: 'vote', agents: ['a'] }])[0]!.role).toBe('collaboration');
  });

  it('equal cells are one: labels merged once each, a member cell that is also an entry keeps the entry\'s label', () => {
    const cells = grid([
      { method: 'vote', agents: ['a', 'b'], label: 'v1' },
      { method: 'vote', agents: ['a', 'b'], label: 'v2' },
      { method: 'vote', agents: ['a', 'b'], label: 'v1' },
      { method: 'single', agents: ['a'], label: 'A' },
    ]);
    expect(show(cells)).toEqual(['collaboration:vote(a,b)/test/d0/s1[v1|v2]', 'member:single(a)/test/d0/s1[A]', 'member:single(b)/test/d0/s1[]', 'member:single(a)/dev/d0/s1[]', 'member:single(b)/dev/d0/s1[]']);
  });

  it('a member cell entry listed first becomes a collaboration when an equal collaboration follows', () => {
    // a `single` of a with members [b] is a collaboration equal (same method, agents, knobs) to a's member cell
    const cells = grid([{ method: 'single', agents: ['a'], label: 'A' }, { method: 'single', agents: ['a'], members: ['b'], label: 'A-vs-b' }]);
    expect(cells[0]).toMatchObject({ role: 'collaboration', labels: ['A', 'A-vs-b'], members: ['b'], baseline: ['b'] });
    expect(show(cells)).toEqual(['collaboration:single(a)/test/d0/s1[A|A-vs-b]', 'member:single(b)/test/d0/s1[]', 'member:single(b)/dev/d0/s1[]']);
  });

  it('memberCellKey is the key of the grid\'s member cell', () => {
    const cells = grid([{ method: 'vote', agents: ['a', 'b'] }], { seeds: [9] });
    const devB = cells.find((c) => c.role === 'member' && c.split === 'dev' && c.agents[0]!.model === 'b')!;
    expect(memberCellKey('b', 0, 'dev', 9)).toBe(devB.key);
    expect(memberCellKey('b', 0, 'dev', 9)).toBe('{"agents":[{"model":"b","temperature":0}],"dataset":0,"knobs":{},"method":"single","seed":9,"split":"dev"}');
  });
});
