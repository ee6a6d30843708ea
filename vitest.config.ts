import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The browser tests need Chromium: `npm run test:browser` (vitest.browser.config.ts).
    exclude: ['test/browser/**', '**/node_modules/**'],
    setupFiles: ['test/setup.ts'],
    // Handlers log through Powertools; tests that check log lines inject their own logger.
    // No EMF lines on stdout, and no tracing even where AWS_EXECUTION_ENV is set (ECS runners).
    env: {
      POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'SILENT',
      POWERTOOLS_METRICS_DISABLED: 'true',
      POWERTOOLS_TRACE_ENABLED: 'false',
    },
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // Integration suites start real servers; two cores is all CI has.
    maxWorkers: 2,
  },
});
