import { createHash } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import {
  IdempotencyConflictError,
  JobStartFailedError,
  ValidationError,
} from '../../../functions/shared/jobs/job-errors.ts';
import {
  checkReferenceFile,
  requestHash,
  submitJob,
} from '../../../functions/shared/jobs/submit-job.ts';
import {
  inMetricsScope,
  type RecordedMetric,
} from '../../../functions/shared/observability/pipeline-metrics.ts';
import {
  bedrockModelCatalogue,
  defaultModelCatalogue,
  parseProviderConfig,
} from '../../../functions/shared/provider/provider-config.ts';
import { InMemoryJobStore } from '../../support/in-memory-job-store.ts';
import { blackPng } from '../../support/png.ts';
import { testProviderConfig } from '../../support/provider-config-fixture.ts';

const NOW = new Date('2026-03-04T05:06:07.000Z');

function setup() {
  const store = new InMemoryJobStore({ now: () => NOW });
  const startExecution = vi.fn(async (_jobId: string) => {});
  let sequence = 0;
  const deps = {
    store,
    startExecution,
    providerConfig: testProviderConfig(),
    clock: () => NOW,
    newJobId: () => {
      sequence += 1;
      return `job_${sequence}`;
    },
  };
  return { store, startExecution, deps };
}

async function validationErrorOf(promise: Promise<unknown>): Promise<ValidationError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  if (error instanceof ValidationError) return error;
  throw new Error(`expected a ValidationError, got ${String(error)}`);
}

describe('submitJob', () => {
  it('records a QUEUED job with catalogue defaults and cost, and starts its workflow', async () => {
    const { store, startExecution, deps } = setup();

    const result = await submitJob({ prompt: ' A calm sea ' }, { source: 'api' }, deps);

    expect(result.created).toBe(true);
    expect(result.job).toEqual({
      jobId: 'job_1',
      status: 'QUEUED',
      source: 'api',
      client: 'default',
      prompt: 'A calm sea',
      model: 'sora-2',
      size: '720x1280',
      seconds: '4',
      deferred: false,
      executionName: 'job_1',
      requestHash: requestHash({
        prompt: 'A calm sea',
        model: 'sora-2',
        size: '720x1280',
        seconds: '4',
        deferred: false,
      }),
      estimatedCostUsd: 0.4,
      createdAt: NOW.toISOString(),
      updatedAt: NOW.toISOString(),
      progress: 0,
      pollCount: 0,
    });
    expect(await store.get('job_1')).toEqual(result.job);
    expect(startExecution).toHaveBeenCalledExactlyOnceWith('job_1');
  });

  it('prices by model, size and seconds from the catalogue', async () => {
    const { deps } = setup();

    const { job } = await submitJob(
      { prompt: 'x', model: 'sora-2-pro', size: '1792x1024', seconds: '12' },
      { source: 'api' },
      deps,
    );

    expect(job.estimatedCostUsd).toBe(6);
  });

  it.each([
    ['model', { prompt: 'x', model: 'no-such-model' }],
    ['size', { prompt: 'x', size: '640x480' }],
    ['seconds', { prompt: 'x', seconds: 5 }],
    ['prompt', { prompt: '' }],
  ])(
    'rejects an unsupported %s with ValidationError naming it, storing and starting nothing',
    async (field, request) => {
      const { store, startExecution, deps } = setup();

      const error = await validationErrorOf(submitJob(request, { source: 'api' }, deps));

      expect(error.field).toBe(field);
      expect(store.all()).toEqual([]);
      expect(startExecution).not.toHaveBeenCalled();
    },
  );

  it('returns the same job for a replay with the same key and body, creating it once', async () => {
    const { store, deps } = setup();
    const request = { prompt: 'A calm sea', seconds: 8 };

    const first = await submitJob(request, { source: 'api', idempotencyKey: 'k1' }, deps);
    const replay = await submitJob(
      { prompt: '  A calm sea', seconds: '8' },
      { source: 'api', idempotencyKey: 'k1' },
      deps,
    );

    expect(replay).toEqual({ job: first.job, created: false });
    expect(store.all()).toHaveLength(1);
    expect(first.job.idempotencyKey).toBe('k1');
  });

  it('refuses a reused key with a different body', async () => {
    const { deps } = setup();
    await submitJob({ prompt: 'A calm sea' }, { source: 'api', idempotencyKey: 'k1' }, deps);

    const reuse = submitJob(
      { prompt: 'A stormy sea' },
      { source: 'api', idempotencyKey: 'k1' },
      deps,
    );

    await expect(reuse).rejects.toBeInstanceOf(IdempotencyConflictError);
  });

  it('scopes keys by source, so the same key from the inbox is a different job', async () => {
    const { store, deps } = setup();

    await submitJob({ prompt: 'x' }, { source: 'api', idempotencyKey: 'k1' }, deps);
    const fromInbox = await submitJob(
      { prompt: 'y' },
      { source: 'inbox', idempotencyKey: 'k1' },
      deps,
    );

    expect(fromInbox.created).toBe(true);
    expect(store.all()).toHaveLength(2);
  });

  it("records the client's share on the job when one is given, and none otherwise", async () => {
    const { store, deps } = setup();
    const share = { weight: 2, maxConcurrent: 1, dailyBudgetUsd: 3 };

    const shared = await submitJob({ prompt: 'x' }, { source: 'api', client: 'bob', share }, deps);
    const plain = await submitJob({ prompt: 'y' }, { source: 'inbox' }, deps);

    expect(shared.job.share).toEqual(share);
    expect((await store.get(shared.job.jobId))?.share).toEqual(share);
    expect(plain.job).not.toHaveProperty('share');
  });

  it('replays a key whose share changed in between: the share is not part of the request', async () => {
    const { store, deps } = setup();
    const context = { source: 'api' as const, client: 'bob', idempotencyKey: 'k1' };
    const first = await submitJob({ prompt: 'x' }, { ...context, share: { weight: 1 } }, deps);

    const replay = await submitJob({ prompt: 'x' }, { ...context, share: { weight: 5 } }, deps);

    expect(replay).toEqual({ job: first.job, created: false });
    expect(store.all()).toHaveLength(1);
    expect(replay.job.share).toEqual({ weight: 1 });
  });

  it('records a deferred job as QUEUED without starting it, also on replay', async () => {
    const { store, startExecution, deps } = setup();

    const first = await submitJob(
      { prompt: 'x', defer: true },
      { source: 'api', idempotencyKey: 'k' },
      deps,
    );
    await submitJob({ prompt: 'x', defer: true }, { source: 'api', idempotencyKey: 'k' }, deps);

    expect(first.job).toMatchObject({
      status: 'QUEUED',
      deferred: true,
      deferredReason: 'scheduled',
    });
    expect(first.job.executionName).toBeUndefined();
    expect((await store.get(first.job.jobId))?.status).toBe('QUEUED');
    expect(startExecution).not.toHaveBeenCalled();
  });

  it('starts again on a replay of a job still QUEUED (healing a crash between write and start)', async () => {
    const { startExecution, deps } = setup();
    startExecution.mockRejectedValueOnce(new Error('connection reset'));
    const context = { source: 'api' as const, idempotencyKey: 'k' };

    const first = submitJob({ prompt: 'x' }, context, deps);
    await expect(first).rejects.toBeInstanceOf(JobStartFailedError);
    const retry = await submitJob({ prompt: 'x' }, context, deps);

    expect(retry.job.status).toBe('QUEUED');
    expect(startExecution).toHaveBeenCalledTimes(2);
    expect(startExecution).toHaveBeenLastCalledWith(retry.job.jobId);
  });

  it('does not start a replayed job that already left QUEUED', async () => {
    const { store, startExecution, deps } = setup();
    const context = { source: 'api' as const, idempotencyKey: 'k' };
    const { job } = await submitJob({ prompt: 'x' }, context, deps);
    await store.markCreateAttempt(job.jobId, NOW.toISOString());

    await submitJob({ prompt: 'x' }, context, deps);

    expect(startExecution).toHaveBeenCalledTimes(1);
  });

  it('leaves a replayed job that the scheduler re-drove under another execution name alone', async () => {
    const { store, startExecution, deps } = setup();
    const context = { source: 'api' as const, idempotencyKey: 'k' };
    const { job } = await submitJob({ prompt: 'x', defer: true }, context, deps);
    await store.claimDeferred(job.jobId, `${job.jobId}-1`, NOW.toISOString());

    await submitJob({ prompt: 'x', defer: true }, context, deps);

    expect(startExecution).not.toHaveBeenCalled();
  });

  it('leaves a keyed job QUEUED when the start fails, so a retry with the key can start it', async () => {
    const { store, startExecution, deps } = setup();
    startExecution.mockRejectedValue(new Error('throttled'));

    const error = await submitJob(
      { prompt: 'x' },
      { source: 'api', idempotencyKey: 'k' },
      deps,
    ).catch((reason: unknown) => reason);

    expect(error).toBeInstanceOf(JobStartFailedError);
    expect(error).toMatchObject({ jobId: 'job_1', jobRecordedAsFailed: false });
    expect((await store.get('job_1'))?.status).toBe('QUEUED');
  });

  it('closes a job without key as FAILED when the start fails, so it never runs unseen', async () => {
    const { store, startExecution, deps } = setup();
    startExecution.mockRejectedValue(new Error('throttled'));

    const error = await submitJob({ prompt: 'x' }, { source: 'api' }, deps).catch(
      (reason: unknown) => reason,
    );

    expect(error).toMatchObject({ name: 'JobStartFailedError', jobRecordedAsFailed: true });
    expect(await store.get('job_1')).toMatchObject({
      status: 'FAILED',
      error: { code: 'JobStartFailed', retryable: true },
    });
  });
});

describe('submitJob and admission', () => {
  it("starts every submitted job's execution whatever the slots: admission happens in the workflow (AdmitJob)", async () => {
    const { store, startExecution, deps } = setup();

    // More jobs of one client than any slot pool the tests use: none is held back here.
    for (let i = 0; i < 5; i += 1) {
      await submitJob({ prompt: `A calm sea, take ${i}` }, { source: 'inbox' }, deps);
    }

    expect(startExecution.mock.calls.map(([jobId]) => jobId)).toEqual([
      'job_1',
      'job_2',
      'job_3',
      'job_4',
      'job_5',
    ]);
    expect(store.all()).toHaveLength(5);
    for (const job of store.all()) {
      expect(job).toMatchObject({ status: 'QUEUED', deferred: false, executionName: job.jobId });
      expect(job.deferredReason).toBeUndefined();
    }
  });
});

describe('submitJob metrics', () => {
  it('counts a job closed because its workflow could not start as JobsFailed JobStartFailed', async () => {
    const { startExecution, deps } = setup();
    startExecution.mockRejectedValue(new Error('throttled'));
    const recorded: RecordedMetric[] = [];

    await inMetricsScope(recorded, () =>
      submitJob({ prompt: 'x' }, { source: 'api' }, deps).catch(() => undefined),
    );

    expect(recorded).toEqual([
      { name: 'JobsSubmitted', value: 1, dimensions: { source: 'api' } },
      { name: 'JobsFailed', value: 1, dimensions: { code: 'JobStartFailed' } },
    ]);
  });
});

describe('requestHash', () => {
  it('does not depend on key order and changes with any field', () => {
    const fields = { prompt: 'p', model: 'm', size: '1x1', seconds: '4', deferred: false };
    const reordered = { deferred: false, seconds: '4', size: '1x1', model: 'm', prompt: 'p' };

    expect(requestHash(reordered)).toBe(requestHash(fields));
    expect(requestHash({ ...fields, deferred: true })).not.toBe(requestHash(fields));
    expect(requestHash({ ...fields, priority: 'high' })).not.toBe(requestHash(fields));
    expect(requestHash({ ...fields, startTimeoutSeconds: 60 })).not.toBe(requestHash(fields));
    expect(requestHash(fields)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('hashes a request without the optional fields as the canonical JSON of its five fields', () => {
    // The form jobs recorded before priorities and timeouts existed were hashed in: a replay of
    // their keys must still match.
    const canonical = '{"deferred":false,"model":"m","prompt":"p","seconds":"4","size":"1x1"}';

    expect(
      requestHash({ prompt: 'p', model: 'm', size: '1x1', seconds: '4', deferred: false }),
    ).toBe(createHash('sha256').update(canonical).digest('hex'));
  });
});

describe('submitJob: priority and start timeout', () => {
  it('records the priority and start timeout asked for, as part of the request hash', async () => {
    const { deps } = setup();

    const { job } = await submitJob(
      { prompt: 'A calm sea', priority: 'high', startTimeoutSeconds: 600 },
      { source: 'api' },
      deps,
    );

    expect(job).toMatchObject({ priority: 'high', startTimeoutSeconds: 600 });
    expect(job.requestHash).toBe(
      requestHash({
        prompt: 'A calm sea',
        model: 'sora-2',
        size: '720x1280',
        seconds: '4',
        deferred: false,
        priority: 'high',
        startTimeoutSeconds: 600,
      }),
    );
  });

  it('records neither field for a request that asks for neither', async () => {
    const { deps } = setup();

    const { job } = await submitJob({ prompt: 'A calm sea' }, { source: 'api' }, deps);

    expect(job).not.toHaveProperty('priority');
    expect(job).not.toHaveProperty('startTimeoutSeconds');
  });

  it('treats an explicit "normal" priority as no priority: same record, same hash, a replay of the key', async () => {
    const { store, deps } = setup();
    const context = { source: 'api' as const, idempotencyKey: 'k1' };
    const first = await submitJob({ prompt: 'A calm sea' }, context, deps);

    const replay = await submitJob({ prompt: 'A calm sea', priority: 'normal' }, context, deps);

    expect(replay).toEqual({ job: first.job, created: false });
    expect(first.job).not.toHaveProperty('priority');
    expect(store.all()).toHaveLength(1);
  });

  it.each([
    ['another priority', { priority: 'low' }],
    ['a start timeout', { startTimeoutSeconds: 60 }],
  ])('refuses a reused key whose body adds %s', async (_what, extra) => {
    const { deps } = setup();
    const context = { source: 'api' as const, idempotencyKey: 'k1' };
    await submitJob({ prompt: 'A calm sea' }, context, deps);

    const reuse = submitJob({ prompt: 'A calm sea', ...extra }, context, deps);

    await expect(reuse).rejects.toBeInstanceOf(IdempotencyConflictError);
  });

  it.each([
    ['priority', { priority: 'urgent' }],
    ['startTimeoutSeconds', { startTimeoutSeconds: 0 }],
  ])('refuses a bad %s naming it, storing and starting nothing', async (field, extra) => {
    const { store, startExecution, deps } = setup();

    const error = await validationErrorOf(
      submitJob({ prompt: 'A calm sea', ...extra }, { source: 'api' }, deps),
    );

    expect(error.field).toBe(field);
    expect(store.all()).toEqual([]);
    expect(startExecution).not.toHaveBeenCalled();
  });
});

describe('submitJob for a Bedrock model', () => {
  function bedrockSetup() {
    const { store, startExecution, deps } = setup();
    const providerConfig = parseProviderConfig({
      baseUrl: 'http://127.0.0.1:9/v1',
      apiKey: 'test-key-not-used',
      models: { ...defaultModelCatalogue(), ...bedrockModelCatalogue() },
    });
    return { store, startExecution, deps: { ...deps, providerConfig } };
  }

  it('refuses a remix of a Ray2 video before anything is recorded, naming the model', async () => {
    const { store, startExecution, deps } = bedrockSetup();

    const error = await validationErrorOf(
      submitJob(
        { prompt: 'again, at night', model: 'luma.ray-v2:0' },
        { source: 'api', remixOf: { jobId: 'job_0', providerJobId: 'arn:aws:bedrock:x' } },
        deps,
      ),
    );

    expect(error.field).toBe('model');
    expect(error.message).toMatch(/has no remixes/);
    expect(store.all()).toEqual([]);
    expect(startExecution).not.toHaveBeenCalled();
  });

  it('records a Ray2 job priced at its 720p rate', async () => {
    const { deps } = bedrockSetup();

    const { job } = await submitJob(
      { prompt: 'A cat playing piano', model: 'luma.ray-v2:0', seconds: '9' },
      { source: 'api' },
      deps,
    );

    expect(job).toMatchObject({ model: 'luma.ray-v2:0', size: '1280x720', seconds: '9' });
    expect(job.estimatedCostUsd).toBe(13.5);
  });
});

describe('checkReferenceFile (an image sent as a file, checked before it is stored)', () => {
  const deps = { providerConfig: testProviderConfig() };
  const fieldOf = (check: () => void) => {
    try {
      check();
    } catch (error) {
      if (error instanceof ValidationError) return `${error.field} | ${error.message}`;
      throw error;
    }
    return 'accepted';
  };

  it('accepts an image of the requested size (or the model default size)', () => {
    expect(
      fieldOf(() =>
        checkReferenceFile({ prompt: 'A still', size: '1280x720' }, blackPng(1280, 720), deps),
      ),
    ).toBe('accepted');
    expect(
      fieldOf(() => checkReferenceFile({ prompt: 'A still' }, blackPng(720, 1280), deps)),
    ).toBe('accepted');
  });

  it('refuses the image, the request or the model before anything is stored, naming the field', () => {
    expect(
      fieldOf(() =>
        checkReferenceFile({ prompt: 'A still', size: '1280x720' }, blackPng(640, 480), deps),
      ),
    ).toMatch(/^input_reference \| .*640x480.*1280x720/);
    expect(
      fieldOf(() => checkReferenceFile({ prompt: 'A still' }, Buffer.from('not an image'), deps)),
    ).toMatch(/^input_reference \| .*must be a JPEG, PNG or WebP/);
    expect(fieldOf(() => checkReferenceFile({ prompt: '' }, blackPng(720, 1280), deps))).toMatch(
      /^prompt \| /,
    );
    const bedrock = {
      providerConfig: parseProviderConfig({
        baseUrl: 'http://127.0.0.1:9/v1',
        apiKey: 'test-key-not-used',
        models: { ...defaultModelCatalogue(), ...bedrockModelCatalogue() },
      }),
    };
    expect(
      fieldOf(() =>
        checkReferenceFile(
          { prompt: 'A still', model: 'luma.ray-v2:0' },
          blackPng(1280, 720),
          bedrock,
        ),
      ),
    ).toMatch(/^input_reference \| .*takes no reference image/);
  });
});
