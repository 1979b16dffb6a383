/**
 * The mergekit YAML parser refuses what would silently ruin a merge or exhaust memory: non-finite
 * parameters (YAML's .nan / .inf / -.inf, a NaN inside a gradient or a condition) and configs
 * too large to be a real mergekit config. Each refusal names the parameter, the model and the fix.
 */
import { describe, expect, it } from 'vitest';
import { MAX_CONFIG_BYTES, MAX_LIST_ENTRIES, MAX_MODELS, MergeConfigError, parseMergeConfig } from '../../src/lib/merge/config.ts';

function refusal(yaml: string): MergeConfigError {
  try {
    parseMergeConfig(yaml, 'cfg.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(MergeConfigError);
    return e as MergeConfigError;
  }
  throw new Error('the config was accepted');
}

describe('non-finite parameters are refused by name', () => {
  it('weight: .nan in linear', () => {
    expect(refusal('merge_method: linear\nmodels:\n  - model: a.gguf\n    parameters: {weight: .nan}\n').message).toBe(
      'cfg.yaml: "weight" for a.gguf is .nan (not a number) — parameters must be finite numbers; write a number such as 0.5',
    );
  });
  it('t: .nan in slerp (global parameters)', () => {
    expect(refusal('merge_method: slerp\nbase_model: a.gguf\nmodels: [{model: b.gguf}]\nparameters: {t: .nan}\n').message).toMatch(
      /^cfg\.yaml: "t" in parameters is \.nan \(not a number\) — parameters must be finite numbers/,
    );
  });
  it('density: .nan in ties', () => {
    expect(refusal('merge_method: ties\nbase_model: a.gguf\nmodels: [{model: b.gguf, parameters: {weight: 1, density: .nan}}]\n').message).toMatch(/"density" for b\.gguf is \.nan/);
  });
  it('.inf and -.inf, inside a gradient and inside a condition', () => {
    expect(refusal('merge_method: linear\nmodels: [{model: a.gguf, parameters: {weight: .inf}}]\n').message).toMatch(/"weight" for a\.gguf is \.inf \(infinite\)/);
    expect(refusal('merge_method: slerp\nbase_model: a.gguf\nmodels: [{model: b.gguf}]\nparameters: {t: [0, -.inf, 1]}\n').message).toMatch(/"t" in parameters is -\.inf \(infinite\)/);
    expect(refusal('merge_method: slerp\nbase_model: a.gguf\nmodels: [{model: b.gguf}]\nparameters:\n  t:\n    - {filter: self_attn, value: .nan}\n    - {value: 0.5}\n').message).toMatch(/"t" in parameters is \.nan/);
  });
  it('finite values still pass', () => {
    expect(parseMergeConfig('merge_method: slerp\nbase_model: a.gguf\nmodels: [{model: b.gguf}]\nparameters: {t: [0, 0.5, 1]}\n').parameters.t).toEqual([0, 0.5, 1]);
  });
});

describe('size limits: a config too large to be real is refused before it is parsed', () => {
  it(`a config over ${MAX_CONFIG_BYTES} bytes`, () => {
    const yaml = 'merge_method: linear\nmodels:\n' + '  - {model: a.gguf, parameters: {weight: 1}}\n'.repeat(Math.ceil(MAX_CONFIG_BYTES / 40));
    expect(refusal(yaml).message).toMatch(new RegExp(`^cfg\\.yaml is \\d+ bytes; a merge config may have at most ${MAX_CONFIG_BYTES} bytes`));
  });
  it(`more than ${MAX_MODELS} models`, () => {
    const yaml = 'merge_method: linear\nmodels:\n' + Array.from({ length: MAX_MODELS + 1 }, (_, i) => `  - {model: m${i}.gguf, parameters: {weight: 1}}\n`).join('');
    expect(refusal(yaml).message).toBe(`cfg.yaml: models lists ${MAX_MODELS + 1} models; at most ${MAX_MODELS} can be merged at once`);
  });
  it(`a gradient of more than ${MAX_LIST_ENTRIES} values`, () => {
    const yaml = `merge_method: slerp\nbase_model: a.gguf\nmodels: [{model: b.gguf}]\nparameters: {t: [${new Array(MAX_LIST_ENTRIES + 1).fill(0.5).join(',')}]}\n`;
    expect(refusal(yaml).message).toMatch(new RegExp(`"t" in parameters has ${MAX_LIST_ENTRIES + 1} entries; at most ${MAX_LIST_ENTRIES}`));
  });
});
