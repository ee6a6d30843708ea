import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../../functions/shared/config/plain-config.ts';
import { lazyHandler } from '../../../functions/shared/lazy-handler.ts';
import { waitSecondsFor } from '../../../functions/tasks/task-runtime.ts';
import { aJob } from '../../support/job-fixtures.ts';

describe('lazyHandler', () => {
  it('builds its dependencies once, on the first invocation', async () => {
    let builds = 0;
    const handler = lazyHandler(() => {
      builds += 1;
      return async (event: unknown) => event;
    });

    await handler('a');
    const second = await handler('b');

    expect(builds).toBe(1);
    expect(second).toBe('b');
  });

  it('tries again on the next invocation after a failed build', async () => {
    let attempts = 0;
    const handler = lazyHandler(() => {
      attempts += 1;
      if (attempts === 1) throw new ConfigurationError('JOBS_TABLE_NAME is required');
      return async () => 'ok';
    });

    await expect(handler({})).rejects.toThrow(ConfigurationError);
    const result = await handler({});

    expect(result).toBe('ok');
  });
});

describe('waitSecondsFor', () => {
  it('measures elapsed time from the create attempt and the rate since the last poll', () => {
    const job = aJob({
      status: 'IN_PROGRESS',
      createAttemptedAt: '2026-03-01T10:00:00.000Z',
      updatedAt: '2026-03-01T10:00:40.000Z',
      providerJobId: 'video_1',
      progress: 40,
    });

    // 40 -> 60 in 20 s: 40 points left take 40 s; wait until just after that.
    const wait = waitSecondsFor(
      job,
      { progress: 60, pollCount: 3 },
      new Date('2026-03-01T10:01:00.000Z'),
    );

    expect(wait).toBe(42);
  });
});
