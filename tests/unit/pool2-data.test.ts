// The second pool's data (public/pool2/datasets, tools/train/pool2/make_data.py) and the training
// prompts of its chat base (tools/train/pool2/train.py): splits disjoint and held out by operands in
// both orders, answers right, the compositional task never trained, the generator reproducible and
// its fresh items in no split, and the collaboration prompts it trains on identical to the ones
// src/lib/strategies/ sends, rendered by the pool's chat template as llama.cpp renders it.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Template } from '@huggingface/jinja';
import { REPO_ROOT } from '../support/paths.ts';
import { loadTask, normalizePrompt, parseManifest, splitOverlaps, type DatasetItem } from '../../src/lib/eval/datasets.ts';
import { judgeMessages, revisionMessages } from '../../src/lib/strategies/debate.ts';
import { synthesizeMessages } from '../../src/lib/strategies/moa.ts';
import { selectMessages } from '../../src/lib/strategies/usc.ts';
import { critiquePrompt, feedbackRevisionMessages } from '../../src/lib/strategies/feedback.ts';
import { comparePrompt, fusionPrompt } from '../../src/lib/strategies/blender.ts';
import { firstMessages } from '../../src/lib/strategies/common.ts';
import type { Agent } from '../../src/lib/strategies/types.ts';
import type { ChatMessage } from '../../src/lib/engines/engine.ts';
import { CHAT_TEMPLATE } from '../../tools/train/export.ts';

const DATA = resolve(REPO_ROOT, 'public/pool2/datasets');
const PY = '/usr/bin/python3';
const GEN = resolve(REPO_ROOT, 'tools/train/pool2/make_data.py');
const read = async (p: string) => readFileSync(resolve(DATA, p), 'utf8');
const manifest = parseManifest(readFileSync(resolve(DATA, 'index.json'), 'utf8'));
const world = JSON.parse(readFileSync(resolve(DATA, 'world.json'), 'utf8')) as { name: string; age: number; town: string }[];
const splitsOf = (id: string) => loadTask(manifest.tasks.find((t) => t.id === id)!, read);

/** The operands of a sum prompt with a + b's order ignored: "3 + 5 - 1" and "5 + 3 - 1" give the same key. */
function group(prompt: string): string {
  const m = /^Q: (\d+) \+ (\d+)(?: - (\d+))? = \?\nA:$/.exec(prompt);
  if (!m) throw new Error(`not a sum prompt: ${JSON.stringify(prompt)}`);
  const [a, b] = [Number(m[1]), Number(m[2])].sort((x, y) => x - y);
  return `${a}+${b}${m[3] === undefined ? '' : `-${m[3]}`}`;
}
const evalSum = (prompt: string) => {
  const m = /^Q: (\d+) \+ (\d+)(?: - (\d+))? = \?/.exec(prompt)!;
  return String(Number(m[1]) + Number(m[2]) - Number(m[3] ?? 0));
};

describe('pool2 data sets', () => {
  it('every task parses, matches the manifest and has disjoint splits', async () => {
    expect(manifest.tasks.map((t) => t.id)).toEqual(['sum', 'facts', 'combo']);
    for (const task of manifest.tasks) {
      const s = await loadTask(task, read);
      for (const k of ['train', 'dev', 'test'] as const) expect(s[k]!.length).toBe(task.splits[k]);
      expect(splitOverlaps(s)).toEqual([]);
    }
  });

  it('sum holds operand pairs out in both orders, has both forms in test and right answers', async () => {
    const s = await splitsOf('sum');
    const trainGroups = new Set(s.train!.map((x) => group(x.prompt)));
    for (const x of [...s.test!, ...s.dev!]) expect(trainGroups.has(group(x.prompt)), x.prompt).toBe(false);
    const testGroups = new Set(s.test!.map((x) => group(x.prompt)));
    expect(s.dev!.filter((x) => testGroups.has(group(x.prompt)))).toEqual([]);
    for (const x of [...s.train!, ...s.dev!, ...s.test!]) expect(x.answer).toBe(evalSum(x.prompt));
    expect(new Set(s.test!.map((x) => x.prompt.includes(' - ')))).toEqual(new Set([true, false]));
  });

  it("sum's two training halves share no operand group (the two sum specialists see different items)", async () => {
    const s = await splitsOf('sum');
    const half = (h: string) => new Set(s.train!.filter((x) => (x as DatasetItem & { half: string }).half === h).map((x) => group(x.prompt)));
    const a = half('a');
    const b = half('b');
    expect(a.size).toBeGreaterThan(100);
    expect(b.size).toBeGreaterThan(100);
    expect([...a].filter((g) => b.has(g))).toEqual([]);
  });

  it('facts answer from world.json and hold one phrasing of each fact out', async () => {
    const s = await splitsOf('facts');
    const byName = new Map(world.map((p) => [p.name, p]));
    for (const x of [...s.train!, ...s.dev!, ...s.test!]) {
      const it = x as DatasetItem & { entity: string; attribute: 'age' | 'town' };
      expect(x.answer).toBe(String(byName.get(it.entity)![it.attribute]));
    }
    const held = [...s.dev!, ...s.test!].map((x) => `${(x as DatasetItem & { entity: string }).entity}/${(x as DatasetItem & { attribute: string }).attribute}`);
    expect(new Set(held).size).toBe(world.length * 2);
  });

  it('combo is never trained: no train items, and no training prompt of any task uses its phrasing', async () => {
    const c = await splitsOf('combo');
    expect(c.train).toEqual([]);
    const byName = new Map(world.map((p) => [p.name, p]));
    for (const x of [...c.dev!, ...c.test!]) {
      const it = x as DatasetItem & { entity: string; parts: { fact: number; add: number } };
      expect(it.parts.fact).toBe(byName.get(it.entity)!.age);
      expect(x.answer).toBe(String(it.parts.fact + it.parts.add));
    }
    const trained = [...(await splitsOf('sum')).train!, ...(await splitsOf('facts')).train!];
    expect(trained.filter((x) => / will .* be /.test(x.prompt))).toEqual([]);
  });

  it('the generator reproduces the shipped files byte for byte, and its fresh items are in no split', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pool2-'));
    execFileSync(PY, [GEN, '--out', join(dir, 'same')]);
    for (const task of readdirSync(DATA, { withFileTypes: true }).filter((d) => d.isDirectory())) {
      for (const f of readdirSync(resolve(DATA, task.name))) {
        expect(readFileSync(join(dir, 'same', task.name, f), 'utf8'), `${task.name}/${f}`).toBe(readFileSync(resolve(DATA, task.name, f), 'utf8'));
      }
    }
    execFileSync(PY, [GEN, '--fresh', '77', '--out', join(dir, 'fresh')]);
    const shipped = new Set<string>();
    for (const t of manifest.tasks) for (const s of ['train', 'dev', 'test']) {
      for (const line of readFileSync(resolve(DATA, t.id, `${s}.jsonl`), 'utf8').split('\n').filter(Boolean)) shipped.add(normalizePrompt((JSON.parse(line) as DatasetItem).prompt));
    }
    for (const t of manifest.tasks) {
      const fresh = readFileSync(join(dir, 'fresh', t.id, 'test.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as DatasetItem);
      expect(fresh.length, t.id).toBe(60);
      expect(fresh.filter((x) => shipped.has(normalizePrompt(x.prompt))), t.id).toEqual([]);
    }
  }, 60_000);
});

describe('pool2 sum halves (the larger held-out check of the sum members)', () => {
  const HALVES = resolve(REPO_ROOT, 'public/pool2/halves');
  it('public/pool2/halves is each training half as a test set, byte for byte from the generator, and a member trained on one half sees none of the other', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pool2-halves-'));
    execFileSync(PY, [GEN, '--halves', '--out', dir]);
    for (const f of ['index.json', 'sum-half-a/test.jsonl', 'sum-half-b/test.jsonl', 'sum-half-a/train.jsonl']) {
      expect(readFileSync(join(dir, f), 'utf8'), f).toBe(readFileSync(resolve(HALVES, f), 'utf8'));
    }
    const train = (await splitsOf('sum')).train! as (DatasetItem & { half: string })[];
    const halves = parseManifest(readFileSync(resolve(HALVES, 'index.json'), 'utf8'));
    const test = async (h: string) =>
      (await loadTask(halves.tasks.find((t) => t.id === `sum-half-${h}`)!, async (p) => readFileSync(resolve(HALVES, p), 'utf8'))).test!;
    for (const h of ['a', 'b']) {
      const items = await test(h);
      expect(items.map((x) => [x.id, x.prompt, x.answer])).toEqual(train.filter((x) => x.half === h).map((x) => [x.id, x.prompt, x.answer]));
    }
    expect((await test('a')).length + (await test('b')).length).toBe(train.length);
    // train.py's --half filter keeps exactly that half's items.
    const py = `
import importlib.util, json, sys
sys.path.insert(0, '${resolve(REPO_ROOT, 'tools/train')}')
s = importlib.util.spec_from_file_location('p2', '${resolve(REPO_ROOT, 'tools/train/pool2/train.py')}')
T = importlib.util.module_from_spec(s); s.loader.exec_module(T)
items = T.load('sum')
print(json.dumps({h: [x['prompt'] for x in T.half_items(items, h)] for h in ('a', 'b')}))`;
    const kept = JSON.parse(execFileSync(PY, ['-c', py], { encoding: 'utf8', maxBuffer: 64 << 20 })) as Record<string, string[]>;
    expect(kept['a']).toEqual((await test('a')).map((x) => x.prompt));
    expect(kept['b']).toEqual((await test('b')).map((x) => x.prompt));
  }, 60_000);
});

describe('pool2 chat base training prompts', () => {
  const agent = { id: 'a', name: 'A', model: 'sum-a', temperature: 0 } as Omit<Agent, 'engine'> as Agent;
  const template = new Template(CHAT_TEMPLATE);
  const render = (m: ChatMessage[]) => template.render({ messages: m });
  const prompt = 'Q: 3 + 5 - 1 = ?\nA:';
  const named = [{ name: 'Agent 1 · sum-a', text: '7' }, { name: 'Agent 2 · facts', text: 'Ivel' }, { name: 'Agent 3 · sum-b', text: '6' }];

  it('are the strategies\' prompts word for word through the chat template', () => {
    const py = `
import importlib.util, json, sys
sys.path.insert(0, '${resolve(REPO_ROOT, 'tools/train')}')
s = importlib.util.spec_from_file_location('p2', '${resolve(REPO_ROOT, 'tools/train/pool2/train.py')}')
T = importlib.util.module_from_spec(s); s.loader.exec_module(T)
p = ${JSON.stringify(prompt)}
print(json.dumps([T.debate_revision(p, '7', ['Ivel', '6']), T.debate_judge(p, ${JSON.stringify(named.map((n) => [n.name, n.text]))}),
                  T.moa_synthesis(p, ['7', 'Ivel', '6']), T.usc_select(p, ['7', 'Ivel', '6']),
                  T.feedback_critique(p, '7'), T.feedback_revision(p, '7', [T.critique_of('7', '7'), T.critique_of('7', '6')]),
                  T.blender_compare(p, '7', 'Ivel'), T.blender_fusion(p, ['7', 'Ivel'])]))`;
    const fromPython = JSON.parse(execFileSync(PY, ['-c', py], { encoding: 'utf8' })) as string[];
    expect(fromPython).toEqual([
      render(revisionMessages(agent, prompt, '7', ['Ivel', '6'])),
      render(judgeMessages(agent, prompt, named)),
      render(synthesizeMessages(agent, prompt, ['7', 'Ivel', '6'])),
      render(selectMessages(agent, prompt, ['7', 'Ivel', '6'])),
      render(firstMessages(agent, critiquePrompt(prompt, '7'))),
      render(feedbackRevisionMessages(agent, prompt, '7', ['Yes', '6'])),
      render(firstMessages(agent, comparePrompt(prompt, '7', 'Ivel'))),
      render(firstMessages(agent, fusionPrompt(prompt, ['7', 'Ivel']))),
    ]);
  }, 60_000);

  it("the chat base's stand-ins hold none of the pool's people or items; the facts members' thirds cover every person twice; micro-batches keep every example; unknown items show a right majority", () => {
    const py = `
import importlib.util, json, random, sys
sys.path.insert(0, '${resolve(REPO_ROOT, 'tools/train')}')
s = importlib.util.spec_from_file_location('p2', '${resolve(REPO_ROOT, 'tools/train/pool2/train.py')}')
T = importlib.util.module_from_spec(s); s.loader.exec_module(T)
known, unknown = T.standins()
ex = [([1] * n, 1) for n in (40, 3, 300, 5, 90, 4, 310)]
rng = random.Random(3)
maj = []
for i in range(200):
    item = unknown[i % len(unknown)]
    text, target = T.collab_example(rng, item, ['Ivel', '4', '12'], majority=True)
    maj.append([item['answer'], target, text])
taught = []
for i in range(300):
    item = known[i % len(known)]
    text, target = T.collab_example(rng, item, ['Ivel', '4', '12'])
    taught.append([item['answer'], target, text])
print(json.dumps({'taught': taught, 'known': [x['prompt'] for x in known], 'unknown': [x['prompt'] for x in unknown],
                  'thirds': {t: sorted(T.facts_people(t)) for t in ('01', '12', '02')},
                  'micro': [[len(e[0]) for e in mb] for mb in T.micro_batches(ex)], 'majority': maj}))`;
    const r = JSON.parse(execFileSync(PY, ['-c', py], { encoding: 'utf8', maxBuffer: 64 << 20 })) as {
      known: string[]; unknown: string[]; thirds: Record<string, string[]>; micro: number[][]; majority: [string, string, string][]; taught: [string, string, string][];
    };
    const names = world.map((p) => p.name);
    const standins = [...r.known, ...r.unknown];
    expect(r.known.length).toBeGreaterThan(300);
    expect(r.unknown.length).toBe(16 * 8);
    for (const p of standins) for (const n of names) expect(p.includes(n), `${p} names the pool's ${n}`).toBe(false);
    // No pool item (any task, any split) is a stand-in, and the unknown people are not among the known ones.
    const pool = new Set<string>();
    for (const t of manifest.tasks) for (const sp of ['train', 'dev', 'test']) {
      for (const line of readFileSync(resolve(DATA, t.id, `${sp}.jsonl`), 'utf8').split('\n').filter(Boolean)) pool.add(normalizePrompt((JSON.parse(line) as DatasetItem).prompt));
    }
    for (const p of standins) expect(pool.has(normalizePrompt(p))).toBe(false);
    const who = (p: string) => /(?:is|of|to|does) ([A-Z][a-z]+)\??/.exec(p)?.[1];
    const knownPeople = new Set(r.known.map(who).filter(Boolean));
    for (const p of r.unknown) expect(knownPeople.has(who(p))).toBe(false);
    // Every person is in exactly two of the three facts members' sets.
    for (const n of names) expect(['01', '12', '02'].filter((t) => r.thirds[t]!.includes(n)).length).toBe(2);
    // Sorted by length, cut where a length more than doubles; nothing lost.
    expect(r.micro).toEqual([[3, 4, 5], [40], [90], [300, 310]]);
    // Unknown items: two or three of the three shown answers are right, and the target is the right answer
    // (USC's is the response number of one of them).
    const kinds = new Set<string>();
    for (const [answer, target, text] of r.majority) {
      // The formats that ask the model to judge on its own knowledge are never used on unknown items.
      expect(text).not.toContain('You are reviewing');
      expect(text).not.toContain('Which answer is better');
      const shown = [...text.matchAll(/```([^`]*)```/g)].map((m) => m[1]!);
      const own = /\nA: ([^\n]*)\n/.exec(text)?.[1];
      if (text.includes('Other assistants reviewed your answer')) {
        // Feedback's revision: the own answer, then one or two critiques naming their critic's answer.
        kinds.add('feedback');
        const proposals = [own!, ...shown.map((c) => (c === 'Yes' ? own! : c))];
        expect(proposals.length).toBeGreaterThanOrEqual(2);
        expect(proposals).toContain(answer);
        expect(target).toBe(answer);
        continue;
      }
      if (text.includes('Candidate 1:')) {
        kinds.add('fusion');
        expect([2, 3]).toContain(shown.length);
        expect(shown).toContain(answer);
        expect(target).toBe(answer);
        continue;
      }
      // Debate's revision shows the agent's own answer as its earlier turn, the two others fenced.
      if (shown.length === 2) shown.unshift(own!);
      expect(shown.length).toBe(3);
      expect(shown.filter((a) => a === answer).length).toBeGreaterThanOrEqual(2);
      if (target.startsWith('The most consistent response is Response ')) expect(shown[Number(target.slice(-1)) - 1]).toBe(answer);
      else expect(target).toBe(answer);
    }
    expect([...kinds].sort()).toEqual(['feedback', 'fusion']);
    // Taught items: a critique confirms a right answer and corrects a wrong one with the right answer; a pair
    // comparison shows one right and one wrong answer and its target is the right one's letter; a feedback
    // revision's target is the right answer when the own answer or a critique names it, else the own answer.
    const seen = new Set<string>();
    for (const [answer, target, text] of r.taught) {
      const shown = [...text.matchAll(/```([^`]*)```/g)].map((m) => m[1]!);
      const own = /\nA: ([^\n]*)\n/.exec(text)?.[1];
      if (text.includes('You are reviewing')) {
        seen.add('critique');
        expect(target).toBe(shown[0] === answer ? 'Yes' : answer);
      } else if (text.includes('Which answer is better')) {
        seen.add('compare');
        expect(shown.filter((a) => a === answer).length).toBe(1);
        expect(shown['AB'.indexOf(target)]).toBe(answer);
      } else if (text.includes('Other assistants reviewed your answer')) {
        seen.add('feedback');
        const proposals = [own!, ...shown.map((c) => (c === 'Yes' ? own! : c))];
        expect(target).toBe(proposals.includes(answer) ? answer : own);
      }
    }
    expect([...seen].sort()).toEqual(['compare', 'critique', 'feedback']);
  }, 60_000);
});
