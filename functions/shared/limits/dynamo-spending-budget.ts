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
import type {
  BudgetClient,
  BudgetReservation,
  ClientDailyUsage,
  DailyUsage,
  SpendingBudget,
} from './limits.ts';
import {
  BUDGET_TOTALS,
  budgetClientDayKey,
  budgetDayKey,
  budgetJobKey,
  CLIENT_BUDGET_LIMIT,
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
  /** The client it was reserved for; absent on records reserved for none (or before clients). */
  client?: string | undefined;
}

type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];
/**
 * How a change ended: done, refused by the day's limit, by the client's own limit, or by the
 * first item (the job record, or the ledger item of an orphan) as it stands now, answered with
 * the refusal.
 */
type Outcome =
  | 'done'
  | 'over-budget'
  | 'client-over-budget'
  | { changed: Record<string, unknown> | undefined };

// The job record a change was refused by comes back in the refusal: the next attempt starts
// from it without reading it again.
const OLD_ITEM_ON_REFUSAL = { ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } as const;

/** Day item attributes, by the expression names used for them. */
const DAY_ATTRIBUTES = {
  '#committed': BUDGET_TOTALS.committed,
  '#reserved': BUDGET_TOTALS.reserved,
  '#spent': BUDGET_TOTALS.spent,
  '#started': BUDGET_TOTALS.started,
  '#completed': BUDGET_TOTALS.completed,
  '#orphaned': BUDGET_TOTALS.orphaned,
  '#orphanedJobs': BUDGET_TOTALS.orphanedJobs,
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
 *
 * A job reserved for a client also counts on the client's part of the day (the same totals, on
 * a third item of the same transactions), and the job record remembers the client so its
 * release and spending move that item too. With a budget of its own the client's item admits
 * the job under the same kind of condition, so a job needs room in both; the refusal's
 * cancellation reasons tell which item refused it.
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

  async reserve(
    jobId: string,
    costUsd: number,
    day: string,
    client?: BudgetClient,
  ): Promise<BudgetReservation> {
    const cost = toMicroUsd(costUsd);
    const clientLimit =
      client?.dailyBudgetUsd === undefined ? null : toMicroUsd(client.dailyBudgetUsd);
    const owner: Record<string, string> = client === undefined ? {} : { client: client.name };
    let record = await this.#jobRecord(jobId);
    for (let attempt = 0; attempt < this.#maxAttempts; attempt += 1) {
      // Reserved or settled before: counted once. A released record (its job failed, or the
      // sweep reclaimed it) is reserved again when its job runs again.
      if (record !== undefined && record.state !== 'released') return 'reserved';
      if (this.#limitMicroUsd !== null && cost > this.#limitMicroUsd) return 'exceeded';
      if (clientLimit !== null && cost > clientLimit) return 'client-exceeded';
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
                  ...owner,
                  [EXPIRES_AT]: expiresAt(day),
                },
                ConditionExpression: `attribute_not_exists(${PARTITION_KEY})`,
                ...OLD_ITEM_ON_REFUSAL,
              },
            }
          : this.#moveJobRecord(
              jobId,
              'released',
              'reserved',
              { day, reservedMicroUsd: cost, ...owner },
              // Released by a client and reserved now for none: its settling moves no client.
              client === undefined && record.client !== undefined ? ['client'] : [],
            );
      const reservation = { '#committed': cost, '#reserved': cost, '#started': 1 } as const;
      const items = [jobItem, this.#addToDay(day, reservation, cost)];
      if (client !== undefined) {
        items.push(
          this.#addToClient(day, client.name, reservation, { cost, limitMicroUsd: clientLimit }),
        );
      }
      const outcome = await this.#transact('reserve', items);
      if (outcome === 'done') return 'reserved';
      if (outcome === 'over-budget') return 'exceeded';
      if (outcome === 'client-over-budget') return 'client-exceeded';
      // The job record changed under us (a parallel reserve of the same job): as it is now.
      record = jobBudgetRecord(outcome.changed);
    }
    throw new LimitContentionError(`Budget reservation of ${jobId} kept losing to other writes`);
  }

  async release(jobId: string, _day: string): Promise<void> {
    let record = await this.#jobRecord(jobId);
    for (let attempt = 0; attempt < this.#maxAttempts; attempt += 1) {
      if (record?.state !== 'reserved') return;
      const returned = {
        '#committed': -record.reservedMicroUsd,
        '#reserved': -record.reservedMicroUsd,
      };
      const outcome = await this.#transact('release', [
        this.#moveJobRecord(jobId, 'reserved', 'released'),
        this.#addToDay(record.day, returned),
        ...this.#addToClientOf(record, returned),
      ]);
      if (outcome === 'done') return;
      // The job record changed meanwhile: go on from it as it is now.
      if (typeof outcome === 'object') record = jobBudgetRecord(outcome.changed);
    }
    throw new LimitContentionError(`Budget release of ${jobId} kept losing to other writes`);
  }

  async recordSpent(jobId: string, costUsd: number, day: string, client?: string): Promise<void> {
    const spent = toMicroUsd(costUsd);
    let record = await this.#jobRecord(jobId);
    for (let attempt = 0; attempt < this.#maxAttempts; attempt += 1) {
      if (record?.state === 'spent') return;
      let items: TransactItem[];
      if (record === undefined) {
        const charged = { '#committed': spent, '#spent': spent, '#completed': 1 };
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
                ...(client === undefined ? {} : { client }),
                [EXPIRES_AT]: expiresAt(day),
              },
              ConditionExpression: `attribute_not_exists(${PARTITION_KEY})`,
              ...OLD_ITEM_ON_REFUSAL,
            },
          },
          this.#addToDay(day, charged),
          ...(client === undefined ? [] : [this.#addToClient(day, client, charged)]),
        ];
      } else {
        // A reservation turns into the actual cost; a released one is charged in full.
        const returned = record.state === 'reserved' ? record.reservedMicroUsd : 0;
        const settled = {
          '#committed': spent - returned,
          ...(returned === 0 ? {} : { '#reserved': -returned }),
          '#spent': spent,
          '#completed': 1,
        };
        items = [
          this.#moveJobRecord(jobId, record.state, 'spent', { spentMicroUsd: spent }),
          this.#addToDay(record.day, settled),
          ...this.#addToClientOf(record, settled),
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

  async clientUsage(client: string, day: string): Promise<ClientDailyUsage> {
    const output = await this.#client.send(
      new GetCommand({
        TableName: this.#tableName,
        Key: budgetClientDayKey(day, client),
        ConsistentRead: true,
      }),
    );
    const item = output.Item ?? {};
    const number = (name: string) => {
      const value: unknown = item[name];
      return typeof value === 'number' ? value : undefined;
    };
    const limit = number(CLIENT_BUDGET_LIMIT);
    return {
      day,
      client,
      limitUsd: limit === undefined ? null : fromMicroUsd(limit),
      reservedUsd: fromMicroUsd(number(DAY_ATTRIBUTES['#reserved']) ?? 0),
      spentUsd: fromMicroUsd(number(DAY_ATTRIBUTES['#spent']) ?? 0),
      startedJobs: number(DAY_ATTRIBUTES['#started']) ?? 0,
      completedJobs: number(DAY_ATTRIBUTES['#completed']) ?? 0,
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

  /**
   * Moves the job record from one state to another (and SETs `fields`, REMOVEs `removed`), only
   * from `from`.
   */
  #moveJobRecord(
    jobId: string,
    from: JobBudgetState,
    to: JobBudgetState,
    fields: Record<string, string | number> = {},
    removed: string[] = [],
  ): TransactItem {
    const names: Record<string, string> = { '#state': 'state' };
    const values: Record<string, string | number> = { ':from': from, ':to': to };
    const assignments = ['#state = :to'];
    for (const [name, value] of Object.entries(fields)) {
      names[`#${name}`] = name;
      values[`:${name}`] = value;
      assignments.push(`#${name} = :${name}`);
    }
    for (const name of removed) names[`#${name}`] = name;
    const removal =
      removed.length === 0 ? '' : ` REMOVE ${removed.map((name) => `#${name}`).join(', ')}`;
    return {
      Update: {
        TableName: this.#tableName,
        Key: budgetJobKey(jobId),
        UpdateExpression: `SET ${assignments.join(', ')}${removal}`,
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
  #addToDay(day: string, amounts: Totals, admitting?: number): TransactItem {
    const admission =
      admitting === undefined ? undefined : { cost: admitting, limitMicroUsd: this.#limitMicroUsd };
    return { Update: addTotals(this.#tableName, budgetDayKey(day), amounts, admission) };
  }

  /**
   * ADDs amounts to a client's part of a day. A reservation (`admitting`) is admitted only under
   * the client's own limit, and records that limit on the item (removes it when the client has
   * none), so its usage shows the limit to whoever reads it.
   */
  #addToClient(
    day: string,
    client: string,
    amounts: Totals,
    admitting?: { cost: number; limitMicroUsd: number | null },
  ): TransactItem {
    const update = addTotals(this.#tableName, budgetClientDayKey(day, client), amounts, admitting);
    if (admitting !== undefined) {
      update.ExpressionAttributeNames['#limit'] = CLIENT_BUDGET_LIMIT;
      if (admitting.limitMicroUsd === null) {
        update.UpdateExpression += ' REMOVE #limit';
      } else {
        update.ExpressionAttributeValues[':limit'] = admitting.limitMicroUsd;
        update.UpdateExpression += ' SET #limit = :limit';
      }
    }
    return { Update: update };
  }

  /** The client item's share of a settlement: none for a record reserved for no client. */
  #addToClientOf(record: JobBudgetRecord, amounts: Totals): TransactItem[] {
    return record.client === undefined
      ? []
      : [this.#addToClient(record.day, record.client, amounts)];
  }

  /**
   * Runs a job-record + day (+ client) transaction, retrying transaction conflicts with jittered
   * backoff. A failed condition is an answer, not an error: the job record's (it changed
   * meanwhile), the day's (over budget) or the client's (over its own budget); the day's wins
   * when both refused, as no client could start then.
   */
  async #transact(operation: string, items: TransactItem[]): Promise<Outcome> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.#client.send(new TransactWriteCommand({ TransactItems: items }));
        return 'done';
      } catch (error) {
        const reasons = cancellationReasons(error);
        if (!reasons) throw error;
        const [jobRecord, day, client] = reasons;
        if (jobRecord?.code === 'ConditionalCheckFailed') return { changed: jobRecord.item };
        if (day?.code === 'ConditionalCheckFailed') return 'over-budget';
        if (client?.code === 'ConditionalCheckFailed') return 'client-over-budget';
        if (!reasons.some((reason) => reason.code === 'TransactionConflict')) throw error;
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
    client: typeof item.client === 'string' ? item.client : undefined,
  };
}

type Totals = Partial<Record<DayAttribute, number>>;

/**
 * An update ADDing amounts to the totals of a day (or a client's part of it). With `admitting`
 * and a limit, only while the committed total leaves room for `cost` more micro-dollars under
 * it: DynamoDB cannot add in a condition, so `:maxBefore` = limit - cost is computed here.
 */
function addTotals(
  tableName: string,
  key: Record<string, string>,
  amounts: Totals,
  admitting?: { cost: number; limitMicroUsd: number | null },
) {
  const names: Record<string, string> = {};
  const values: Record<string, number> = {};
  const additions: string[] = [];
  for (const [name, amount] of Object.entries(amounts) as [DayAttribute, number][]) {
    names[name] = DAY_ATTRIBUTES[name];
    values[`:${name.slice(1)}`] = amount;
    additions.push(`${name} :${name.slice(1)}`);
  }
  const update: {
    TableName: string;
    Key: Record<string, string>;
    UpdateExpression: string;
    ExpressionAttributeNames: Record<string, string>;
    ExpressionAttributeValues: Record<string, number>;
    ConditionExpression?: string;
  } = {
    TableName: tableName,
    Key: key,
    UpdateExpression: `ADD ${additions.join(', ')}`,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
  if (admitting !== undefined && admitting.limitMicroUsd !== null) {
    names['#committed'] = DAY_ATTRIBUTES['#committed'];
    values[':maxBefore'] = admitting.limitMicroUsd - admitting.cost;
    update.ConditionExpression = 'attribute_not_exists(#committed) OR #committed <= :maxBefore';
  }
  return update;
}

function expiresAt(day: string): number {
  return Math.floor(Date.parse(`${day}T00:00:00.000Z`) / 1000) + JOB_RECORD_TTL_SECONDS;
}
