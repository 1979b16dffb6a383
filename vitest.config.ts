import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/unit/**/*.test.ts'],
    environment: 'node',
    testTimeout: 60_000,
    // Vitest's default is one worker fewer than the cores: one on the 2-core CI machines, where many
    // files wait on child processes (sandboxes, llama.cpp, browsers). Two workers ran the suite with
    // 1.7× parallelism (tests 523 s in 305 s, under load) and all files passed.
    maxWorkers: 2,
  },
});
