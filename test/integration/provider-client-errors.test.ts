import type { Readable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type ProviderConfigInput,
  parseProviderConfig,
} from '../../functions/shared/provider/provider-config.ts';
import {
  ProviderAmbiguousCreateError,
  ProviderContentExpiredError,
  ProviderError,
  ProviderNotFoundError,
  ProviderRateLimitedError,
  ProviderRejectedError,
  ProviderTransientError,
} from '../../functions/shared/provider/provider-errors.ts';
import type { ProviderVideo } from '../../functions/shared/provider/provider-video.ts';
import { VideoProvider } from '../../functions/shared/provider/video-provider.ts';
import {
  type RunningSimulator,
  type SimulatorOptions,
  startSimulator,
} from '../../infra/local/simulator/simulator.ts';

// Every provider error class, produced by the real simulator and classified by the client.

const API_KEY = 'sk-sim-provider-client-errors-0123456789';

let simulator: RunningSimulator | undefined;

afterEach(async () => {
  await simulator?.close();
  simulator = undefined;
});

async function setup(
  options: SimulatorOptions = {},
  config: Partial<ProviderConfigInput> = {},
): Promise<{ sim: RunningSimulator; provider: VideoProvider }> {
  const sim = await startSimulator({ apiKey: API_KEY, speed: 1000, ...options });
  simulator = sim;
  const provider = new VideoProvider(
    parseProviderConfig({ baseUrl: sim.baseURL, apiKey: API_KEY, timeoutMs: 5_000, ...config }),
  );
  return { sim, provider };
}

const request = {
  prompt: 'a fox in the snow',
  model: 'sora-2',
  size: '720x1280',
  seconds: '4',
  idempotencyKey: 'job-errors',
};

async function failure(promise: Promise<unknown>): Promise<ProviderError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ProviderError) return error;
    throw error;
  }
  throw new Error('expected a ProviderError');
}

async function streamFailure(stream: Readable): Promise<ProviderError> {
  return failure(
    (async () => {
      for await (const _chunk of stream) {
        // drain
      }
    })(),
  );
}

async function untilCompleted(provider: VideoProvider, id: string): Promise<ProviderVideo> {
  return vi.waitFor(
    async () => {
      const video = await provider.retrieve(id);
      if (video.status !== 'completed') throw new Error(`still ${video.status}`);
      return video;
    },
    { timeout: 10_000, interval: 20 },
  );
}

describe('rate limits', () => {
  it('classifies the per-minute limit as ProviderRateLimitedError with the wait', async () => {
    // Prepare
    const { sim, provider } = await setup({ requestsPerMinute: 1, speed: 1 });
    await provider.create(request);

    // Act
    const error = await failure(provider.create({ ...request, idempotencyKey: 'job-2' }));

    // Assess
    expect(error).toBeInstanceOf(ProviderRateLimitedError);
    expect(error.status).toBe(429);
    expect((error as ProviderRateLimitedError).retryAfterSeconds).toBeGreaterThan(0);
    expect((error as ProviderRateLimitedError).retryAfterSeconds).toBeLessThanOrEqual(60);
    expect(sim.stats.createRequests).toBe(2);
    expect(sim.stats.creates).toBe(1);
  });

  it('classifies the concurrent-job limit as ProviderRateLimitedError', async () => {
    // Prepare
    const { sim, provider } = await setup({ maxConcurrentJobs: 1, speed: 1 });
    await provider.create(request);

    // Act
    const error = await failure(provider.create({ ...request, idempotencyKey: 'job-2' }));

    // Assess
    expect(error).toBeInstanceOf(ProviderRateLimitedError);
    expect((error as ProviderRateLimitedError).retryAfterSeconds).toBeGreaterThan(0);
    expect(sim.stats.creates).toBe(1);
  });
});

describe('transient failures', () => {
  it('classifies an injected 503 on create as ProviderTransientError, without a retry', async () => {
    // Prepare
    const { sim, provider } = await setup({ failNextRequests: 1 });

    // Act
    const error = await failure(provider.create(request));

    // Assess
    expect(error).toBeInstanceOf(ProviderTransientError);
    expect(error.status).toBe(503);
    expect(error.requestId).toMatch(/^req_/);
    expect(sim.stats.requests).toBe(1);
    expect(sim.stats.creates).toBe(0);
  });

  it('retries a safe call through an injected 503', async () => {
    // Prepare
    const { sim, provider } = await setup();
    const video = await provider.create(request);
    sim.configure({ failNextRequests: 1 });

    // Act
    const retrieved = await provider.retrieve(video.id);

    // Assess
    expect(retrieved.id).toBe(video.id);
    expect(sim.stats.responsesByStatus[503]).toBe(1);
  });

  it('classifies a safe call that runs out of retries as ProviderTransientError', async () => {
    // Prepare
    const { sim, provider } = await setup({}, { maxRetries: 0 });
    const video = await provider.create(request);
    sim.configure({ failNextRequests: 1 });

    // Act
    const error = await failure(provider.retrieve(video.id));

    // Assess
    expect(error).toBeInstanceOf(ProviderTransientError);
    expect(error.code).toBe('service_unavailable');
  });
});

describe('rejections', () => {
  it('classifies a moderation block as ProviderRejectedError on the prompt', async () => {
    // Prepare
    const { sim, provider } = await setup();

    // Act
    const error = await failure(
      provider.create({ ...request, prompt: 'something [moderation-block] here' }),
    );

    // Assess
    expect(error).toBeInstanceOf(ProviderRejectedError);
    expect(error.code).toBe('moderation_blocked');
    expect((error as ProviderRejectedError).param).toBe('prompt');
    expect(error.retryable).toBe(false);
    expect(sim.stats.creates).toBe(0);
  });

  it('classifies a size the model does not offer as ProviderRejectedError on size', async () => {
    // Prepare
    const { provider } = await setup();

    // Act
    const error = await failure(provider.create({ ...request, size: '1920x1080' }));

    // Assess
    expect(error).toBeInstanceOf(ProviderRejectedError);
    expect(error.status).toBe(400);
    expect((error as ProviderRejectedError).param).toBe('size');
  });

  it('classifies a wrong key as ProviderRejectedError without revealing the key', async () => {
    // Prepare
    const sim = await startSimulator({ apiKey: API_KEY });
    simulator = sim;
    const wrongKey = 'sk-wrong-key-abcdefghijklmnop';
    const provider = new VideoProvider(
      parseProviderConfig({ baseUrl: sim.baseURL, apiKey: wrongKey }),
    );

    // Act
    const error = await failure(provider.create(request));

    // Assess
    expect(error).toBeInstanceOf(ProviderRejectedError);
    expect(error.status).toBe(401);
    const visible = `${error.message} ${error.providerMessage} ${error.stack} ${String(error.cause)}`;
    expect(visible).not.toContain(wrongKey);
    expect(visible).not.toContain(wrongKey.slice(-4));
  });
});

describe('missing and expired', () => {
  it('classifies an unknown video as ProviderNotFoundError', async () => {
    // Prepare
    const { provider } = await setup();

    // Act
    const error = await failure(provider.retrieve('video_does_not_exist'));

    // Assess
    expect(error).toBeInstanceOf(ProviderNotFoundError);
    expect(error.code).toBe('video_not_found');
  });

  it('classifies content asked for after expiry as ProviderContentExpiredError', async () => {
    // Prepare: content expires the moment rendering completes.
    const { provider } = await setup({ contentTtlSeconds: 0 });
    const video = await provider.create(request);
    await untilCompleted(provider, video.id);

    // Act
    const error = await failure(provider.downloadContent(video.id));

    // Assess
    expect(error).toBeInstanceOf(ProviderContentExpiredError);
    expect(error.code).toBe('video_expired');
  });
});

describe('ambiguous creates and reconciliation', () => {
  it('reports a create that outlives the client timeout as ambiguous, after one attempt', async () => {
    // Prepare
    const { sim, provider } = await setup({ latencyMs: 600 }, { timeoutMs: 200 });

    // Act
    const error = await failure(provider.create(request));

    // Assess
    expect(error).toBeInstanceOf(ProviderAmbiguousCreateError);
    expect(error.code).toBe('timeout');
    expect(error.retryable).toBe(false);
    expect(sim.stats.requests).toBe(1);
  });

  it('finds the job a timed-out create started once the provider has taken it', async () => {
    // Prepare
    const { sim, provider } = await setup({ latencyMs: 600 }, { timeoutMs: 200 });
    const createdAfter = new Date();
    await failure(provider.create(request));
    sim.configure({ latencyMs: 0 });
    await vi.waitFor(() => expect(sim.stats.creates).toBe(1), { timeout: 5_000, interval: 20 });

    // Act
    const found = await provider.findCreatedJob({ ...request, createdAfter });

    // Assess
    expect(found?.id).toBe(sim.stats.videos[0]?.id);
    expect(found).toMatchObject({ prompt: request.prompt, size: request.size });
  });

  it('reports a connection reset after the job started as ambiguous and finds the job', async () => {
    // Prepare: an unrelated job with the same prompt made earlier must not be picked.
    const { sim, provider } = await setup();
    await provider.create({ ...request, seconds: '8', idempotencyKey: 'job-other' });
    sim.configure({ dropNextCreateResponses: 1 });
    const createdAfter = new Date();

    // Act
    const error = await failure(provider.create(request));
    const found = await provider.findCreatedJob({ ...request, createdAfter });

    // Assess
    expect(error).toBeInstanceOf(ProviderAmbiguousCreateError);
    expect(sim.stats.creates).toBe(2);
    const started = sim.stats.videos.find((video) => video.idempotencyKey === 'job-errors');
    expect(found?.id).toBe(started?.id);
  });

  it('finds nothing when the ambiguous create never reached the provider', async () => {
    // Prepare: the create is refused by an injected 503, so no job exists.
    const { sim, provider } = await setup({ failNextRequests: 1 });
    const createdAfter = new Date();
    await failure(provider.create(request));

    // Act
    const found = await provider.findCreatedJob({ ...request, createdAfter });

    // Assess
    expect(sim.stats.creates).toBe(0);
    expect(found).toBeUndefined();
  });
});

describe('broken downloads', () => {
  it('errors the stream with ProviderTransientError when the body is truncated', async () => {
    // Prepare
    const { provider } = await setup({ truncateContentBytes: 1_000 });
    const video = await provider.create(request);
    await untilCompleted(provider, video.id);
    const content = await provider.downloadContent(video.id);

    // Act
    const error = await streamFailure(content.stream);

    // Assess
    expect(error).toBeInstanceOf(ProviderTransientError);
    expect(error.operation).toBe('download');
  });

  it('errors the stream with ProviderTransientError when the connection drops', async () => {
    // Prepare
    const { provider } = await setup({ dropConnectionAfterBytes: 1_000 });
    const video = await provider.create(request);
    await untilCompleted(provider, video.id);
    const content = await provider.downloadContent(video.id);

    // Act
    const error = await streamFailure(content.stream);

    // Assess
    expect(error).toBeInstanceOf(ProviderTransientError);
    expect(error.operation).toBe('download');
  });
});
