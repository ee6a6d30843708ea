import { defineConfig } from 'vitest/config';

/** Integration files that mock a module (vi.mock) or change process-wide state while they run. */
const ISOLATED_INTEGRATION_FILES = [
  'test/integration/dynamodb-local-port.test.ts',
  'test/integration/local-emulators.test.ts',
];

export default defineConfig({
  test: {
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
    // Three files at a time on CI's two cores: most e2e files spend much of their time waiting on
    // their stack's clock, and a third file uses that time (a full run: 241 -> 209 s, the CPU
    // 160% -> 180% busy). Before the stacks shared one DynamoDB Local the run was CPU-bound, and a
    // third worker gained nothing.
    maxWorkers: 3,
    // Files are queued project by project in name order ('stack', 'stack-shared', 'unit'), longest first
    // within a project (by the last run's times, else by size): the suites that start emulators
    // and stacks begin at once, and the many quick files fill the gaps at the end.
    projects: [
      {
        extends: true,
        test: {
          name: 'stack',
          // A process of its own per file: a local stack starts once per process (its handlers'
          // environment and clients are the process's), and these two mock modules or PATH.
          include: ['test/e2e/**/*.test.ts', ...ISOLATED_INTEGRATION_FILES],
          globalSetup: ['test/global-dynamodb.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'stack-shared',
          // The other integration files start their own emulators and servers but no local
          // stack, and stop what they start: like the unit files they share a module graph per
          // worker (their runs went from 102 to 81 CPU-seconds, 56 to 44 s).
          include: ['test/integration/**/*.test.ts'],
          exclude: ISOLATED_INTEGRATION_FILES,
          isolate: false,
          globalSetup: ['test/global-dynamodb.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'test/infra/**/*.test.ts'],
          // One module graph per worker instead of one per file: these files start no process
          // and restore what they change (mocks, env, clock), so sharing modules is safe, and it
          // saves most of their time (test/unit 20 s -> 6 s, test/infra 27 s -> 13 s).
          isolate: false,
        },
      },
    ],
  },
});
