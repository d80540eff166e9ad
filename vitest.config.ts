import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // 2-core machines: two workers, one per core
    pool: 'forks',
    maxWorkers: 2,
    // the JSON report lets .ci/run print a plain 'N passed, N failed' closing line
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest/report.json' },
  },
});
