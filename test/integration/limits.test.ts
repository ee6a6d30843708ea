import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoJobStore } from '../../functions/shared/jobs/dynamo-job-store.ts';
import { DynamoConcurrencySemaphore } from '../../functions/shared/limits/dynamo-concurrency-semaphore.ts';
import { DynamoRequestRateLimiter } from '../../functions/shared/limits/dynamo-request-rate-limiter.ts';
import { DynamoSpendingBudget } from '../../functions/shared/limits/dynamo-spending-budget.ts';
import { type DynamoDbLocal, startDynamoDbLocal } from '../support/dynamodb-local.ts';
import { aJob } from '../support/job-fixtures.ts';
import { limitsContract } from '../support/limits-contract.ts';

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

// The same contract the in-memory fakes pass (test/unit/limits/in-memory-limits-contract.test.ts),
// here on the DynamoDB adapters: conditions and transactions under parallel callers.
limitsContract('DynamoDB Local', () => ({
  semaphore: async (limit) =>
    new DynamoConcurrencySemaphore({
      client: dynamo.documents,
      tableName: await freshTable(),
      limit,
    }),
  rateLimiter: async (requestsPerMinute) =>
    new DynamoRequestRateLimiter({
      client: dynamo.documents,
      tableName: await freshTable(),
      requestsPerMinute,
    }),
  budget: async (dailyLimitUsd) =>
    new DynamoSpendingBudget({
      client: dynamo.documents,
      tableName: await freshTable(),
      dailyLimitUsd,
      // Twelve writers on one day item conflict a lot; give them room to get through.
      maxAttempts: 30,
    }),
}));

describe('DynamoConcurrencySemaphore on DynamoDB Local', () => {
  it('lives next to jobs without showing up in job lists', async () => {
    const tableName = await freshTable();
    const semaphore = new DynamoConcurrencySemaphore({
      client: dynamo.documents,
      tableName,
      limit: 1,
    });
    const store = new DynamoJobStore({ client: dynamo.documents, tableName });
    await store.create(aJob({ jobId: 'job_listed' }));

    await semaphore.acquire('job_listed');
    const page = await store.list({ limit: 10 });

    expect(page.jobs.map((job) => job.jobId)).toEqual(['job_listed']);
  });
});
