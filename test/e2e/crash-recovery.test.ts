import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTerminal, type Job } from '../../functions/shared/jobs/job.ts';
import type { SchedulerSummary } from '../../functions/shared/scheduler/run-scheduler.ts';
import type { LocalStackInfo } from '../../infra/local/local-stack.ts';
import { type RunningSimulator, startSimulator } from '../../infra/local/simulator/simulator.ts';
import type {
  LocalStackChildMessage,
  LocalStackChildOptions,
} from '../support/local-stack-child.ts';
import {
  countBy,
  duplicates,
  PipelineAudit,
  sha256Hex,
  type TableSnapshot,
  waitFor,
} from '../support/pipeline-audit.ts';
import { processesUsing } from '../support/stack-processes.ts';

// The local stack killed mid-run (SIGKILL of its process group: node and DynamoDB Local's java,
// as a crashed machine would leave it) and started again on the same data directory, while the
// provider keeps rendering. The provider here is a simulator in this test process, which the
// stack uses as a real provider (PROVIDER_BASE_URL / PROVIDER_API_KEY / PROVIDER_MODELS): it
// survives the crash as a real provider would, and the test reads its stats. (The simulator the
// stack embeds keeps its jobs across restarts in the data directory: simulator-restart.test.ts.)
// With a real provider the stack runs on the wall clock (it refuses --speed), so the run is kept
// short another way: a catalogue of tiny frames, which the provider renders in about a second
// (the simulator at speed 4), and long renders that would take minutes: they are sure to be
// rendering across the crash and the restart however slow the machine, and once the restarted
// stack has seen them the test moves the simulator's clock past their end instead of waiting.
//
// After the restart one scheduler run (the sweep, triggered here instead of waiting for the
// 5-minute schedule of a stack on the wall clock) must resume every job whose execution died with
// provider work alive or done; all 12 jobs then complete, each created once at the provider, the
// provider never running more than 4 at once. That test drives the sweep itself, the path on
// AWS; the local stack also runs it as it starts (resumeAtStart), which the second test checks.

const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const LIMIT = 4;
const PROVIDER_KEY = 'sk-crash-recovery-test-key';
const SIZE = '96x96';
// The pipeline's catalogue (PROVIDER_MODELS) and the simulator's, for the same tiny frames.
const PIPELINE_MODELS = {
  'sora-2': {
    sizes: [SIZE],
    seconds: ['4', '8'],
    defaultSize: SIZE,
    defaultSeconds: '4',
    pricePerSecondUsd: 0.1,
  },
  'sora-2-pro': {
    sizes: [SIZE],
    seconds: ['4', '8'],
    defaultSize: SIZE,
    defaultSeconds: '4',
    pricePerSecondUsd: 0.3,
  },
};
const SIMULATOR_MODELS = {
  'sora-2': { sizes: [SIZE], seconds: ['4', '8'], renderFactor: 1 },
  // Far slower than the pipeline expects (2.5): these renders (~2 min) outlast the crash and the
  // restart (20-30 s on a loaded two-core machine) by a wide margin; the test ends them by
  // moving the simulator's clock (finishRenders).
  'sora-2-pro': { sizes: [SIZE], seconds: ['4', '8'], renderFactor: 60 },
};

/**
 * Three long renders (~2 min) that hold three slots across the crash and the restart, then nine
 * short ones (~2 s) that take the fourth slot one after the other (so no two hand-offs overlap).
 */
const REQUESTS = [
  ...[1, 2, 3].map((n) => ({
    prompt: `A long tracking shot, take ${n}`,
    model: 'sora-2-pro',
    seconds: '8',
  })),
  ...Array.from({ length: 9 }, (_, i) => ({
    prompt: `A short clip ${i + 1}: rain on a window`,
    model: 'sora-2',
    seconds: '4',
  })),
];

const priceMicroUsd = (params: { model: string; seconds: string }) =>
  (params.model === 'sora-2-pro' ? 300_000 : 100_000) * Number(params.seconds);

let dataDir: string;
let simulator: RunningSimulator;
/** How far the simulator's clock is ahead of the wall clock: it only moves forward. */
let simulatorAheadMs = 0;

/**
 * Moves the simulator's clock past the end of every render started so far: they complete at
 * once, as if the provider had rendered them while nobody asked. Their next poll finds them done.
 */
function finishRenders(): void {
  const now = Date.now() + simulatorAheadMs;
  const lastEnd = Math.max(now, ...simulator.stats.videos.map((video) => video.endsAtMs));
  simulatorAheadMs += lastEnd - now + 1_000;
}
const children = new Set<ChildProcess>();

/** A local stack in a child process of its own process group (so that one kill takes java too). */
interface StackChild {
  child: ChildProcess;
  info: LocalStackInfo;
  runScheduler(): Promise<SchedulerSummary>;
  /** SIGKILL to the whole process group: nothing gets to clean up. */
  crash(): Promise<void>;
  stop(): Promise<void>;
}

async function startStack(
  settings: { dataDir?: string; resumeAtStart?: boolean } = {},
): Promise<StackChild> {
  const options: LocalStackChildOptions = {
    dataDir: settings.dataDir ?? dataDir,
    ...(settings.resumeAtStart === undefined ? {} : { resumeAtStart: settings.resumeAtStart }),
    context: {
      'limits:maxConcurrentJobs': String(LIMIT),
      // Per minute of the wall clock here: no request of this short run waits for the allowance.
      'limits:requestsPerMinute': '600',
    },
    scheduleTimer: false,
    // Two clients of unequal weights share the slots across the crash.
    clients: ['alice', 'bob'],
    clientSettings: { alice: { weight: 2 }, bob: { weight: 1 } },
    logLevel: process.env.E2E_LOG_LEVEL ?? 'SILENT',
  };
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PROVIDER_BASE_URL: simulator.baseURL,
    PROVIDER_API_KEY: PROVIDER_KEY,
    PROVIDER_MODEL: 'sora-2',
    PROVIDER_MODELS: JSON.stringify(PIPELINE_MODELS),
  };
  const child = fork(
    join(PROJECT_ROOT, 'test/support/local-stack-child.ts'),
    [JSON.stringify(options)],
    {
      cwd: PROJECT_ROOT,
      env,
      // Not the test runner's flags: the child runs as `node` would run it.
      execArgv: [],
      detached: true,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );
  children.add(child);
  const exited = once(child, 'exit');
  let nextId = 1;
  const pending = new Map<number, (message: LocalStackChildMessage) => void>();
  const info = await new Promise<LocalStackInfo>((resolve, reject) => {
    child.on('message', (message: LocalStackChildMessage) => {
      if (message.type === 'ready') resolve(message.info);
      if (message.type === 'failed')
        reject(new Error(`local stack child failed: ${message.error}`));
      if (message.type === 'scheduler') pending.get(message.id)?.(message);
    });
    void exited.then(([code, signal]) =>
      reject(new Error(`local stack child exited (${code ?? signal}) before it was ready`)),
    );
  });
  return {
    child,
    info,
    runScheduler() {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, (message) => {
          pending.delete(id);
          if (message.type !== 'scheduler') return;
          if (message.error) reject(new Error(message.error));
          else resolve(message.summary as SchedulerSummary);
        });
        child.send({ type: 'runScheduler', id });
      });
    },
    async crash() {
      process.kill(-(child.pid ?? 0), 'SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'sora-crash-e2e-'));
  simulator = await startSimulator({
    apiKey: PROVIDER_KEY,
    speed: 4,
    seed: 20_261_130,
    models: SIMULATOR_MODELS,
    // Never behind the wall clock (the pipeline reconciles a lost create by the provider's
    // created_at), ahead of it once finishRenders has run.
    now: () => Date.now() + simulatorAheadMs,
  });
});

afterAll(async () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null && child.pid) {
      // SIGTERM first (the stack stops java itself), the group's SIGKILL if it lingers.
      child.kill('SIGTERM');
      const timer = setTimeout(() => process.kill(-(child.pid ?? 0), 'SIGKILL'), 10_000);
      await once(child, 'exit');
      clearTimeout(timer);
    }
  }
  await simulator?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function submit(
  info: LocalStackInfo,
  request: Record<string, string>,
  as: 'alice' | 'bob' = 'alice',
): Promise<string> {
  const response = await fetch(`${info.apiUrl}/videos`, {
    method: 'POST',
    headers: { ...info.clients[as]?.headers, 'content-type': 'application/json' },
    body: JSON.stringify(request),
  });
  const body = (await response.json()) as { id?: string };
  if (response.status !== 202 || !body.id) {
    throw new Error(`POST /videos answered ${response.status}: ${JSON.stringify(body)}`);
  }
  return body.id;
}

const seconds = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)} s`;

const describeJob = (job: Job) =>
  `${job.jobId} ${job.status} deferred=${job.deferred}/${job.deferredReason ?? '-'} provider=${job.providerJobId ?? '-'}/${job.providerStatus ?? '-'} attempted=${job.createAttemptedAt ? 'yes' : 'no'} execution=${job.executionName ?? '-'} resumes=${job.resumeCount ?? 0} error=${job.error?.code ?? '-'}`;

describe('the local stack killed mid-run and restarted on the same data', () => {
  it('resumes every job whose provider work was alive or done: all complete, none created twice, the limit kept across the restart', async () => {
    const started = Date.now();
    // --- first run: 12 jobs through 4 slots, killed while 4 are at the provider -------------
    // This test runs the sweep itself: the stack does not run it as it starts.
    const first = await startStack({ resumeAtStart: false });
    const phases: string[] = [`first start ${seconds(started)}`];
    const jobIds: string[] = [];
    for (const [index, request] of REQUESTS.entries()) {
      jobIds.push(await submit(first.info, request, index % 2 === 0 ? 'alice' : 'bob'));
    }
    const audit = new PipelineAudit(first.info);
    // The fourth slot has been handed on once (a short render finished): arm a lost create
    // response for the next hand-off, and kill the stack the instant the provider has started
    // that job. The lost response stands for a crash between the provider accepting a create and
    // us recording it.
    await waitFor(
      '5 provider jobs created',
      () => (simulator.stats.creates >= 5 ? true : undefined),
      {
        timeoutMs: 30_000,
      },
    );
    const droppedIndex = simulator.stats.creates;
    simulator.configure({ dropNextCreateResponses: 1 });
    await waitFor(
      'the create response dropped',
      () => (simulator.stats.droppedCreateResponses >= 1 ? true : undefined),
      { timeoutMs: 30_000, everyMs: 1 },
    );
    await first.crash();
    phases.push(`killed ${seconds(started)}`);
    audit.destroy();
    const atCrash = simulator.stats;
    // Nothing of the first stack survives: no node, no java on the data directory.
    expect(
      await waitFor(
        'the killed stack gone',
        () => (processesUsing(dataDir).length === 0 ? true : undefined),
        { timeoutMs: 5_000 },
      ),
    ).toBe(true);

    // --- restart on the same data: what was recorded at the crash -------------------------
    const second = await startStack({ resumeAtStart: false });
    phases.push(`restarted ${seconds(started)}`);
    const audit2 = new PipelineAudit(second.info);
    const recorded = await audit2.jobs();
    const inFlight = [...recorded.values()].filter(
      (job) => !isTerminal(job.status) && (job.providerJobId || job.createAttemptedAt),
    );
    const unrecordedCreate = inFlight.filter((job) => !job.providerJobId);
    const doneBeforeCrash = [...recorded.values()].filter((job) => job.status === 'COMPLETED');
    const droppedVideo = atCrash.videos[droppedIndex];

    // The crash hit what it was meant to: jobs at the provider, one of them between the provider
    // accepting its create and us recording it, and jobs already finished.
    expect(recorded.size).toBe(12);
    expect(inFlight.length).toBeGreaterThanOrEqual(LIMIT);
    expect(unrecordedCreate.map((job) => `sora-pipeline-${job.jobId}`)).toContain(
      droppedVideo?.idempotencyKey,
    );
    expect(doneBeforeCrash.length).toBeGreaterThanOrEqual(1);
    expect([...recorded.values()].filter((job) => job.status === 'FAILED')).toEqual([]);

    // --- the sweep resumes the dead executions; the jobs run to the end ---------------------
    const aliveAtRestart = simulator.stats.videos.filter(
      (video) => video.status === 'queued' || video.status === 'in_progress',
    );
    expect(aliveAtRestart.length).toBeGreaterThanOrEqual(1);
    // The restarted stack has seen them rendering; from here on they may as well be done (the
    // sweep does not ask the provider, and the resumed executions' first poll finds them ended).
    finishRenders();
    const sweep = await second.runScheduler();
    expect([...sweep.resumed].sort()).toEqual(inFlight.map((job) => job.jobId).sort());
    // The limit kept across the restart: the slots the crash left held are still held by the
    // jobs it left in flight (none leaked, none free), so the sweep itself starts none of the 7
    // jobs waiting.
    expect(
      {
        reconciled: sweep.reconciled,
        releasedSlots: sweep.releasedSlots,
        freeSlots: sweep.freeSlots,
      },
      // What the crash left, for a failure to be read from the log alone.
      `the jobs at the restart:\n${[...recorded.values()].map(describeJob).join('\n')}`,
    ).toEqual({ reconciled: [], releasedSlots: [], freeSlots: 0 });
    // The executions it resumed run while the run goes on: one whose render ends frees its slot,
    // and the run's closing hand-off may be the one that gives it to a waiting job. Its gauge,
    // read last, may see that slot free for a moment (a run saw 3).
    const waitingAtRestart = [...recorded.values()].filter((job) => job.deferred);
    expect(
      sweep.started
        .map((start) => start.jobId)
        .filter((jobId) => !waitingAtRestart.some((job) => job.jobId === jobId)),
    ).toEqual([]);
    expect(sweep.gauges.inFlight).toBeLessThanOrEqual(LIMIT);
    let jobs: Map<string, Job>;
    const deadline = Date.now() + 120_000;
    for (;;) {
      jobs = await audit2.jobs();
      if ([...jobs.values()].every((job) => isTerminal(job.status))) break;
      if (Date.now() > deadline) {
        throw new Error(
          `jobs not terminal after the restart:\n${[...jobs.values()]
            .filter((job) => !isTerminal(job.status))
            .map(describeJob)
            .join('\n')}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    phases.push(`all terminal ${seconds(started)}`);
    const table: TableSnapshot = await audit2.snapshot();
    const objects = await audit2.objects('videos/');
    const stats = simulator.stats;

    // Every job completed: none FAILED execution_lost, whatever the crash cut short.
    expect(Object.fromEntries([...jobs.values()].map((job) => [job.jobId, job.status]))).toEqual(
      Object.fromEntries(jobIds.map((jobId) => [jobId, 'COMPLETED'])),
    );
    // The jobs the crash left at the provider went on in a new execution (resumed, not redone).
    expect(
      Object.fromEntries(
        inFlight.map((job) => {
          const after = jobs.get(job.jobId);
          return [job.jobId, [after?.resumeCount, after?.executionName !== job.executionName]];
        }),
      ),
    ).toEqual(Object.fromEntries(inFlight.map((job) => [job.jobId, [1, true]])));

    // No job was created twice at the provider; the lost create was adopted, not repeated.
    const createsByKey = countBy(stats.videos, (video) => String(video.idempotencyKey));
    expect(duplicates(createsByKey)).toEqual({});
    expect([...createsByKey.keys()].sort()).toEqual(
      jobIds.map((jobId) => `sora-pipeline-${jobId}`).sort(),
    );
    expect(stats.videos.filter((video) => video.deleted)).toEqual([]);
    const [adopter] = unrecordedCreate;
    expect(jobs.get(adopter?.jobId ?? '')?.providerJobId).toBe(droppedVideo?.id);

    // Each provider job held by exactly one job; no orphan.
    expect(
      Object.fromEntries(
        table.ledger.map((entry) => [entry.providerJobId, [entry.state, entry.jobId]]),
      ),
    ).toEqual(
      Object.fromEntries(
        [...jobs.values()].map((job) => [job.providerJobId, ['claimed', job.jobId]]),
      ),
    );

    // The provider never ran more than the limit, across the crash and the restart.
    expect(stats.maxConcurrentJobs).toBeLessThanOrEqual(LIMIT);
    expect(table.holders).toEqual([]);
    expect([...table.clientHolders.values()].flat()).toEqual([]);
    // Both clients' jobs ran: each client's part of the day is what its own jobs rendered.
    expect(table.budgetClientDays.map((part) => part.client).sort()).toEqual(['alice', 'bob']);
    expect(table.budgetClientDays.every((part) => part.reservedMicroUsd === 0)).toBe(true);

    // The money: every rendered video spent once, nothing left reserved.
    const sum = (pick: (day: TableSnapshot['budgetDays'][number]) => number) =>
      table.budgetDays.reduce((total, day) => total + pick(day), 0);
    expect({
      spent: sum((day) => day.spentMicroUsd),
      reserved: sum((day) => day.reservedMicroUsd),
      orphaned: sum((day) => day.orphanedMicroUsd),
    }).toEqual({
      spent: REQUESTS.reduce((total, request) => total + priceMicroUsd(request), 0),
      reserved: 0,
      orphaned: 0,
    });

    // S3 holds the provider's bytes for each job, and nothing else.
    const completed = [...jobs.values()];
    expect(objects.map((object) => object.key).sort()).toEqual(
      completed
        .flatMap((job) => [job.result?.key, job.result?.thumbnailKey, job.result?.spritesheetKey])
        .filter((key): key is string => key !== undefined)
        .sort(),
    );
    const objectByKey = new Map(objects.map((object) => [object.key, object.bytes]));
    for (const job of completed) {
      const response = await fetch(`${simulator.baseURL}/videos/${job.providerJobId}/content`, {
        headers: { authorization: `Bearer ${PROVIDER_KEY}` },
      });
      const provided = sha256Hex(Buffer.from(await response.arrayBuffer()));
      const stored = sha256Hex(objectByKey.get(String(job.result?.key)) ?? Buffer.alloc(0));
      expect([job.jobId, stored, job.result?.sha256]).toEqual([job.jobId, provided, provided]);
    }

    audit2.destroy();
    await second.stop();
    expect(processesUsing(dataDir)).toEqual([]);
    console.info(
      `crash recovery: ${inFlight.length} jobs in flight at the crash (${unrecordedCreate.length} with an unrecorded create), ${aliveAtRestart.length} still rendering at the restart, ${doneBeforeCrash.length} done before the crash; ${phases.join(', ')}, stopped ${seconds(started)}`,
    );
  }, 240_000);

  it('resumes the jobs a killed stack left in flight as it starts again, not after the sweep: they go on at once and complete', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sora-crash-resume-'));
    const first = await startStack({ dataDir: dir });
    const jobIds: string[] = [];
    // Long renders (~2 min at the provider): still rendering when the stack is killed.
    for (const n of [1, 2, 3]) {
      jobIds.push(
        await submit(first.info, {
          prompt: `A slow pan, take ${n}`,
          model: 'sora-2-pro',
          seconds: '8',
        }),
      );
    }
    const audit = new PipelineAudit(first.info);
    const atProvider = await waitFor(
      'the three jobs at the provider',
      async () => {
        const jobs = await audit.jobs();
        return jobIds.every((id) => jobs.get(id)?.providerJobId) ? jobs : undefined;
      },
      { timeoutMs: 60_000, everyMs: 100 },
    );
    audit.destroy();
    await first.crash();
    // Done at the provider while the stack is down: what this test checks is that the start
    // resumes them, and their first poll finds them ended. (A resumed execution polling a render
    // still going: simulator-restart.test.ts, and batches.test.ts's resumed jobs.)
    finishRenders();

    // No scheduler runs on this stack (scheduleTimer: false): only the start can resume them.
    const second = await startStack({ dataDir: dir });
    const ready = Date.now();
    const audit2 = new PipelineAudit(second.info);
    const resumed = await waitFor(
      'the jobs resumed',
      async () => {
        const jobs = await audit2.jobs();
        return jobIds.every((id) => (jobs.get(id)?.resumeCount ?? 0) >= 1) ? jobs : undefined;
      },
      // Seconds, not the sweep's grace or the schedule's 5 minutes.
      { timeoutMs: 15_000, everyMs: 100 },
    );
    const resumedAfterMs = Date.now() - ready;
    const ended = await waitFor(
      'the jobs ended',
      async () => {
        const jobs = await audit2.jobs();
        return jobIds.every((id) => isTerminal(jobs.get(id)?.status ?? 'QUEUED'))
          ? jobs
          : undefined;
      },
      { timeoutMs: 120_000, everyMs: 200 },
    );
    audit2.destroy();
    await second.stop();
    await rm(dir, { recursive: true, force: true });

    expect(resumedAfterMs).toBeLessThan(15_000);
    expect(
      Object.fromEntries(
        jobIds.map((id) => {
          const job = resumed.get(id);
          return [id, [job?.resumeCount, job?.executionName !== atProvider.get(id)?.executionName]];
        }),
      ),
    ).toEqual(Object.fromEntries(jobIds.map((id) => [id, [1, true]])));
    expect(Object.fromEntries(jobIds.map((id) => [id, ended.get(id)?.status]))).toEqual(
      Object.fromEntries(jobIds.map((id) => [id, 'COMPLETED'])),
    );
    // Resumed, not redone: each created once at the provider, the one it had before the crash.
    const creates = countBy(
      simulator.stats.videos.filter((video) =>
        jobIds.some((id) => video.idempotencyKey === `sora-pipeline-${id}`),
      ),
      (video) => String(video.idempotencyKey),
    );
    expect([...creates.values()]).toEqual([1, 1, 1]);
    expect(Object.fromEntries(jobIds.map((id) => [id, ended.get(id)?.providerJobId]))).toEqual(
      Object.fromEntries(jobIds.map((id) => [id, atProvider.get(id)?.providerJobId])),
    );
  }, 240_000);
});
