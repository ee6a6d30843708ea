import { describe, expect, it } from 'vitest';
import { JobNotFoundError, ValidationError } from '../../../functions/shared/jobs/job-errors.ts';
import { createRecordFailureHandler } from '../../../functions/tasks/record-failure.ts';
import { InMemoryJobStore } from '../../support/in-memory-job-store.ts';
import { inMemoryTaskLimits } from '../../support/in-memory-limits.ts';
import { aJob } from '../../support/job-fixtures.ts';
import { recordingExecutions } from '../../support/recording-executions.ts';

const at = new Date('2026-03-01T10:00:00.000Z');

function setup() {
  const store = new InMemoryJobStore({ now: () => at });
  const handler = createRecordFailureHandler({
    store,
    clock: () => at,
    limits: inMemoryTaskLimits(),
    executionsOf: () => recordingExecutions(),
  });
  return { store, handler };
}

const rejectedCatch = {
  Error: 'ProviderRejectedError',
  Cause: JSON.stringify({
    errorType: 'ProviderRejectedError',
    errorMessage: 'create: rejected by the provider (400 moderation_blocked): Blocked.',
    trace: ['ProviderRejectedError: ...'],
  }),
};

describe('record-failure', () => {
  it('records the job FAILED with the provider code, message and retryability', async () => {
    const { store, handler } = setup();
    store.seed(aJob({ status: 'IN_PROGRESS' }));

    const result = await handler({ jobId: aJob().jobId, error: rejectedCatch });

    expect(result).toEqual({
      jobId: aJob().jobId,
      status: 'FAILED',
      code: 'moderation_blocked',
      resumed: false,
    });
    expect(await store.get(aJob().jobId)).toMatchObject({
      status: 'FAILED',
      updatedAt: at.toISOString(),
      error: {
        code: 'moderation_blocked',
        message: 'create: rejected by the provider (400 moderation_blocked): Blocked.',
        retryable: false,
      },
    });
  });

  it('leaves a COMPLETED job as it is and reports its status', async () => {
    const { store, handler } = setup();
    store.seed(aJob({ status: 'COMPLETED' }));

    const result = await handler({ jobId: aJob().jobId, error: rejectedCatch });

    expect(result.status).toBe('COMPLETED');
    expect((await store.get(aJob().jobId))?.error).toBeUndefined();
  });

  it('keeps the first failure of a job that already FAILED', async () => {
    const { store, handler } = setup();
    const first = { code: 'video_generation_failed', message: 'first', retryable: true };
    store.seed(aJob({ status: 'FAILED', error: first }));

    await handler({ jobId: aJob().jobId, error: rejectedCatch });

    expect((await store.get(aJob().jobId))?.error).toEqual(first);
  });

  it('fails with JobNotFoundError for an unknown job', async () => {
    const { handler } = setup();

    const result = handler({ jobId: 'job_missing', error: rejectedCatch });

    await expect(result).rejects.toThrow(JobNotFoundError);
  });

  it('rejects input without a job id', async () => {
    const { handler } = setup();

    const result = handler({ error: rejectedCatch });

    await expect(result).rejects.toThrow(ValidationError);
  });

  it('announces video.failed of the job as recorded, with its webhook', async () => {
    const store = new InMemoryJobStore({ now: () => at });
    const announced: [string, string, string][] = [];
    const handler = createRecordFailureHandler({
      store,
      clock: () => at,
      limits: inMemoryTaskLimits(),
      executionsOf: () => recordingExecutions(),
      notify: async (job, event) => void announced.push([job.jobId, job.status, event]),
    });
    store.seed(
      aJob({
        status: 'IN_PROGRESS',
        webhook: { url: 'https://hooks.example.com/x', events: ['video.failed'] },
      }),
    );

    await handler({ jobId: aJob().jobId, error: rejectedCatch });

    expect(announced).toEqual([[aJob().jobId, 'FAILED', 'video.failed']]);
  });

  it('announces nothing when the job was cancelled while its failure was being recorded', async () => {
    const store = new InMemoryJobStore({ now: () => at });
    const announced: string[] = [];
    const handler = createRecordFailureHandler({
      store,
      clock: () => at,
      limits: inMemoryTaskLimits(),
      executionsOf: () => recordingExecutions(),
      notify: async (job) => void announced.push(job.status),
    });
    const job = aJob({
      status: 'IN_PROGRESS',
      webhook: { url: 'https://hooks.example.com/x', events: ['video.failed'] },
    });
    store.seed(job);
    // The cancel lands after the handler read the job: recordFailed finds it terminal.
    const recordFailed = store.recordFailed.bind(store);
    store.recordFailed = async (jobId, error, when) => {
      store.seed({ ...job, status: 'CANCELLED', cancelledAt: when });
      return recordFailed(jobId, error, when);
    };

    await handler({ jobId: job.jobId, error: rejectedCatch });

    expect((await store.get(job.jobId))?.status).toBe('CANCELLED');
    expect(announced).toEqual([]);
  });
});
