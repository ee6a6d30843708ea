import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DynamoDeploymentHealth,
  FAILURES_TO_OPEN,
} from '../../functions/shared/admission/deployment-health.ts';
import { DynamoJobStore } from '../../functions/shared/jobs/dynamo-job-store.ts';
import { deploymentHealthContract } from '../support/deployment-health-contract.ts';
import { type DynamoDbLocal, startDynamoDbLocal } from '../support/dynamodb-local.ts';
import { aJob } from '../support/job-fixtures.ts';

/**
 * The deployment breakers on DynamoDB Local: concurrent callers race through the real
 * conditional writes (one opening, one probe, one closing), which mocks cannot show. Each test
 * works on its own table.
 */

let dynamo: DynamoDbLocal;

beforeAll(async () => {
  dynamo = await startDynamoDbLocal();
});

afterAll(async () => {
  await dynamo?.stop();
});

async function freshHealth(): Promise<{ health: DynamoDeploymentHealth; tableName: string }> {
  const tableName = await dynamo.createJobsTable(`health-${randomUUID()}`);
  return { health: new DynamoDeploymentHealth({ client: dynamo.documents, tableName }), tableName };
}

deploymentHealthContract('DynamoDB Local', async () => (await freshHealth()).health);

describe('DynamoDeploymentHealth on DynamoDB Local', () => {
  it('lives next to jobs without showing up in job lists', async () => {
    const { health, tableName } = await freshHealth();
    const store = new DynamoJobStore({ client: dynamo.documents, tableName });
    await store.create(aJob({ jobId: 'job_listed' }));

    for (let i = 0; i < FAILURES_TO_OPEN; i += 1) {
      await health.recordFailure('eastus', new Date(), 'ProviderTransientError 503');
    }
    const page = await store.list({ limit: 10 });

    expect(page.jobs.map((job) => job.jobId)).toEqual(['job_listed']);
  });
});
