import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { savedClockPosition } from '../../infra/local/local-clock.ts';
import type { LocalStackInfo } from '../../infra/local/local-stack.ts';
import type { JournalEntry } from '../../infra/local/simulator/journal.ts';
import type {
  LocalStackChildMessage,
  LocalStackChildOptions,
} from '../support/local-stack-child.ts';

// The guide's promise: stop `npm start` while a job renders, start it again, and the job goes
// on. On the built-in simulator that needs the simulator's jobs to survive the restart (they
// are kept in the data directory, simulator.jsonl) on a clock that continues from where it
// stopped; before, the resumed job's next poll answered video_not_found and the job FAILED.
const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));
// A 4 s sora-2 clip renders for about a minute of the stack's clock (45-70 s): 11-17 s of ours
// at x4. The stop happens about 15 s of the stack's clock into it (the pipeline's first poll
// shows progress) and takes a few seconds of ours: the render is still going when the clock
// stops (asserted below, from the saved clock and the simulator's journal), and the restart
// costs none of it (the clock continues from where it stopped).
const SPEED = 4;

let dataDir: string;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'sora-sim-restart-'));
});

afterAll(async () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  }
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** `npm start` on `dataDir` with the built-in simulator, in a child process. */
async function startStack() {
  const options: LocalStackChildOptions = { dataDir, speed: SPEED, scheduleTimer: false };
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ['PROVIDER_BASE_URL', 'PROVIDER_API_KEY', 'PROVIDER_MODEL']) {
    delete env[name];
  }
  const child = fork(
    join(PROJECT_ROOT, 'test/support/local-stack-child.ts'),
    [JSON.stringify(options)],
    { cwd: PROJECT_ROOT, env, execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  children.add(child);
  const exited = once(child, 'exit');
  const info = await new Promise<LocalStackInfo>((resolve, reject) => {
    child.on('message', (message: LocalStackChildMessage) => {
      if (message.type === 'ready') resolve(message.info);
      if (message.type === 'failed') reject(new Error(`local stack failed: ${message.error}`));
    });
    void exited.then(([code, signal]) =>
      reject(new Error(`local stack exited (${code ?? signal}) before it was ready`)),
    );
  });
  return {
    info,
    /** A clean stop, as Ctrl-C gives: the stack stops its executions and saves its clock. */
    async stop(): Promise<void> {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The built-in simulator's journal in the data directory (none yet: empty). */
async function journalEntries(): Promise<JournalEntry[]> {
  const text = await readFile(join(dataDir, 'simulator.jsonl'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as JournalEntry);
}

interface Job {
  id: string;
  status: string;
  progress: number;
  error?: { code: string };
}

async function job(info: LocalStackInfo, id: string): Promise<Job> {
  const response = await fetch(`${info.apiUrl}/videos/${id}`, { headers: info.headers });
  return (await response.json()) as Job;
}

/** Polls the job until `done` holds (the test's timeout bounds the wait). */
async function until(info: LocalStackInfo, id: string, done: (job: Job) => boolean) {
  for (;;) {
    const current = await job(info, id);
    if (done(current)) return current;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('the local stack restarted on the built-in simulator', () => {
  it('a job rendering when the stack stops completes after the restart, created once', async () => {
    const first = await startStack();
    const submitted = await fetch(`${first.info.apiUrl}/videos`, {
      method: 'POST',
      headers: { ...first.info.headers, 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'A cat playing piano', seconds: '4' }),
    });
    const { id } = (await submitted.json()) as { id: string };
    const rendering = await until(first.info, id, (current) => current.progress > 0);
    await first.stop();
    const stoppedAtMs = await savedClockPosition(join(dataDir, 'clock.json'));
    const [created] = await journalEntries();

    // As npm start does, the stack resumes what the stop interrupted as it starts.
    const second = await startStack();
    const ended = await until(second.info, id, (current) =>
      ['COMPLETED', 'FAILED', 'CANCELLED'].includes(current.status),
    );
    await second.stop();
    const journal = await journalEntries();

    expect(rendering.status).toBe('IN_PROGRESS');
    expect(rendering.progress).toBeLessThan(100);
    // The stop cut the render short: its end is after the instant the stack's clock stopped.
    expect(created?.kind).toBe('video');
    const endsAtMs = created?.kind === 'video' ? created.record.endsAtMs : 0;
    expect(stoppedAtMs).toBeLessThan(endsAtMs);
    expect([ended.status, ended.error?.code]).toEqual(['COMPLETED', undefined]);
    // One provider job, created before the stop and found again after it.
    expect(journal.map((entry) => entry.kind)).toEqual(['video']);
  }, 240_000);
});
