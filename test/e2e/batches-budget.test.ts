import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Job } from '../../functions/shared/jobs/job.ts';
import { jobKey } from '../../functions/shared/jobs/jobs-table.ts';
import type { SchedulerSummary } from '../../functions/shared/scheduler/run-scheduler.ts';
import { type LocalStack, startLocalStack } from '../../infra/local/local-stack.ts';
import { lastNoonUtc } from '../support/clock-start.ts';

// A daily budget of $1.20 covers exactly three 4-second sora-2 clips at $0.10 per second.
const BUDGET_USD = 1.2;

let stack: LocalStack;
let s3: S3Client;
let dynamo: DynamoDBDocumentClient;

beforeAll(async () => {
  stack = await startLocalStack({
    dataDir: null,
    dynamoDbEndpoint: inject('dynamoDbEndpoint'),
    speed: 50,
    // Spending counts per UTC day: start far from midnight so the test stays within one.
    clockStartMs: lastNoonUtc(),
    context: {
      'budget:dailyUsd': String(BUDGET_USD),
      'limits:maxConcurrentJobs': '5',
    },
    scheduleTimer: false,
    logLevel: process.env.E2E_LOG_LEVEL ?? 'SILENT',
  });
  const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
  s3 = new S3Client({
    endpoint: stack.s3Endpoint,
    region: 'us-east-1',
    credentials,
    forcePathStyle: true,
  });
  dynamo = DynamoDBDocumentClient.from(
    new DynamoDBClient({ endpoint: stack.dynamodbEndpoint, region: 'us-east-1', credentials }),
  );
});

afterAll(async () => {
  await stack?.stop();
});

async function job(jobId: string): Promise<Job | undefined> {
  const { Item } = await dynamo.send(
    new GetCommand({ TableName: stack.table, Key: jobKey(jobId), ConsistentRead: true }),
  );
  return Item as Job | undefined;
}

describe('a daily budget that covers 3 jobs', () => {
  it('starts exactly 3 of 5, puts the others back to wait, and the schedule starts none of them', async () => {
    const simulator = stack.simulator;
    if (!simulator) throw new Error('the e2e stack runs the simulator');
    const lines = Array.from({ length: 5 }, (_, i) =>
      JSON.stringify({ prompt: `Budget clip ${i}`, seconds: '4' }),
    );

    await s3.send(
      new PutObjectCommand({
        Bucket: stack.bucket,
        Key: 'inbox/budget.jsonl',
        Body: lines.join('\n'),
      }),
    );
    await stack.whenEventsIdle();
    const object = await s3.send(
      new GetObjectCommand({ Bucket: stack.bucket, Key: 'inbox-results/budget.jsonl.json' }),
    );
    const report = JSON.parse((await object.Body?.transformToString()) ?? '') as {
      results: { jobId: string }[];
    };
    const jobIds = report.results.map((line) => line.jobId);
    await stack.stepFunctions.whenIdle();
    const jobs = await Promise.all(jobIds.map(job));
    const creates = simulator.stats.creates;
    const summary = (await stack.runScheduler()) as SchedulerSummary;
    await stack.stepFunctions.whenIdle();
    const usage = await fetch(`${stack.apiUrl}/usage`, { headers: stack.headers });

    expect(creates).toBe(3);
    const outcomes = jobs.map((found) => `${found?.status}/${found?.deferredReason ?? '-'}`);
    expect(outcomes.sort()).toEqual([
      'COMPLETED/-',
      'COMPLETED/-',
      'COMPLETED/-',
      'QUEUED/budget',
      'QUEUED/budget',
    ]);
    expect(summary).toMatchObject({ started: [], overBudget: 2 });
    expect(await usage.json()).toMatchObject({
      budget: { limitUsd: BUDGET_USD, spentUsd: 1.2, remainingUsd: 0 },
    });
    expect(simulator.stats.creates).toBe(3);
  });
});
