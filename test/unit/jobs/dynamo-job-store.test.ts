import { isDeepStrictEqual } from 'node:util';
import type { GetCommandInput, GetCommandOutput } from '@aws-sdk/lib-dynamodb';
import { beforeEach, describe, expect, it } from 'vitest';
import { AwsServiceError } from '../../../functions/shared/aws/aws-json-api.ts';
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
import {
  conditionFailed,
  fakeDynamoDocuments,
  resetFakeDynamoDocuments,
  transactionCanceled,
} from '../../support/fake-dynamo-documents.ts';
import { aJob } from '../../support/job-fixtures.ts';

const TABLE = 'jobs-table';
// Built from the transition table: a job may be written while QUEUED or IN_PROGRESS, never after.
const NOT_TERMINAL = 'attribute_exists(pk) AND #status IN (:status0, :status1)';
const NOW = new Date('2026-01-02T03:05:00.000Z');

const db = fakeDynamoDocuments();
const store = new DynamoJobStore({ client: db, tableName: TABLE, now: () => NOW });

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

/** Answers each GetItem by its key (matched exactly); a get of any other key fails the test. */
function answerGetsByKey(
  ...answers: [key: GetCommandInput['Key'], answer: Omit<GetCommandOutput, '$metadata'>][]
) {
  db.get.mockImplementation(async (input) => {
    const found = answers.find(([key]) => isDeepStrictEqual(key, input.Key));
    if (found === undefined) throw new Error(`unexpected get of ${JSON.stringify(input.Key)}`);
    return found[1];
  });
}

beforeEach(() => {
  resetFakeDynamoDocuments(db);
});

describe('create', () => {
  it('puts the job with its index attributes and a condition against overwriting', async () => {
    db.put.mockResolvedValue({});

    const result = await store.create(job);

    expect(result).toEqual({ job, created: true });
    expect(db.put).toHaveBeenCalledWith(
      expect.objectContaining({
        TableName: TABLE,
        Item: jobItem,
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  });

  it('writes the job and the idempotency record in one transaction, both conditional', async () => {
    db.transactWrite.mockResolvedValue({});

    const result = await store.create(job, 'api:key-1');

    expect(result).toEqual({ job, created: true });
    expect(db.transactWrite).toHaveBeenCalledWith(
      expect.objectContaining({
        TransactItems: [
          {
            Put: {
              TableName: TABLE,
              Item: jobItem,
              ConditionExpression: 'attribute_not_exists(pk)',
            },
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
            },
          },
        ],
      }),
    );
  });

  it('returns the existing job when the key was used with the same request', async () => {
    const existing = aJob({ jobId: 'job_EXISTING', status: 'IN_PROGRESS' });
    db.transactWrite.mockRejectedValue(transactionCanceled('None', 'ConditionalCheckFailed'));
    answerGetsByKey(
      [
        { pk: 'IDEMPOTENCY#api:key-1', sk: 'IDEMPOTENCY' },
        { Item: { jobId: 'job_EXISTING', requestHash: job.requestHash } },
      ],
      [
        { pk: 'JOB#job_EXISTING', sk: 'JOB' },
        { Item: { pk: 'JOB#job_EXISTING', sk: 'JOB', gsi1pk: 'STATUS#IN_PROGRESS', ...existing } },
      ],
    );

    const result = await store.create(job, 'api:key-1');

    expect(result).toEqual({ job: existing, created: false });
    expect(db.get).toHaveBeenCalledWith(
      expect.objectContaining({
        Key: { pk: 'IDEMPOTENCY#api:key-1', sk: 'IDEMPOTENCY' },
        ConsistentRead: true,
      }),
    );
  });

  it('resolves a transaction conflict on the key through the idempotency record too', async () => {
    db.transactWrite.mockRejectedValue(transactionCanceled('None', 'TransactionConflict'));
    answerGetsByKey(
      [
        { pk: 'IDEMPOTENCY#k', sk: 'IDEMPOTENCY' },
        { Item: { jobId: 'job_OTHER', requestHash: job.requestHash } },
      ],
      [{ pk: 'JOB#job_OTHER', sk: 'JOB' }, { Item: aJob({ jobId: 'job_OTHER' }) }],
    );

    const result = await store.create(job, 'k');

    expect(result.created).toBe(false);
    expect(result.job.jobId).toBe('job_OTHER');
  });

  it('throws IdempotencyConflictError when the key was used with a different request', async () => {
    db.transactWrite.mockRejectedValue(transactionCanceled('None', 'ConditionalCheckFailed'));
    db.get.mockResolvedValue({ Item: { jobId: 'job_OTHER', requestHash: 'b'.repeat(64) } });

    await expect(store.create(job, 'api:key-1')).rejects.toBeInstanceOf(IdempotencyConflictError);
  });

  it('throws JobAlreadyExistsError when only the job id collides', async () => {
    db.transactWrite.mockRejectedValue(transactionCanceled('ConditionalCheckFailed', 'None'));

    await expect(store.create(job, 'api:key-1')).rejects.toBeInstanceOf(JobAlreadyExistsError);
  });

  it('throws JobAlreadyExistsError for a colliding id without a key', async () => {
    db.put.mockRejectedValue(conditionFailed());
    db.get.mockResolvedValue({ Item: aJob({ requestHash: 'c'.repeat(64) }) });

    await expect(store.create(job)).rejects.toBeInstanceOf(JobAlreadyExistsError);
  });

  it('treats its own earlier write of the same job (an SDK retry) as created', async () => {
    db.put.mockRejectedValue(conditionFailed());
    db.get.mockResolvedValue({ Item: jobItem });

    await expect(store.create(job)).resolves.toEqual({ job, created: true });
  });
});

describe('get', () => {
  it('reads consistently and strips the key attributes', async () => {
    db.get.mockResolvedValue({ Item: jobItem });

    const found = await store.get(job.jobId);

    expect(found).toEqual(job);
    expect(db.get).toHaveBeenCalledWith(
      expect.objectContaining({
        TableName: TABLE,
        Key: { pk: `JOB#${job.jobId}`, sk: 'JOB' },
        ConsistentRead: true,
      }),
    );
  });

  it('returns undefined for an unknown job', async () => {
    db.get.mockResolvedValue({});

    await expect(store.get('job_MISSING')).resolves.toBeUndefined();
  });
});

describe('list', () => {
  it('queries byCreatedAt newest first when no status is given', async () => {
    db.query.mockResolvedValue({ Items: [jobItem] });

    const page = await store.list({ limit: 10 });

    expect(page).toEqual({ jobs: [job] });
    expect(db.query).toHaveBeenCalledWith(
      expect.objectContaining({
        TableName: TABLE,
        IndexName: 'byCreatedAt',
        KeyConditionExpression: '#partition = :partition',
        ExpressionAttributeNames: { '#partition': 'gsi2pk' },
        ExpressionAttributeValues: { ':partition': 'JOBS' },
        ScanIndexForward: false,
        Limit: 10,
      }),
    );
  });

  it('queries byStatus for a status and turns LastEvaluatedKey into a cursor that continues', async () => {
    const lastKey = {
      pk: jobItem.pk,
      sk: 'JOB',
      gsi1pk: 'STATUS#QUEUED',
      gsi1sk: jobItem.gsi1sk,
    };
    db.query
      .mockResolvedValueOnce({ Items: [jobItem], LastEvaluatedKey: lastKey })
      .mockResolvedValue({ Items: [] });

    const first = await store.list({ status: 'QUEUED', limit: 1 });
    await store.list({ status: 'QUEUED', limit: 1, cursor: first.nextCursor });

    expect(first.nextCursor).toMatch(/^[\w-]+$/);
    expect(db.query).toHaveBeenNthCalledWith(
      1,
      expect.objectContaining({
        IndexName: 'byStatus',
        ExpressionAttributeNames: { '#partition': 'gsi1pk' },
        ExpressionAttributeValues: { ':partition': 'STATUS#QUEUED' },
        ScanIndexForward: false,
      }),
    );
    expect(db.query).toHaveBeenNthCalledWith(
      2,
      expect.objectContaining({ ExclusiveStartKey: lastKey }),
    );
  });

  it('queries oldest first with order asc', async () => {
    db.query.mockResolvedValue({ Items: [jobItem] });

    await store.list({ status: 'QUEUED', limit: 5, order: 'asc' });

    expect(db.query).toHaveBeenCalledWith(
      expect.objectContaining({
        IndexName: 'byStatus',
        ScanIndexForward: true,
        Limit: 5,
      }),
    );
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
    expect(db.query).not.toHaveBeenCalled();
  });
});

describe('updates after create', () => {
  it('markCreateAttempt moves the job and its byStatus key to IN_PROGRESS, only if not terminal', async () => {
    const at = '2026-01-02T03:06:00.000Z';
    const updated = {
      ...jobItem,
      status: 'IN_PROGRESS',
      gsi1pk: 'STATUS#IN_PROGRESS',
      createAttemptedAt: at,
      updatedAt: at,
    };
    db.update.mockResolvedValue({ Attributes: updated });

    const result = await store.markCreateAttempt(job.jobId, at);

    expect(result).toEqual({ ...job, status: 'IN_PROGRESS', createAttemptedAt: at, updatedAt: at });
    expect(db.update).toHaveBeenCalledWith(
      expect.objectContaining({
        TableName: TABLE,
        Key: { pk: `JOB#${job.jobId}`, sk: 'JOB' },
        UpdateExpression:
          'SET #status = :status, #gsi1pk = :gsi1pk, #createAttemptedAt = :createAttemptedAt, #updatedAt = :updatedAt',
        ConditionExpression: NOT_TERMINAL,
        ExpressionAttributeNames: {
          '#status': 'status',
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
      }),
    );
  });

  it('recordProviderJob stores the provider id and claims it in the ledger in one transaction', async () => {
    db.transactWrite.mockResolvedValue({});

    await store.recordProviderJob(job.jobId, {
      providerJobId: 'video_123',
      providerStatus: 'queued',
      progress: 0,
    });

    const input = db.transactWrite.mock.calls[0]?.[0];
    const [ledger, update] = input?.TransactItems ?? [];
    expect(ledger?.Put).toMatchObject({
      Item: { pk: 'PROVIDERJOB#video_123', sk: 'LEDGER', jobId: job.jobId, state: 'claimed' },
      ConditionExpression: 'attribute_not_exists(pk) OR #ledgerJobId = :jobId',
      ExpressionAttributeValues: { ':jobId': job.jobId },
    });
    expect(update?.Update).toMatchObject({
      ConditionExpression: `${NOT_TERMINAL} AND (attribute_not_exists(#providerJobId) OR #providerJobId = :providerJobId)`,
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
    db.transactWrite.mockRejectedValue(
      new AwsServiceError('TransactionCanceledException', 'cancelled', 400, {
        CancellationReasons: [{ Code: 'ConditionalCheckFailed' }, { Code: 'None' }],
      }),
    );
    db.get.mockResolvedValue({ Item: { jobId: 'job_other' } });

    const claim = store.recordProviderJob(job.jobId, {
      providerJobId: 'video_123',
      providerStatus: 'queued',
      progress: 0,
    });

    await expect(claim).rejects.toThrow(ProviderJobClaimedError);
    await expect(claim).rejects.toMatchObject({ claimedBy: 'job_other' });
  });

  it('recordProgress stores status, progress and poll count', async () => {
    db.update.mockResolvedValue({ Attributes: jobItem });

    await store.recordProgress(job.jobId, {
      providerStatus: 'in_progress',
      progress: 42,
      pollCount: 3,
    });

    expect(db.update).toHaveBeenCalledWith(
      expect.objectContaining({
        UpdateExpression: expect.stringContaining('#pollCount = :pollCount'),
        ConditionExpression: NOT_TERMINAL,
        ExpressionAttributeValues: expect.objectContaining({ ':progress': 42, ':pollCount': 3 }),
      }),
    );
  });

  it('recordCompleted moves the byStatus key to COMPLETED with the result', async () => {
    const result = {
      bucket: 'b',
      key: 'videos/x.mp4',
      bytes: 10,
      sha256: 'f'.repeat(64),
      contentType: 'video/mp4',
    };
    db.update.mockResolvedValue({ Attributes: jobItem });

    await store.recordCompleted(job.jobId, result, '2026-01-02T03:09:00.000Z');

    expect(db.update).toHaveBeenCalledWith(
      expect.objectContaining({
        ConditionExpression: NOT_TERMINAL,
        ExpressionAttributeValues: expect.objectContaining({
          ':status': 'COMPLETED',
          ':gsi1pk': 'STATUS#COMPLETED',
          ':result': result,
          ':progress': 100,
          ':completedAt': '2026-01-02T03:09:00.000Z',
        }),
      }),
    );
  });

  it('recordCompleted stores the actual cost when given', async () => {
    const result = { bucket: 'b', key: 'k', bytes: 1, sha256: 'f', contentType: 'video/mp4' };
    db.update.mockResolvedValue({ Attributes: jobItem });

    await store.recordCompleted(job.jobId, result, '2026-01-02T03:09:00.000Z', 0.8);

    expect(db.update).toHaveBeenCalledWith(
      expect.objectContaining({
        UpdateExpression: expect.stringContaining('#actualCostUsd = :actualCostUsd'),
        ExpressionAttributeValues: expect.objectContaining({ ':actualCostUsd': 0.8 }),
      }),
    );
  });

  it('recordFailed moves the byStatus key to FAILED with the reason', async () => {
    const error = { code: 'moderation_blocked', message: 'Blocked', retryable: false };
    db.update.mockResolvedValue({ Attributes: jobItem });

    await store.recordFailed(job.jobId, error, '2026-01-02T03:09:00.000Z');

    expect(db.update).toHaveBeenCalledWith(
      expect.objectContaining({
        ConditionExpression: NOT_TERMINAL,
        ExpressionAttributeValues: expect.objectContaining({
          ':status': 'FAILED',
          ':gsi1pk': 'STATUS#FAILED',
          ':error': error,
        }),
      }),
    );
  });

  it('throws JobAlreadyTerminalError when an update loses against a finished job', async () => {
    db.update.mockRejectedValue(conditionFailed());
    db.get.mockResolvedValue({ Item: { ...jobItem, status: 'COMPLETED' } });

    await expect(
      store.recordProgress(job.jobId, {
        providerStatus: 'in_progress',
        progress: 50,
        pollCount: 4,
      }),
    ).rejects.toBeInstanceOf(JobAlreadyTerminalError);
  });

  it('throws JobNotFoundError when the job does not exist', async () => {
    db.update.mockRejectedValue(conditionFailed());
    db.get.mockResolvedValue({});

    await expect(store.markCreateAttempt('job_MISSING', NOW.toISOString())).rejects.toBeInstanceOf(
      JobNotFoundError,
    );
  });

  it('recordFailed on an already terminal job does nothing', async () => {
    db.update.mockRejectedValue(conditionFailed());
    db.get.mockResolvedValue({ Item: { ...jobItem, status: 'COMPLETED' } });

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
    db.update.mockRejectedValue(throttled);

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

  it('moves a job without provider job back to QUEUED + deferred, byStatus key included', async () => {
    db.update.mockResolvedValue({});

    await store.deferJob(job.jobId, 'budget', at);

    expect(db.update).toHaveBeenCalledWith(
      expect.objectContaining({
        TableName: TABLE,
        Key: { pk: `JOB#${job.jobId}`, sk: 'JOB' },
        UpdateExpression:
          'SET #status = :queued, #gsi1pk = :gsi1pk, #deferred = :true, #deferredReason = :reason, #updatedAt = :at',
        ConditionExpression: `${NOT_TERMINAL} AND attribute_not_exists(#providerJobId)`,
        ExpressionAttributeNames: {
          '#status': 'status',
          '#gsi1pk': 'gsi1pk',
          '#deferred': 'deferred',
          '#deferredReason': 'deferredReason',
          '#updatedAt': 'updatedAt',
          '#providerJobId': 'providerJobId',
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
      }),
    );
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
    db.update.mockRejectedValue(conditionFailed());
    db.get.mockResolvedValue({ Item: item });

    await expect(store.deferJob(job.jobId, 'budget', at)).rejects.toBeInstanceOf(errorClass);
  });
});

describe('claimDeferred', () => {
  const at = '2026-01-02T03:10:00.000Z';

  it('claims a QUEUED deferred job, naming its execution, in one conditional write', async () => {
    db.update.mockResolvedValue({});

    const claimed = await store.claimDeferred(job.jobId, `${job.jobId}-1`, at);

    expect(claimed).toBe(true);
    expect(db.update).toHaveBeenCalledWith(
      expect.objectContaining({
        TableName: TABLE,
        Key: { pk: `JOB#${job.jobId}`, sk: 'JOB' },
        UpdateExpression:
          'SET #deferred = :false, #executionName = :executionName, #updatedAt = :at REMOVE #deferredReason',
        ConditionExpression: 'attribute_exists(pk) AND #status IN (:status0) AND #deferred = :true',
        ExpressionAttributeNames: {
          '#status': 'status',
          '#deferred': 'deferred',
          '#deferredReason': 'deferredReason',
          '#executionName': 'executionName',
          '#updatedAt': 'updatedAt',
        },
        ExpressionAttributeValues: {
          ':status0': 'QUEUED',
          ':true': true,
          ':false': false,
          ':executionName': `${job.jobId}-1`,
          ':at': at,
        },
      }),
    );
  });

  it('returns false when the condition fails (claimed by another run, or no longer waiting)', async () => {
    db.update.mockRejectedValue(conditionFailed());

    await expect(store.claimDeferred(job.jobId, job.jobId, at)).resolves.toBe(false);
  });

  it('passes other DynamoDB errors through', async () => {
    const throttled = new Error('Rate exceeded');
    db.update.mockRejectedValue(throttled);

    await expect(store.claimDeferred(job.jobId, job.jobId, at)).rejects.toBe(throttled);
  });
});
