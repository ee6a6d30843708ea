import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Job } from '../../functions/shared/jobs/job.ts';
import { jobKey } from '../../functions/shared/jobs/jobs-table.ts';
import { DynamoConcurrencySemaphore } from '../../functions/shared/limits/dynamo-concurrency-semaphore.ts';
import type { SchedulerSummary } from '../../functions/shared/scheduler/run-scheduler.ts';
import { executionArn } from '../../infra/local/local-ids.ts';
import { type LocalStack, startLocalStack } from '../../infra/local/local-stack.ts';
import { localDocuments } from '../support/dynamodb-local.ts';

// The drop folder, the schedule and the concurrency limit on the local stack. The schedule's
// timer is off: each test runs the scheduler when it wants a run.
const SPEED = 50;
const LIMIT = 2;

let stack: LocalStack;
let s3: S3Client;
let dynamo: DynamoDBDocumentClient;
let semaphore: DynamoConcurrencySemaphore;

beforeAll(async () => {
  stack = await startLocalStack({
    dataDir: null,
    dynamoDbEndpoint: inject('dynamoDbEndpoint'),
    speed: SPEED,
    context: { 'limits:maxConcurrentJobs': String(LIMIT) },
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
  semaphore = new DynamoConcurrencySemaphore({
    client: localDocuments(stack.dynamodbEndpoint),
    tableName: stack.table,
    limit: LIMIT,
  });
});

afterAll(async () => {
  await stack?.stop();
});

async function drop(key: string, body: string): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: key, Body: body }));
  // s3rver reports the object before it answers the PUT: its delivery is under way now.
  await stack.whenEventsIdle();
}

interface Report {
  source: { key: string; eTag?: string };
  totals: { entries: number; accepted: number; rejected: number };
  results: (
    | { line: number; jobId: string; deferred: boolean }
    | { line: number; error: { field: string; message: string } }
  )[];
  error?: { field: string; message: string };
}

async function report(key: string): Promise<Report> {
  const object = await s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: key }));
  return JSON.parse((await object.Body?.transformToString()) ?? '') as Report;
}

const jobIdsOf = (r: Report) => r.results.flatMap((line) => ('jobId' in line ? [line.jobId] : []));

async function job(jobId: string): Promise<Job | undefined> {
  const { Item } = await dynamo.send(
    new GetCommand({ TableName: stack.table, Key: jobKey(jobId), ConsistentRead: true }),
  );
  return Item as Job | undefined;
}

async function jobCount(): Promise<number> {
  const { Count } = await dynamo.send(
    new ScanCommand({
      TableName: stack.table,
      Select: 'COUNT',
      FilterExpression: 'sk = :job',
      ExpressionAttributeValues: { ':job': 'JOB' },
    }),
  );
  return Count ?? 0;
}

/** Resolves once every job is in one of `statuses`; fails after `timeoutMs`. */
async function untilJobs(
  jobIds: string[],
  statuses: Job['status'][],
  timeoutMs = 25_000,
): Promise<Job[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const jobs = await Promise.all(jobIds.map(job));
    if (jobs.every((found) => found !== undefined && statuses.includes(found.status))) {
      return jobs as Job[];
    }
    if (Date.now() > deadline) {
      throw new Error(`jobs not ${statuses.join('/')}: ${jobs.map((found) => found?.status)}`);
    }
    // One read per job: not so often that the reads take the CPU the jobs run on.
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const runScheduler = async () => (await stack.runScheduler()) as SchedulerSummary;

describe('a .jsonl dropped in inbox/', () => {
  it('becomes one job per valid line and a report naming each line’s job or error', async () => {
    const lines = [
      '{"prompt":"A lighthouse at dawn","seconds":"4"}',
      '{"prompt":"A storm","seconds":"5"}',
      '',
      '{"prompt":',
      '{"prompt":"A harbour at night","size":"1280x720"}',
    ];

    await drop('inbox/e2e/first.jsonl', lines.join('\n'));
    const first = await report('inbox-results/e2e/first.jsonl.json');
    const jobIds = jobIdsOf(first);
    const jobs = await untilJobs(jobIds, ['COMPLETED']);

    expect(first.totals).toEqual({ entries: 4, accepted: 2, rejected: 2 });
    expect(first.results).toEqual([
      { line: 1, jobId: expect.stringMatching(/^job_/), status: 'QUEUED', deferred: false },
      { line: 2, error: { field: 'seconds', message: expect.stringContaining('seconds') } },
      { line: 4, error: { field: 'body', message: 'body: is not valid JSON' } },
      { line: 5, jobId: expect.stringMatching(/^job_/), status: 'QUEUED', deferred: false },
    ]);
    expect(jobs.map(({ source, prompt, size }) => ({ source, prompt, size }))).toEqual([
      { source: 'inbox', prompt: 'A lighthouse at dawn', size: '720x1280' },
      { source: 'inbox', prompt: 'A harbour at night', size: '1280x720' },
    ]);
  });

  it('creates no second job when the same event is delivered again', async () => {
    let delivered: Parameters<Parameters<typeof stack.s3.server.on>[1]>[0] | undefined;
    const capture = (event: unknown) => {
      delivered ??= event;
    };
    stack.s3.server.on('event', capture);
    await drop('inbox/e2e/twice.txt', 'A kite over the dunes');
    stack.s3.server.off('event', capture);
    const first = await report('inbox-results/e2e/twice.txt.json');
    const jobs = await jobCount();

    stack.s3.server.emit('event', delivered);
    await stack.whenEventsIdle();
    const second = await report('inbox-results/e2e/twice.txt.json');

    expect(await jobCount()).toBe(jobs);
    expect(jobIdsOf(second)).toEqual(jobIdsOf(first));
    expect(jobIdsOf(first)).toHaveLength(1);
  });

  it('reports a file of an unknown kind and one that is not UTF-8, starting nothing', async () => {
    const jobs = await jobCount();

    await drop('inbox/e2e/notes.md', '# not a prompt');
    await s3.send(
      new PutObjectCommand({
        Bucket: stack.bucket,
        Key: 'inbox/e2e/latin1.txt',
        Body: Buffer.from([0x63, 0x61, 0x66, 0xe9]),
      }),
    );
    await stack.whenEventsIdle();

    expect((await report('inbox-results/e2e/notes.md.json')).error?.message).toMatch(/extension/);
    expect((await report('inbox-results/e2e/latin1.txt.json')).error?.message).toMatch(/UTF-8/);
    expect(await jobCount()).toBe(jobs);
  });
});

describe('a .jsonl dropped in batches/', () => {
  it('waits as deferred jobs until scheduled runs start them within the free slots', async () => {
    const lines = ['A', 'B', 'C'].map((name) => JSON.stringify({ prompt: `Batch clip ${name}` }));

    await drop('batches/e2e/nightly.jsonl', lines.join('\n'));
    const batch = await report('batches-results/e2e/nightly.jsonl.json');
    const jobIds = jobIdsOf(batch);
    const waiting = await Promise.all(jobIds.map(job));
    // Jobs of earlier tests are done: both slots are free.
    await stack.stepFunctions.whenIdle();
    const first = await runScheduler();
    const runs = [first];
    while (runs.flatMap((run) => run.started).length < jobIds.length && runs.length < 20) {
      await untilJobs(runs.at(-1)?.started.map((s) => s.jobId) ?? [], ['COMPLETED']);
      runs.push(await runScheduler());
    }
    const done = await untilJobs(jobIds, ['COMPLETED']);

    expect(batch.totals).toEqual({ entries: 3, accepted: 3, rejected: 0 });
    expect(waiting.map((found) => [found?.status, found?.deferred, found?.source])).toEqual([
      ['QUEUED', true, 'batch'],
      ['QUEUED', true, 'batch'],
      ['QUEUED', true, 'batch'],
    ]);
    // Oldest first, never more than the free slots in one run.
    expect(first.freeSlots).toBe(LIMIT);
    const oldestFirst = waiting
      .flatMap((found) => (found ? [`${found.createdAt}#${found.jobId}`] : []))
      .sort()
      .map((sortKey) => sortKey.split('#')[1]);
    expect(first.started.map((s) => s.jobId)).toEqual(oldestFirst.slice(0, LIMIT));
    expect(done.map((found) => found.executionName)).toEqual(jobIds);
  });
});

describe('the concurrency limit', () => {
  // Three times the limit: every slot is handed on twice.
  it('keeps 6 jobs from one file to 2 provider jobs at a time, and all 6 complete', async () => {
    const simulator = stack.simulator;
    if (!simulator) throw new Error('the e2e stack runs the simulator');
    const lines = Array.from({ length: 6 }, (_, i) => JSON.stringify({ prompt: `Clip ${i}` }));
    const creates = simulator.stats.creates;

    await drop('inbox/e2e/six.jsonl', lines.join('\n'));
    const jobIds = jobIdsOf(await report('inbox-results/e2e/six.jsonl.json'));
    const jobs = await untilJobs(jobIds, ['COMPLETED', 'FAILED'], 60_000);

    expect(jobs.map((found) => found.status)).toEqual(Array(6).fill('COMPLETED'));
    expect(simulator.stats.creates - creates).toBe(6);
    expect(simulator.stats.maxConcurrentJobs).toBeLessThanOrEqual(LIMIT);
    expect(simulator.stats.maxConcurrentJobs).toBe(LIMIT);
  });
});

describe('the sweep', () => {
  it('resumes jobs whose execution died with their provider jobs alive: same slots, no second create', async () => {
    // Two long renders take both slots; their executions are then stopped mid-generation.
    const lines = [1, 2].map((n) =>
      JSON.stringify({ prompt: `Long take ${n}`, model: 'sora-2-pro', seconds: '12' }),
    );
    const createsBefore = stack.simulator?.stats.creates ?? 0;
    await drop('inbox/e2e/crash.jsonl', lines.join('\n'));
    const crashed = jobIdsOf(await report('inbox-results/e2e/crash.jsonl.json'));
    await untilJobs(crashed, ['IN_PROGRESS']);
    for (const jobId of crashed) {
      stack.stepFunctions.stopExecution({ executionArn: executionArnOf(jobId) });
    }
    await drop('inbox/e2e/after-crash.txt', 'A quiet street after the rain');
    const [waiting = ''] = jobIdsOf(await report('inbox-results/e2e/after-crash.txt.json'));
    const heldBefore = (await semaphore.holders()).sort();

    const summary = await runScheduler();
    const heldAfterSweep = (await semaphore.holders()).sort();
    const finished = await untilJobs([...crashed, waiting], ['COMPLETED', 'FAILED']);

    expect(heldBefore).toEqual([...crashed].sort());
    expect(summary.resumed.sort()).toEqual([...crashed].sort());
    expect(summary.reconciled).toEqual([]);
    // The provider jobs are alive, so their slots stay with them; the new job waits parked.
    expect(heldAfterSweep).toEqual([...crashed].sort());
    expect(finished.map((found) => found?.status)).toEqual(['COMPLETED', 'COMPLETED', 'COMPLETED']);
    expect((stack.simulator?.stats.creates ?? 0) - createsBefore).toBe(3);
    expect(await semaphore.holders()).toEqual([]);
  });
});

function executionArnOf(jobId: string): string {
  const name = stack.stateMachineArn.split(':stateMachine:')[1] ?? '';
  return executionArn(name, jobId);
}
