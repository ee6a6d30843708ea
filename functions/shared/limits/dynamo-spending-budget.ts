import { setTimeout as sleep } from 'node:timers/promises';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  TransactWriteCommand,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { cancellationReasons } from '../aws/dynamodb-refusals.ts';
import { PARTITION_KEY, providerJobKey } from '../jobs/jobs-table.ts';
import { LimitContentionError } from './limit-errors.ts';
import type { BudgetReservation, DailyUsage, SpendingBudget } from './limits.ts';
import {
  budgetDayKey,
  budgetJobKey,
  EXPIRES_AT,
  fromMicroUsd,
  toMicroUsd,
} from './limits-table.ts';

export interface DynamoSpendingBudgetOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  /** Daily limit in USD; null records spending without limiting it. */
  dailyLimitUsd: number | null;
  /** Attempts of a change that keeps meeting concurrent writes (default 8). */
  maxAttempts?: number;
  /** Backoff before attempt `attempt + 1` after a transaction conflict (tests shorten it). */
  backoffMs?: (attempt: number) => number;
}

/** Where a job's budget record stands; every change moves it under a condition on `state`. */
export type JobBudgetState = 'reserved' | 'released' | 'spent';

interface JobBudgetRecord {
  day: string;
  state: JobBudgetState;
  reservedMicroUsd: number;
}

type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];
/**
 * How a change ended: done, refused by the day's limit, or refused by the first item (the job
 * record, or the ledger item of an orphan) as it stands now, answered with the refusal.
 */
type Outcome = 'done' | 'over-budget' | { changed: Record<string, unknown> | undefined };

// The job record a change was refused by comes back in the refusal: the next attempt starts
// from it without reading it again.
const OLD_ITEM_ON_REFUSAL = { ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } as const;

/** Day item attributes, by the expression names used for them. */
const DAY_ATTRIBUTES = {
  '#committed': 'committedMicroUsd',
  '#reserved': 'reservedMicroUsd',
  '#spent': 'spentMicroUsd',
  '#started': 'startedJobs',
  '#completed': 'completedJobs',
  '#orphaned': 'orphanedMicroUsd',
  '#orphanedJobs': 'orphanedJobs',
} as const;
type DayAttribute = keyof typeof DAY_ATTRIBUTES;

// Per-job records keep answering "counted already?" long after any retry could come.
const JOB_RECORD_TTL_SECONDS = 90 * 24 * 3600;

/**
 * The daily budget on two kinds of items (limits-table.ts): totals per UTC day and a record per
 * job. Every change writes both in one transaction, and a condition on the job record's `state`
 * makes each change happen once: reserving twice counts once, and a release or a spending
 * repeated by a retry changes nothing.
 *
 * `committedMicroUsd` = outstanding reservations + actual spending. A reservation is admitted
 * only while committed + cost <= limit, by a condition on the day item; DynamoDB cannot add in a
 * condition, so `:maxBefore` = limit - cost is computed here.
 *
 * A job's cost stays on the day it was reserved: release and recordSpent use the day in the
 * job's record, so a job finishing after midnight settles yesterday's reservation. The `day`
 * they are given only places a spending that had no reservation.
 */
export class DynamoSpendingBudget implements SpendingBudget {
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;
  readonly #limitMicroUsd: number | null;
  readonly #maxAttempts: number;
  readonly #backoffMs: (attempt: number) => number;

  constructor(options: DynamoSpendingBudgetOptions) {
    this.#client = options.client;
    this.#tableName = options.tableName;
    this.#limitMicroUsd = options.dailyLimitUsd === null ? null : toMicroUsd(options.dailyLimitUsd);
    this.#maxAttempts = options.maxAttempts ?? 8;
    this.#backoffMs =
      options.backoffMs ?? ((attempt) => Math.random() * Math.min(500, 20 * 2 ** attempt));
  }

  async reserve(jobId: string, costUsd: number, day: string): Promise<BudgetReservation> {
    const cost = toMicroUsd(costUsd);
    let record = await this.#jobRecord(jobId);
    for (let attempt = 0; attempt < this.#maxAttempts; attempt += 1) {
      // Reserved or settled before: counted once. A released record (its job failed, or the
      // sweep reclaimed it) is reserved again when its job runs again.
      if (record !== undefined && record.state !== 'released') return 'reserved';
      if (this.#limitMicroUsd !== null && cost > this.#limitMicroUsd) return 'exceeded';
      const jobItem: TransactItem =
        record === undefined
          ? {
              Put: {
                TableName: this.#tableName,
                Item: {
                  ...budgetJobKey(jobId),
                  day,
                  state: 'reserved',
                  reservedMicroUsd: cost,
                  [EXPIRES_AT]: expiresAt(day),
                },
                ConditionExpression: `attribute_not_exists(${PARTITION_KEY})`,
                ...OLD_ITEM_ON_REFUSAL,
              },
            }
          : this.#moveJobRecord(jobId, 'released', 'reserved', { day, reservedMicroUsd: cost });
      const outcome = await this.#transact('reserve', [
        jobItem,
        this.#addToDay(day, { '#committed': cost, '#reserved': cost, '#started': 1 }, cost),
      ]);
      if (outcome === 'done') return 'reserved';
      if (outcome === 'over-budget') return 'exceeded';
      // The job record changed under us (a parallel reserve of the same job): as it is now.
      record = jobBudgetRecord(outcome.changed);
    }
    throw new LimitContentionError(`Budget reservation of ${jobId} kept losing to other writes`);
  }

  async release(jobId: string, _day: string): Promise<void> {
    let record = await this.#jobRecord(jobId);
    for (let attempt = 0; attempt < this.#maxAttempts; attempt += 1) {
      if (record?.state !== 'reserved') return;
      const outcome = await this.#transact('release', [
        this.#moveJobRecord(jobId, 'reserved', 'released'),
        this.#addToDay(record.day, {
          '#committed': -record.reservedMicroUsd,
          '#reserved': -record.reservedMicroUsd,
        }),
      ]);
      if (outcome === 'done') return;
      // The job record changed meanwhile: go on from it as it is now.
      if (typeof outcome === 'object') record = jobBudgetRecord(outcome.changed);
    }
    throw new LimitContentionError(`Budget release of ${jobId} kept losing to other writes`);
  }

  async recordSpent(jobId: string, costUsd: number, day: string): Promise<void> {
    const spent = toMicroUsd(costUsd);
    let record = await this.#jobRecord(jobId);
    for (let attempt = 0; attempt < this.#maxAttempts; attempt += 1) {
      if (record?.state === 'spent') return;
      let items: TransactItem[];
      if (record === undefined) {
        items = [
          {
            Put: {
              TableName: this.#tableName,
              Item: {
                ...budgetJobKey(jobId),
                day,
                state: 'spent',
                reservedMicroUsd: 0,
                spentMicroUsd: spent,
                [EXPIRES_AT]: expiresAt(day),
              },
              ConditionExpression: `attribute_not_exists(${PARTITION_KEY})`,
              ...OLD_ITEM_ON_REFUSAL,
            },
          },
          this.#addToDay(day, { '#committed': spent, '#spent': spent, '#completed': 1 }),
        ];
      } else {
        // A reservation turns into the actual cost; a released one is charged in full.
        const returned = record.state === 'reserved' ? record.reservedMicroUsd : 0;
        items = [
          this.#moveJobRecord(jobId, record.state, 'spent', { spentMicroUsd: spent }),
          this.#addToDay(record.day, {
            '#committed': spent - returned,
            ...(returned === 0 ? {} : { '#reserved': -returned }),
            '#spent': spent,
            '#completed': 1,
          }),
        ];
      }
      const outcome = await this.#transact('recordSpent', items);
      if (outcome === 'done') return;
      // The job record changed meanwhile: go on from it as it is now.
      if (typeof outcome === 'object') record = jobBudgetRecord(outcome.changed);
    }
    throw new LimitContentionError(`Budget spending of ${jobId} kept losing to other writes`);
  }

  async recordOrphan(
    orphan: { providerJobId: string; attemptedBy: string; costUsd: number },
    day: string,
  ): Promise<boolean> {
    const cost = toMicroUsd(orphan.costUsd);
    const ledger: TransactItem = {
      Put: {
        TableName: this.#tableName,
        Item: {
          ...providerJobKey(orphan.providerJobId),
          state: 'orphan',
          attemptedBy: orphan.attemptedBy,
          costMicroUsd: cost,
          day,
        },
        ConditionExpression: `attribute_not_exists(${PARTITION_KEY})`,
      },
    };
    const outcome = await this.#transact('recordOrphan', [
      ledger,
      this.#addToDay(day, { '#committed': cost, '#orphaned': cost, '#orphanedJobs': 1 }),
    ]);
    return outcome === 'done';
  }

  async usage(day: string): Promise<DailyUsage> {
    const output = await this.#client.send(
      new GetCommand({ TableName: this.#tableName, Key: budgetDayKey(day), ConsistentRead: true }),
    );
    const item = output.Item ?? {};
    const number = (name: DayAttribute) => {
      const value: unknown = item[DAY_ATTRIBUTES[name]];
      return typeof value === 'number' ? value : 0;
    };
    return {
      day,
      limitUsd: this.#limitMicroUsd === null ? null : fromMicroUsd(this.#limitMicroUsd),
      reservedUsd: fromMicroUsd(number('#reserved')),
      spentUsd: fromMicroUsd(number('#spent')),
      startedJobs: number('#started'),
      completedJobs: number('#completed'),
      orphanedUsd: fromMicroUsd(number('#orphaned')),
      orphanedJobs: number('#orphanedJobs'),
    };
  }

  async #jobRecord(jobId: string): Promise<JobBudgetRecord | undefined> {
    const output = await this.#client.send(
      new GetCommand({
        TableName: this.#tableName,
        Key: budgetJobKey(jobId),
        ConsistentRead: true,
      }),
    );
    return jobBudgetRecord(output.Item);
  }

  /** Moves the job record from one state to another (and SETs `fields`), only from `from`. */
  #moveJobRecord(
    jobId: string,
    from: JobBudgetState,
    to: JobBudgetState,
    fields: Record<string, string | number> = {},
  ): TransactItem {
    const names: Record<string, string> = { '#state': 'state' };
    const values: Record<string, string | number> = { ':from': from, ':to': to };
    const assignments = ['#state = :to'];
    for (const [name, value] of Object.entries(fields)) {
      names[`#${name}`] = name;
      values[`:${name}`] = value;
      assignments.push(`#${name} = :${name}`);
    }
    return {
      Update: {
        TableName: this.#tableName,
        Key: budgetJobKey(jobId),
        UpdateExpression: `SET ${assignments.join(', ')}`,
        ConditionExpression: '#state = :from',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ...OLD_ITEM_ON_REFUSAL,
      },
    };
  }

  /**
   * ADDs amounts to a day's totals. With `admitting`, only while the day's committed total
   * leaves room for that many more micro-dollars under the limit.
   */
  #addToDay(
    day: string,
    amounts: Partial<Record<DayAttribute, number>>,
    admitting?: number,
  ): TransactItem {
    const names: Record<string, string> = {};
    const values: Record<string, number> = {};
    const additions: string[] = [];
    for (const [name, amount] of Object.entries(amounts) as [DayAttribute, number][]) {
      names[name] = DAY_ATTRIBUTES[name];
      values[`:${name.slice(1)}`] = amount;
      additions.push(`${name} :${name.slice(1)}`);
    }
    const update: TransactItem['Update'] & object = {
      TableName: this.#tableName,
      Key: budgetDayKey(day),
      UpdateExpression: `ADD ${additions.join(', ')}`,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    };
    if (admitting !== undefined && this.#limitMicroUsd !== null) {
      names['#committed'] = DAY_ATTRIBUTES['#committed'];
      values[':maxBefore'] = this.#limitMicroUsd - admitting;
      update.ConditionExpression = 'attribute_not_exists(#committed) OR #committed <= :maxBefore';
    }
    return { Update: update };
  }

  /**
   * Runs a job-record + day transaction, retrying transaction conflicts with jittered backoff.
   * A failed condition is an answer, not an error: the job record's (it changed meanwhile) or
   * the day's (over budget).
   */
  async #transact(operation: string, items: TransactItem[]): Promise<Outcome> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.#client.send(new TransactWriteCommand({ TransactItems: items }));
        return 'done';
      } catch (error) {
        const reasons = cancellationReasons(error);
        if (!reasons) throw error;
        const [jobRecord, day] = reasons;
        if (jobRecord?.code === 'ConditionalCheckFailed') return { changed: jobRecord.item };
        if (day?.code === 'ConditionalCheckFailed') return 'over-budget';
        if (jobRecord?.code !== 'TransactionConflict' && day?.code !== 'TransactionConflict') {
          throw error;
        }
        if (attempt >= this.#maxAttempts) {
          throw new LimitContentionError(`Budget ${operation} kept meeting transaction conflicts`, {
            cause: error,
          });
        }
        await sleep(this.#backoffMs(attempt));
      }
    }
  }
}

function jobBudgetRecord(item: Record<string, unknown> | undefined): JobBudgetRecord | undefined {
  if (item === undefined) return undefined;
  return {
    day: String(item.day),
    state: item.state as JobBudgetState,
    reservedMicroUsd: typeof item.reservedMicroUsd === 'number' ? item.reservedMicroUsd : 0,
  };
}

function expiresAt(day: string): number {
  return Math.floor(Date.parse(`${day}T00:00:00.000Z`) / 1000) + JOB_RECORD_TTL_SECONDS;
}
