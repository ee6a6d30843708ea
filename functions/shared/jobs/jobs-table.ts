/**
 * The jobs table's key design, in one place: `DynamoJobStore` builds its items from these names
 * and the CDK stack declares the table with them; the local stack creates the table from the
 * synthesized template (infra/local/local-tables.ts), so none of them can disagree.
 */
import { DEFAULT_PRIORITY, type Job, type JobPriority, type JobStatus, ownerOf } from './job.ts';

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

/** GSI listing one client's jobs, newest first. */
export const BY_CLIENT_INDEX = {
  name: 'byClient',
  partitionKey: 'gsi3pk',
  sortKey: 'gsi3sk',
} as const;

/** Sparse GSI listing the jobs of one batch (a drop file, a batch file), newest first. */
export const BY_BATCH_INDEX = {
  name: 'byBatch',
  partitionKey: 'gsi4pk',
  sortKey: 'gsi4sk',
} as const;

/**
 * Sparse GSI of the jobs waiting for a slot: one partition per client, in the order the client's
 * jobs are admitted (priority, then first come). A job is in it only while it waits parked for a
 * slot (QUEUED, deferred `capacity`); every other write takes it out.
 */
export const BY_QUEUE_INDEX = {
  name: 'byQueue',
  partitionKey: 'gsi5pk',
  sortKey: 'gsi5sk',
} as const;

export type JobIndex =
  | typeof BY_QUEUE_INDEX
  | typeof BY_STATUS_INDEX
  | typeof BY_CREATED_AT_INDEX
  | typeof BY_CLIENT_INDEX
  | typeof BY_BATCH_INDEX;

/**
 * Every index of the jobs table. CloudFormation adds one index per stack update: a deployment
 * made before an index existed gets the new ones over as many deploys.
 */
export const JOB_INDEXES: readonly JobIndex[] = [
  BY_STATUS_INDEX,
  BY_CREATED_AT_INDEX,
  BY_CLIENT_INDEX,
  BY_BATCH_INDEX,
  BY_QUEUE_INDEX,
];

/** Attributes that exist only for the table's keys and indexes, never part of a `Job`. */
export const KEY_ATTRIBUTES: readonly string[] = [
  PARTITION_KEY,
  SORT_KEY,
  ...JOB_INDEXES.flatMap((index) => [index.partitionKey, index.sortKey]),
];

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

export const clientPartition = (client: string) => `CLIENT#${client}`;

export const batchPartition = (batchId: string) => `BATCH#${batchId}`;

/** The single partition of the byCreatedAt index. */
export const ALL_JOBS_PARTITION = 'JOBS';

/** Sort key of both indexes: ISO timestamps sort as strings; the job id breaks ties. */
export const createdSortKey = (createdAt: string, jobId: string) => `${createdAt}#${jobId}`;

export const queuePartition = (client: string) => `QUEUE#${client}`;

const PRIORITY_RANK: Record<JobPriority, number> = { high: 0, normal: 1, low: 2 };

/** Sort key of the queue index: priority rank, then creation time; the job id breaks ties. */
export const queueSortKey = (job: Pick<Job, 'jobId' | 'createdAt' | 'priority'>) =>
  `${PRIORITY_RANK[job.priority ?? DEFAULT_PRIORITY]}#${job.createdAt}#${job.jobId}`;

/** The queue index attributes of a job waiting for a slot. */
export const queueAttributes = (job: Pick<Job, 'jobId' | 'createdAt' | 'priority' | 'client'>) => ({
  [BY_QUEUE_INDEX.partitionKey]: queuePartition(ownerOf(job)),
  [BY_QUEUE_INDEX.sortKey]: queueSortKey(job),
});
