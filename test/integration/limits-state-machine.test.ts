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
  type LocalStateMachine,
  stateMachinesFromTemplate,
} from '../../infra/local/state-machine-definition.ts';
import { createStateMachineRunner } from '../../infra/local/state-machine-runner.ts';
import { HANDLER_MODULES } from '../../infra/stacks/pipeline-stack.ts';
import { synthesizePipeline } from '../../infra/synth-pipeline.ts';

/**
 * The synthesized generation state machine, run by the local interpreter with stand-in task
 * handlers: how it carries out what the create step decides under the limits (end a parked job,
 * wait for the request allowance a bounded number of times, fail a refused job), retries a spent
 * allowance, and ends an execution whose job RecordFailure resumed elsewhere.
 */

type TaskName = 'createProviderJob' | 'pollProviderJob' | 'downloadVideo' | 'recordFailure';
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
    machine = generation;
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
      stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:Generation',
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

const completes = {
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
  it('ends a parked job successfully at once: no loop while it waits for a slot', async () => {
    const { output, calls } = run({ createProviderJob: createAnswering('deferred'), ...completes });

    await expect(output).resolves.toMatchObject({ poll: { status: 'deferred' } });
    expect(tasksCalled(calls)).toEqual(['createProviderJob']);
  });

  it('hands the create step the job, the state machine (for hand-offs) and no rate waits yet', async () => {
    const { output, calls } = run({ createProviderJob: createAnswering(), ...completes });
    await output;

    expect(calls[0]?.event).toEqual({
      jobId: 'job_1',
      stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:Generation',
      rateWaits: 0,
    });
  });

  it('waits for the request allowance through WaitForRequests and asks again', async () => {
    const { output, calls } = run({
      createProviderJob: createAnswering('waiting_for_rate_limit'),
      ...completes,
    });

    await expect(output).resolves.toBeDefined();
    expect(tasksCalled(calls).filter((task) => task === 'createProviderJob')).toHaveLength(2);
    expect(calls[1]?.event).toMatchObject({ rateWaits: 1 });
  });

  it('bounds the request-allowance loop by its count, whatever the create step answers', async () => {
    const { output, calls } = run({
      createProviderJob: async (event) => {
        const previous = (event as { rateWaits: number }).rateWaits;
        return pollState('waiting_for_rate_limit', 1, previous + 1);
      },
      ...completes,
    });

    const failure = await output.catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ExecutionFailedError);
    expect((failure as ExecutionFailedError).error).toBe('RateWaitLimitReached');
    expect(tasksCalled(calls).filter((task) => task === 'createProviderJob')).toHaveLength(
      MAX_RATE_WAITS + 1,
    );
  });

  it('takes a resumed job whose video is rendered straight to the download', async () => {
    const { output, calls } = run({
      createProviderJob: createAnswering('completed'),
      ...completes,
    });

    await expect(output).resolves.toMatchObject({ download: { key: 'videos/job_1/video.mp4' } });
    expect(tasksCalled(calls)).toEqual(['createProviderJob', 'downloadVideo']);
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

    await expect(output).resolves.toMatchObject({ recorded: { resumed: true } });
    expect(calls.at(-1)?.event).toMatchObject({
      jobId: 'job_1',
      executionName: 'job_1',
      stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:Generation',
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

    await expect(output).resolves.toBeDefined();
    expect(attempts).toBe(3);
  });

  it('records a budget refusal once, without retrying it, and fails the execution with it', async () => {
    const { output, calls } = run({
      ...completes,
      createProviderJob: async () => {
        throw new BudgetExceededError('Not started: the daily budget is spent');
      },
    });

    const failure = await output.catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ExecutionFailedError);
    expect((failure as ExecutionFailedError).error).toBe('BudgetExceededError');
    expect(tasksCalled(calls)).toEqual(['createProviderJob', 'recordFailure']);
    expect(calls[1]?.event).toMatchObject({
      jobId: 'job_1',
      error: { Error: 'BudgetExceededError' },
    });
  });
});
