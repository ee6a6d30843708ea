import { describe, expect, it } from 'vitest';
import { createSchedulerHandler } from '../../../functions/scheduler/scheduler-handler.ts';
import { InMemoryJobStore } from '../../support/in-memory-job-store.ts';
import { aJob } from '../../support/job-fixtures.ts';
import { recordingLogger } from '../../support/recording-logger.ts';

describe('scheduler handler', () => {
  it('runs the scheduler once per event and logs the summary', async () => {
    const store = new InMemoryJobStore();
    store.seed(aJob({ jobId: 'job_D', deferred: true, source: 'batch' }));
    const { logger, lines } = recordingLogger();
    const started: string[] = [];
    const handler = createSchedulerHandler({
      store,
      executions: {
        state: async () => 'NOT_FOUND',
        start: async (_jobId, name) => {
          started.push(name);
          return 'started';
        },
      },
      semaphore: {
        limit: 1,
        acquire: async () => true,
        release: async () => false,
        holders: async () => [],
      },
      budget: {
        reserve: async () => 'reserved',
        release: async () => {},
        recordSpent: async () => {},
        recordOrphan: async () => false,
        usage: async (day) => ({ day, limitUsd: null, reservedUsd: 0, spentUsd: 0 }),
        clientUsage: async (client, day) => {
          throw new Error(`clientUsage(${client}, ${day}): not used`);
        },
      },
      clock: () => new Date('2026-06-01T00:00:00.000Z'),
      logger,
    });

    const summary = await handler({ source: 'aws.events', 'detail-type': 'Scheduled Event' });

    expect(started).toEqual(['job_D']);
    expect(summary.started).toEqual([{ jobId: 'job_D', executionName: 'job_D' }]);
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 'info',
        message: 'Scheduler run',
        extra: [expect.objectContaining({ started: 1, freeSlots: 1 })],
      }),
    );
  });
});
