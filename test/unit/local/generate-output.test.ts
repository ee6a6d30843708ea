import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { PublicJob } from '../../../functions/shared/jobs/public-job.ts';
import {
  checkOutDir,
  interruptedMessage,
  jobSummary,
  offerToCancel,
  type PromptStreams,
  type StackConnection,
} from '../../../infra/local/generate-command.ts';
import type { LocalStackInfo } from '../../../infra/local/local-stack.ts';
import { LOCAL_DATA_DIR } from '../../../infra/local/stack-info.ts';

const job: PublicJob = {
  id: 'job_01',
  status: 'IN_PROGRESS',
  source: 'api',
  client: 'default',
  prompt: 'A cat',
  model: 'sora-2',
  size: '720x1280',
  seconds: '4',
  deferred: false,
  priority: 'normal',
  progress: 40,
  estimatedCostUsd: 0.4,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:30.000Z',
  links: { self: '/videos/job_01' },
};
const info: LocalStackInfo = {
  apiUrl: 'http://127.0.0.1:4000',
  consoleUrl: 'http://127.0.0.1:4005/#token=t0k',
  headers: { Authorization: 'Bearer t0k' },
  clients: {},
  s3Endpoint: 'http://127.0.0.1:4001',
  bucket: 'videos',
  dynamodbEndpoint: 'http://127.0.0.1:4002',
  table: 'jobs',
  providerBaseUrl: 'http://127.0.0.1:4003/v1',
  stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:Generation',
  dropFolders: [],
};
const running: StackConnection = { info, close: async () => {} };

describe('generate: what it prints', () => {
  const completed: PublicJob = {
    ...job,
    status: 'COMPLETED',
    progress: 100,
    completedAt: '2026-01-01T00:02:08.700Z',
  };

  it("says how long the job took on the stack's clock and in wall time when they differ", () => {
    expect(jobSummary(completed, { wallSeconds: 31 }).split('\n')[0]).toBe(
      "Job        job_01 COMPLETED in 128.7 s on the stack's clock (31.0 s of wall time)",
    );
  });

  it('gives one duration when the stack runs on the wall clock', () => {
    expect(jobSummary(completed, { wallSeconds: 129.1 }).split('\n')[0]).toBe(
      'Job        job_01 COMPLETED in 128.7 s',
    );
    expect(jobSummary({ ...job, status: 'FAILED' }).split('\n')[0]).toBe(
      'Job        job_01 FAILED',
    );
  });

  it('says how long of its run a job waited for a slot, from a second and a twentieth of it up', () => {
    const waited: PublicJob = { ...completed, startedAt: '2026-01-01T00:00:12.000Z' };
    const admittedAtOnce: PublicJob = { ...completed, startedAt: '2026-01-01T00:00:00.400Z' };
    // 2 s of 128.7: the pipeline's own pace on a fast clock, not a wait for a slot.
    const admittedAtItsPace: PublicJob = { ...completed, startedAt: '2026-01-01T00:00:02.000Z' };

    expect(jobSummary(waited).split('\n')[0]).toBe(
      'Job        job_01 COMPLETED in 128.7 s, 12.0 s of it waiting for a slot',
    );
    expect(jobSummary(admittedAtOnce).split('\n')[0]).toBe(
      'Job        job_01 COMPLETED in 128.7 s',
    );
    expect(jobSummary(admittedAtItsPace).split('\n')[0]).toBe(
      'Job        job_01 COMPLETED in 128.7 s',
    );
  });

  it('takes a wait under a second of wall time for the pipeline pace on a fast clock', () => {
    // 6.1 s of 128.7 on a clock at x60: 0.1 s of wall time, the handlers' own milliseconds.
    const fast: PublicJob = { ...completed, startedAt: '2026-01-01T00:00:06.100Z' };
    // 12 s of 128.7 at x4: 3 s of wall time in a queue.
    const queued: PublicJob = { ...completed, startedAt: '2026-01-01T00:00:12.000Z' };

    expect(jobSummary(fast, { wallSeconds: 2.1 }).split('\n')[0]).toBe(
      "Job        job_01 COMPLETED in 128.7 s on the stack's clock (2.1 s of wall time)",
    );
    expect(jobSummary(queued, { wallSeconds: 32 }).split('\n')[0]).toBe(
      "Job        job_01 COMPLETED in 128.7 s on the stack's clock (32.0 s of wall time), 12.0 s of it waiting for a slot",
    );
  });

  it('names a priority other than normal', () => {
    expect(jobSummary({ ...completed, priority: 'low' }).split('\n')[1]).toBe(
      'Video      sora-2, 720x1280, 4 s, estimated $0.40, priority low',
    );
    expect(jobSummary(completed).split('\n')[1]).toBe(
      'Video      sora-2, 720x1280, 4 s, estimated $0.40',
    );
  });

  it('summarises a failed job with its error code and nothing of the table', () => {
    const failed: PublicJob = {
      ...job,
      status: 'FAILED',
      error: { code: 'moderation_blocked', message: 'blocked', retryable: false },
    };

    const summary = jobSummary(failed);

    expect(summary).toContain('Job        job_01 FAILED');
    expect(summary).toContain('Error      moderation_blocked: blocked');
    expect(summary).toContain('sora-2, 720x1280, 4 s, estimated $0.40');
    expect(summary).not.toMatch(/pk|requestHash|gsi/);
  });

  it("escapes control characters in the provider's error message and the model", () => {
    const failed: PublicJob = {
      ...job,
      status: 'FAILED',
      model: 'sora\u009b2',
      error: { code: 'provider_error', message: '\u001b]0;x\u0007\u001b[2Kgone', retryable: false },
    };

    const summary = jobSummary(failed);

    expect(summary).toContain('Error      provider_error: \\x1b]0;x\\x07\\x1b[2Kgone');
    expect(summary).toContain('Video      sora\\u009b2,');
    expect(summary.replaceAll('\n', '')).not.toMatch(/\p{Cc}/u);
  });

  it('tells how to follow or cancel a job Ctrl-C left running on npm start, without printing the token', () => {
    const message = interruptedMessage(running, job, '/data', undefined);

    expect(
      message,
    ).toBe(`Interrupted: job job_01 keeps running on the stack at http://127.0.0.1:4000. Follow or cancel it with:
  npm run cli -- follow job_01 --data-dir /data
  npm run cli -- cancel job_01 --data-dir /data
`);
  });

  it('tells how to save a video that completed as Ctrl-C came, without printing the token', () => {
    const message = interruptedMessage(
      running,
      { ...job, status: 'COMPLETED', progress: 100 },
      LOCAL_DATA_DIR,
      undefined,
    );

    expect(message).toBe(
      'Interrupted: job job_01 completed; its video was not saved. Save it with:\n  npm run cli -- download job_01\n',
    );
    expect(message).not.toContain('t0k');
  });

  it('reports what Ctrl-C did to the job (a cancel the user asked for)', () => {
    expect(interruptedMessage(running, job, '/data', 'job job_01 cancelled')).toBe(
      'Interrupted: job job_01 cancelled\n',
    );
  });
});

describe('generate: --out, checked before anything is submitted', () => {
  it('accepts a directory still to be made, creating nothing yet, and refuses a path under a file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sora-out-'));
    const file = join(dir, 'README.md');
    await writeFile(file, 'taken');

    const later = await checkOutDir(join(dir, 'videos', 'today'));
    const underFile = await checkOutDir(join(file, 'videos')).catch((error: Error) => error);

    expect(later).toBeUndefined();
    expect(existsSync(join(dir, 'videos'))).toBe(false);
    expect(String(underFile)).toMatch(/README\.md is a file, not a directory/);
    await rm(dir, { recursive: true, force: true });
  });
});

describe('generate: Ctrl-C offers to cancel the job', () => {
  /** A terminal whose user types `typed` (undefined: closes the input without an answer). */
  function terminal(typed: string | undefined, interactive = true) {
    const input = new PassThrough();
    const output = new PassThrough();
    let shown = '';
    output.on('data', (chunk: Buffer) => {
      shown += chunk.toString();
    });
    if (typed === undefined) input.end();
    else input.write(typed);
    const streams: PromptStreams = { input, output, interactive };
    return { streams, shown: () => shown };
  }

  function cancelSpy(failure?: Error) {
    const calls: number[] = [];
    const cancel = async () => {
      calls.push(1);
      if (failure) throw failure;
    };
    return { cancel, calls };
  }

  it('cancels on yes, after asking in the terminal', async () => {
    const { streams, shown } = terminal('y\n');
    const { cancel, calls } = cancelSpy();

    const done = await offerToCancel('job_01', cancel, streams);

    expect(shown()).toContain('Cancel job job_01? [y/N] ');
    expect(calls).toHaveLength(1);
    expect(done).toBe('job job_01 cancelled');
  });

  it('leaves the job running on no, on a bare Enter and when the input ends', async () => {
    for (const typed of ['n\n', '\n', 'maybe\n', undefined]) {
      const { streams } = terminal(typed);
      const { cancel, calls } = cancelSpy();

      expect(await offerToCancel('job_01', cancel, streams)).toBeUndefined();
      expect(calls).toHaveLength(0);
    }
  });

  it('asks nothing and cancels nothing without a terminal', async () => {
    const { streams, shown } = terminal('y\n', false);
    const { cancel, calls } = cancelSpy();

    expect(await offerToCancel('job_01', cancel, streams)).toBeUndefined();
    expect(shown()).toBe('');
    expect(calls).toHaveLength(0);
  });

  it('says the job could not be cancelled when the API refuses', async () => {
    const { streams } = terminal('yes\n');
    const { cancel } = cancelSpy(new Error('the job already ended'));

    expect(await offerToCancel('job_01', cancel, streams)).toBe(
      'job job_01 could not be cancelled: the job already ended',
    );
  });
});
