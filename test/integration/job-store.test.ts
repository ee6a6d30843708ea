import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoJobStore } from '../../functions/shared/jobs/dynamo-job-store.ts';
import type { Job } from '../../functions/shared/jobs/job.ts';
import { ProviderJobClaimedError } from '../../functions/shared/jobs/job-errors.ts';
import { newJobId } from '../../functions/shared/jobs/job-id.ts';
import { DynamoSpendingBudget } from '../../functions/shared/limits/dynamo-spending-budget.ts';
import { type DynamoDbLocal, startDynamoDbLocal } from '../support/dynamodb-local.ts';
import { aJob } from '../support/job-fixtures.ts';
import { jobStoreContract } from '../support/job-store-contract.ts';

// DynamoJobStore against DynamoDB Local, on the table definition CDK deploys: the JobStore
// contract (the in-memory fake passes the same one), and what only this adapter does. What the
// contract cannot reach (refusals DynamoDB Local does not give, reads that must be consistent on
// AWS) is in test/unit/jobs/dynamo-job-store.test.ts; lost answers in lost-answers.test.ts.

let dynamo: DynamoDbLocal;
let store: DynamoJobStore;
let tableName: string;

beforeAll(async () => {
  dynamo = await startDynamoDbLocal();
  tableName = await dynamo.createJobsTable('jobs-integration');
  store = new DynamoJobStore({ client: dynamo.documents, tableName });
});

afterAll(async () => {
  await dynamo?.stop();
});

/** A job with a fresh id, created at `createdAt` (unique per test so tests share the table). */
function freshJob(overrides: Partial<Job> = {}): Job {
  const createdAt = new Date(overrides.createdAt ?? Date.now());
  return aJob({ jobId: newJobId(createdAt), createdAt: createdAt.toISOString(), ...overrides });
}

// The same contract the in-memory fake passes (test/unit/jobs/in-memory-job-store-contract.test.ts).
jobStoreContract(
  'DynamoDB Local',
  async () =>
    new DynamoJobStore({
      client: dynamo.documents,
      tableName: await dynamo.createJobsTable(`jobs-contract-${newJobId()}`),
    }),
);

// What only this adapter has: the ledger shares the table with the budget's orphan records.
describe('the provider-job ledger on DynamoDB Local', () => {
  const started = (job: Job) => ({ ...job, status: 'IN_PROGRESS' as const });
  const claim = (jobId: string, providerJobId: string) =>
    store.recordProviderJob(jobId, { providerJobId, providerStatus: 'queued', progress: 0 });

  it('refuses to let a job adopt a provider job recorded as an orphan, which counts on the budget once', async () => {
    const budget = new DynamoSpendingBudget({
      client: dynamo.documents,
      tableName,
      dailyLimitUsd: 10,
    });
    const job = started(freshJob());
    await store.create(job);
    const orphan = `video_${newJobId()}`;
    const day = '2026-04-01';

    const first = await budget.recordOrphan(
      { providerJobId: orphan, attemptedBy: 'job_closed', costUsd: 0.4 },
      day,
    );
    const again = await budget.recordOrphan(
      { providerJobId: orphan, attemptedBy: 'job_closed', costUsd: 0.4 },
      day,
    );

    expect([first, again]).toEqual([true, false]);
    expect(await budget.usage(day)).toMatchObject({ orphanedUsd: 0.4, orphanedJobs: 1 });
    await expect(claim(job.jobId, orphan)).rejects.toThrow(ProviderJobClaimedError);
  });
});
