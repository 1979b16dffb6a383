/**
 * The unit tests Stryker runs for `npm run mutate` (tools/mutate/run.mjs, stryker.config.json). Each
 * area of mutated code is tested by its own few files (CHORUS_MUTATE_TESTS, a comma-separated list
 * set by tools/mutate/run.mjs): a "static" mutant (one in a module-level constant such as a regular
 * expression or a method's metadata) runs every test of this config, so a short list keeps those
 * runs seconds long rather than the whole suite's. Stryker copies the repository into
 * .stryker-tmp/sandbox-…/; tools/mutate/run.mjs links ../shared (the real model) beside those copies.
 * A standalone config rather than mergeConfig(base, …), which would concatenate `include` with the
 * base's tests/unit/**.
 */
import { defineConfig } from 'vitest/config';

const listed = process.env.CHORUS_MUTATE_TESTS?.split(',').filter((f) => f !== '');

export default defineConfig({
  test: {
    include: listed && listed.length > 0 ? listed : ['tests/unit/**/*.test.ts'],
    environment: 'node',
    // Coverage instrumentation and a busy machine make the F16 kernel tests several times slower: a
    // dry run on a loaded 2-core VM timed out at 60 s.
    testTimeout: 240_000,
  },
});
