/**
 * The pure parts of the code scorer (src/lib/eval/code.ts) that decide a score without running
 * anything: the shape check on a model's expression, the literals the harness is built from, and
 * readReply, the check of what comes back from the sandbox (a forged or malformed reply must never
 * count as a pass). Pinned case by case (`npm run mutate -- code` found each as a survivor).
 */
import { describe, expect, it } from 'vitest';
import { MAX_ERROR_CHARS, buildHarness, checkCodeShape, readReply } from '../../src/lib/eval/code.ts';

describe('checkCodeShape', () => {
  it('refuses the empty answer by name', () => {
    expect(checkCodeShape('')).toBe('the answer is empty');
  });
  it('accepts exactly 200 characters and refuses 201', () => {
    const at200 = `x=>${'x+'.repeat(98)}x`.padEnd(200, ' ');
    expect(at200.length).toBe(200);
    expect(checkCodeShape(at200)).toBe(null);
    expect(checkCodeShape(`${at200}1`)).toBe('the function is longer than 200 characters');
  });
  it('counts square brackets as well as parentheses', () => {
    expect(checkCodeShape('x=>[x')).toBe('unbalanced brackets');
    expect(checkCodeShape('x=>x]')).toBe('unbalanced brackets');
    expect(checkCodeShape('x=>[x][0]')).toBe(null);
    expect(checkCodeShape('x=>(x)')).toBe(null);
    expect(checkCodeShape('x=>x)')).toBe('unbalanced brackets');
  });
});

describe('buildHarness literals', () => {
  it('takes finite numbers and booleans, and names the test and side of anything else', () => {
    expect(buildHarness('x=>x', [{ input: 1, output: false }])).toContain('freeze([false])');
    expect(buildHarness('x=>x', [{ input: true as unknown as number, output: 1 }])).toContain('freeze([true])');
    expect(buildHarness('x=>x', [{ input: 2, output: 3 }, { input: 4, output: 5 }])).toContain('freeze([3, 5])');
    expect(() => buildHarness('x=>x', [{ input: 1, output: 1 }, { input: 1, output: Number.NaN }])).toThrow('test 2 output NaN is not a finite number or a boolean');
    expect(() => buildHarness('x=>x', [{ input: Infinity, output: 1 }])).toThrow('test 1 input Infinity');
    expect(() => buildHarness('x=>x', [{ input: 1, output: 'x' as unknown as number }])).toThrow('test 1 output x');
  });
  it('cuts exception text to MAX_ERROR_CHARS − 8, leaving room for "threw: "', () => {
    expect(buildHarness('x=>x', [])).toContain(`slice(m, 0, ${MAX_ERROR_CHARS - 8})`);
  });
});

describe('readReply', () => {
  const unexpected = (why: string) => ({ ok: false, passed: 0, total: 3, error: `the sandbox sent an unexpected reply (${why})` });
  it('passes a well-formed reply through', () => {
    expect(readReply({ ok: true, passed: 3 }, 3)).toEqual({ ok: true, passed: 3, total: 3 });
    expect(readReply({ ok: false, passed: 1, error: 'wrong' }, 3)).toEqual({ ok: false, passed: 1, total: 3, error: 'wrong' });
    expect(readReply(Object.assign(Object.create(null), { ok: true, passed: 0 }), 3)).toEqual({ ok: true, passed: 0, total: 3 });
  });
  it('refuses counts that are not an integer from 0 to the number of tests', () => {
    for (const passed of [4, -1, 1.5, '3', Number.NaN]) expect(readReply({ ok: true, passed }, 3), String(passed)).toEqual(unexpected('passed is not an integer from 0 to 3'));
  });
  it('refuses an error that is not text, and ok with an error', () => {
    expect(readReply({ ok: false, passed: 0, error: 5 }, 3)).toEqual(unexpected('error is not text'));
    expect(readReply({ ok: true, passed: 3, error: 'but' }, 3)).toEqual(unexpected('ok with an error'));
  });
  it('refuses non-objects, arrays, class instances and a non-boolean ok', () => {
    expect(readReply(null, 3)).toEqual(unexpected('not an object'));
    expect(readReply([true, 3], 3)).toEqual(unexpected('not an object'));
    expect(readReply(new (class R { ok = true; passed = 3 })(), 3)).toEqual(unexpected('not a plain object'));
    expect(readReply({ ok: 1, passed: 3 }, 3)).toEqual(unexpected('ok is not a boolean'));
  });
  it('reads own data properties only: a getter or an inherited ok is not a pass', () => {
    expect(readReply(Object.defineProperty({ passed: 3 }, 'ok', { get: () => true, enumerable: true }), 3)).toEqual(unexpected('ok is not a boolean'));
  });
  it('cuts a long error to MAX_ERROR_CHARS', () => {
    const r = readReply({ ok: false, passed: 0, error: 'e'.repeat(MAX_ERROR_CHARS + 50) }, 3);
    expect(r.error).toBe('e'.repeat(MAX_ERROR_CHARS));
  });
});
