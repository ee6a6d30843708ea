import { randomUUID } from 'node:crypto';
import { PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
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

describe('DynamoSpendingBudget on DynamoDB Local', () => {
  const DAY = '2026-03-01';

  async function budgetOn(tableName: string) {
    return new DynamoSpendingBudget({ client: dynamo.documents, tableName, dailyLimitUsd: 10 });
  }

  async function clientItems(tableName: string) {
    const output = await dynamo.documents.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: 'pk = :day',
        ExpressionAttributeValues: { ':day': `BUDGET#CLIENTS#${DAY}` },
        ConsistentRead: true,
      }),
    );
    return output.Items ?? [];
  }

  it('settles records written before clients had budgets, moving no client', async () => {
    const tableName = await freshTable();
    const budget = await budgetOn(tableName);
    // Two reservations as the budget wrote them before it knew clients, with their day.
    const put = (Item: Record<string, unknown>) =>
      dynamo.documents.send(new PutCommand({ TableName: tableName, Item }));
    for (const jobId of ['job_old_failed', 'job_old_done']) {
      await put({
        pk: `BUDGET#JOB#${jobId}`,
        sk: 'BUDGET',
        day: DAY,
        state: 'reserved',
        reservedMicroUsd: 400_000,
        expiresAt: 1_780_000_000,
      });
    }
    await put({
      pk: `BUDGET#DAY#${DAY}`,
      sk: 'BUDGET',
      committedMicroUsd: 800_000,
      reservedMicroUsd: 800_000,
      startedJobs: 2,
    });

    await budget.release('job_old_failed', DAY);
    await budget.release('job_old_failed', DAY);
    await budget.recordSpent('job_old_done', 0.5, DAY);
    await budget.recordSpent('job_old_done', 0.5, DAY);

    expect(await budget.usage(DAY)).toMatchObject({
      reservedUsd: 0,
      spentUsd: 0.5,
      startedJobs: 2,
      completedJobs: 1,
    });
    expect(await clientItems(tableName)).toEqual([]);
  });

  it('keeps every client of a day in one partition, with the limit its reservation ran under', async () => {
    const tableName = await freshTable();
    const budget = await budgetOn(tableName);

    await budget.reserve('job_a', 0.4, DAY, { name: 'alice' });
    await budget.reserve('job_b', 0.4, DAY, { name: 'bob', dailyBudgetUsd: 2 });

    expect(await clientItems(tableName)).toEqual([
      {
        pk: `BUDGET#CLIENTS#${DAY}`,
        sk: 'CLIENT#alice',
        committedMicroUsd: 400_000,
        reservedMicroUsd: 400_000,
        startedJobs: 1,
      },
      {
        pk: `BUDGET#CLIENTS#${DAY}`,
        sk: 'CLIENT#bob',
        committedMicroUsd: 400_000,
        reservedMicroUsd: 400_000,
        startedJobs: 1,
        limitMicroUsd: 2_000_000,
      },
    ]);
  });

  it('lives next to jobs without showing up in job lists', async () => {
    const tableName = await freshTable();
    const budget = await budgetOn(tableName);
    const store = new DynamoJobStore({ client: dynamo.documents, tableName });
    await store.create(aJob({ jobId: 'job_listed', client: 'bob' }));

    await budget.reserve('job_listed', 0.4, DAY, { name: 'bob', dailyBudgetUsd: 2 });
    const page = await store.list({ client: 'bob', limit: 10 });

    expect(page.jobs.map((job) => job.jobId)).toEqual(['job_listed']);
  });
});
