import { randomUUID } from 'node:crypto';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoJobStore } from '../../functions/shared/jobs/dynamo-job-store.ts';
import { DynamoClientRateLimiter } from '../../functions/shared/limits/dynamo-client-rate-limiter.ts';
import { type DynamoDbLocal, startDynamoDbLocal } from '../support/dynamodb-local.ts';
import { aJob } from '../support/job-fixtures.ts';

/**
 * Each client's request counter on DynamoDB Local: the condition holds under parallel callers
 * (every API function instance draws on the same allowance), which mocks cannot show.
 */

let dynamo: DynamoDbLocal;

beforeAll(async () => {
  dynamo = await startDynamoDbLocal();
});

afterAll(async () => {
  await dynamo?.stop();
});

const WINDOW_START = Date.parse('2026-03-04T12:00:00.000Z');

async function limiterOnFreshTable(requestsPerWindow: number) {
  const tableName = await dynamo.createJobsTable(`client-rate-${randomUUID()}`);
  const limiter = new DynamoClientRateLimiter({
    client: dynamo.documents,
    tableName,
    rate: { requestsPerWindow, windowSeconds: 60 },
  });
  return { tableName, limiter };
}

describe('DynamoClientRateLimiter on DynamoDB Local', () => {
  it('lets exactly the limit through among parallel requests of one client', async () => {
    const { limiter } = await limiterOnFreshTable(3);
    const at = new Date(WINDOW_START + 5_000);

    const answers = await Promise.all(Array.from({ length: 10 }, () => limiter.take('bob', at)));

    expect(answers.filter((answer) => answer.allowed)).toHaveLength(3);
    expect(answers.filter((answer) => !answer.allowed)).toEqual(
      Array.from({ length: 7 }, () => ({ allowed: false, retryAfterSeconds: 55 })),
    );
  });

  it('serves another client in full while one is over its rate, and the next window afresh', async () => {
    const { limiter } = await limiterOnFreshTable(2);
    const at = new Date(WINDOW_START + 1_000);
    for (let request = 0; request < 3; request += 1) await limiter.take('bob', at);

    const alice = await Promise.all([limiter.take('alice', at), limiter.take('alice', at)]);
    const bobNextWindow = await limiter.take('bob', new Date(WINDOW_START + 60_000));

    expect(alice).toEqual([{ allowed: true }, { allowed: true }]);
    expect(bobNextWindow).toEqual({ allowed: true });
  });

  it('keeps the count on an item that expires an hour after its window and is no job', async () => {
    const { tableName, limiter } = await limiterOnFreshTable(2);
    const store = new DynamoJobStore({ client: dynamo.documents, tableName });
    await store.create(aJob({ jobId: 'job_listed' }));

    await limiter.take('bob', new Date(WINDOW_START + 1_000));
    await limiter.take('bob', new Date(WINDOW_START + 2_000));

    const item = await DynamoDBDocumentClient.from(dynamo.client).send(
      new GetCommand({
        TableName: tableName,
        Key: { pk: 'LIMIT#client-requests#bob#2026-03-04T12:00:00', sk: 'LIMIT' },
      }),
    );
    expect(item.Item).toMatchObject({ count: 2, expiresAt: (WINDOW_START + 60_000) / 1000 + 3600 });
    const page = await store.list({ limit: 10 });
    expect(page.jobs.map((job) => job.jobId)).toEqual(['job_listed']);
  });
});
