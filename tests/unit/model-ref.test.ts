import { describe, expect, it } from 'vitest';
import { modelStem, resolveModelRef } from '../../src/app/model-ref.ts';
import { decodeSetup, encodeSetup } from '../../src/lib/settings/url.ts';

const HASH = '5f1344b8eb825ef05d379e0d085e63c01b9a83604ccb0d68495bee103bc3043e';
const models = [
  { id: 'builtin:arithmetic-specialist', name: 'arithmetic-specialist', sha256: HASH },
  { id: 'file:stories260K.gguf', name: 'stories260K.gguf' },
];

describe('links resolve models by id, content hash or name (src/app/model-ref.ts)', () => {
  it('the README example "stories260K" is the imported file:stories260K.gguf', () => {
    expect(resolveModelRef('stories260K', models)).toBe('file:stories260K.gguf');
    expect(resolveModelRef('STORIES260K.GGUF', models)).toBe('file:stories260K.gguf');
    expect(resolveModelRef('file:stories260K.gguf', models)).toBe('file:stories260K.gguf');
  });
  it('a sha256 names the file with that content, whatever it is called; an unknown hash names nothing', () => {
    expect(resolveModelRef(`sha256:${HASH}`, models)).toBe('builtin:arithmetic-specialist');
    expect(resolveModelRef(HASH.toUpperCase(), models)).toBe('builtin:arithmetic-specialist');
    expect(resolveModelRef(`sha256:${'0'.repeat(64)}`, models)).toBeUndefined();
  });
  it('a name from another source prefix still matches; nothing else does', () => {
    expect(resolveModelRef('builtin:stories260K', models)).toBe('file:stories260K.gguf');
    expect(resolveModelRef('stories15M', models)).toBeUndefined();
    expect(resolveModelRef('', models)).toBeUndefined();
    expect(modelStem('file:Foo.GGUF')).toBe('foo');
  });
});

describe('the data-set item in the link', () => {
  it('round-trips, and a malformed id is dropped with a warning', () => {
    const { setup } = decodeSetup('v=1&m=single&a=x@0&p=Q%3A+1+%2B+1+%3D+%3F%0AA%3A&i=arithmetic-dev-3');
    expect(setup.item).toBe('arithmetic-dev-3');
    expect(decodeSetup(encodeSetup(setup)).setup.item).toBe('arithmetic-dev-3');
    const bad = decodeSetup('v=1&m=single&a=x@0&i=../../etc');
    expect(bad.setup.item).toBeUndefined();
    expect(bad.warnings.join(' ')).toMatch(/not a data-set item id/);
  });
});
