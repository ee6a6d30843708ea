import { defineConfig } from 'vitest/config';

// `npm run test:browser`: the web console in Debian's Chromium against the local stack.
export default defineConfig({
  test: {
    include: ['test/browser/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    env: {
      POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'SILENT',
      POWERTOOLS_METRICS_DISABLED: 'true',
      POWERTOOLS_TRACE_ENABLED: 'false',
    },
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // One browser and one local stack at a time: both are heavy on two cores.
    maxWorkers: 1,
  },
});
