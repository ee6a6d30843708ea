import { createHash } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { Job } from '../../functions/shared/jobs/job.ts';

/**
 * Reads what the pipeline recorded, straight from a local stack's DynamoDB table and S3 bucket,
 * so that end-to-end tests can check the money-and-work invariants (DESIGN.md section 6): the
 * jobs, the provider-job ledger (PROVIDERJOB#<id>), the budget items and the semaphore.
 */

export interface AuditEndpoints {
  dynamodbEndpoint: string;
  table: string;
  s3Endpoint: string;
  bucket: string;
}

/**
 * A PROVIDERJOB#<providerJobId> item: the provider job is claimed by `jobId`, or (state `orphan`)
 * was created for `attemptedBy`, a job that could no longer hold it.
 */
export interface LedgerEntry {
  providerJobId: string;
  state: string;
  jobId?: string;
  attemptedBy?: string;
}

/** A BUDGET#DAY#<day> item (amounts in micro-dollars). */
export interface BudgetDay {
  day: string;
  committedMicroUsd: number;
  reservedMicroUsd: number;
  spentMicroUsd: number;
  /** Cost of orphans (provider jobs no job holds) charged to the day. */
  orphanedMicroUsd: number;
}

/** A BUDGET#JOB#<jobId> item. */
export interface BudgetJob {
  jobId: string;
  day: string;
  state: 'reserved' | 'released' | 'spent';
  reservedMicroUsd: number;
  spentMicroUsd: number;
}

/** A BUDGET#CLIENTS#<day> item: one client's part of a day (amounts in micro-dollars). */
export interface BudgetClientDay {
  day: string;
  client: string;
  reservedMicroUsd: number;
  spentMicroUsd: number;
}

export interface TableSnapshot {
  jobs: Job[];
  ledger: LedgerEntry[];
  budgetDays: BudgetDay[];
  budgetClientDays: BudgetClientDay[];
  budgetJobs: Map<string, BudgetJob>;
  /** The job ids holding a concurrency slot (LIMIT#concurrency). */
  holders: string[];
  /** The same, per client (`holders#<client>` of LIMIT#concurrency). */
  clientHolders: Map<string, string[]>;
  /** The same, per provider deployment (`holders@<deployment>` of LIMIT#concurrency). */
  deploymentHolders: Map<string, string[]>;
}

export interface StoredObject {
  key: string;
  bytes: Buffer;
}

export const sha256Hex = (data: Uint8Array): string =>
  createHash('sha256').update(data).digest('hex');

const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export class PipelineAudit {
  readonly #endpoints: AuditEndpoints;
  readonly #dynamo: DynamoDBDocumentClient;
  readonly #s3: S3Client;

  constructor(endpoints: AuditEndpoints) {
    this.#endpoints = endpoints;
    this.#dynamo = DynamoDBDocumentClient.from(
      new DynamoDBClient({
        endpoint: endpoints.dynamodbEndpoint,
        region: 'us-east-1',
        credentials,
      }),
    );
    this.#s3 = new S3Client({
      endpoint: endpoints.s3Endpoint,
      region: 'us-east-1',
      credentials,
      forcePathStyle: true,
    });
  }

  /** Every item of the table (consistent reads), sorted into what the pipeline keeps there. */
  async snapshot(): Promise<TableSnapshot> {
    const items = await this.#scan();
    const snapshot: TableSnapshot = {
      jobs: [],
      ledger: [],
      budgetDays: [],
      budgetClientDays: [],
      budgetJobs: new Map(),
      holders: [],
      clientHolders: new Map(),
      deploymentHolders: new Map(),
    };
    for (const item of items) {
      const pk = String(item.pk);
      if (pk.startsWith('JOB#') && item.sk === 'JOB') {
        snapshot.jobs.push(item as unknown as Job);
      } else if (pk.startsWith('PROVIDERJOB#')) {
        snapshot.ledger.push({
          providerJobId: pk.slice('PROVIDERJOB#'.length),
          state: String(item.state),
          ...(item.jobId === undefined ? {} : { jobId: String(item.jobId) }),
          ...(item.attemptedBy === undefined ? {} : { attemptedBy: String(item.attemptedBy) }),
        });
      } else if (pk.startsWith('BUDGET#DAY#')) {
        snapshot.budgetDays.push({
          day: pk.slice('BUDGET#DAY#'.length),
          committedMicroUsd: Number(item.committedMicroUsd ?? 0),
          reservedMicroUsd: Number(item.reservedMicroUsd ?? 0),
          spentMicroUsd: Number(item.spentMicroUsd ?? 0),
          orphanedMicroUsd: Number(item.orphanedMicroUsd ?? 0),
        });
      } else if (pk.startsWith('BUDGET#CLIENTS#')) {
        snapshot.budgetClientDays.push({
          day: pk.slice('BUDGET#CLIENTS#'.length),
          client: String(item.sk).slice('CLIENT#'.length),
          reservedMicroUsd: Number(item.reservedMicroUsd ?? 0),
          spentMicroUsd: Number(item.spentMicroUsd ?? 0),
        });
      } else if (pk.startsWith('BUDGET#JOB#')) {
        const jobId = pk.slice('BUDGET#JOB#'.length);
        snapshot.budgetJobs.set(jobId, {
          jobId,
          day: String(item.day),
          state: item.state as BudgetJob['state'],
          reservedMicroUsd: Number(item.reservedMicroUsd ?? 0),
          spentMicroUsd: Number(item.spentMicroUsd ?? 0),
        });
      } else if (pk === 'LIMIT#concurrency') {
        const holders = item.holders as Set<string> | string[] | undefined;
        snapshot.holders = holders ? [...holders] : [];
        for (const [name, value] of Object.entries(item)) {
          const held = value as Set<string> | string[];
          if (name.startsWith('holders#')) {
            snapshot.clientHolders.set(name.slice('holders#'.length), [...held]);
          } else if (name.startsWith('holders@')) {
            snapshot.deploymentHolders.set(name.slice('holders@'.length), [...held]);
          }
        }
      }
    }
    snapshot.jobs.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    return snapshot;
  }

  /** The jobs only, by id. */
  async jobs(): Promise<Map<string, Job>> {
    const items = await this.#scan({
      FilterExpression: 'sk = :job',
      ExpressionAttributeValues: { ':job': 'JOB' },
    });
    return new Map(items.map((item) => [String(item.jobId), item as unknown as Job]));
  }

  /** Every object under `prefix`, with its bytes. */
  async objects(prefix: string): Promise<StoredObject[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.#s3.send(
        new ListObjectsV2Command({
          Bucket: this.#endpoints.bucket,
          Prefix: prefix,
          ...(token ? { ContinuationToken: token } : {}),
        }),
      );
      keys.push(...(page.Contents ?? []).map((object) => object.Key ?? ''));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return Promise.all(
      keys.map(async (key) => {
        const object = await this.#s3.send(
          new GetObjectCommand({ Bucket: this.#endpoints.bucket, Key: key }),
        );
        return { key, bytes: Buffer.from((await object.Body?.transformToByteArray()) ?? []) };
      }),
    );
  }

  destroy(): void {
    this.#dynamo.destroy();
    this.#s3.destroy();
  }

  async #scan(
    filter: { FilterExpression?: string; ExpressionAttributeValues?: Record<string, unknown> } = {},
  ): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.#dynamo.send(
        new ScanCommand({
          TableName: this.#endpoints.table,
          ConsistentRead: true,
          ...filter,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      items.push(...((page.Items ?? []) as Record<string, unknown>[]));
      start = page.LastEvaluatedKey;
    } while (start);
    return items;
  }
}

/**
 * Resolves with `value()` once it is not undefined, checking every `everyMs`; fails naming `what`
 * after `timeoutMs` (wall clock).
 */
export async function waitFor<T>(
  what: string,
  value: () => T | undefined | Promise<T | undefined>,
  { timeoutMs = 30_000, everyMs = 10 }: { timeoutMs?: number; everyMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await value();
    if (found !== undefined) return found;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** Counts of each value, for readable failure messages (`{ "sora-pipeline-job_x": 2 }`). */
export function countBy<T>(values: readonly T[], key: (value: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(key(value), (counts.get(key(value)) ?? 0) + 1);
  return counts;
}

/** The entries of `counts` above 1: what should have been unique. */
export function duplicates(counts: Map<string, number>): Record<string, number> {
  return Object.fromEntries([...counts].filter(([, count]) => count > 1));
}
