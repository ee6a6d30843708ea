import { describe, expect, it } from 'vitest';
import { createSchedulerHandler } from '../../../functions/scheduler/scheduler-handler.ts';
import { InMemoryJobStore } from '../../support/in-memory-job-store.ts';
import {
  InMemoryConcurrencySemaphore,
  InMemorySpendingBudget,
} from '../../support/in-memory-limits.ts';
import { aJob } from '../../support/job-fixtures.ts';
import { recordingExecutions } from '../../support/recording-executions.ts';
import { recordingLogger } from '../../support/recording-logger.ts';

describe('scheduler handler', () => {
  it('runs the scheduler once per event and logs the summary', async () => {
    const store = new InMemoryJobStore();
    store.seed(
      aJob({ jobId: 'job_D', deferred: true, deferredReason: 'scheduled', source: 'batch' }),
    );
    const { logger, lines } = recordingLogger();
    const executions = recordingExecutions();
    const handler = createSchedulerHandler({
      store,
      executions,
      semaphore: new InMemoryConcurrencySemaphore(1),
      budget: new InMemorySpendingBudget(null),
      clock: () => new Date('2026-06-01T00:00:00.000Z'),
      logger,
    });

    const summary = await handler({ source: 'aws.events', 'detail-type': 'Scheduled Event' });

    expect(executions.started).toEqual([{ jobId: 'job_D', executionName: 'job_D' }]);
    expect(summary.admissible).toEqual(['job_D']);
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
