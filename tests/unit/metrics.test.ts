// Metrics and the code sandbox (Node vm runner of the same harness the browser Worker runs).
import { describe, expect, it } from 'vitest';
import { answerKey, choiceLetter, exactMatch, isRefusal, normalizeAnswer, refusalMatch, scoreOutput } from '../../src/lib/eval/metrics.ts';
import { buildHarness, checkCodeShape, extractCode } from '../../src/lib/eval/code.ts';
import { nodeSandbox } from '../../tools/lib/node-sandbox.ts';

describe('exact match', () => {
  it('normalises case, spaces, first line and a trailing full stop', () => {
    expect(normalizeAnswer('  Dunmoor.\nmore text')).toBe('dunmoor');
    expect(exactMatch(' 95', '95')).toBe(true);
    expect(exactMatch(' 955', '95')).toBe(false);
    expect(exactMatch('\n\n  -12 ', '-12')).toBe(true);
    expect(exactMatch('', '0')).toBe(false);
  });
});

describe('multiple choice', () => {
  it('reads the first standalone letter', () => {
    expect(choiceLetter(' B')).toBe('B');
    expect(choiceLetter('B) Ann')).toBe('B');
    expect(choiceLetter('Ben has it')).toBe(null);
    expect(choiceLetter('the answer is C')).toBe('C');
  });
  it('reads the first non-empty line only', () => {
    expect(choiceLetter('Ben has it\nB')).toBe(null);
    expect(choiceLetter('\n\n  D) Dan\nA')).toBe('D');
  });
});

describe('refusal detection', () => {
  it('detects refusals on the first line only', () => {
    expect(isRefusal(" Sorry, I can't help with that.")).toBe(true);
    expect(isRefusal('I cannot help with this request')).toBe(true);
    expect(isRefusal(' Sure, here is how.')).toBe(false);
    expect(isRefusal('Sure, here is how.\nSorry for the wait')).toBe(false);
    expect(refusalMatch('Sure, here is how.', false)).toBe(true);
    expect(refusalMatch('Sure, here is how.', true)).toBe(false);
  });
});

describe('code execution', () => {
  const sb = nodeSandbox();
  const tests = [{ input: 1, output: 4 }, { input: 2, output: 7 }, { input: -4, output: -11 }];

  it('passes a correct function and fails a wrong one', async () => {
    expect(await sb.run('x=>x*3+1', tests, 500)).toEqual({ ok: true, passed: 3, total: 3 });
    expect((await sb.run('x=>x*3', tests, 500)).passed).toBe(0);
    expect(await scoreOutput('code', ' x=>x*3+1\n', { answer: 'x=>x*3+1', tests }, sb)).toBe(1);
    expect(await scoreOutput('code', ' x=>x+3', { answer: 'x=>x*3+1', tests }, sb)).toBe(0);
  });

  it('rejects anything but a one-line expression before running it', () => {
    expect(checkCodeShape('x=>x+1')).toBe(null);
    expect(checkCodeShape('x=>{while(1){}}')).toMatch(/single expression/);
    expect(checkCodeShape('x=>x; fetch(1)')).toMatch(/single expression/);
    expect(checkCodeShape('x=>(x')).toBe('unbalanced brackets');
    expect(checkCodeShape('x=>x)+(x')).toBe('unbalanced brackets');
    expect(checkCodeShape('a'.repeat(201))).toMatch(/200/);
    expect(extractCode('\n x=>x \n junk')).toBe('x=>x');
  });

  it('stops a function that runs too long', async () => {
    // Catastrophic regex backtracking: no loop syntax needed, still runs for ages.
    const slow = 'x=>/(a+)+b/.test(Array(40).join(String.fromCharCode(97)))';
    const t0 = Date.now();
    const r = await sb.run(slow, [{ input: 0, output: false }], 200);
    expect(r).toMatchObject({ ok: false, error: 'timed out after 200 ms' });
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('hides network, storage and the reply channel from the function', async () => {
    const undef = [{ input: 0, output: true }];
    expect((await sb.run('x=>typeof fetch === typeof undefined', undef, 500)).passed).toBe(1);
    expect((await sb.run('x=>typeof postMessage === typeof undefined', undef, 500)).passed).toBe(1);
    expect((await sb.run('x=>typeof globalThis === typeof undefined', undef, 500)).passed).toBe(1);
    const r = await sb.run('(postMessage(5), x=>x)', [{ input: 1, output: 1 }], 500);
    expect(r.ok).toBe(false);
    expect(buildHarness('x=>x', [])).toContain('"use strict"');
  });
});

describe('answer keys for voting', () => {
  it('groups equivalent answers', () => {
    expect(answerKey('exact', ' 95.')).toBe(answerKey('exact', '95'));
    expect(answerKey('choice', ' B) Ann')).toBe('B');
    expect(answerKey('refusal', "Sorry, I can't")).toBe('refuse');
    expect(answerKey('code', ' x=>x+1\n')).toBe('x=>x+1');
  });
  it('gives the other side or an empty key (an abstention) when nothing is read', () => {
    expect(answerKey('refusal', 'Sure, here is how.')).toBe('comply');
    expect(answerKey('choice', 'Ben has it')).toBe('');
    expect(answerKey('code', '')).toBe('');
    expect(answerKey('exact', '  Two   Words.. \nmore')).toBe('two words');
  });
});

describe('scoring one output', () => {
  it('each metric scores 1 or 0', async () => {
    expect(await scoreOutput('exact', ' 95.', { answer: '95' })).toBe(1);
    expect(await scoreOutput('exact', '96', { answer: '95' })).toBe(0);
    expect(await scoreOutput('choice', ' b) Ann', { answer: 'A' })).toBe(0);
    expect(await scoreOutput('choice', ' B) Ann', { answer: 'b' })).toBe(1);
    expect(await scoreOutput('refusal', "Sorry, I can't help.", { answer: '', refuse: true })).toBe(1);
    expect(await scoreOutput('refusal', "Sorry, I can't help.", { answer: '', refuse: false })).toBe(0);
  });
  it('a malformed item is an error that names the missing field', async () => {
    await expect(scoreOutput('refusal', 'x', { answer: '' })).rejects.toThrow(/refusal item needs a boolean "refuse" field/);
    await expect(scoreOutput('code', 'x=>x', { answer: '', tests: [] })).rejects.toThrow(/code item needs a non-empty "tests" array/);
    await expect(scoreOutput('code', 'x=>x', { answer: '', tests: [{ input: 1, output: 1 }] })).rejects.toThrow(/code items need a sandbox/);
  });
  it('code: every test must pass; no extractable function scores 0 without running', async () => {
    const sb = nodeSandbox();
    const tests = [{ input: 1, output: 1 }, { input: 2, output: 4 }];
    expect(await scoreOutput('code', 'x=>x', { answer: '', tests }, sb)).toBe(0);
    expect(await scoreOutput('code', 'x=>x*x', { answer: '', tests }, sb)).toBe(1);
    let ran = false;
    const spy = { run: async () => ((ran = true), { ok: true, passed: 2, total: 2 }) };
    expect(await scoreOutput('code', '\n\n', { answer: '', tests }, spy)).toBe(0);
    expect(ran).toBe(false);
  });
});
