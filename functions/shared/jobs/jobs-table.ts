/**
 * The jobs table's key design, in one place: `DynamoJobStore` builds its items from these names
 * and the CDK stack declares the table with them; the local stack creates the table from the
 * synthesized template (infra/local/local-tables.ts), so none of them can disagree.
 */
import type { JobStatus } from './job.ts';

export const PARTITION_KEY = 'pk';
export const SORT_KEY = 'sk';

/** GSI listing jobs of one status, newest first. */
export const BY_STATUS_INDEX = {
  name: 'byStatus',
  partitionKey: 'gsi1pk',
  sortKey: 'gsi1sk',
} as const;

/** GSI listing every job, newest first. */
export const BY_CREATED_AT_INDEX = {
  name: 'byCreatedAt',
  partitionKey: 'gsi2pk',
  sortKey: 'gsi2sk',
} as const;

/** Attributes that exist only for the table's keys and indexes, never part of a `Job`. */
export const KEY_ATTRIBUTES = [
  PARTITION_KEY,
  SORT_KEY,
  BY_STATUS_INDEX.partitionKey,
  BY_STATUS_INDEX.sortKey,
  BY_CREATED_AT_INDEX.partitionKey,
  BY_CREATED_AT_INDEX.sortKey,
] as const;

export const jobKey = (jobId: string) => ({ [PARTITION_KEY]: `JOB#${jobId}`, [SORT_KEY]: 'JOB' });

export const idempotencyKey = (key: string) => ({
  [PARTITION_KEY]: `IDEMPOTENCY#${key}`,
  [SORT_KEY]: 'IDEMPOTENCY',
});

/**
 * The provider-job ledger: one item per provider job the pipeline created or adopted, naming the
 * one job that holds it (`jobId`), or marking it an orphan nobody claimed.
 */
export const providerJobKey = (providerJobId: string) => ({
  [PARTITION_KEY]: `PROVIDERJOB#${providerJobId}`,
  [SORT_KEY]: 'LEDGER',
});

export const statusPartition = (status: JobStatus) => `STATUS#${status}`;

/** The single partition of the byCreatedAt index. */
export const ALL_JOBS_PARTITION = 'JOBS';

/** Sort key of both indexes: ISO timestamps sort as strings; the job id breaks ties. */
export const createdSortKey = (createdAt: string, jobId: string) => `${createdAt}#${jobId}`;
