import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { MAX_RATE_WAITS } from '../../functions/shared/workflow/workflow-bounds.ts';
import { STATE_MACHINE_METADATA_KEY } from '../../infra/constructs/generation-state-machine.ts';
import { HANDLER_MODULE_METADATA_KEY } from '../../infra/constructs/pipeline-function.ts';
import { InProcessLambdas, type LambdaHandler } from '../../infra/local/in-process-lambdas.ts';
import { localFunctions, localResolver } from '../../infra/local/local-resources.ts';
import { ExecutionFailedError } from '../../infra/local/local-step-functions.ts';
import {
  type AslDefinition,
  type LocalStateMachine,
  stateMachinesFromTemplate,
} from '../../infra/local/state-machine-definition.ts';
import { createStateMachineRunner } from '../../infra/local/state-machine-runner.ts';
import { HANDLER_MODULES } from '../../infra/stacks/pipeline-stack.ts';
import { synthesizePipeline } from '../../infra/synth-pipeline.ts';

/**
 * The synthesized generation state machine, run by the local interpreter with stand-in task
 * handlers: how it carries out what admission decides (go on, end a parked, deferred or timed-out
 * job at once, fail a refused one) and what the create step decides under the limits (wait for
 * the request allowance a bounded number of times, give the job back to the schedule), retries a
 * spent allowance, and ends an execution whose job RecordFailure resumed elsewhere.
 */

type TaskName =
  | 'admitJob'
  | 'createProviderJob'
  | 'pollProviderJob'
  | 'downloadVideo'
  | 'recordFailure';
type TaskHandlers = Partial<Record<TaskName, (event: unknown) => Promise<unknown>>>;

class RequestRateLimitedError extends Error {
  override name = 'RequestRateLimitedError';
}
class BudgetExceededError extends Error {
  override name = 'BudgetExceededError';
}
class ProviderRejectedError extends Error {
  override name = 'ProviderRejectedError';
}
class LimitContentionError extends Error {
  override name = 'LimitContentionError';
}

/**
 * The definition with each Succeed state made a Pass that ends the execution the same way and
 * names itself at `$.endedIn`, so a test can tell JobDeferred, JobStartTimedOut, JobSucceeded and
 * JobResumed apart (their outputs are otherwise alike).
 */
function withNamedEnds(definition: AslDefinition): AslDefinition {
  const states = Object.fromEntries(
    Object.entries(definition.States).map(([name, state]) => [
      name,
      state.Type === 'Succeed'
        ? { Type: 'Pass', Result: name, ResultPath: '$.endedIn', End: true }
        : state,
    ]),
  );
  return { ...definition, States: states };
}

const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:000000000000:stateMachine:Generation';

let machine: LocalStateMachine;
let functions: ReturnType<typeof localFunctions>;

beforeAll(async () => {
  process.env.JSII_DEPRECATED ??= 'quiet';
  const outdir = await mkdtemp(join(tmpdir(), 'limits-sm-'));
  try {
    const synthesized = synthesizePipeline({
      context: { 'provider:baseUrl': 'https://videos.example.test/v1' },
      outdir,
    });
    const pipeline = synthesized.templates.pipeline;
    const resolver = localResolver(pipeline, synthesized.stacks);
    const generation = stateMachinesFromTemplate(pipeline, resolver).find(
      ({ logicalId }) =>
        pipeline.Resources[logicalId]?.Metadata?.[STATE_MACHINE_METADATA_KEY] === 'generation',
    );
    if (!generation) throw new Error('no generation state machine');
    machine = { ...generation, definition: withNamedEnds(generation.definition) };
    functions = localFunctions(pipeline, resolver, HANDLER_MODULE_METADATA_KEY);
  } finally {
    await rm(outdir, { recursive: true, force: true });
  }
});

interface Run {
  output: Promise<unknown>;
  calls: { task: TaskName; event: unknown }[];
}

function run(handlers: TaskHandlers): Run {
  const calls: Run['calls'] = [];
  const byModule = Object.entries(HANDLER_MODULES) as [string, string][];
  const lambdas = new InProcessLambdas(functions, {
    projectRoot: '/project',
    loadHandler: async (modulePath): Promise<LambdaHandler> => {
      const [task] = byModule.find(([, module]) => modulePath.endsWith(module)) ?? [];
      const handler = handlers[task as TaskName];
      if (!handler) throw new Error(`no stand-in for ${modulePath}`);
      return (event) => {
        calls.push({ task: task as TaskName, event });
        return handler(event);
      };
    },
  });
  const runner = createStateMachineRunner(machine, {
    // Waits of 10-30 s take a few ms.
    speed: 10_000,
    invokeLambda: (name, payload) => lambdas.invoke(name, payload),
  });
  const output = runner(
    { jobId: 'job_1' },
    {
      executionArn: 'arn:aws:states:us-east-1:000000000000:execution:Generation:job_1',
      name: 'job_1',
      stateMachineArn: STATE_MACHINE_ARN,
      stateMachineName: 'Generation',
      startDate: new Date(),
    },
    new AbortController().signal,
  );
  return { output, calls };
}

const pollState = (status: string, waitSeconds = 20, rateWaits = 0) => ({
  status,
  progress: status === 'completed' ? 100 : 0,
  waitSeconds,
  pollCount: 0,
  error: null,
  rateWaits,
});

/** A create step that answers `answers` in turn, then `queued`; rate waits counted as the real one does. */
function createAnswering(...answers: string[]) {
  let call = 0;
  return async (event: unknown) => {
    const status = answers[call++] ?? 'queued';
    const previous = (event as { rateWaits?: number }).rateWaits ?? 0;
    return pollState(status, 20, status === 'waiting_for_rate_limit' ? previous + 1 : 0);
  };
}

/** An AdmitJob that answers `admissions` in turn, then `admitted`. */
function admitAnswering(...admissions: string[]) {
  let call = 0;
  return async () => ({ admission: admissions[call++] ?? 'admitted' });
}

const completes = {
  admitJob: admitAnswering(),
  pollProviderJob: async () => ({ ...pollState('completed', 0), pollCount: 1 }),
  downloadVideo: async () => ({
    bucket: 'videos',
    key: 'videos/job_1/video.mp4',
    bytes: 1,
    sha256: 'f',
  }),
  recordFailure: async () => ({ resumed: false }),
};

const tasksCalled = (calls: Run['calls']) => calls.map((call) => call.task);

describe('the generation state machine under the limits', () => {
  it('admits the job first, handing AdmitJob the job and the state machine (for hand-offs)', async () => {
    const { output, calls } = run({ createProviderJob: createAnswering(), ...completes });

    await expect(output).resolves.toMatchObject({
      admit: { admission: 'admitted' },
      endedIn: 'JobSucceeded',
    });
    expect(tasksCalled(calls)).toEqual([
      'admitJob',
      'createProviderJob',
      'pollProviderJob',
      'downloadVideo',
    ]);
    expect(calls[0]?.event).toEqual({ jobId: 'job_1', stateMachineArn: STATE_MACHINE_ARN });
  });

  it.each(['parked', 'deferred'])(
    'ends a %s job at once in JobDeferred: no loop and no create while it waits',
    async (admission) => {
      const { output, calls } = run({
        ...completes,
        admitJob: admitAnswering(admission),
        createProviderJob: createAnswering(),
      });

      await expect(output).resolves.toMatchObject({ admit: { admission }, endedIn: 'JobDeferred' });
      expect(tasksCalled(calls)).toEqual(['admitJob']);
    },
  );

  it('ends a job whose start timeout passed in JobStartTimedOut, recording no failure', async () => {
    const { output, calls } = run({
      ...completes,
      admitJob: admitAnswering('timed_out'),
      createProviderJob: createAnswering(),
    });

    await expect(output).resolves.toMatchObject({
      admit: { admission: 'timed_out' },
      endedIn: 'JobStartTimedOut',
    });
    expect(tasksCalled(calls)).toEqual(['admitJob']);
  });

  it('takes a job admission finds completed straight to the download, creating nothing', async () => {
    const { output, calls } = run({
      ...completes,
      admitJob: admitAnswering('completed'),
      createProviderJob: createAnswering(),
    });

    await expect(output).resolves.toMatchObject({
      download: { key: 'videos/job_1/video.mp4' },
      endedIn: 'JobSucceeded',
    });
    expect(tasksCalled(calls)).toEqual(['admitJob', 'downloadVideo']);
  });

  it('records a budget refusal at admission once, without retrying it, and fails the execution with it', async () => {
    const { output, calls } = run({
      ...completes,
      admitJob: async () => {
        throw new BudgetExceededError('Not started: the daily budget is spent');
      },
      createProviderJob: createAnswering(),
    });

    const failure = await output.catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ExecutionFailedError);
    expect((failure as ExecutionFailedError).error).toBe('BudgetExceededError');
    expect(tasksCalled(calls)).toEqual(['admitJob', 'recordFailure']);
    expect(calls[1]?.event).toMatchObject({
      jobId: 'job_1',
      error: { Error: 'BudgetExceededError' },
    });
  });

  it('retries an admission whose budget item was contended, then goes on', async () => {
    let attempts = 0;
    const { output, calls } = run({
      ...completes,
      admitJob: async () => {
        attempts += 1;
        if (attempts < 3) throw new LimitContentionError('budget item contended');
        return { admission: 'admitted' };
      },
      createProviderJob: createAnswering(),
    });

    await expect(output).resolves.toMatchObject({ endedIn: 'JobSucceeded' });
    expect(attempts).toBe(3);
    expect(tasksCalled(calls)).not.toContain('recordFailure');
  });

  it('ends the execution in JobDeferred when the create step gives the job back to the schedule', async () => {
    const { output, calls } = run({ createProviderJob: createAnswering('deferred'), ...completes });

    await expect(output).resolves.toMatchObject({
      poll: { status: 'deferred' },
      endedIn: 'JobDeferred',
    });
    expect(tasksCalled(calls)).toEqual(['admitJob', 'createProviderJob']);
  });

  it('hands the create step the job, the state machine (for hand-offs) and no rate waits yet', async () => {
    const { output, calls } = run({ createProviderJob: createAnswering(), ...completes });
    await output;

    const create = calls.find((call) => call.task === 'createProviderJob');
    expect(create?.event).toEqual({
      jobId: 'job_1',
      stateMachineArn: STATE_MACHINE_ARN,
      rateWaits: 0,
    });
  });

  it('waits for the request allowance through WaitForRequests and asks again', async () => {
    const { output, calls } = run({
      createProviderJob: createAnswering('waiting_for_rate_limit'),
      ...completes,
    });

    await expect(output).resolves.toMatchObject({ endedIn: 'JobSucceeded' });
    const creates = calls.filter((call) => call.task === 'createProviderJob');
    expect(creates).toHaveLength(2);
    expect(creates[1]?.event).toMatchObject({ rateWaits: 1 });
    // The wait loops back to the create step, not to admission: the job keeps its slot.
    expect(tasksCalled(calls).filter((task) => task === 'admitJob')).toHaveLength(1);
  });

  it('bounds the request-allowance loop by its count, whatever the create step answers', async () => {
    const { output, calls } = run({
      ...completes,
      createProviderJob: async (event) => {
        const previous = (event as { rateWaits: number }).rateWaits;
        return pollState('waiting_for_rate_limit', 1, previous + 1);
      },
    });

    const failure = await output.catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ExecutionFailedError);
    expect((failure as ExecutionFailedError).error).toBe('RateWaitLimitReached');
    expect(tasksCalled(calls).filter((task) => task === 'createProviderJob')).toHaveLength(
      MAX_RATE_WAITS + 1,
    );
  });

  it('takes a resumed job whose video is rendered straight from the create step to the download', async () => {
    const { output, calls } = run({
      createProviderJob: createAnswering('completed'),
      ...completes,
    });

    await expect(output).resolves.toMatchObject({ download: { key: 'videos/job_1/video.mp4' } });
    expect(tasksCalled(calls)).toEqual(['admitJob', 'createProviderJob', 'downloadVideo']);
  });

  it('ends in success when RecordFailure resumed the job in a new execution', async () => {
    const { output, calls } = run({
      ...completes,
      createProviderJob: createAnswering(),
      pollProviderJob: async () => {
        throw new ProviderRejectedError('gone strange');
      },
      recordFailure: async () => ({ resumed: true }),
    });

    await expect(output).resolves.toMatchObject({
      recorded: { resumed: true },
      endedIn: 'JobResumed',
    });
    expect(calls.at(-1)?.event).toMatchObject({
      jobId: 'job_1',
      executionName: 'job_1',
      stateMachineArn: STATE_MACHINE_ARN,
      error: { Error: 'ProviderRejectedError' },
    });
  });

  it('retries a download that found the request allowance spent', async () => {
    let attempts = 0;
    const { output } = run({
      createProviderJob: createAnswering(),
      ...completes,
      downloadVideo: async () => {
        attempts += 1;
        if (attempts < 3) throw new RequestRateLimitedError('allowance spent');
        return completes.downloadVideo();
      },
    });

    await expect(output).resolves.toMatchObject({ endedIn: 'JobSucceeded' });
    expect(attempts).toBe(3);
  });
});
