import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    // Handlers log through Powertools; tests that check log lines inject their own logger.
    env: { POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'SILENT' },
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // Integration suites start real servers; two cores is all CI has.
    maxWorkers: 2,
  },
});
