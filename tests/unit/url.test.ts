import { describe, expect, it } from 'vitest';
import { cpuMs } from '../lib/cpu-time.ts';
import { MAX_LINK_LENGTH, MAX_WARNINGS, decodeSetup, encodeSetup } from '../../src/lib/settings/url.ts';
import { AGENT_FIELDS, MAX_AGENTS, SETUP_FIELDS, defaultSetup, withMethod, type Setup } from '../../src/lib/settings/schema.ts';
import { strategies } from '../../src/lib/strategies/registry.ts';
import type { KnobValue } from '../../src/lib/strategies/types.ts';

/** mulberry32: a small seeded PRNG so the property test is reproducible (Tommy Ettinger's public-domain generator). */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NASTY = ['&', '=', '#', '?', '+', '%', '@', ' ', '\n', '/', ':', ',', '.', 'k.', '%20', 'é', '漢', '🙂', '"', "'", '<script>', 'a=b', '\t', '~'];

function randomString(r: () => number, maxLen: number): string {
  const n = Math.floor(r() * maxLen);
  let s = '';
  for (let i = 0; i < n; i++) {
    s += r() < 0.4 ? NASTY[Math.floor(r() * NASTY.length)] : String.fromCharCode(32 + Math.floor(r() * 95));
  }
  return s;
}

function randomSetup(r: () => number): Setup {
  const strategy = strategies[Math.floor(r() * strategies.length)]!;
  const knobs: Record<string, KnobValue> = {};
  for (const k of strategy.meta.knobs) {
    if (k.type === 'integer') knobs[k.id] = k.min + Math.floor(r() * (k.max - k.min + 1));
    else if (k.type === 'number') knobs[k.id] = k.min + r() * (k.max - k.min);
    else if (k.type === 'boolean') knobs[k.id] = r() < 0.5;
    else if (k.type === 'select') knobs[k.id] = k.options[Math.floor(r() * k.options.length)]!.value;
    else if (k.type === 'text') knobs[k.id] = randomString(r, Math.min(k.maxLength, 60));
  }
  const nAgents = 1 + Math.floor(r() * MAX_AGENTS);
  return {
    method: strategy.meta.id,
    knobs,
    agents: Array.from({ length: nAgents }, () => ({
      model: r() < 0.1 ? '' : randomString(r, 30),
      system: r() < 0.5 ? '' : randomString(r, 80),
      // Any float in range, including ones with long decimal expansions.
      temperature: r() < 0.3 ? Math.round(r() * 20) / 10 : r() * 2,
    })),
    prompt: randomString(r, 300),
    seed: Math.floor(r() * (SETUP_FIELDS.seed.max + 1)),
    maxTokens: 1 + Math.floor(r() * SETUP_FIELDS.maxTokens.max),
  };
}

describe('URL round trip', () => {
  it('decode(encode(setup)) = setup with no warnings, for 500 random setups (property)', () => {
    const r = rng(20260601);
    for (let i = 0; i < 500; i++) {
      const setup = randomSetup(r);
      const encoded = encodeSetup(setup);
      const { setup: back, warnings } = decodeSetup(encoded);
      expect(warnings, encoded).toEqual([]);
      expect(back, encoded).toEqual(setup);
      // Also through a whole URL with the setup in the hash, and in the search part.
      expect(decodeSetup(`http://127.0.0.1:4180/#${encoded}`).setup).toEqual(setup);
      expect(decodeSetup(`?${encoded}`).setup).toEqual(setup);
    }
  });

  it('the default setup round-trips and reads well', () => {
    const setup = defaultSetup('stories260K');
    setup.agents[1]!.system = 'Be brief.';
    const encoded = encodeSetup(setup);
    expect(encoded).toBe(
      'v=1&m=vote&a=stories260K@0.7&a=stories260K@0.7&a=stories260K@0.7&sys2=Be+brief.&k.samples=1&k.answerType=auto&s=42&n=48&p=Once+upon+a+time%2C+there+was+a+little+cat.+What+did+the+cat+like%3F'.replace('%2C', ','),
    );
    expect(decodeSetup(encoded)).toEqual({ setup, warnings: [] });
  });

  it('model ids containing "@" survive (split at the last "@")', () => {
    const setup = defaultSetup('org@host/model@v2');
    expect(decodeSetup(encodeSetup(setup)).setup.agents[0]!.model).toBe('org@host/model@v2');
    expect(decodeSetup('a=name@not-a-number').setup.agents[0]).toEqual({ model: 'name@not-a-number', system: '', temperature: AGENT_FIELDS.temperature.default });
  });

  it('withMethod keeps the knobs both methods share and defaults the rest', () => {
    const s = { ...defaultSetup(), method: 'vote', knobs: { samples: 3, answerType: 'number' } };
    expect(withMethod(s, 'cascade').knobs).toEqual({ threshold: 0.6, confidence: 'token', answerType: 'number' });
    expect(withMethod(s, 'debate').knobs).toEqual({ rounds: 2, final: 'vote', judge: 1, answerType: 'number' });
  });
});

describe('malformed URLs fall back to defaults with warnings, never throw', () => {
  const cases: [string, (s: Setup) => void, RegExp[]][] = [
    ['', (s) => expect(s).toEqual(defaultSetup()), []],
    ['#', (s) => expect(s).toEqual(defaultSetup()), []],
    ['m=telepathy', (s) => expect(s.method).toBe('vote'), [new RegExp(`unknown method "telepathy"; using vote \\(methods: ${strategies.map((x) => x.meta.id).join(', ')}\\)`)]],
    ['s=abc&n=-5', (s) => expect([s.seed, s.maxTokens]).toEqual([42, 1]), [/Seed: "abc" is not a number; using the default 42/, /Max tokens: -5 is outside 1–4096; using 1/]],
    ['s=1.5', (s) => expect(s.seed).toBe(2), [/Seed: 1\.5 is not a whole number; using 2/]],
    ['s=99999999999', (s) => expect(s.seed).toBe(2 ** 31 - 1), [/outside 0–2147483647/]],
    ['a=m@7', (s) => expect(s.agents).toEqual([{ model: 'm', system: '', temperature: 2 }]), [/Agent 1 temperature: 7 is outside 0–2; using 2/]],
    [Array.from({ length: 10 }, (_, i) => `a=m${i}@0`).join('&'), (s) => expect(s.agents).toHaveLength(8), [/10 agents; kept the first 8/]],
    ['a=x@0&sys3=hello', (s) => expect(s.agents[0]!.system).toBe(''), [/system prompt for agent 3, but the link has 1 agent\(s\); ignored/]],
    ['m=vote&k.samples=lots&k.answerType=roman&k.depth=3', (s) => expect(s.knobs).toEqual({ samples: 1, answerType: 'auto' }), [
      /"samples": "lots" does not parse/,
      /"answerType": "roman" is not one of auto, number, choice, yesno, text; using the default "auto"/,
      /Majority vote has no knob "depth"; ignored/,
    ]],
    ['m=cascade&k.threshold=1.5', (s) => expect(s.knobs.threshold).toBe(1), [/"threshold": 1\.5 is outside 0–1; using 1/]],
    ['m=debate&m=vote', (s) => expect(s.method).toBe('debate'), [/"m" appears 2 times; using the first/]],
    ['v=9&zzz=1', (s) => expect(s).toEqual(defaultSetup()), [/format version 9/, /unknown key "zzz"/]],
    ['p=%E0%A4%A&s=%zz', (s) => expect(s.prompt).toBe('\ufffd%A'), [/Seed: "%zz" is not a number/]],
    [`p=${'x'.repeat(25_000)}`, (s) => expect(s.prompt).toHaveLength(20_000), [/kept the first 20000/]],
    ['&&&=&==&a', (s) => expect(s.agents).toEqual([{ model: '', system: '', temperature: 0.7 }]), [/unknown key ""/]],
  ];
  for (const [input, check, expected] of cases) {
    it(JSON.stringify(input.length > 60 ? `${input.slice(0, 60)}…` : input), () => {
      const { setup, warnings } = decodeSetup(input);
      check(setup);
      expect(warnings).toHaveLength(expected.length);
      expected.forEach((re, i) => expect(warnings[i]).toMatch(re));
    });
  }

  it('random garbage never throws and always yields a valid setup (property)', () => {
    const r = rng(7);
    for (let i = 0; i < 500; i++) {
      const junk = randomString(r, 200);
      const { setup } = decodeSetup(junk);
      expect(strategies.map((s) => s.meta.id)).toContain(setup.method);
      expect(setup.agents.length).toBeGreaterThanOrEqual(1);
      expect(setup.agents.length).toBeLessThanOrEqual(MAX_AGENTS);
      expect(Number.isInteger(setup.seed)).toBe(true);
    }
  });
});

describe('hostile links: bounded time, bounded warnings, a size cap', () => {
  it('10^5 distinct unknown keys decode in under 1 s, with at most MAX_WARNINGS warnings and a count of the rest', () => {
    const parts = ['v=1', 'm=vote', 's=7'];
    for (let i = 0; i < 100_000; i++) parts.push(`x${i}=1`);
    const link = parts.join('&');
    expect(link.length).toBeLessThan(MAX_LINK_LENGTH);
    const { ms, value: { setup, warnings } } = cpuMs(() => decodeSetup(link));
    expect(ms).toBeLessThan(1000);
    expect(setup.method).toBe('vote');
    expect(setup.seed).toBe(7);
    expect(warnings).toHaveLength(MAX_WARNINGS + 1);
    expect(warnings[0]).toBe('unknown key "x0" in the link; ignored');
    expect(warnings[MAX_WARNINGS]).toBe(`… and ${100_000 - MAX_WARNINGS} more problems in the link (not listed)`);
  });

  it('5·10^4 repeats of one knob key decode in under 1 s and keep the first value', () => {
    const link = 'm=vote&' + Array.from({ length: 50_000 }, (_, i) => `k.samples=${(i % 8) + 1}`).join('&');
    const { ms, value: { setup, warnings } } = cpuMs(() => decodeSetup(link));
    expect(ms).toBeLessThan(1000);
    expect(setup.knobs['samples']).toBe(1);
    expect(warnings).toEqual(['"k.samples" appears 50000 times; using the first']);
  });

  it(`a link longer than MAX_LINK_LENGTH is refused with a message naming its size, and the default setup is used`, () => {
    const link = `m=vote&p=${'a'.repeat(MAX_LINK_LENGTH)}`;
    const { ms, value: { setup, warnings } } = cpuMs(() => decodeSetup(link));
    expect(ms).toBeLessThan(1000);
    expect(setup).toEqual(defaultSetup());
    expect(warnings).toEqual([
      `the link is ${link.length} characters long; links up to ${MAX_LINK_LENGTH} are read — it was cut or is not a Chorus link; using the default setup`,
    ]);
  });

  it('the longest setup the schema allows still fits under the cap', () => {
    const wide = '漢'.repeat(1); // 3 UTF-8 bytes → 9 characters once percent-encoded, the worst case per UTF-16 unit
    const setup = defaultSetup();
    setup.prompt = wide.repeat(SETUP_FIELDS.prompt.maxLength);
    setup.agents = Array.from({ length: MAX_AGENTS }, () => ({
      model: wide.repeat(AGENT_FIELDS.model.maxLength), temperature: 0.7, system: wide.repeat(AGENT_FIELDS.system.maxLength),
    }));
    const link = encodeSetup(setup);
    expect(link.length).toBeLessThan(MAX_LINK_LENGTH);
    const back = decodeSetup(link);
    expect(back.warnings).toEqual([]);
    expect(back.setup).toEqual(setup);
  });
});
