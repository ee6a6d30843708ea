import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BedrockRuntimeClient,
  GetAsyncInvokeCommand,
  StartAsyncInvokeCommand,
} from '@aws-sdk/client-bedrock-runtime';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type RunningSimulator, startSimulator } from '../../infra/local/simulator/simulator.ts';

// The simulator's jobs kept in a journal file (the local stack's .local/simulator.jsonl): a
// simulator started again on the same file, on a clock that went on, knows every job, each
// where its timeline puts it now. Without the file, a restarted simulator answers
// video_not_found for the jobs the pipeline is waiting for.
const API_KEY = 'sk-journal-test';
const clock = { ms: Date.parse('2026-11-30T12:00:00Z') };
const advance = (seconds: number) => {
  clock.ms += seconds * 1000;
};

let dir: string;
let journalFile: string;
const running: RunningSimulator[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sora-sim-journal-'));
  journalFile = join(dir, 'simulator.jsonl');
});

afterEach(async () => {
  for (const sim of running.splice(0)) await sim.close();
  await rm(dir, { recursive: true, force: true });
});

async function simulator(options: { journal?: boolean; seed?: number } = {}) {
  const sim = await startSimulator({
    apiKey: API_KEY,
    seed: options.seed ?? 7,
    now: () => clock.ms,
    ...(options.journal === false ? {} : { journalFile }),
  });
  running.push(sim);
  return sim;
}

const headers = { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' };

async function call(sim: RunningSimulator, method: string, path: string, body?: unknown) {
  const response = await fetch(`${sim.baseURL}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('the simulator with a journal file', () => {
  it('a restarted simulator knows the jobs, each where the clock has got to', async () => {
    const first = await simulator();
    const created = await call(first, 'POST', '/videos', { prompt: 'A cat', seconds: '4' });
    const deleted = await call(first, 'POST', '/videos', { prompt: 'A dog', seconds: '4' });
    await call(first, 'DELETE', `/videos/${deleted.body.id}`);
    advance(30);
    const before = await call(first, 'GET', `/videos/${created.body.id}`);
    await first.close();

    // Another seed, as the local stack draws one each start: ids stay unique.
    const second = await simulator({ seed: 8 });
    const after = await call(second, 'GET', `/videos/${created.body.id}`);
    advance(60);
    const done = await call(second, 'GET', `/videos/${created.body.id}`);
    const content = await fetch(`${second.baseURL}/videos/${created.body.id}/content`, { headers });
    const gone = await call(second, 'GET', `/videos/${deleted.body.id}`);
    const another = await call(second, 'POST', '/videos', { prompt: 'A bird', seconds: '4' });

    expect(before.body.status).toBe('in_progress');
    expect(after.body).toEqual(before.body);
    expect(done.body.status).toBe('completed');
    expect(content.status).toBe(200);
    expect((await content.arrayBuffer()).byteLength).toBeGreaterThan(0);
    expect(gone.status).toBe(404);
    expect(another.status).toBe(200);
    expect(second.stats.videos.map((video) => video.id)).toEqual([
      created.body.id,
      deleted.body.id,
      another.body.id,
    ]);
  });

  it('a restarted simulator knows the Bedrock invocations, and their client tokens', async () => {
    const first = await simulator();
    const bedrock = (sim: RunningSimulator) =>
      new BedrockRuntimeClient({
        endpoint: sim.bedrockEndpoint,
        region: 'us-east-1',
        credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local-secret' },
        maxAttempts: 1,
      });
    const start = new StartAsyncInvokeCommand({
      modelId: 'luma.ray-v2:0',
      modelInput: { prompt: 'A cat playing piano' },
      outputDataConfig: { s3OutputDataConfig: { s3Uri: 's3://outputs/job-1/' } },
      clientRequestToken: 'job-01KB000000000000000000001',
    });
    const client = bedrock(first);
    const { invocationArn } = await client.send(start);
    const before = await client.send(new GetAsyncInvokeCommand({ invocationArn }));
    client.destroy();
    await first.close();

    const second = await simulator({ seed: 8 });
    const again = bedrock(second);
    const after = await again.send(new GetAsyncInvokeCommand({ invocationArn }));
    const repeated = await again.send(start);
    again.destroy();

    expect(before.status).toBe('InProgress');
    expect(after.status).toBe('InProgress');
    expect(after.submitTime).toEqual(before.submitTime);
    // The same client token answers the same invocation: no second job after a restart either.
    expect(repeated.invocationArn).toBe(invocationArn);
    expect(second.stats.bedrockInvocations.map((one) => one.invocationArn)).toEqual([
      invocationArn,
    ]);
  });

  it('writes one line per change, and nothing without a file', async () => {
    const sim = await simulator();
    const created = await call(sim, 'POST', '/videos', { prompt: 'A cat', seconds: '4' });
    await call(sim, 'DELETE', `/videos/${created.body.id}`);
    const lines = (await readFile(journalFile, 'utf8')).trim().split('\n');
    await sim.close();
    const inMemory = await simulator({ journal: false });
    await call(inMemory, 'POST', '/videos', { prompt: 'A cat', seconds: '4' });

    expect(lines.map((line) => (JSON.parse(line) as { kind: string }).kind)).toEqual([
      'video',
      'deleted',
    ]);
    expect((await readFile(journalFile, 'utf8')).trim().split('\n')).toHaveLength(2);
  });
});
