import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { concurrencyKey } from '../../functions/shared/limits/limits-table.ts';
import { type LocalStack, startLocalStack } from '../../infra/local/local-stack.ts';
import { lastNoonUtc } from '../support/clock-start.ts';
import { clientHeaders, type StackClient, stackClient } from './local-stack-client.ts';

// Fair admission on the local stack (issue 23): four slots shared by three clients. carol floods,
// alice comes later with a few jobs, bob has a cap of 2 and a budget of $2 a day of his own.
const SPEED = 50;
const LIMIT = 4;
const BOB_CAP = 2;
const BOB_BUDGET_USD = 2;

let stack: LocalStack;
let client: StackClient;
let dynamo: DynamoDBDocumentClient;

beforeAll(async () => {
  stack = await startLocalStack({
    dataDir: null,
    dynamoDbEndpoint: inject('dynamoDbEndpoint'),
    speed: SPEED,
    clockStartMs: lastNoonUtc(),
    clients: ['alice', 'bob', 'carol'],
    clientSettings: { bob: { maxConcurrent: BOB_CAP, dailyBudgetUsd: BOB_BUDGET_USD } },
    context: { 'limits:maxConcurrentJobs': String(LIMIT) },
    // A request rate that never refuses the floods below.
    clientRate: { requestsPerWindow: 1000 },
    scheduleTimer: false,
    logLevel: process.env.E2E_LOG_LEVEL ?? 'SILENT',
  });
  client = stackClient(stack);
  dynamo = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      endpoint: stack.dynamodbEndpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    }),
  );
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

const as = (name: string) => clientHeaders(stack, name);

interface Video {
  id: string;
  status: string;
  client: string;
  priority: string;
  createdAt: string;
  startedAt?: string;
  queue?: { position: number; etaSeconds: number | null };
  error?: { code: string };
}

async function submit(name: string, body: Record<string, unknown>): Promise<Video> {
  const { status, body: answer } = await client.api('POST', '/videos', {
    body,
    headers: as(name),
  });
  expect(status, JSON.stringify(answer)).toBe(202);
  return answer as Video;
}

async function get(name: string, id: string): Promise<Video> {
  const { status, body } = await client.api('GET', `/videos/${id}`, { headers: as(name) });
  expect(status).toBe(200);
  return body as Video;
}

/**
 * Reads until `done` holds, every `everyMs`: often for one cheap read (a sampled position), less
 * often for many API calls at once, which would otherwise take the CPU the stack runs on.
 */
async function until<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  everyMs = 25,
): Promise<T> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not met; last ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

const ended = (video: Video) => ['COMPLETED', 'FAILED', 'CANCELLED'].includes(video.status);

async function allEnded(name: string, ids: readonly string[]): Promise<Video[]> {
  return until(
    () => Promise.all(ids.map((id) => get(name, id))),
    (videos) => videos.every(ended),
    250,
  );
}

/** The slots a client's jobs hold now, from the slot pool item. */
async function slotsHeldBy(name: string): Promise<number> {
  const { Item } = await dynamo.send(
    new GetCommand({ TableName: stack.table, Key: concurrencyKey(), ConsistentRead: true }),
  );
  const held: unknown = Item?.[`holders#${name}`];
  return held instanceof Set ? held.size : 0;
}

describe('fair admission across clients', () => {
  it("does not hold alice's jobs behind carol's flood, honours her priority, and shows falling queue positions", async () => {
    const flood: Video[] = [];
    // 4 running and 12 waiting as alice comes: first come, first served would then put all of
    // her jobs after the 12th admission. The 4 that take every slot first are 12 s clips (about
    // 6 s of wall time here), so her jobs are sure to wait for a slot, and to be seen waiting,
    // however slowly a loaded machine submits them (with 4 s clips a CI run saw all of hers
    // started before it looked).
    for (let i = 0; i < 16; i += 1) {
      flood.push(
        await submit('carol', {
          prompt: `Carol's flood, clip ${i + 1}`,
          seconds: i < LIMIT ? '12' : '4',
        }),
      );
    }
    // Carol holds every slot; the rest of her flood waits in her queue.
    await until(
      () => slotsHeldBy('carol'),
      (held) => held === LIMIT,
    );
    const normal: Video[] = [];
    for (let i = 0; i < 3; i += 1) {
      normal.push(await submit('alice', { prompt: `Alice's clip ${i + 1}`, seconds: '4' }));
    }
    const urgent = await submit('alice', {
      prompt: "Alice's urgent clip",
      seconds: '4',
      priority: 'high',
    });
    const alice = [...normal, urgent];

    // Each of her jobs is parked in her queue or, when a slot of carol's freed just as it came,
    // admitted at once: the workflow's AdmitJob has seen every one.
    const seen = await until(
      () => Promise.all(alice.map((video) => get('alice', video.id))),
      (videos) =>
        videos.every((video) => video.queue !== undefined || video.startedAt !== undefined),
      100,
    );
    // A second look, once every one of her jobs was seen parked or started: from here on none of
    // hers is put ahead of another (her urgent job, parked, is already ahead of her normal ones).
    const settled = await Promise.all(alice.map((video) => get('alice', video.id)));
    // Carol's jobs started by then: every other job starts after the second look.
    const carolSettled = await Promise.all(flood.map((video) => get('carol', video.id)));
    const startedBySecondLook = new Set(
      [...settled, ...carolSettled]
        .filter((video) => video.startedAt !== undefined)
        .map((video) => video.id),
    );
    // Her normal jobs still waiting then, behind her urgent one seen parked: priority must start
    // the urgent one first. (Compared by creation time instead, a normal job admitted between the
    // urgent one's record and its parking would count, and fail under load.)
    const urgentParked = seen.at(-1)?.queue !== undefined;
    const waitingBehindUrgent = urgentParked
      ? settled.slice(0, -1).filter((video) => video.queue !== undefined)
      : [];
    // Where her job furthest back stands, from that second look until it starts: its position
    // never grows (no job is put ahead of it now) and falls as the jobs ahead start.
    const furthest = settled
      .filter((video) => video.queue !== undefined)
      .sort((a, b) => (b.queue?.position ?? 0) - (a.queue?.position ?? 0))[0];
    expect(furthest, 'with carol holding every slot, some of alice’s jobs wait').toBeDefined();
    const positions: number[] = furthest?.queue ? [furthest.queue.position] : [];
    await until(
      () => get('alice', furthest?.id ?? ''),
      (video) => {
        if (video.queue !== undefined) positions.push(video.queue.position);
        return video.startedAt !== undefined;
      },
    );

    const aliceDone = await allEnded(
      'alice',
      alice.map((video) => video.id),
    );
    const carolDone = await allEnded(
      'carol',
      flood.map((video) => video.id),
    );
    expect([...aliceDone, ...carolDone].every((video) => video.status === 'COMPLETED')).toBe(true);

    // The grants after the second look, in order. A hand-off takes a parked job's slot and
    // starts its next execution at once, while startedAt is stamped later, by that execution's
    // first step: on a clock 50 times the wall clock, startedAt's order can differ from the
    // grants', so the grants are ordered by their executions' start.
    const executionStart = new Map(
      stack.stepFunctions
        .listExecutions({ stateMachineArn: stack.stateMachineArn, maxResults: 1000 })
        .executions.map((record) => [record.name, record.startDate.getTime()]),
    );
    const grantedAt = new Map<string, number>();
    for (const video of [...aliceDone, ...carolDone]) {
      const executionName = String((await client.jobRecord(video.id))?.executionName);
      const start = executionStart.get(executionName);
      if (start === undefined) throw new Error(`no execution ${executionName} of ${video.id}`);
      grantedAt.set(video.id, start);
    }
    const grants = [...aliceDone, ...carolDone]
      .filter((video) => !startedBySecondLook.has(video.id))
      .sort((a, b) => (grantedAt.get(a.id) ?? 0) - (grantedAt.get(b.id) ?? 0));
    // With equal weights they take turns, as closely as concurrent hand-offs allow: slots freed
    // together are handed out at once, each from the pool as its hand-off read it, so one client
    // may take up to LIMIT in a row before the clocks send the next ones to the other. While
    // alice still waits, carol never leads her by more than that (plus one: alice's clock may
    // start a tick ahead). First come, first served would give carol's queue every grant first.
    // (Counted by places from alice's first submission, a run saw 9 > 8: two such bursts.)
    const aliceWaiting = settled.filter((video) => video.startedAt === undefined);
    expect(aliceWaiting.length).toBeGreaterThan(0);
    let aliceLeft = aliceWaiting.length;
    let carolLead = 0;
    let mostCarolLed = 0;
    for (const video of grants) {
      if (aliceLeft === 0) break;
      if (video.client === 'alice') aliceLeft -= 1;
      carolLead += video.client === 'alice' ? -1 : 1;
      mostCarolLed = Math.max(mostCarolLed, carolLead);
    }
    expect(aliceLeft, 'every waiting job of alice’s granted').toBe(0);
    expect(mostCarolLed).toBeLessThanOrEqual(LIMIT + 1);

    // Her high-priority job, submitted last, started before her normal ones.
    // (By the grants too: two of hers granted together may have their startedAt the other way.)
    for (const video of waitingBehindUrgent) {
      expect(grantedAt.get(urgent.id)).toBeLessThanOrEqual(grantedAt.get(video.id) ?? 0);
    }

    expect(positions.length).toBeGreaterThan(0);
    for (let i = 1; i < positions.length; i += 1) {
      expect(positions[i]).toBeLessThanOrEqual(positions[i - 1] ?? Number.POSITIVE_INFINITY);
    }
    // It moved up as the jobs ahead of it started (samples every few ms can miss the last steps:
    // two slots may free in the same instant). Only when a job was still ahead at the second look:
    // on a loaded machine every one may have started by then.
    expect(positions[0]).toBeGreaterThanOrEqual(1);
    if ((positions[0] ?? 0) > 1) expect(positions.at(-1)).toBeLessThan(positions[0] ?? 0);
  }, 180_000);

  it("holds bob to his cap and his budget while alice's jobs all complete", async () => {
    // $0.40 each: bob's $2 covers five; the sixth waits for another day's budget.
    const bob: Video[] = [];
    for (let i = 0; i < 6; i += 1) {
      bob.push(await submit('bob', { prompt: `Bob's clip ${i + 1}`, seconds: '4' }));
    }
    const alice: Video[] = [];
    for (let i = 0; i < 4; i += 1) {
      alice.push(await submit('alice', { prompt: `Alice's second round, ${i + 1}`, seconds: '4' }));
    }
    let mostHeldByBob = 0;
    const bobIds = bob.map((video) => video.id);
    const settled = await until(
      async () => {
        mostHeldByBob = Math.max(mostHeldByBob, await slotsHeldBy('bob'));
        return Promise.all(bobIds.map((id) => get('bob', id)));
      },
      (videos) =>
        videos.filter((video) => video.status === 'COMPLETED').length === 5 &&
        videos.some((video) => video.status === 'QUEUED' && video.startedAt === undefined),
      // Still several samples of each ~1 s job's slot.
      100,
    );
    const aliceDone = await allEnded(
      'alice',
      alice.map((video) => video.id),
    );
    expect(aliceDone.every((video) => video.status === 'COMPLETED')).toBe(true);
    expect(mostHeldByBob).toBeGreaterThan(0);
    expect(mostHeldByBob).toBeLessThanOrEqual(BOB_CAP);
    const waiting = settled.find((video) => video.status === 'QUEUED');
    expect(waiting).toMatchObject({ deferred: true, deferredReason: 'budget' });

    // His usage shows his spend against his own budget; alice's shows none of his.
    const usage = await client.api('GET', '/usage', { headers: as('bob') });
    expect(usage.body).toMatchObject({
      client: { budget: { limitUsd: BOB_BUDGET_USD, spentUsd: 2 } },
    });
  }, 180_000);

  it('ends a job whose start timeout passes while it waits: CANCELLED start_timeout, no provider call', async () => {
    const creates = () => stack.simulator?.stats.creates ?? Number.NaN;
    const blockers: Video[] = [];
    for (let i = 0; i < LIMIT; i += 1) {
      blockers.push(await submit('carol', { prompt: `A long blocker ${i + 1}`, seconds: '12' }));
    }
    // Every blocker created at the provider: the creates counted from here are not theirs.
    await until(
      () => Promise.all(blockers.map((video) => client.jobRecord(video.id))),
      (records) => records.every((record) => record?.providerJobId !== undefined),
      100,
    );
    const createsBefore = creates();
    // 5 s on the stack's clock: over long before a 12 s clip frees a slot.
    const impatient = await submit('alice', {
      prompt: 'Wanted now or never',
      seconds: '4',
      startTimeoutSeconds: 5,
    });
    const done = await until(() => get('alice', impatient.id), ended);
    expect(done).toMatchObject({ status: 'CANCELLED', error: { code: 'start_timeout' } });
    expect(done.startedAt).toBeUndefined();
    const record = await client.jobRecord(impatient.id);
    expect(record?.createAttemptedAt).toBeUndefined();
    expect(record?.providerJobId).toBeUndefined();
    await allEnded(
      'carol',
      blockers.map((video) => video.id),
    );
    // Nothing was created after the blockers: none for it.
    expect(creates() - createsBefore).toBe(0);
  }, 180_000);
});
