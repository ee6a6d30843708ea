import { isDeepStrictEqual } from 'node:util';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { cancellationReasons, conditionFailure } from '../aws/dynamodb-refusals.ts';
import { now } from '../clock.ts';
import type { WebhookDelivery } from '../webhooks/webhook-events.ts';
import {
  ACTIVE_STATUSES,
  DEFAULT_CLIENT,
  type DeferredReason,
  isTerminal,
  type Job,
  type JobError,
  type JobResult,
  type JobStatus,
  ownerOf,
  type ProviderStatus,
  type QueueReason,
} from './job.ts';
import {
  IdempotencyConflictError,
  JobAlreadyExistsError,
  JobAlreadyStartedError,
  JobAlreadyTerminalError,
  JobNotFoundError,
  ProviderJobClaimedError,
  ValidationError,
} from './job-errors.ts';
import { statusesLeadingTo } from './job-status.ts';
import type { CountWaitingOptions, JobStore, ListJobsQuery } from './job-store.ts';
import {
  ALL_JOBS_PARTITION,
  BY_BATCH_INDEX,
  BY_CLIENT_INDEX,
  BY_CREATED_AT_INDEX,
  BY_QUEUE_INDEX,
  BY_STATUS_INDEX,
  batchPartition,
  clientPartition,
  createdSortKey,
  idempotencyKey as idempotencyItemKey,
  type JobIndex,
  jobKey,
  KEY_ATTRIBUTES,
  PARTITION_KEY,
  providerJobKey,
  queueAttributes,
  queuePartition,
  queueSortKey,
  SORT_KEY,
  statusPartition,
} from './jobs-table.ts';
import { type CursorKey, decodeCursor, encodeCursor } from './list-cursor.ts';

export interface DynamoJobStoreOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  /** Clock for `updatedAt` on writes whose caller passes no time. */
  now?: () => Date;
}

/** What `create` writes next to the job when an idempotency key is given. */
interface IdempotencyRecord {
  jobId: string;
  requestHash: string;
}

/**
 * The condition of a write that needs the job to exist in one of `statuses`. Every write after
 * creation is guarded by one, built from the transition table (job-status.ts): `leadingTo(to)`
 * for a write that changes the status, `ACTIVE_STATUSES` for one that keeps it.
 */
function whileIn(statuses: readonly JobStatus[]): {
  expression: string;
  values: Record<string, JobStatus>;
} {
  const values = Object.fromEntries(statuses.map((status, i) => [`:status${i}`, status]));
  return {
    expression: `attribute_exists(${PARTITION_KEY}) AND #status IN (${Object.keys(values).join(', ')})`,
    values,
  };
}

const leadingTo = (to: JobStatus) => whileIn(statusesLeadingTo(to));

/** A job never admitted: no admission stamp, no provider job. */
const NOT_STARTED = {
  expression: 'attribute_not_exists(#startedAt) AND attribute_not_exists(#providerJobId)',
  names: { '#startedAt': 'startedAt', '#providerJobId': 'providerJobId' },
};

const keyAttributes: ReadonlySet<string> = new Set(KEY_ATTRIBUTES);

// A write refused by its condition answers the item as it stood, so the store tells why (gone,
// ended, held by another job, its own earlier write) without reading it again.
const OLD_ITEM_ON_REFUSAL = { ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } as const;

/** What a conditional status write did: written, or refused by the job as it stood (`cause`). */
type StatusWrite = { written: Job } | { refusedBy: Job; cause: unknown };

/**
 * `JobStore` on one DynamoDB table (design in docs/architecture.md and `jobs-table.ts`). The index
 * attributes are written with every status change so the byStatus index never lists a job under
 * a status it left.
 */
export class DynamoJobStore implements JobStore {
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;
  readonly #now: () => Date;

  constructor(options: DynamoJobStoreOptions) {
    this.#client = options.client;
    this.#tableName = options.tableName;
    this.#now = options.now ?? now;
  }

  async create(job: Job, idempotencyKey?: string): Promise<{ job: Job; created: boolean }> {
    const putJob = {
      TableName: this.#tableName,
      Item: toItem(job),
      ConditionExpression: `attribute_not_exists(${PARTITION_KEY})`,
    };
    if (idempotencyKey === undefined) {
      try {
        await this.#client.send(new PutCommand({ ...putJob, ...OLD_ITEM_ON_REFUSAL }));
        return { job, created: true };
      } catch (error) {
        const refusal = conditionFailure(error);
        if (!refusal) throw error;
        return resolveExistingJob(job, refusal.item, error);
      }
    }

    const record: IdempotencyRecord = { jobId: job.jobId, requestHash: job.requestHash };
    try {
      await this.#client.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: putJob },
            {
              Put: {
                TableName: this.#tableName,
                Item: {
                  ...idempotencyItemKey(idempotencyKey),
                  ...record,
                  createdAt: job.createdAt,
                },
                ConditionExpression: `attribute_not_exists(${PARTITION_KEY})`,
                ...OLD_ITEM_ON_REFUSAL,
              },
            },
          ],
        }),
      );
      return { job, created: true };
    } catch (error) {
      const reasons = cancellationReasons(error);
      if (!reasons) throw error;
      const [jobReason, keyReason] = reasons;
      // The key's record decides. A concurrent request with the same key may surface as a
      // conflict rather than a failed condition, with no record in the answer: then it is read.
      if (
        keyReason?.code === 'ConditionalCheckFailed' ||
        keyReason?.code === 'TransactionConflict'
      ) {
        return this.#replay(job, idempotencyKey, keyReason.item, error);
      }
      if (jobReason?.code === 'ConditionalCheckFailed') {
        throw new JobAlreadyExistsError(`Job ${job.jobId} already exists`, { cause: error });
      }
      throw error;
    }
  }

  async get(jobId: string): Promise<Job | undefined> {
    const output = await this.#client.send(
      new GetCommand({ TableName: this.#tableName, Key: jobKey(jobId), ConsistentRead: true }),
    );
    return output.Item === undefined ? undefined : fromItem(output.Item);
  }

  async list(query: ListJobsQuery): Promise<{ jobs: Job[]; nextCursor?: string }> {
    if (!Number.isInteger(query.limit) || query.limit < 1) {
      throw new ValidationError('limit', 'limit must be a positive integer');
    }
    const { index, partition, filters, sortKeyPrefix } = listPlan(query);
    const startKey =
      query.cursor === undefined
        ? undefined
        : decodeCursor(query.cursor, [PARTITION_KEY, SORT_KEY, index.partitionKey, index.sortKey], {
            attribute: index.partitionKey,
            value: partition,
          });
    const names: Record<string, string> = { '#partition': index.partitionKey };
    const values: Record<string, unknown> = { ':partition': partition };
    let keyCondition = '#partition = :partition';
    if (sortKeyPrefix !== undefined) {
      names['#sort'] = index.sortKey;
      values[':sortPrefix'] = sortKeyPrefix;
      keyCondition += ' AND begins_with(#sort, :sortPrefix)';
    }
    const conditions: string[] = [];
    for (const [name, value] of Object.entries(filters)) {
      names[`#${name}`] = name;
      values[`:${name}`] = value;
      // Records from before clients existed name none: they are the default client's.
      conditions.push(
        name === 'client' && value === DEFAULT_CLIENT
          ? `(#${name} = :${name} OR attribute_not_exists(#${name}))`
          : `#${name} = :${name}`,
      );
    }
    const output = await this.#client.send(
      new QueryCommand({
        TableName: this.#tableName,
        IndexName: index.name,
        KeyConditionExpression: keyCondition,
        ...(conditions.length > 0 ? { FilterExpression: conditions.join(' AND ') } : {}),
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ScanIndexForward: query.order === 'asc',
        Limit: query.limit,
        ExclusiveStartKey: startKey,
      }),
    );
    const jobs = (output.Items ?? []).map(fromItem);
    if (output.LastEvaluatedKey === undefined) return { jobs };
    return { jobs, nextCursor: encodeCursor(toCursorKey(output.LastEvaluatedKey)) };
  }

  async markCreateAttempt(jobId: string, at: string): Promise<Job> {
    return written(
      await this.#update(jobId, 'IN_PROGRESS', { createAttemptedAt: at, updatedAt: at }),
    );
  }

  async recordProviderJob(
    jobId: string,
    update: { providerJobId: string; providerStatus: ProviderStatus; progress: number },
  ): Promise<void> {
    const at = this.#now().toISOString();
    const attributes: Record<string, unknown> = {
      ...statusAttributes('IN_PROGRESS'),
      ...update,
      updatedAt: at,
    };
    const condition = leadingTo('IN_PROGRESS');
    const names: Record<string, string> = {
      '#status': 'status',
      '#ledgerJobId': 'jobId',
      '#queuePk': BY_QUEUE_INDEX.partitionKey,
      '#queueSk': BY_QUEUE_INDEX.sortKey,
    };
    const values: Record<string, unknown> = { ...condition.values, ':jobId': jobId };
    const assignments: string[] = [];
    for (const [name, value] of Object.entries(attributes)) {
      names[`#${name}`] = name;
      values[`:${name}`] = value;
      assignments.push(`#${name} = :${name}`);
    }
    try {
      await this.#client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              // The ledger: the provider job is free, or already this job's (a retried write).
              Put: {
                TableName: this.#tableName,
                Item: {
                  ...providerJobKey(update.providerJobId),
                  jobId,
                  state: 'claimed',
                  claimedAt: at,
                },
                ConditionExpression: `attribute_not_exists(${PARTITION_KEY}) OR #ledgerJobId = :jobId`,
                ExpressionAttributeNames: { '#ledgerJobId': 'jobId' },
                ExpressionAttributeValues: { ':jobId': jobId },
                ...OLD_ITEM_ON_REFUSAL,
              },
            },
            {
              Update: {
                TableName: this.#tableName,
                Key: jobKey(jobId),
                UpdateExpression: `SET ${assignments.join(', ')} REMOVE #queuePk, #queueSk`,
                ConditionExpression: `${condition.expression} AND (attribute_not_exists(#providerJobId) OR #providerJobId = :providerJobId)`,
                ExpressionAttributeNames: Object.fromEntries(
                  Object.entries(names).filter(([name]) => name !== '#ledgerJobId'),
                ),
                ExpressionAttributeValues: Object.fromEntries(
                  Object.entries(values).filter(([name]) => name !== ':jobId'),
                ),
                ...OLD_ITEM_ON_REFUSAL,
              },
            },
          ],
        }),
      );
    } catch (error) {
      const reasons = cancellationReasons(error);
      if (!reasons) throw error;
      const [ledger, job] = reasons;
      if (ledger?.code === 'ConditionalCheckFailed') {
        const holder = ledger.item?.jobId;
        const claimedBy = typeof holder === 'string' ? holder : 'nobody (an orphan)';
        throw new ProviderJobClaimedError(update.providerJobId, claimedBy, {
          cause: error,
        });
      }
      if (job?.code !== 'ConditionalCheckFailed') throw error;
      const existing = job.item === undefined ? undefined : fromItem(job.item);
      if (existing === undefined) {
        throw new JobNotFoundError(`Job ${jobId} not found`, { cause: error });
      }
      if (isTerminal(existing.status)) {
        throw new JobAlreadyTerminalError(`Job ${jobId} is already ${existing.status}`, {
          cause: error,
        });
      }
      throw new JobAlreadyStartedError(
        `Job ${jobId} already holds provider job ${existing.providerJobId}`,
        { cause: error },
      );
    }
  }

  async recordProgress(
    jobId: string,
    update: { providerStatus: ProviderStatus; progress: number; pollCount: number },
  ): Promise<void> {
    written(
      await this.#update(jobId, 'IN_PROGRESS', {
        ...update,
        updatedAt: this.#now().toISOString(),
      }),
    );
  }

  async recordCompleted(
    jobId: string,
    result: JobResult,
    completedAt: string,
    actualCostUsd?: number,
  ): Promise<Job> {
    return written(
      await this.#update(jobId, 'COMPLETED', {
        result,
        progress: 100,
        completedAt,
        actualCostUsd,
        updatedAt: completedAt,
      }),
    );
  }

  async recordCancelled(
    jobId: string,
    at: string,
    error?: JobError,
    options: { unlessStarted?: boolean } = {},
  ): Promise<{ job: Job; cancelled: boolean }> {
    const outcome = await this.#update(
      jobId,
      'CANCELLED',
      { cancelledAt: at, updatedAt: at, error },
      options.unlessStarted ? NOT_STARTED : undefined,
    );
    return 'written' in outcome
      ? { job: outcome.written, cancelled: true }
      : { job: outcome.refusedBy, cancelled: false };
  }

  async recordWebhookDelivery(jobId: string, delivery: WebhookDelivery): Promise<void> {
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: jobKey(jobId),
          UpdateExpression: 'SET #delivery = :delivery',
          ConditionExpression: `attribute_exists(${PARTITION_KEY})`,
          ExpressionAttributeNames: { '#delivery': 'lastWebhookDelivery' },
          ExpressionAttributeValues: { ':delivery': delivery },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      throw new JobNotFoundError(`Job ${jobId} not found`, { cause: error });
    }
  }

  async recordFailed(jobId: string, error: JobError, at: string): Promise<Job | undefined> {
    const outcome = await this.#update(jobId, 'FAILED', { error, updatedAt: at });
    // Refused: the job had ended meanwhile, and this write changed nothing.
    return 'written' in outcome ? outcome.written : undefined;
  }

  async deferJob(
    jobId: string,
    reason: Exclude<DeferredReason, QueueReason>,
    at: string,
  ): Promise<void> {
    await this.#park(jobId, reason, at);
  }

  async enqueue(job: Job, at: string, reason: QueueReason = 'capacity'): Promise<void> {
    await this.#park(job.jobId, reason, at, queueAttributes(job));
  }

  async listWaiting(client: string, limit: number): Promise<Job[]> {
    const output = await this.#client.send(
      new QueryCommand({
        TableName: this.#tableName,
        IndexName: BY_QUEUE_INDEX.name,
        KeyConditionExpression: '#partition = :partition',
        ExpressionAttributeNames: { '#partition': BY_QUEUE_INDEX.partitionKey },
        ExpressionAttributeValues: { ':partition': queuePartition(client) },
        Limit: limit,
      }),
    );
    return (output.Items ?? []).map(fromItem);
  }

  async countWaiting(client: string, options: CountWaitingOptions): Promise<number> {
    if (options.max <= 0) return 0;
    const names: Record<string, string> = { '#partition': BY_QUEUE_INDEX.partitionKey };
    const values: Record<string, unknown> = { ':partition': queuePartition(client) };
    let keyCondition = '#partition = :partition';
    if (options.before !== undefined) {
      names['#sort'] = BY_QUEUE_INDEX.sortKey;
      values[':before'] = queueSortKey(options.before);
      keyCondition += ' AND #sort < :before';
    }
    const excluding = [...new Set(options.excluding ?? [])];
    let filter: string | undefined;
    if (excluding.length > 0) {
      names['#jobId'] = 'jobId';
      // IN takes at most 100 operands: one clause per hundred.
      const clauses: string[] = [];
      for (let start = 0; start < excluding.length; start += 100) {
        const placeholders = excluding.slice(start, start + 100).map((jobId, offset) => {
          values[`:x${start + offset}`] = jobId;
          return `:x${start + offset}`;
        });
        clauses.push(`NOT (#jobId IN (${placeholders.join(', ')}))`);
      }
      filter = clauses.join(' AND ');
    }
    let count = 0;
    let startKey: Record<string, unknown> | undefined;
    do {
      const output = await this.#client.send(
        new QueryCommand({
          TableName: this.#tableName,
          IndexName: BY_QUEUE_INDEX.name,
          KeyConditionExpression: keyCondition,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          Select: 'COUNT',
          ...(filter === undefined ? {} : { FilterExpression: filter }),
          Limit: options.max - count,
          ExclusiveStartKey: startKey,
        }),
      );
      count += output.Count ?? 0;
      startKey = output.LastEvaluatedKey;
    } while (startKey !== undefined && count < options.max);
    return Math.min(count, options.max);
  }

  async markStarted(jobId: string, at: string, deployment?: string): Promise<void> {
    const active = whileIn(ACTIVE_STATUSES);
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: jobKey(jobId),
          UpdateExpression: `SET #startedAt = if_not_exists(#startedAt, :at)${
            deployment === undefined ? '' : ', #deployment = :deployment'
          }`,
          ConditionExpression: active.expression,
          ExpressionAttributeNames: {
            '#status': 'status',
            '#startedAt': 'startedAt',
            ...(deployment === undefined ? {} : { '#deployment': 'deployment' }),
          },
          ExpressionAttributeValues: {
            ...active.values,
            ':at': at,
            ...(deployment === undefined ? {} : { ':deployment': deployment }),
          },
        }),
      );
    } catch (error) {
      // Ended (or gone) meanwhile: nothing to stamp; the step that goes on finds it ended.
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  /**
   * Puts a job back to QUEUED + deferred for `reason`; with `queue`, in its client's queue of
   * jobs waiting for a slot, otherwise out of it.
   */
  async #park(
    jobId: string,
    reason: DeferredReason,
    at: string,
    queue?: Record<string, string>,
  ): Promise<void> {
    const condition = leadingTo('QUEUED');
    const queueNames = {
      '#queuePk': BY_QUEUE_INDEX.partitionKey,
      '#queueSk': BY_QUEUE_INDEX.sortKey,
    };
    // A failover's create was definitely refused, having made nothing: no attempt to reconcile.
    // It waits for another deployment: the refusing one is no longer its (a release reads the
    // pool for the one it is handed).
    const forget = reason === 'failover' ? ' REMOVE #createAttemptedAt, #deployment' : '';
    const queueUpdate =
      queue === undefined
        ? ' REMOVE #queuePk, #queueSk'
        : `, #queuePk = :queuePk, #queueSk = :queueSk${forget}`;
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: jobKey(jobId),
          UpdateExpression: `SET #status = :queued, #gsi1pk = :gsi1pk, #deferred = :true, #deferredReason = :reason, #updatedAt = :at${queueUpdate}`,
          ConditionExpression: `${condition.expression} AND attribute_not_exists(#providerJobId)`,
          ExpressionAttributeNames: {
            '#status': 'status',
            '#gsi1pk': BY_STATUS_INDEX.partitionKey,
            '#deferred': 'deferred',
            '#deferredReason': 'deferredReason',
            '#updatedAt': 'updatedAt',
            '#providerJobId': 'providerJobId',
            ...queueNames,
            ...(reason === 'failover'
              ? { '#createAttemptedAt': 'createAttemptedAt', '#deployment': 'deployment' }
              : {}),
          },
          ExpressionAttributeValues: {
            ...condition.values,
            ':queued': 'QUEUED',
            ':gsi1pk': statusPartition('QUEUED'),
            ':true': true,
            ':reason': reason,
            ':at': at,
            ...(queue === undefined
              ? {}
              : {
                  ':queuePk': queue[BY_QUEUE_INDEX.partitionKey],
                  ':queueSk': queue[BY_QUEUE_INDEX.sortKey],
                }),
          },
          ...OLD_ITEM_ON_REFUSAL,
        }),
      );
    } catch (error) {
      const refusal = conditionFailure(error);
      if (!refusal) throw error;
      const existing = refusal.item === undefined ? undefined : fromItem(refusal.item);
      if (existing === undefined) {
        throw new JobNotFoundError(`Job ${jobId} not found`, { cause: error });
      }
      if (existing.providerJobId !== undefined && !isTerminal(existing.status)) {
        throw new JobAlreadyStartedError(
          `Job ${jobId} already has provider job ${existing.providerJobId}`,
          { cause: error },
        );
      }
      throw new JobAlreadyTerminalError(`Job ${jobId} is already ${existing.status}`, {
        cause: error,
      });
    }
  }

  async claimDeferred(jobId: string, executionName: string, at: string): Promise<boolean> {
    const queued = whileIn(['QUEUED']);
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: jobKey(jobId),
          UpdateExpression:
            'SET #deferred = :false, #executionName = :executionName, #updatedAt = :at REMOVE #deferredReason, #queuePk, #queueSk',
          ConditionExpression: `${queued.expression} AND #deferred = :true`,
          ExpressionAttributeNames: {
            '#status': 'status',
            '#deferred': 'deferred',
            '#deferredReason': 'deferredReason',
            '#executionName': 'executionName',
            '#updatedAt': 'updatedAt',
            '#queuePk': BY_QUEUE_INDEX.partitionKey,
            '#queueSk': BY_QUEUE_INDEX.sortKey,
          },
          ExpressionAttributeValues: {
            ...queued.values,
            ':true': true,
            ':false': false,
            ':executionName': executionName,
            ':at': at,
          },
        }),
      );
      return true;
    } catch (error) {
      // Gone, started or claimed by another run: in every case not this caller's to start.
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async claimResume(
    jobId: string,
    resume: { from: string; to: string; maxResumes: number },
    at: string,
  ): Promise<boolean> {
    // A job never started under another name is driven by the execution named by its id.
    const drivenByFrom =
      resume.from === jobId
        ? '(#executionName = :from OR attribute_not_exists(#executionName))'
        : '#executionName = :from';
    const active = whileIn(ACTIVE_STATUSES);
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: jobKey(jobId),
          UpdateExpression: 'SET #executionName = :to, #updatedAt = :at ADD #resumeCount :one',
          ConditionExpression: `${active.expression} AND ${drivenByFrom} AND (attribute_not_exists(#resumeCount) OR #resumeCount < :maxResumes)`,
          ExpressionAttributeNames: {
            '#status': 'status',
            '#executionName': 'executionName',
            '#updatedAt': 'updatedAt',
            '#resumeCount': 'resumeCount',
          },
          ExpressionAttributeValues: {
            ...active.values,
            ':from': resume.from,
            ':to': resume.to,
            ':at': at,
            ':one': 1,
            ':maxResumes': resume.maxResumes,
          },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /**
   * Moves a job to status `to` and SETs `attributes`, if the transition table allows the move from
   * the job's status: the job as written, or as it stood when the condition refused the write (a
   * finished job). A missing job is a JobNotFoundError.
   */
  async #update(
    jobId: string,
    to: JobStatus,
    attributes: Record<string, unknown>,
    also?: { expression: string; names: Record<string, string> },
  ): Promise<StatusWrite> {
    const condition = leadingTo(to);
    // Every status this writes is one a job does not wait for a slot in: out of the queue.
    const names: Record<string, string> = {
      '#status': 'status',
      '#queuePk': BY_QUEUE_INDEX.partitionKey,
      '#queueSk': BY_QUEUE_INDEX.sortKey,
      ...also?.names,
    };
    const values: Record<string, unknown> = { ...condition.values };
    const assignments: string[] = [];
    for (const [name, value] of Object.entries({ ...statusAttributes(to), ...attributes })) {
      if (value === undefined) continue;
      names[`#${name}`] = name;
      values[`:${name}`] = value;
      assignments.push(`#${name} = :${name}`);
    }
    try {
      const output = await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: jobKey(jobId),
          UpdateExpression: `SET ${assignments.join(', ')} REMOVE #queuePk, #queueSk`,
          ConditionExpression:
            also === undefined
              ? condition.expression
              : `${condition.expression} AND ${also.expression}`,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
          ...OLD_ITEM_ON_REFUSAL,
        }),
      );
      if (output.Attributes === undefined) {
        throw new Error(`UpdateItem of job ${jobId} answered no attributes`);
      }
      return { written: fromItem(output.Attributes) };
    } catch (error) {
      const refusal = conditionFailure(error);
      if (!refusal) throw error;
      if (refusal.item === undefined) {
        throw new JobNotFoundError(`Job ${jobId} not found`, { cause: error });
      }
      const existing = fromItem(refusal.item);
      // A retry of this very write whose first answer was lost (a timeout, a dropped
      // connection): the record already shows it, with its own timestamps, so it succeeded.
      if (existing.status === to && showsAttributes(existing, attributes)) {
        return { written: existing };
      }
      return { refusedBy: existing, cause: error };
    }
  }

  /**
   * The key exists: the same request gets the job it created, a different one a conflict.
   * `refusedBy` is the key's record from the refusal, when it came with one.
   */
  async #replay(
    job: Job,
    idempotencyKey: string,
    refusedBy: Record<string, unknown> | undefined,
    cause: unknown,
  ): Promise<{ job: Job; created: boolean }> {
    const record = refusedBy ?? (await this.#idempotencyRecord(idempotencyKey));
    if (record === undefined) throw cause;
    if (record.requestHash !== job.requestHash) {
      throw new IdempotencyConflictError(
        'The idempotency key was already used with a different request',
        { cause },
      );
    }
    const existing = typeof record.jobId === 'string' ? await this.get(record.jobId) : undefined;
    if (existing === undefined) {
      throw new JobNotFoundError(`Job of idempotency record ${String(record.jobId)} not found`, {
        cause,
      });
    }
    // The record names this very job when a retry repeated our own successful write.
    return { job: existing, created: existing.jobId === job.jobId };
  }

  async #idempotencyRecord(idempotencyKey: string): Promise<Record<string, unknown> | undefined> {
    const output = await this.#client.send(
      new GetCommand({
        TableName: this.#tableName,
        Key: idempotencyItemKey(idempotencyKey),
        ConsistentRead: true,
      }),
    );
    return output.Item;
  }
}

/**
 * The job id is taken by `item`: fine if it is this very job (a retry of our own put whose
 * answer was lost), else a collision.
 */
function resolveExistingJob(
  job: Job,
  item: Record<string, unknown> | undefined,
  cause: unknown,
): { job: Job; created: boolean } {
  const existing = item === undefined ? undefined : fromItem(item);
  if (
    existing !== undefined &&
    existing.requestHash === job.requestHash &&
    existing.createdAt === job.createdAt
  ) {
    return { job: existing, created: true };
  }
  throw new JobAlreadyExistsError(`Job ${job.jobId} already exists`, { cause });
}

/** The job a status write wrote; a refusal by a finished job is a JobAlreadyTerminalError. */
function written(outcome: StatusWrite): Job {
  if ('written' in outcome) return outcome.written;
  const { jobId, status } = outcome.refusedBy;
  throw new JobAlreadyTerminalError(`Job ${jobId} is already ${status}`, { cause: outcome.cause });
}

/** Whether the job already holds every one of these attribute values (as stored: plain JSON). */
function showsAttributes(job: Job, attributes: Record<string, unknown>): boolean {
  const stored = job as unknown as Record<string, unknown>;
  return Object.entries(attributes).every(
    ([name, value]) =>
      value === undefined || isDeepStrictEqual(stored[name], JSON.parse(JSON.stringify(value))),
  );
}

/** The index attributes that follow a job's status. */
function statusAttributes(status: JobStatus): Record<string, string> {
  return { status, [BY_STATUS_INDEX.partitionKey]: statusPartition(status) };
}

/**
 * Which index answers a list query, and what is filtered after reading it: a batch's jobs come
 * from its own index, a client's from theirs, and a status narrows either by filter (a page may
 * then hold fewer than `limit` jobs; its cursor still leads on).
 */
export function listPlan(query: ListJobsQuery): {
  index: JobIndex;
  partition: string;
  filters: Record<string, string>;
  /** The index's sort key starts with this (a creation day). */
  sortKeyPrefix?: string;
} {
  const filters: Record<string, string> = {};
  if (query.batchId !== undefined) {
    if (query.client !== undefined) filters.client = query.client;
    if (query.status !== undefined) filters.status = query.status;
    return { index: BY_BATCH_INDEX, partition: batchPartition(query.batchId), filters };
  }
  if (query.client !== undefined) {
    if (query.status !== undefined) filters.status = query.status;
    const plan = { index: BY_CLIENT_INDEX, partition: clientPartition(query.client), filters };
    // The sort key starts with the ISO creation time, so a day is a prefix of it.
    return query.createdOn === undefined ? plan : { ...plan, sortKeyPrefix: `${query.createdOn}T` };
  }
  if (query.status !== undefined) {
    return { index: BY_STATUS_INDEX, partition: statusPartition(query.status), filters };
  }
  return { index: BY_CREATED_AT_INDEX, partition: ALL_JOBS_PARTITION, filters };
}

/** The index attributes of a job, by the same plan as the queries that read them. */
export function indexAttributes(job: Job): Record<string, string> {
  const sortKey = createdSortKey(job.createdAt, job.jobId);
  const attributes: Record<string, string> = {
    [BY_STATUS_INDEX.partitionKey]: statusPartition(job.status),
    [BY_STATUS_INDEX.sortKey]: sortKey,
    [BY_CREATED_AT_INDEX.partitionKey]: ALL_JOBS_PARTITION,
    [BY_CREATED_AT_INDEX.sortKey]: sortKey,
    [BY_CLIENT_INDEX.partitionKey]: clientPartition(ownerOf(job)),
    [BY_CLIENT_INDEX.sortKey]: sortKey,
  };
  if (job.batchId !== undefined) {
    attributes[BY_BATCH_INDEX.partitionKey] = batchPartition(job.batchId);
    attributes[BY_BATCH_INDEX.sortKey] = sortKey;
  }
  return attributes;
}

function toItem(job: Job): Record<string, unknown> {
  return { ...jobKey(job.jobId), ...indexAttributes(job), ...job };
}

function fromItem(item: Record<string, unknown>): Job {
  const job: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(item)) {
    if (!keyAttributes.has(name)) job[name] = value;
  }
  return job as unknown as Job;
}

function toCursorKey(key: Record<string, unknown>): CursorKey {
  const cursorKey: CursorKey = {};
  for (const [name, value] of Object.entries(key)) {
    if (typeof value !== 'string') throw new TypeError(`Unexpected key attribute ${name}`);
    cursorKey[name] = value;
  }
  return cursorKey;
}
