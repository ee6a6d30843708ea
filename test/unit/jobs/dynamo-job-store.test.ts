import { DynamoDBClient, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { DynamoJobStore } from '../../../functions/shared/jobs/dynamo-job-store.ts';
import { aJob } from '../../support/job-fixtures.ts';

// What DynamoJobStore does is held to the JobStore contract on DynamoDB Local
// (test/integration/job-store.test.ts). Here, on a mocked client, only what that cannot show:
// writes that must be one transaction (atomic, so no crash leaves half of them), reads that must
// be consistent (DynamoDB Local always is; AWS is not by default), answers DynamoDB Local does
// not give (a transaction conflict, throttling, a count query cut into pages).

const TABLE = 'jobs-table';
const NOW = new Date('2026-01-02T03:05:00.000Z');

const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const dynamo = mockClient(client);
const store = new DynamoJobStore({ client, tableName: TABLE, now: () => NOW });

const job = aJob();
const throttled = () => Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });

beforeEach(() => {
  dynamo.reset();
});

describe('atomic writes', () => {
  it('writes a job and its idempotency record in one transaction, each only if absent', async () => {
    dynamo.on(TransactWriteCommand).resolves({});

    await store.create(job, 'api:key-1');

    const items = dynamo.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems ?? [];
    expect(items.map((item) => [item.Put?.Item?.pk, item.Put?.ConditionExpression])).toEqual([
      [`JOB#${job.jobId}`, 'attribute_not_exists(pk)'],
      ['IDEMPOTENCY#api:key-1', 'attribute_not_exists(pk)'],
    ]);
  });

  it('records a provider job on the job and claims it in the ledger in one transaction', async () => {
    dynamo.on(TransactWriteCommand).resolves({});

    await store.recordProviderJob(job.jobId, {
      providerJobId: 'video_123',
      providerStatus: 'queued',
      progress: 0,
    });

    const items = dynamo.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems ?? [];
    expect(items.map((item) => item.Put?.Item?.pk ?? item.Update?.Key?.pk)).toEqual([
      'PROVIDERJOB#video_123',
      `JOB#${job.jobId}`,
    ]);
    expect(dynamo).not.toHaveReceivedCommand(UpdateCommand);
  });
});

describe('answers DynamoDB Local does not give', () => {
  it('reads a job consistently (DynamoDB Local always does; AWS only when asked)', async () => {
    dynamo.on(GetCommand).resolves({ Item: { pk: `JOB#${job.jobId}`, sk: 'JOB', ...job } });

    await expect(store.get(job.jobId)).resolves.toEqual(job);

    expect(dynamo).toHaveReceivedCommandWith(GetCommand, {
      Key: { pk: `JOB#${job.jobId}`, sk: 'JOB' },
      ConsistentRead: true,
    });
  });

  it('reads the key record when a transaction conflict on it came without one', async () => {
    dynamo.on(TransactWriteCommand).rejects(
      new TransactionCanceledException({
        message: 'Transaction cancelled',
        $metadata: {},
        CancellationReasons: [{ Code: 'None' }, { Code: 'TransactionConflict' }],
      }),
    );
    dynamo
      .on(GetCommand, { Key: { pk: 'IDEMPOTENCY#k', sk: 'IDEMPOTENCY' } })
      .resolves({ Item: { jobId: 'job_OTHER', requestHash: job.requestHash } });
    dynamo
      .on(GetCommand, { Key: { pk: 'JOB#job_OTHER', sk: 'JOB' } })
      .resolves({ Item: aJob({ jobId: 'job_OTHER' }) });

    const result = await store.create(job, 'k');

    expect(result).toEqual({ job: aJob({ jobId: 'job_OTHER' }), created: false });
  });

  it('passes errors other than a refused condition through unchanged', async () => {
    const error = throttled();
    dynamo.on(UpdateCommand).rejects(error);
    const at = NOW.toISOString();

    await expect(
      store.recordFailed(job.jobId, { code: 'X', message: 'm', retryable: false }, at),
    ).rejects.toBe(error);
    await expect(store.claimDeferred(job.jobId, job.jobId, at)).rejects.toBe(error);
    await expect(store.markStarted(job.jobId, at)).rejects.toBe(error);
  });

  it("counts a client's waiting jobs over pages until max, asking each page for no more than is left", async () => {
    const page = (count: number) => ({
      Count: count,
      LastEvaluatedKey: { pk: `JOB#k${count}`, sk: 'JOB' },
    });
    dynamo
      .on(QueryCommand)
      .resolvesOnce(page(3))
      .resolvesOnce(page(2))
      .resolvesOnce(page(2))
      .resolves(page(9));

    const counted = await store.countWaiting('bob', { max: 7 });

    expect(counted).toBe(7);
    const asked = dynamo.commandCalls(QueryCommand).map((call) => call.args[0].input);
    expect(asked.map((input) => [input.Limit, input.ExclusiveStartKey?.pk])).toEqual([
      [7, undefined],
      [4, 'JOB#k3'],
      [2, 'JOB#k2'],
    ]);
  });
});
