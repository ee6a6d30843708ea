import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoJobStore } from '../../functions/shared/jobs/dynamo-job-store.ts';
import { DynamoConcurrencySemaphore } from '../../functions/shared/limits/dynamo-concurrency-semaphore.ts';
import { DynamoRequestRateLimiter } from '../../functions/shared/limits/dynamo-request-rate-limiter.ts';
import { DynamoSpendingBudget } from '../../functions/shared/limits/dynamo-spending-budget.ts';
import { type DynamoDbLocal, startDynamoDbLocal } from '../support/dynamodb-local.ts';
import { aJob } from '../support/job-fixtures.ts';

/**
 * The limits on DynamoDB Local: the conditions and transactions hold under parallel callers,
 * which mocks cannot show. Each test works on its own table.
 */

let dynamo: DynamoDbLocal;

beforeAll(async () => {
  dynamo = await startDynamoDbLocal();
});

afterAll(async () => {
  await dynamo?.stop();
});

async function freshTable(): Promise<string> {
  return dynamo.createJobsTable(`limits-${randomUUID()}`);
}

const jobIds = (count: number) => Array.from({ length: count }, (_, i) => `job_${i}`);

describe('DynamoConcurrencySemaphore on DynamoDB Local', () => {
  it('admits exactly `limit` of 20 parallel acquires', async () => {
    const tableName = await freshTable();
    const semaphore = new DynamoConcurrencySemaphore({
      client: dynamo.documentClient,
      tableName,
      limit: 2,
    });

    const results = await Promise.all(jobIds(20).map((jobId) => semaphore.acquire(jobId)));

    const admitted = jobIds(20).filter((_, i) => results[i]);
    expect(admitted).toHaveLength(2);
    expect(await semaphore.holders()).toEqual([...admitted].sort());
  });

  it('is idempotent per job, frees a slot on release, and empties cleanly', async () => {
    const tableName = await freshTable();
    const semaphore = new DynamoConcurrencySemaphore({
      client: dynamo.documentClient,
      tableName,
      limit: 2,
    });

    expect(await semaphore.acquire('job_a')).toBe(true);
    expect(await semaphore.acquire('job_b')).toBe(true);
    expect(await semaphore.acquire('job_a')).toBe(true);
    expect(await semaphore.acquire('job_c')).toBe(false);
    await semaphore.release('job_a');
    await semaphore.release('job_a');
    expect(await semaphore.acquire('job_c')).toBe(true);
    await semaphore.release('job_b');
    await semaphore.release('job_c');

    expect(await semaphore.holders()).toEqual([]);
    expect(await semaphore.acquire('job_d')).toBe(true);
  });

  it('lives next to jobs without showing up in job lists', async () => {
    const tableName = await freshTable();
    const semaphore = new DynamoConcurrencySemaphore({
      client: dynamo.documentClient,
      tableName,
      limit: 1,
    });
    const store = new DynamoJobStore({ client: dynamo.documentClient, tableName });
    await store.create(aJob({ jobId: 'job_listed' }));

    await semaphore.acquire('job_listed');
    const page = await store.list({ limit: 10 });

    expect(page.jobs.map((job) => job.jobId)).toEqual(['job_listed']);
  });
});

describe('DynamoRequestRateLimiter on DynamoDB Local', () => {
  it('lets exactly the limit through in one minute, and starts afresh the next minute', async () => {
    const tableName = await freshTable();
    const limiter = new DynamoRequestRateLimiter({
      client: dynamo.documentClient,
      tableName,
      requestsPerMinute: 5,
    });
    const minute = new Date('2026-03-01T10:05:10.000Z');

    const taken = await Promise.all(Array.from({ length: 12 }, () => limiter.tryTake(minute)));
    const nextMinute = await limiter.tryTake(new Date('2026-03-01T10:06:00.000Z'));

    expect(taken.filter(Boolean)).toHaveLength(5);
    expect(nextMinute).toBe(true);
  });
});

describe('DynamoSpendingBudget on DynamoDB Local', () => {
  const DAY = '2026-03-01';

  it('never lets parallel reservations exceed the limit: $1.20 covers exactly 3 of 12 jobs at $0.40', async () => {
    const tableName = await freshTable();
    const budget = new DynamoSpendingBudget({
      client: dynamo.documentClient,
      tableName,
      dailyLimitUsd: 1.2,
      // Twelve writers on one day item conflict a lot; give them room to get through.
      maxAttempts: 30,
    });

    const results = await Promise.all(jobIds(12).map((jobId) => budget.reserve(jobId, 0.4, DAY)));
    const usage = await budget.usage(DAY);

    expect(results.filter((result) => result === 'reserved')).toHaveLength(3);
    expect(usage).toMatchObject({ limitUsd: 1.2, reservedUsd: 1.2, spentUsd: 0, startedJobs: 3 });
  });

  it('counts a job reserved in parallel with itself once', async () => {
    const tableName = await freshTable();
    const budget = new DynamoSpendingBudget({
      client: dynamo.documentClient,
      tableName,
      dailyLimitUsd: 10,
      maxAttempts: 30,
    });

    const results = await Promise.all(
      Array.from({ length: 6 }, () => budget.reserve('job_same', 0.4, DAY)),
    );

    expect(results).toEqual(Array(6).fill('reserved'));
    expect(await budget.usage(DAY)).toMatchObject({ reservedUsd: 0.4, startedJobs: 1 });
  });

  it('settles each job once: release and spending repeated by retries change nothing', async () => {
    const tableName = await freshTable();
    const budget = new DynamoSpendingBudget({
      client: dynamo.documentClient,
      tableName,
      dailyLimitUsd: 1.2,
    });
    await budget.reserve('job_done', 0.4, DAY);
    await budget.reserve('job_failed', 0.4, DAY);
    await budget.reserve('job_third', 0.4, DAY);
    expect(await budget.reserve('job_fourth', 0.4, DAY)).toBe('exceeded');

    await budget.recordSpent('job_done', 0.4, '2026-03-02');
    await budget.recordSpent('job_done', 0.4, '2026-03-02');
    await budget.release('job_failed', DAY);
    await budget.release('job_failed', DAY);
    await budget.release('job_done', DAY);

    expect(await budget.usage(DAY)).toEqual({
      day: DAY,
      limitUsd: 1.2,
      reservedUsd: 0.4,
      spentUsd: 0.4,
      startedJobs: 3,
      completedJobs: 1,
      orphanedUsd: 0,
      orphanedJobs: 0,
    });
    expect((await budget.usage('2026-03-02')).spentUsd).toBe(0);
    // The failed job's share is free again: one more job fits, and no more.
    expect(await budget.reserve('job_fourth', 0.4, DAY)).toBe('reserved');
    expect(await budget.reserve('job_fifth', 0.4, DAY)).toBe('exceeded');
  });
});
