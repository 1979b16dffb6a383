/**
 * The unit tests Stryker runs for `npm run mutate` (tools/mutate/run.mjs, stryker.config.json). Each
 * area of mutated code is tested by its own few files (CHORUS_MUTATE_TESTS, a comma-separated list
 * set by tools/mutate/run.mjs): a "static" mutant (one in a module-level constant such as a regular
 * expression or a method's metadata) runs every test of this config, so a short list keeps those
 * runs seconds long rather than the whole suite's. Stryker copies the repository into
 * .stryker-tmp/, where ../shared (the real model) is not beside it; none of the listed files needs it.
 * A standalone config rather than mergeConfig(base, …), which would concatenate `include` with the
 * base's tests/unit/**.
 */
import { defineConfig } from 'vitest/config';

const listed = process.env.CHORUS_MUTATE_TESTS?.split(',').filter((f) => f !== '');

export default defineConfig({
  test: {
    include: listed && listed.length > 0 ? listed : ['tests/unit/**/*.test.ts'],
    environment: 'node',
    testTimeout: 60_000,
  },
});
