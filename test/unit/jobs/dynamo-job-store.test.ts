import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { DynamoJobStore } from '../../../functions/shared/jobs/dynamo-job-store.ts';
import {
  IdempotencyConflictError,
  JobAlreadyExistsError,
  JobAlreadyStartedError,
  JobAlreadyTerminalError,
  JobNotFoundError,
  ProviderJobClaimedError,
  ValidationError,
} from '../../../functions/shared/jobs/job-errors.ts';
import { encodeCursor } from '../../../functions/shared/jobs/list-cursor.ts';
import { aJob } from '../../support/job-fixtures.ts';

const TABLE = 'jobs-table';
// Built from the transition table: a job may be written while QUEUED or IN_PROGRESS, never after.
const NOT_TERMINAL = 'attribute_exists(pk) AND #status IN (:status0, :status1)';
const NOW = new Date('2026-01-02T03:05:00.000Z');

const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const dynamo = mockClient(client);
const store = new DynamoJobStore({ client, tableName: TABLE, now: () => NOW });

const job = aJob();
const jobItem = {
  pk: `JOB#${job.jobId}`,
  sk: 'JOB',
  gsi1pk: 'STATUS#QUEUED',
  gsi1sk: `${job.createdAt}#${job.jobId}`,
  gsi2pk: 'JOBS',
  gsi2sk: `${job.createdAt}#${job.jobId}`,
  gsi3pk: 'CLIENT#default',
  gsi3sk: `${job.createdAt}#${job.jobId}`,
  ...job,
};

/**
 * A failed condition as DynamoDB answers a write that asked for the item (ALL_OLD): the item as
 * it stood, in DynamoDB's own types (lib-dynamodb leaves errors as they come); none if missing.
 */
function conditionFailed(item?: Record<string, unknown>) {
  return new ConditionalCheckFailedException({
    message: 'The conditional request failed',
    $metadata: {},
    ...(item === undefined ? {} : { Item: dynamoItem(item) }),
  });
}

/** A cancelled transaction: per item, its reason code and the item it was refused by. */
function transactionCanceled(...reasons: (string | [string, Record<string, unknown>])[]) {
  return new TransactionCanceledException({
    message: 'Transaction cancelled',
    $metadata: {},
    CancellationReasons: reasons.map((reason) =>
      typeof reason === 'string'
        ? { Code: reason }
        : { Code: reason[0], Item: dynamoItem(reason[1]) },
    ),
  });
}

const dynamoItem = (item: Record<string, unknown>) =>
  marshall(item, { removeUndefinedValues: true });

const ALL_OLD = { ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } as const;

/** The byQueue index's attributes, as every write that takes a job out of the queue names them. */
const QUEUE_NAMES = { '#queuePk': 'gsi5pk', '#queueSk': 'gsi5sk' };

beforeEach(() => {
  dynamo.reset();
});

describe('create', () => {
  it('puts the job with its index attributes and a condition against overwriting', async () => {
    dynamo.on(PutCommand).resolves({});

    const result = await store.create(job);

    expect(result).toEqual({ job, created: true });
    expect(dynamo).toHaveReceivedCommandWith(PutCommand, {
      TableName: TABLE,
      Item: jobItem,
      ConditionExpression: 'attribute_not_exists(pk)',
      ...ALL_OLD,
    });
  });

  it('writes the job and the idempotency record in one transaction, both conditional', async () => {
    dynamo.on(TransactWriteCommand).resolves({});

    const result = await store.create(job, 'api:key-1');

    expect(result).toEqual({ job, created: true });
    expect(dynamo).toHaveReceivedCommandWith(TransactWriteCommand, {
      TransactItems: [
        {
          Put: { TableName: TABLE, Item: jobItem, ConditionExpression: 'attribute_not_exists(pk)' },
        },
        {
          Put: {
            TableName: TABLE,
            Item: {
              pk: 'IDEMPOTENCY#api:key-1',
              sk: 'IDEMPOTENCY',
              jobId: job.jobId,
              requestHash: job.requestHash,
              createdAt: job.createdAt,
            },
            ConditionExpression: 'attribute_not_exists(pk)',
            ...ALL_OLD,
          },
        },
      ],
    });
  });

  it('returns the existing job when the key was used with the same request, read from the refusal', async () => {
    const existing = aJob({ jobId: 'job_EXISTING', status: 'IN_PROGRESS' });
    dynamo
      .on(TransactWriteCommand)
      .rejects(
        transactionCanceled('None', [
          'ConditionalCheckFailed',
          { jobId: 'job_EXISTING', requestHash: job.requestHash },
        ]),
      );
    dynamo.on(GetCommand, { Key: { pk: 'JOB#job_EXISTING', sk: 'JOB' } }).resolves({
      Item: { pk: 'JOB#job_EXISTING', sk: 'JOB', gsi1pk: 'STATUS#IN_PROGRESS', ...existing },
    });

    const result = await store.create(job, 'api:key-1');

    expect(result).toEqual({ job: existing, created: false });
    // The key's record came with the refusal: only the job it names is read.
    expect(dynamo).toHaveReceivedCommandTimes(GetCommand, 1);
    expect(dynamo).toHaveReceivedCommandWith(GetCommand, {
      Key: { pk: 'JOB#job_EXISTING', sk: 'JOB' },
      ConsistentRead: true,
    });
  });

  it('reads the key record when a transaction conflict on it came without one', async () => {
    dynamo.on(TransactWriteCommand).rejects(transactionCanceled('None', 'TransactionConflict'));
    dynamo
      .on(GetCommand, { Key: { pk: 'IDEMPOTENCY#k', sk: 'IDEMPOTENCY' } })
      .resolves({ Item: { jobId: 'job_OTHER', requestHash: job.requestHash } });
    dynamo
      .on(GetCommand, { Key: { pk: 'JOB#job_OTHER', sk: 'JOB' } })
      .resolves({ Item: aJob({ jobId: 'job_OTHER' }) });

    const result = await store.create(job, 'k');

    expect(result.created).toBe(false);
    expect(result.job.jobId).toBe('job_OTHER');
  });

  it('throws IdempotencyConflictError when the key was used with a different request', async () => {
    dynamo
      .on(TransactWriteCommand)
      .rejects(
        transactionCanceled('None', [
          'ConditionalCheckFailed',
          { jobId: 'job_OTHER', requestHash: 'b'.repeat(64) },
        ]),
      );

    await expect(store.create(job, 'api:key-1')).rejects.toBeInstanceOf(IdempotencyConflictError);
  });

  it('throws JobAlreadyExistsError when only the job id collides', async () => {
    dynamo.on(TransactWriteCommand).rejects(transactionCanceled('ConditionalCheckFailed', 'None'));

    await expect(store.create(job, 'api:key-1')).rejects.toBeInstanceOf(JobAlreadyExistsError);
  });

  it('throws JobAlreadyExistsError for a colliding id without a key', async () => {
    dynamo.on(PutCommand).rejects(conditionFailed({ ...jobItem, requestHash: 'c'.repeat(64) }));

    await expect(store.create(job)).rejects.toBeInstanceOf(JobAlreadyExistsError);
  });

  it('treats its own earlier write of the same job (an SDK retry) as created, without a read', async () => {
    dynamo.on(PutCommand).rejects(conditionFailed(jobItem));

    await expect(store.create(job)).resolves.toEqual({ job, created: true });
    expect(dynamo).toHaveReceivedCommandTimes(GetCommand, 0);
  });
});

describe('get', () => {
  it('reads consistently and strips the key attributes', async () => {
    dynamo.on(GetCommand).resolves({ Item: jobItem });

    const found = await store.get(job.jobId);

    expect(found).toEqual(job);
    expect(dynamo).toHaveReceivedCommandWith(GetCommand, {
      TableName: TABLE,
      Key: { pk: `JOB#${job.jobId}`, sk: 'JOB' },
      ConsistentRead: true,
    });
  });

  it('returns undefined for an unknown job', async () => {
    dynamo.on(GetCommand).resolves({});

    await expect(store.get('job_MISSING')).resolves.toBeUndefined();
  });
});

describe('list', () => {
  it('queries byCreatedAt newest first when no status is given', async () => {
    dynamo.on(QueryCommand).resolves({ Items: [jobItem] });

    const page = await store.list({ limit: 10 });

    expect(page).toEqual({ jobs: [job] });
    expect(dynamo).toHaveReceivedCommandWith(QueryCommand, {
      TableName: TABLE,
      IndexName: 'byCreatedAt',
      KeyConditionExpression: '#partition = :partition',
      ExpressionAttributeNames: { '#partition': 'gsi2pk' },
      ExpressionAttributeValues: { ':partition': 'JOBS' },
      ScanIndexForward: false,
      Limit: 10,
    });
  });

  it('queries byStatus for a status and turns LastEvaluatedKey into a cursor that continues', async () => {
    const lastKey = {
      pk: jobItem.pk,
      sk: 'JOB',
      gsi1pk: 'STATUS#QUEUED',
      gsi1sk: jobItem.gsi1sk,
    };
    dynamo
      .on(QueryCommand)
      .resolvesOnce({ Items: [jobItem], LastEvaluatedKey: lastKey })
      .resolves({ Items: [] });

    const first = await store.list({ status: 'QUEUED', limit: 1 });
    await store.list({ status: 'QUEUED', limit: 1, cursor: first.nextCursor });

    expect(first.nextCursor).toMatch(/^[\w-]+$/);
    expect(dynamo).toHaveReceivedNthCommandWith(QueryCommand, 1, {
      IndexName: 'byStatus',
      ExpressionAttributeNames: { '#partition': 'gsi1pk' },
      ExpressionAttributeValues: { ':partition': 'STATUS#QUEUED' },
      ScanIndexForward: false,
    });
    expect(dynamo).toHaveReceivedNthCommandWith(QueryCommand, 2, { ExclusiveStartKey: lastKey });
  });

  it('queries oldest first with order asc', async () => {
    dynamo.on(QueryCommand).resolves({ Items: [jobItem] });

    await store.list({ status: 'QUEUED', limit: 5, order: 'asc' });

    expect(dynamo).toHaveReceivedCommandWith(QueryCommand, {
      IndexName: 'byStatus',
      ScanIndexForward: true,
      Limit: 5,
    });
  });

  it.each([
    ['not base64url', '!!!'],
    ['not JSON', Buffer.from('nope').toString('base64url')],
    ['an array', Buffer.from('[]').toString('base64url')],
    ['missing attributes', encodeCursor({ pk: 'JOB#x', sk: 'JOB' })],
    [
      'a cursor of another status',
      encodeCursor({ pk: 'JOB#x', sk: 'JOB', gsi1pk: 'STATUS#FAILED', gsi1sk: 'a#x' }),
    ],
  ])('rejects a cursor that is %s with ValidationError naming cursor', async (_what, cursor) => {
    const listing = store.list({ status: 'QUEUED', limit: 5, cursor });

    await expect(listing).rejects.toBeInstanceOf(ValidationError);
    await expect(listing).rejects.toMatchObject({ field: 'cursor' });
    expect(dynamo).not.toHaveReceivedCommand(QueryCommand);
  });
});

describe('updates after create', () => {
  it('markCreateAttempt moves the job and its byStatus key to IN_PROGRESS, out of the queue, only if not terminal', async () => {
    const at = '2026-01-02T03:06:00.000Z';
    const updated = {
      ...jobItem,
      status: 'IN_PROGRESS',
      gsi1pk: 'STATUS#IN_PROGRESS',
      createAttemptedAt: at,
      updatedAt: at,
    };
    dynamo.on(UpdateCommand).resolves({ Attributes: updated });

    const result = await store.markCreateAttempt(job.jobId, at);

    expect(result).toEqual({ ...job, status: 'IN_PROGRESS', createAttemptedAt: at, updatedAt: at });
    expect(dynamo).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: TABLE,
      Key: { pk: `JOB#${job.jobId}`, sk: 'JOB' },
      UpdateExpression:
        'SET #status = :status, #gsi1pk = :gsi1pk, #createAttemptedAt = :createAttemptedAt, #updatedAt = :updatedAt REMOVE #queuePk, #queueSk',
      ConditionExpression: NOT_TERMINAL,
      ExpressionAttributeNames: {
        '#status': 'status',
        ...QUEUE_NAMES,
        '#gsi1pk': 'gsi1pk',
        '#createAttemptedAt': 'createAttemptedAt',
        '#updatedAt': 'updatedAt',
      },
      ExpressionAttributeValues: {
        ':status0': 'QUEUED',
        ':status1': 'IN_PROGRESS',
        ':status': 'IN_PROGRESS',
        ':gsi1pk': 'STATUS#IN_PROGRESS',
        ':createAttemptedAt': at,
        ':updatedAt': at,
      },
      ReturnValues: 'ALL_NEW',
      ...ALL_OLD,
    });
  });

  it('recordProviderJob stores the provider id and claims it in the ledger in one transaction', async () => {
    dynamo.on(TransactWriteCommand).resolves({});

    await store.recordProviderJob(job.jobId, {
      providerJobId: 'video_123',
      providerStatus: 'queued',
      progress: 0,
    });

    const input = dynamo.commandCalls(TransactWriteCommand)[0]?.args[0].input;
    const [ledger, update] = input?.TransactItems ?? [];
    expect(ledger?.Put).toMatchObject({
      Item: { pk: 'PROVIDERJOB#video_123', sk: 'LEDGER', jobId: job.jobId, state: 'claimed' },
      ConditionExpression: 'attribute_not_exists(pk) OR #ledgerJobId = :jobId',
      ExpressionAttributeValues: { ':jobId': job.jobId },
      ...ALL_OLD,
    });
    expect(update?.Update?.UpdateExpression).toMatch(/ REMOVE #queuePk, #queueSk$/);
    expect(update?.Update).toMatchObject({
      ConditionExpression: `${NOT_TERMINAL} AND (attribute_not_exists(#providerJobId) OR #providerJobId = :providerJobId)`,
      ExpressionAttributeNames: expect.objectContaining(QUEUE_NAMES),
      ...ALL_OLD,
      ExpressionAttributeValues: expect.objectContaining({
        ':providerJobId': 'video_123',
        ':providerStatus': 'queued',
        ':progress': 0,
        ':updatedAt': NOW.toISOString(),
        ':gsi1pk': 'STATUS#IN_PROGRESS',
      }),
    });
  });

  it('recordProviderJob refuses a provider job another job holds, naming the holder', async () => {
    dynamo
      .on(TransactWriteCommand)
      .rejects(
        transactionCanceled(
          [
            'ConditionalCheckFailed',
            { pk: 'PROVIDERJOB#video_123', sk: 'LEDGER', jobId: 'job_other' },
          ],
          'None',
        ),
      );

    const claim = store.recordProviderJob(job.jobId, {
      providerJobId: 'video_123',
      providerStatus: 'queued',
      progress: 0,
    });

    await expect(claim).rejects.toThrow(ProviderJobClaimedError);
    await expect(claim).rejects.toMatchObject({ claimedBy: 'job_other' });
    expect(dynamo).toHaveReceivedCommandTimes(GetCommand, 0);
  });

  it('recordProviderJob tells a job that ended from one that holds another provider job', async () => {
    const ended = { ...jobItem, status: 'CANCELLED' };
    const started = { ...jobItem, status: 'IN_PROGRESS', providerJobId: 'video_9' };
    const update = { providerJobId: 'video_123', providerStatus: 'queued' as const, progress: 0 };

    dynamo
      .on(TransactWriteCommand)
      .rejects(transactionCanceled('None', ['ConditionalCheckFailed', ended]));
    const afterEnd = store.recordProviderJob(job.jobId, update);
    await expect(afterEnd).rejects.toBeInstanceOf(JobAlreadyTerminalError);
    dynamo
      .on(TransactWriteCommand)
      .rejects(transactionCanceled('None', ['ConditionalCheckFailed', started]));
    const whileStarted = store.recordProviderJob(job.jobId, update);
    await expect(whileStarted).rejects.toBeInstanceOf(JobAlreadyStartedError);
    dynamo.on(TransactWriteCommand).rejects(transactionCanceled('None', 'ConditionalCheckFailed'));
    const missing = store.recordProviderJob(job.jobId, update);
    await expect(missing).rejects.toBeInstanceOf(JobNotFoundError);
  });

  it('recordProgress stores status, progress and poll count', async () => {
    dynamo.on(UpdateCommand).resolves({ Attributes: jobItem });

    await store.recordProgress(job.jobId, {
      providerStatus: 'in_progress',
      progress: 42,
      pollCount: 3,
    });

    expect(dynamo).toHaveReceivedCommandWith(UpdateCommand, {
      UpdateExpression: expect.stringContaining('#pollCount = :pollCount'),
      ConditionExpression: NOT_TERMINAL,
      ExpressionAttributeValues: expect.objectContaining({ ':progress': 42, ':pollCount': 3 }),
    });
  });

  it('recordCompleted moves the byStatus key to COMPLETED with the result', async () => {
    const result = {
      bucket: 'b',
      key: 'videos/x.mp4',
      bytes: 10,
      sha256: 'f'.repeat(64),
      contentType: 'video/mp4',
    };
    dynamo.on(UpdateCommand).resolves({ Attributes: jobItem });

    await store.recordCompleted(job.jobId, result, '2026-01-02T03:09:00.000Z');

    expect(dynamo).toHaveReceivedCommandWith(UpdateCommand, {
      ConditionExpression: NOT_TERMINAL,
      ExpressionAttributeValues: expect.objectContaining({
        ':status': 'COMPLETED',
        ':gsi1pk': 'STATUS#COMPLETED',
        ':result': result,
        ':progress': 100,
        ':completedAt': '2026-01-02T03:09:00.000Z',
      }),
    });
  });

  it('recordCompleted stores the actual cost when given', async () => {
    const result = { bucket: 'b', key: 'k', bytes: 1, sha256: 'f', contentType: 'video/mp4' };
    dynamo.on(UpdateCommand).resolves({ Attributes: jobItem });

    await store.recordCompleted(job.jobId, result, '2026-01-02T03:09:00.000Z', 0.8);

    expect(dynamo).toHaveReceivedCommandWith(UpdateCommand, {
      UpdateExpression: expect.stringContaining('#actualCostUsd = :actualCostUsd'),
      ExpressionAttributeValues: expect.objectContaining({ ':actualCostUsd': 0.8 }),
    });
  });

  it('recordFailed moves the byStatus key to FAILED with the reason, out of the queue', async () => {
    const error = { code: 'moderation_blocked', message: 'Blocked', retryable: false };
    dynamo.on(UpdateCommand).resolves({ Attributes: jobItem });

    await store.recordFailed(job.jobId, error, '2026-01-02T03:09:00.000Z');

    expect(dynamo).toHaveReceivedCommandWith(UpdateCommand, {
      UpdateExpression: expect.stringMatching(/ REMOVE #queuePk, #queueSk$/),
      ExpressionAttributeNames: expect.objectContaining(QUEUE_NAMES),
      ConditionExpression: NOT_TERMINAL,
      ExpressionAttributeValues: expect.objectContaining({
        ':status': 'FAILED',
        ':gsi1pk': 'STATUS#FAILED',
        ':error': error,
      }),
    });
  });

  it('answers a retried write that meets its own first write (a lost answer) as written', async () => {
    const result = { bucket: 'b', key: 'k', bytes: 1, sha256: 'f', contentType: 'video/mp4' };
    const at = '2026-01-02T03:09:00.000Z';
    const completed = {
      ...jobItem,
      status: 'COMPLETED' as const,
      gsi1pk: 'STATUS#COMPLETED',
      result,
      progress: 100,
      completedAt: at,
      updatedAt: at,
    };
    dynamo.on(UpdateCommand).rejects(conditionFailed(completed));

    const recorded = await store.recordCompleted(job.jobId, result, at);

    expect(recorded).toEqual({
      ...job,
      status: 'COMPLETED',
      result,
      progress: 100,
      completedAt: at,
      updatedAt: at,
    });
    expect(dynamo).toHaveReceivedCommandTimes(GetCommand, 0);
  });

  it('still refuses a write when another writer ended the job first (other timestamps)', async () => {
    const result = { bucket: 'b', key: 'k', bytes: 1, sha256: 'f', contentType: 'video/mp4' };
    dynamo.on(UpdateCommand).rejects(
      conditionFailed({
        ...jobItem,
        status: 'COMPLETED',
        result,
        progress: 100,
        completedAt: '2026-01-02T03:08:00.000Z',
        updatedAt: '2026-01-02T03:08:00.000Z',
      }),
    );

    await expect(
      store.recordCompleted(job.jobId, result, '2026-01-02T03:09:00.000Z'),
    ).rejects.toBeInstanceOf(JobAlreadyTerminalError);
  });

  it('throws JobAlreadyTerminalError when an update loses against a finished job', async () => {
    dynamo.on(UpdateCommand).rejects(conditionFailed({ ...jobItem, status: 'COMPLETED' }));

    await expect(
      store.recordProgress(job.jobId, {
        providerStatus: 'in_progress',
        progress: 50,
        pollCount: 4,
      }),
    ).rejects.toBeInstanceOf(JobAlreadyTerminalError);
  });

  it('throws JobNotFoundError when the job does not exist (a refusal without an item)', async () => {
    dynamo.on(UpdateCommand).rejects(conditionFailed());

    await expect(store.markCreateAttempt('job_MISSING', NOW.toISOString())).rejects.toBeInstanceOf(
      JobNotFoundError,
    );
  });

  it('recordFailed on an already terminal job does nothing', async () => {
    dynamo.on(UpdateCommand).rejects(conditionFailed({ ...jobItem, status: 'COMPLETED' }));

    await expect(
      store.recordFailed(
        job.jobId,
        { code: 'X', message: 'late', retryable: false },
        NOW.toISOString(),
      ),
    ).resolves.toBeUndefined();
  });

  it('passes other DynamoDB errors through unchanged', async () => {
    const throttled = new Error('Rate exceeded');
    dynamo.on(UpdateCommand).rejects(throttled);

    await expect(
      store.recordFailed(
        job.jobId,
        { code: 'X', message: 'm', retryable: false },
        NOW.toISOString(),
      ),
    ).rejects.toBe(throttled);
  });
});

describe('deferJob', () => {
  const at = '2026-01-02T03:10:00.000Z';

  it('moves a job without provider job back to QUEUED + deferred, byStatus key included, out of the queue', async () => {
    dynamo.on(UpdateCommand).resolves({});

    await store.deferJob(job.jobId, 'budget', at);

    expect(dynamo).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: TABLE,
      Key: { pk: `JOB#${job.jobId}`, sk: 'JOB' },
      UpdateExpression:
        'SET #status = :queued, #gsi1pk = :gsi1pk, #deferred = :true, #deferredReason = :reason, #updatedAt = :at REMOVE #queuePk, #queueSk',
      ConditionExpression: `${NOT_TERMINAL} AND attribute_not_exists(#providerJobId)`,
      ExpressionAttributeNames: {
        '#status': 'status',
        '#gsi1pk': 'gsi1pk',
        '#deferred': 'deferred',
        '#deferredReason': 'deferredReason',
        '#updatedAt': 'updatedAt',
        '#providerJobId': 'providerJobId',
        ...QUEUE_NAMES,
      },
      ExpressionAttributeValues: {
        ':status0': 'QUEUED',
        ':status1': 'IN_PROGRESS',
        ':queued': 'QUEUED',
        ':gsi1pk': 'STATUS#QUEUED',
        ':true': true,
        ':reason': 'budget',
        ':at': at,
      },
      ...ALL_OLD,
    });
  });

  it.each([
    [
      'JobAlreadyStartedError for a job with a provider job',
      { ...jobItem, status: 'IN_PROGRESS', providerJobId: 'video_1' },
      JobAlreadyStartedError,
    ],
    [
      'JobAlreadyTerminalError for a finished job',
      { ...jobItem, status: 'FAILED' },
      JobAlreadyTerminalError,
    ],
    ['JobNotFoundError for a missing job', undefined, JobNotFoundError],
  ])('throws %s', async (_what, item, errorClass) => {
    dynamo.on(UpdateCommand).rejects(conditionFailed(item));

    await expect(store.deferJob(job.jobId, 'budget', at)).rejects.toBeInstanceOf(errorClass);
  });
});

describe('claimDeferred', () => {
  const at = '2026-01-02T03:10:00.000Z';

  it('claims a QUEUED deferred job, naming its execution and taking it out of the queue, in one conditional write', async () => {
    dynamo.on(UpdateCommand).resolves({});

    const claimed = await store.claimDeferred(job.jobId, `${job.jobId}-1`, at);

    expect(claimed).toBe(true);
    expect(dynamo).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: TABLE,
      Key: { pk: `JOB#${job.jobId}`, sk: 'JOB' },
      UpdateExpression:
        'SET #deferred = :false, #executionName = :executionName, #updatedAt = :at REMOVE #deferredReason, #queuePk, #queueSk',
      ConditionExpression: 'attribute_exists(pk) AND #status IN (:status0) AND #deferred = :true',
      ExpressionAttributeNames: {
        '#status': 'status',
        '#deferred': 'deferred',
        '#deferredReason': 'deferredReason',
        '#executionName': 'executionName',
        '#updatedAt': 'updatedAt',
        ...QUEUE_NAMES,
      },
      ExpressionAttributeValues: {
        ':status0': 'QUEUED',
        ':true': true,
        ':false': false,
        ':executionName': `${job.jobId}-1`,
        ':at': at,
      },
    });
  });

  it('returns false when the condition fails (claimed by another run, or no longer waiting)', async () => {
    dynamo.on(UpdateCommand).rejects(conditionFailed());

    await expect(store.claimDeferred(job.jobId, job.jobId, at)).resolves.toBe(false);
  });

  it('passes other DynamoDB errors through', async () => {
    const throttled = new Error('Rate exceeded');
    dynamo.on(UpdateCommand).rejects(throttled);

    await expect(store.claimDeferred(job.jobId, job.jobId, at)).rejects.toBe(throttled);
  });
});

describe('recordCancelled', () => {
  const at = '2026-01-02T03:10:00.000Z';

  it('moves the job to CANCELLED with the reason given, out of the queue', async () => {
    const reason = { code: 'start_timeout', message: 'Not started in time', retryable: true };
    const cancelled = {
      ...jobItem,
      status: 'CANCELLED',
      cancelledAt: at,
      updatedAt: at,
      error: reason,
    };
    dynamo.on(UpdateCommand).resolves({ Attributes: cancelled });

    const outcome = await store.recordCancelled(job.jobId, at, reason);

    expect(outcome).toEqual({
      cancelled: true,
      job: { ...job, status: 'CANCELLED', cancelledAt: at, updatedAt: at, error: reason },
    });
    expect(dynamo).toHaveReceivedCommandWith(UpdateCommand, {
      UpdateExpression: expect.stringMatching(/ REMOVE #queuePk, #queueSk$/),
      ExpressionAttributeNames: expect.objectContaining({ ...QUEUE_NAMES, '#error': 'error' }),
      ExpressionAttributeValues: expect.objectContaining({
        ':status': 'CANCELLED',
        ':gsi1pk': 'STATUS#CANCELLED',
        ':cancelledAt': at,
        ':error': reason,
      }),
    });
  });

  it('writes no error when given none', async () => {
    dynamo.on(UpdateCommand).resolves({ Attributes: { ...jobItem, status: 'CANCELLED' } });

    await store.recordCancelled(job.jobId, at);

    const input = dynamo.commandCalls(UpdateCommand)[0]?.args[0].input;
    expect(input?.UpdateExpression).not.toContain('#error');
    expect(input?.ExpressionAttributeValues).not.toHaveProperty(':error');
  });

  it('answers a finished job unchanged, not cancelled', async () => {
    dynamo.on(UpdateCommand).rejects(conditionFailed({ ...jobItem, status: 'COMPLETED' }));

    await expect(store.recordCancelled(job.jobId, at)).resolves.toEqual({
      cancelled: false,
      job: { ...job, status: 'COMPLETED' },
    });
  });
});

describe("the clients' queues (byQueue index)", () => {
  const at = '2026-01-02T03:10:00.000Z';
  const bobs = aJob({ jobId: 'job_B', client: 'bob', priority: 'high' });

  it('enqueue parks the job (QUEUED, deferred capacity) with its queue keys: client, then priority and creation time', async () => {
    dynamo.on(UpdateCommand).resolves({});

    await store.enqueue(bobs, at);

    expect(dynamo).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: TABLE,
      Key: { pk: 'JOB#job_B', sk: 'JOB' },
      UpdateExpression:
        'SET #status = :queued, #gsi1pk = :gsi1pk, #deferred = :true, #deferredReason = :reason, #updatedAt = :at, #queuePk = :queuePk, #queueSk = :queueSk',
      ConditionExpression: `${NOT_TERMINAL} AND attribute_not_exists(#providerJobId)`,
      ExpressionAttributeNames: {
        '#status': 'status',
        '#gsi1pk': 'gsi1pk',
        '#deferred': 'deferred',
        '#deferredReason': 'deferredReason',
        '#updatedAt': 'updatedAt',
        '#providerJobId': 'providerJobId',
        ...QUEUE_NAMES,
      },
      ExpressionAttributeValues: {
        ':status0': 'QUEUED',
        ':status1': 'IN_PROGRESS',
        ':queued': 'QUEUED',
        ':gsi1pk': 'STATUS#QUEUED',
        ':true': true,
        ':reason': 'capacity',
        ':at': at,
        ':queuePk': 'QUEUE#bob',
        ':queueSk': `0#${bobs.createdAt}#job_B`,
      },
      ...ALL_OLD,
    });
  });

  it('enqueue ranks normal and low priorities after high, and a job without a client under the default', async () => {
    dynamo.on(UpdateCommand).resolves({});

    await store.enqueue(aJob({ jobId: 'job_N' }), at);
    await store.enqueue(aJob({ jobId: 'job_L', client: 'bob', priority: 'low' }), at);

    const values = dynamo
      .commandCalls(UpdateCommand)
      .map((call) => call.args[0].input.ExpressionAttributeValues);
    expect(values[0]).toMatchObject({
      ':queuePk': 'QUEUE#default',
      ':queueSk': `1#${job.createdAt}#job_N`,
    });
    expect(values[1]).toMatchObject({ ':queueSk': `2#${job.createdAt}#job_L` });
  });

  it('enqueue refuses a job that has a provider job or ended, as deferJob does', async () => {
    dynamo
      .on(UpdateCommand)
      .rejectsOnce(conditionFailed({ ...jobItem, status: 'IN_PROGRESS', providerJobId: 'video_1' }))
      .rejectsOnce(conditionFailed({ ...jobItem, status: 'CANCELLED' }));

    await expect(store.enqueue(job, at)).rejects.toBeInstanceOf(JobAlreadyStartedError);
    await expect(store.enqueue(job, at)).rejects.toBeInstanceOf(JobAlreadyTerminalError);
  });

  it("listWaiting reads the head of the client's queue in admission order, without the key attributes", async () => {
    const waitingItem = {
      ...jobItem,
      deferred: true,
      deferredReason: 'capacity',
      gsi5pk: 'QUEUE#default',
      gsi5sk: `1#${job.createdAt}#${job.jobId}`,
    };
    dynamo.on(QueryCommand).resolves({ Items: [waitingItem] });

    const waiting = await store.listWaiting('default', 3);

    expect(waiting).toEqual([{ ...job, deferred: true, deferredReason: 'capacity' }]);
    expect(dynamo).toHaveReceivedCommandWith(QueryCommand, {
      TableName: TABLE,
      IndexName: 'byQueue',
      KeyConditionExpression: '#partition = :partition',
      ExpressionAttributeNames: { '#partition': 'gsi5pk' },
      ExpressionAttributeValues: { ':partition': 'QUEUE#default' },
      Limit: 3,
    });
    const input = dynamo.commandCalls(QueryCommand)[0]?.args[0].input;
    expect(input?.ScanIndexForward).not.toBe(false);
  });

  it('countWaiting counts the jobs ahead of one, no further than max', async () => {
    dynamo.on(QueryCommand).resolves({ Count: 4 });

    const ahead = await store.countWaiting('bob', { before: bobs, max: 10 });

    expect(ahead).toBe(4);
    expect(dynamo).toHaveReceivedCommandWith(QueryCommand, {
      TableName: TABLE,
      IndexName: 'byQueue',
      KeyConditionExpression: '#partition = :partition AND #sort < :before',
      ExpressionAttributeNames: { '#partition': 'gsi5pk', '#sort': 'gsi5sk' },
      ExpressionAttributeValues: {
        ':partition': 'QUEUE#bob',
        ':before': `0#${bobs.createdAt}#job_B`,
      },
      Select: 'COUNT',
      Limit: 10,
    });
  });

  it('countWaiting pages on while under max, and stops at max', async () => {
    const page = (count: number, more: boolean) => ({
      Count: count,
      ...(more ? { LastEvaluatedKey: { pk: `JOB#k${count}`, sk: 'JOB' } } : {}),
    });
    dynamo
      .on(QueryCommand)
      .resolvesOnce(page(3, true))
      .resolvesOnce(page(2, true))
      .resolvesOnce(page(2, true));

    const counted = await store.countWaiting('bob', { max: 7 });

    expect(counted).toBe(7);
    expect(dynamo).toHaveReceivedCommandTimes(QueryCommand, 3);
    expect(dynamo).toHaveReceivedNthCommandWith(QueryCommand, 1, {
      KeyConditionExpression: '#partition = :partition',
      Limit: 7,
    });
    expect(dynamo).toHaveReceivedNthCommandWith(QueryCommand, 2, {
      Limit: 4,
      ExclusiveStartKey: { pk: 'JOB#k3', sk: 'JOB' },
    });
    expect(dynamo).toHaveReceivedNthCommandWith(QueryCommand, 3, { Limit: 2 });
  });

  it('countWaiting stops at the end of the queue', async () => {
    dynamo.on(QueryCommand).resolvesOnce({ Count: 2 });

    expect(await store.countWaiting('bob', { max: 100 })).toBe(2);
    expect(dynamo).toHaveReceivedCommandTimes(QueryCommand, 1);
  });
});

describe('markStarted', () => {
  const at = '2026-01-02T03:10:00.000Z';

  it('stamps startedAt once (the first admission), only on a job that has not ended', async () => {
    dynamo.on(UpdateCommand).resolves({});

    await store.markStarted(job.jobId, at);

    expect(dynamo).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: TABLE,
      Key: { pk: `JOB#${job.jobId}`, sk: 'JOB' },
      UpdateExpression: 'SET #startedAt = if_not_exists(#startedAt, :at)',
      ConditionExpression: NOT_TERMINAL,
      ExpressionAttributeNames: { '#status': 'status', '#startedAt': 'startedAt' },
      ExpressionAttributeValues: { ':status0': 'QUEUED', ':status1': 'IN_PROGRESS', ':at': at },
    });
  });

  it('does nothing for a job that ended or is gone, and lets other errors through', async () => {
    const throttled = new Error('Rate exceeded');
    dynamo.on(UpdateCommand).rejectsOnce(conditionFailed()).rejectsOnce(throttled);

    await expect(store.markStarted(job.jobId, at)).resolves.toBeUndefined();
    await expect(store.markStarted(job.jobId, at)).rejects.toBe(throttled);
  });
});
