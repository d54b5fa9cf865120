import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One private temp folder for the whole run, removed at its end (test/global-tmp.ts).
    globalSetup: ['./test/global-tmp.ts'],
    reporters: ['default', './test/summary-reporter.ts'],
    // Lab tests share one set of namespaces and one address range, so test files run one after another.
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 600_000,
  },
});
