// The cost models of the text-level methods against scripted runs in which every call writes until
// its max tokens: the calls made equal `cost.calls`, and the tokens generated equal the completion
// bound of `cost.tokens` (per-call caps such as a comparison's one token included).
import { describe, expect, it } from 'vitest';
import { collectRun } from '../../src/lib/run.ts';
import { getStrategy } from '../../src/lib/strategies/registry.ts';
import { resolveKnobs } from '../../src/lib/strategies/knobs.ts';
import { ScriptedEngine, agentsOn, words } from './strategies.scripted.ts';
import { ofType } from './strategies.events.ts';

const MAX_TOKENS = 6;
const cases: [string, number, Record<string, number | string | boolean>][] = [
  ['feedback', 3, { rounds: 2, critics: 2 }],
  ['feedback', 4, { rounds: 1, critics: 3, final: 'judge', judge: 4 }],
  ['debate-summary', 3, { rounds: 3 }],
  ['refine', 4, { rounds: 2 }],
  ['knowledge-cards', 3, { prune: true }],
  ['knowledge-cards', 4, { prune: true, excludeSelf: true, answerer: 2 }],
  ['blender', 4, { topK: 2 }],
  ['blender', 3, { bothOrders: true }],
];

describe('text-level cost models', () => {
  for (const [id, n, knobs] of cases) {
    it(`scripted: ${id} with ${n} agents and ${JSON.stringify(knobs)} — calls and generated tokens as stated`, async () => {
      const engine = new ScriptedEngine(() => words('word '.repeat(40)));
      const events = await collectRun({ strategy: id, agents: agentsOn(engine, n), knobs, prompt: 'What is 2+2?', seed: 1, maxTokens: MAX_TOKENS });
      expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
      const { meta } = getStrategy(id);
      const resolved = resolveKnobs(meta, knobs).knobs;
      expect(engine.calls).toHaveLength(meta.cost!.calls(n, resolved));
      const generated = ofType(events, 'message-end').reduce((s, m) => s + m.usage.completion_tokens, 0);
      expect(generated).toBe(meta.cost!.tokens!(n, resolved, MAX_TOKENS, 0).completion);
    });
  }
});
