import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { describe, expect, it, vi } from 'vitest';
import { createApiHandler } from '../../../functions/api/api-handler.ts';
import { MAX_BODY_BYTES } from '../../../functions/api/operations.ts';
import type { Job } from '../../../functions/shared/jobs/job.ts';
import { newJobId } from '../../../functions/shared/jobs/job-id.ts';
import { clientWebhookSecret } from '../../../functions/shared/webhooks/webhook-signing.ts';
import { type HttpRequest, httpApiEvent } from '../../support/http-api-event.ts';
import { InMemoryJobStore } from '../../support/in-memory-job-store.ts';
import { inMemoryCancelDeps } from '../../support/in-memory-limits.ts';
import { aJob } from '../../support/job-fixtures.ts';
import { testProviderConfig } from '../../support/provider-config-fixture.ts';
import { recordingLogger } from '../../support/recording-logger.ts';

const NOW = new Date('2026-03-04T05:06:07.000Z');
const PROMPT = 'A secret product launch teaser, do not log me';

function setup(providerConfig = testProviderConfig()) {
  const store = new InMemoryJobStore({ now: () => NOW });
  const startExecution = vi.fn(async (_jobId: string) => {});
  const contentLink = vi.fn(
    async (key: string) => `https://videos.example.com/${key}?X-Amz-Expires=300`,
  );
  const { logger, lines, text } = recordingLogger();
  const handler = createApiHandler({
    store,
    cancel: inMemoryCancelDeps(store).deps,
    webhookSecret: async (client) => clientWebhookSecret('test-signing-secret', client),
    startExecution,
    providerConfig,
    clock: () => NOW,
    newJobId,
    contentLink,
    usage: async () => {
      throw new Error('GET /usage is tested in usage-route.test.ts');
    },
    clientBudget: async () => {
      throw new Error('GET /usage is tested in usage-route.test.ts');
    },
    logger,
  });
  const send = async (request: HttpRequest) => {
    const response = await handler(httpApiEvent(request));
    return { ...response, json: parseBody(response) };
  };
  return { store, startExecution, contentLink, send, lines, logText: text };
}

function parseBody(response: APIGatewayProxyStructuredResultV2): unknown {
  return response.body === undefined ? undefined : JSON.parse(response.body);
}

const post = (body: unknown, headers: Record<string, string> = {}): HttpRequest => ({
  method: 'POST',
  path: '/videos',
  headers: { 'content-type': 'application/json', ...headers },
  body: typeof body === 'string' ? body : JSON.stringify(body),
});

/** POST /videos with `form` encoded as multipart/form-data, as the openai SDK sends it. */
async function multipart(form: FormData): Promise<HttpRequest> {
  const encoded = new Response(form);
  const body = Buffer.from(await encoded.arrayBuffer());
  return {
    method: 'POST',
    path: '/videos',
    headers: { 'content-type': encoded.headers.get('content-type') ?? '' },
    body: body.toString('base64'),
    isBase64Encoded: true,
  };
}

function completedJob(overrides: Partial<Job> = {}): Job {
  const jobId = newJobId(NOW);
  return aJob({
    jobId,
    status: 'COMPLETED',
    progress: 100,
    completedAt: NOW.toISOString(),
    providerJobId: 'video_abc',
    result: {
      bucket: 'videos-bucket',
      key: `videos/${jobId}.mp4`,
      bytes: 1234,
      sha256: 'e'.repeat(64),
      contentType: 'video/mp4',
      thumbnailKey: `videos/${jobId}.thumbnail.webp`,
    },
    ...overrides,
  });
}

describe('POST /videos', () => {
  it('accepts a request with 202, a Location and the public view, and starts the workflow', async () => {
    const { store, startExecution, send } = setup();

    const response = await send(post({ prompt: PROMPT, seconds: 8 }));

    const [job] = store.all();
    expect(response.statusCode).toBe(202);
    expect(response.headers?.Location).toBe(`/videos/${job?.jobId}`);
    expect(response.json).toEqual({
      id: job?.jobId,
      status: 'QUEUED',
      source: 'api',
      client: 'default',
      prompt: PROMPT,
      model: 'sora-2',
      size: '720x1280',
      seconds: '8',
      deferred: false,
      priority: 'normal',
      progress: 0,
      estimatedCostUsd: 0.8,
      createdAt: NOW.toISOString(),
      updatedAt: NOW.toISOString(),
      links: { self: `/videos/${job?.jobId}` },
    });
    expect(startExecution).toHaveBeenCalledExactlyOnceWith(job?.jobId);
  });

  it('answers a replay with the same Idempotency-Key and body with 200 and the same video', async () => {
    const { store, send } = setup();
    const request = post({ prompt: PROMPT }, { 'Idempotency-Key': 'order-42' });

    const first = await send(request);
    const replay = await send(request);

    expect(first.statusCode).toBe(202);
    expect(replay.statusCode).toBe(200);
    expect(replay.headers?.['Idempotent-Replayed']).toBe('true');
    expect(replay.json).toEqual(first.json);
    expect(store.all()).toHaveLength(1);
  });

  it('answers 409 when the Idempotency-Key was used with another body', async () => {
    const { send } = setup();
    await send(post({ prompt: PROMPT }, { 'Idempotency-Key': 'order-42' }));

    const response = await send(
      post({ prompt: 'Another prompt' }, { 'Idempotency-Key': 'order-42' }),
    );

    expect(response.statusCode).toBe(409);
    expect(response.json).toEqual({
      error: { code: 'idempotency_conflict', message: expect.any(String) },
    });
  });

  it.each([
    ['prompt', { prompt: '' }],
    ['model', { prompt: PROMPT, model: 'veo-99' }],
    ['size', { prompt: PROMPT, size: '1920x1080' }],
    ['seconds', { prompt: PROMPT, seconds: '7' }],
    ['defer', { prompt: PROMPT, defer: 'later' }],
  ])(
    'answers 400 naming %s for an invalid value, storing and starting nothing',
    async (field, body) => {
      const { store, startExecution, send } = setup();

      const response = await send(post(body));

      expect(response.statusCode).toBe(400);
      expect(response.json).toEqual({
        error: { code: 'invalid_request', message: expect.stringContaining(field), field },
      });
      expect(store.all()).toEqual([]);
      expect(startExecution).not.toHaveBeenCalled();
    },
  );

  it.each([
    ['not JSON', '{"prompt": '],
    ['empty', ''],
    ['a JSON string', '"just a prompt"'],
  ])('answers 400 naming body when the body is %s', async (_what, body) => {
    const { send } = setup();

    const response = await send(post(body));

    expect(response.statusCode).toBe(400);
    expect(response.json).toMatchObject({ error: { field: 'body' } });
  });

  it('answers 413 for a body over 16 KiB', async () => {
    const { store, send } = setup();
    const body = JSON.stringify({ prompt: 'x'.repeat(MAX_BODY_BYTES) });

    const response = await send(post(body));

    expect(response.statusCode).toBe(413);
    expect(response.json).toEqual({
      error: {
        code: 'payload_too_large',
        message: 'The request body is over the limit of 16 KiB (16384 bytes)',
      },
    });
    expect(store.all()).toEqual([]);
  });

  it('answers 413 naming the limit for a multipart form whose field is over 16 KiB', async () => {
    const { store, send } = setup();
    const form = new FormData();
    form.set('prompt', 'x'.repeat(MAX_BODY_BYTES + 1));

    const response = await send(await multipart(form));

    expect(response.statusCode).toBe(413);
    expect(response.json).toEqual({
      error: {
        code: 'payload_too_large',
        message: 'The form field prompt is over the limit of 16 KiB (16384 bytes)',
      },
    });
    expect(store.all()).toEqual([]);
  });

  it('takes the priority and start timeout of a JSON body, showing them on the job', async () => {
    const { send } = setup();

    const response = await send(
      post({ prompt: PROMPT, priority: 'high', startTimeoutSeconds: 3600 }),
    );

    expect(response.statusCode).toBe(202);
    expect(response.json).toMatchObject({ priority: 'high', startTimeoutSeconds: 3600 });
  });

  it('takes the priority and start timeout of a multipart form, the timeout sent as digits', async () => {
    const { store, send } = setup();
    const form = new FormData();
    form.set('prompt', PROMPT);
    form.set('priority', 'low');
    form.set('startTimeoutSeconds', '600');

    const response = await send(await multipart(form));

    expect(response.statusCode).toBe(202);
    expect(store.all()[0]).toMatchObject({ priority: 'low', startTimeoutSeconds: 600 });
  });

  it.each([
    ['priority', 'urgent', 'priority: must be one of high, normal, low'],
    [
      'startTimeoutSeconds',
      '10m',
      'startTimeoutSeconds: must be a whole number of seconds from 1 to 604800 (7 days)',
    ],
  ])(
    'answers 400 naming %s for a bad value in a multipart form, storing nothing',
    async (field, value, message) => {
      const { store, send } = setup();
      const form = new FormData();
      form.set('prompt', PROMPT);
      form.set(field, value);

      const response = await send(await multipart(form));

      expect(response.statusCode).toBe(400);
      expect(response.json).toMatchObject({ error: { field, message } });
      expect(store.all()).toEqual([]);
    },
  );

  it('answers 400 naming body for a body that is not valid UTF-8, as the drop folder refuses such a file', async () => {
    const { store, send } = setup();
    const bytes = Buffer.concat([
      Buffer.from('{"prompt":"'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('"}'),
    ]);

    const response = await send({ ...post(bytes.toString('base64')), isBase64Encoded: true });

    expect(response.statusCode).toBe(400);
    expect(response.json).toMatchObject({
      error: { field: 'body', message: 'body: is not valid UTF-8' },
    });
    expect(store.all()).toEqual([]);
  });

  it('answers 400 naming prompt for a prompt of invisible characters, starting nothing', async () => {
    const { store, startExecution, send } = setup();

    const response = await send(post({ prompt: '\u200b\u202e\u0000' }));

    expect(response.statusCode).toBe(400);
    expect(response.json).toMatchObject({ error: { field: 'prompt' } });
    expect(store.all()).toEqual([]);
    expect(startExecution).not.toHaveBeenCalled();
  });

  it.each([
    ['text/plain', 'text/plain'],
    ['a form', 'application/x-www-form-urlencoded'],
  ])(
    'answers 415 for a JSON body sent as %s, storing and starting nothing',
    async (_what, contentType) => {
      const { store, startExecution, send } = setup();

      const response = await send(post({ prompt: PROMPT }, { 'content-type': contentType }));

      expect(response.statusCode).toBe(415);
      expect(response.json).toEqual({
        error: {
          code: 'unsupported_media_type',
          message: expect.stringContaining('application/json'),
        },
      });
      expect(store.all()).toEqual([]);
      expect(startExecution).not.toHaveBeenCalled();
    },
  );

  it('answers 400 for a JSON body labelled as a multipart form (which POST /videos accepts)', async () => {
    const { store, send } = setup();

    const response = await send(
      post({ prompt: PROMPT }, { 'content-type': 'multipart/form-data; boundary=x' }),
    );

    expect(response.statusCode).toBe(400);
    expect(response.json).toMatchObject({ error: { code: 'invalid_request' } });
    expect(store.all()).toEqual([]);
  });

  it('answers 415 for a body without a Content-Type', async () => {
    const { send } = setup();
    const { headers: _none, ...request } = post({ prompt: PROMPT });

    const response = await send({ ...request, headers: {} });

    expect(response.statusCode).toBe(415);
  });

  it('accepts application/json with a charset, in any case', async () => {
    const { send } = setup();

    const response = await send(
      post({ prompt: PROMPT }, { 'content-type': 'Application/JSON; charset=utf-8' }),
    );

    expect(response.statusCode).toBe(202);
  });

  it('reads a base64-encoded body', async () => {
    const { send } = setup();
    const body = Buffer.from(JSON.stringify({ prompt: PROMPT })).toString('base64');

    const response = await send({ ...post(body), isBase64Encoded: true });

    expect(response.statusCode).toBe(202);
  });

  it.each([
    ['too long', 'k'.repeat(256)],
    ['with a control character', 'key\u0007'],
    ['not ASCII', 'clé'],
    ['empty', ''],
    ['blank', '   '],
  ])('answers 400 naming Idempotency-Key when it is %s', async (_what, key) => {
    const { send } = setup();

    const response = await send(post({ prompt: PROMPT }, { 'Idempotency-Key': key }));

    expect(response.statusCode).toBe(400);
    expect(response.json).toMatchObject({ error: { field: 'Idempotency-Key' } });
  });

  it('records a deferred request as QUEUED without starting it', async () => {
    const { startExecution, send } = setup();

    const response = await send(post({ prompt: PROMPT, defer: true }));

    expect(response.statusCode).toBe(202);
    expect(response.json).toMatchObject({
      status: 'QUEUED',
      deferred: true,
      deferredReason: 'scheduled',
    });
    expect(startExecution).not.toHaveBeenCalled();
  });

  it('says a job waits for the budget when the create step deferred it', async () => {
    const { store, send } = setup();
    const job = aJob({
      jobId: newJobId(NOW),
      status: 'QUEUED',
      deferred: true,
      deferredReason: 'budget',
    });
    store.seed(job);

    const response = await send({ method: 'GET', path: `/videos/${job.jobId}` });

    expect(response.json).toMatchObject({ deferred: true, deferredReason: 'budget' });
  });

  it('shows no reason once a deferred job has been started', async () => {
    const { store, send } = setup();
    const job = aJob({
      jobId: newJobId(NOW),
      status: 'IN_PROGRESS',
      deferred: false,
      deferredReason: 'budget',
    });
    store.seed(job);

    const response = await send({ method: 'GET', path: `/videos/${job.jobId}` });

    expect(response.json).not.toHaveProperty('deferredReason');
  });

  it('answers 503 with Retry-After when the workflow cannot be started, without the SDK message', async () => {
    const { startExecution, send } = setup();
    startExecution.mockRejectedValue(
      new Error('ThrottlingException: Rate exceeded for arn:aws:states:secret'),
    );

    const response = await send(post({ prompt: PROMPT }, { 'Idempotency-Key': 'k' }));

    expect(response.statusCode).toBe(503);
    expect(response.headers?.['Retry-After']).toBe('5');
    expect(response.json).toMatchObject({ error: { code: 'start_failed' } });
    expect(response.body).not.toContain('Rate exceeded');
  });

  it('never logs the prompt, and tags its log lines with the job id', async () => {
    const { store, send, lines, logText } = setup();

    await send(post({ prompt: PROMPT }, { 'Idempotency-Key': 'order-42' }));

    const [job] = store.all();
    expect(logText()).not.toContain(PROMPT);
    expect(logText()).not.toContain('order-42');
    expect(lines.at(-1)?.keys).toEqual({ client: 'default', jobId: job?.jobId });
  });
});

describe('GET /videos/{id}', () => {
  it('answers 200 with the public view, hiding internal attributes', async () => {
    const { store, send } = setup();
    const job = completedJob();
    store.seed(job);

    const response = await send({ method: 'GET', path: `/videos/${job.jobId}` });

    expect(response.statusCode).toBe(200);
    expect(response.json).toMatchObject({
      id: job.jobId,
      status: 'COMPLETED',
      video: {
        bytes: 1234,
        sha256: 'e'.repeat(64),
        contentType: 'video/mp4',
        variants: ['video', 'thumbnail'],
      },
      links: { content: `/videos/${job.jobId}/content` },
    });
    for (const hidden of ['requestHash', 'providerJobId', 'videos-bucket', 'pollCount', '"pk"']) {
      expect(response.body).not.toContain(hidden);
    }
  });

  it('shows why a job failed', async () => {
    const { store, send } = setup();
    const job = aJob({
      jobId: newJobId(NOW),
      status: 'FAILED',
      error: { code: 'moderation_blocked', message: 'The prompt was blocked', retryable: false },
    });
    store.seed(job);

    const response = await send({ method: 'GET', path: `/videos/${job.jobId}` });

    expect(response.json).toMatchObject({
      status: 'FAILED',
      error: { code: 'moderation_blocked', message: 'The prompt was blocked', retryable: false },
    });
  });

  it('answers 404 for an unknown id', async () => {
    const { send } = setup();

    const response = await send({ method: 'GET', path: `/videos/${newJobId()}` });

    expect(response.statusCode).toBe(404);
    expect(response.json).toMatchObject({ error: { code: 'video_not_found' } });
  });

  it('answers 404 for an id that is not a job id, without reading the store', async () => {
    const { store, send } = setup();
    const get = vi.spyOn(store, 'get');

    const response = await send({ method: 'GET', path: '/videos/IDEMPOTENCY%23x' });

    expect(response.statusCode).toBe(404);
    expect(get).not.toHaveBeenCalled();
  });

  it('serves the same routes behind a named stage', async () => {
    const { store, send } = setup();
    const job = completedJob();
    store.seed(job);

    const response = await send({ method: 'GET', path: `/videos/${job.jobId}/`, stage: 'prod' });

    expect(response.statusCode).toBe(200);
  });
});

describe('GET /videos', () => {
  function seedJobs(store: InMemoryJobStore) {
    const jobs = [1, 2, 3].map((second) => {
      const createdAt = new Date(Date.UTC(2026, 0, 1, 0, 0, second));
      return aJob({
        jobId: newJobId(createdAt),
        createdAt: createdAt.toISOString(),
        status: second === 2 ? 'FAILED' : 'QUEUED',
      });
    });
    store.seed(...jobs);
    return jobs;
  }

  it('lists newest first with a null nextCursor on the last page', async () => {
    const { store, send } = setup();
    const [first, second, third] = seedJobs(store);

    const response = await send({ method: 'GET', path: '/videos' });

    expect(response.statusCode).toBe(200);
    expect(response.json).toEqual({
      videos: [third, second, first].map((job) => expect.objectContaining({ id: job?.jobId })),
      nextCursor: null,
    });
  });

  it('filters by status (any case) and pages with limit and cursor', async () => {
    const { store, send } = setup();
    const [first, , third] = seedJobs(store);

    const page1 = await send({
      method: 'GET',
      path: '/videos',
      query: { status: 'queued', limit: '1' },
    });
    const cursor = (page1.json as { nextCursor: string }).nextCursor;
    const page2 = await send({
      method: 'GET',
      path: '/videos',
      query: { status: 'QUEUED', limit: '1', cursor },
    });

    expect(page1.json).toMatchObject({ videos: [{ id: third?.jobId }] });
    expect(page2.json).toEqual({
      videos: [expect.objectContaining({ id: first?.jobId })],
      nextCursor: null,
    });
  });

  it.each([
    ['limit', { limit: '0' }],
    ['limit', { limit: '101' }],
    ['limit', { limit: 'ten' }],
    ['status', { status: 'DONE' }],
    ['cursor', { cursor: 'bm90LWEtY3Vyc29y' }],
  ])('answers 400 naming %s for %o', async (field, query) => {
    const { send } = setup();

    const response = await send({ method: 'GET', path: '/videos', query });

    expect(response.statusCode).toBe(400);
    expect(response.json).toMatchObject({ error: { code: 'invalid_request', field } });
  });
});

describe('GET /videos/{id}/content', () => {
  it('redirects to a presigned link of the video', async () => {
    const { store, contentLink, send } = setup();
    const job = completedJob();
    store.seed(job);

    const response = await send({ method: 'GET', path: `/videos/${job.jobId}/content` });

    expect(response.statusCode).toBe(302);
    expect(response.headers?.Location).toBe(
      `https://videos.example.com/videos/${job.jobId}.mp4?X-Amz-Expires=300`,
    );
    expect(contentLink).toHaveBeenCalledExactlyOnceWith(`videos/${job.jobId}.mp4`);
  });

  it('redirects to the thumbnail when asked for that variant', async () => {
    const { store, contentLink, send } = setup();
    const job = completedJob();
    store.seed(job);

    await send({
      method: 'GET',
      path: `/videos/${job.jobId}/content`,
      query: { variant: 'thumbnail' },
    });

    expect(contentLink).toHaveBeenCalledExactlyOnceWith(job.result?.thumbnailKey);
  });

  it('answers the link as JSON with redirect=false, for browser apps', async () => {
    const { store, send } = setup();
    const job = completedJob();
    store.seed(job);

    const response = await send({
      method: 'GET',
      path: `/videos/${job.jobId}/content`,
      query: { variant: 'thumbnail', redirect: 'false' },
    });

    expect(response.statusCode).toBe(200);
    expect(response.headers?.Location).toBeUndefined();
    expect(response.json).toEqual({
      url: `https://videos.example.com/${job.result?.thumbnailKey}?X-Amz-Expires=300`,
      expiresInSeconds: 300,
    });
  });

  it('answers 400 naming redirect when it is neither true nor false', async () => {
    const { store, contentLink, send } = setup();
    const job = completedJob();
    store.seed(job);

    const response = await send({
      method: 'GET',
      path: `/videos/${job.jobId}/content`,
      query: { redirect: 'no' },
    });

    expect(response.statusCode).toBe(400);
    expect(response.json).toMatchObject({ error: { field: 'redirect' } });
    expect(contentLink).not.toHaveBeenCalled();
  });

  it('answers 404 for a variant the job does not have', async () => {
    const { store, send } = setup();
    const job = completedJob();
    store.seed(job);

    const response = await send({
      method: 'GET',
      path: `/videos/${job.jobId}/content`,
      query: { variant: 'spritesheet' },
    });

    expect(response.statusCode).toBe(404);
    expect(response.json).toMatchObject({ error: { code: 'content_not_found' } });
  });

  it('answers 400 naming variant for an unknown variant', async () => {
    const { store, send } = setup();
    const job = completedJob();
    store.seed(job);

    const response = await send({
      method: 'GET',
      path: `/videos/${job.jobId}/content`,
      query: { variant: 'poster' },
    });

    expect(response.json).toMatchObject({ error: { field: 'variant' } });
  });

  it.each(['QUEUED', 'IN_PROGRESS', 'FAILED'] as const)(
    'answers 409 while the job is %s',
    async (status) => {
      const { store, contentLink, send } = setup();
      const job = aJob({ jobId: newJobId(NOW), status });
      store.seed(job);

      const response = await send({ method: 'GET', path: `/videos/${job.jobId}/content` });

      expect(response.statusCode).toBe(409);
      expect(response.json).toEqual({
        error: {
          code: 'video_not_completed',
          message: `Job ${job.jobId} is ${status}: only a COMPLETED video has content`,
        },
      });
      expect(contentLink).not.toHaveBeenCalled();
    },
  );
});

describe('POST /videos/{id}/remix', () => {
  it('answers 409 saying a FAILED video cannot be remixed, and records nothing', async () => {
    const { store, startExecution, send } = setup();
    const failed = aJob({ jobId: newJobId(NOW), status: 'FAILED' });
    store.seed(failed);

    const response = await send({
      method: 'POST',
      path: `/videos/${failed.jobId}/remix`,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'At night' }),
    });

    expect(response.statusCode).toBe(409);
    expect(response.json).toEqual({
      error: {
        code: 'video_not_completed',
        message: `Job ${failed.jobId} is FAILED and cannot be remixed: only a COMPLETED video can`,
      },
    });
    expect(store.all()).toHaveLength(1);
    expect(startExecution).not.toHaveBeenCalled();
  });
});

describe('GET /models', () => {
  it('answers the catalogue: each model with its sizes, durations, defaults and prices', async () => {
    const { send } = setup();

    const response = await send({ method: 'GET', path: '/models' });

    expect(response.statusCode).toBe(200);
    expect(response.json).toEqual({
      defaultModel: 'sora-2',
      models: [
        {
          id: 'sora-2',
          provider: 'openai-videos',
          sizes: ['720x1280', '1280x720', '1024x1792', '1792x1024'],
          seconds: ['4', '8', '12'],
          defaultSize: '720x1280',
          defaultSeconds: '4',
          pricePerSecondUsd: 0.1,
        },
        {
          id: 'sora-2-pro',
          provider: 'openai-videos',
          sizes: ['720x1280', '1280x720', '1024x1792', '1792x1024', '1920x1080', '1080x1920'],
          seconds: ['4', '8', '12'],
          defaultSize: '720x1280',
          defaultSeconds: '4',
          pricePerSecondUsd: 0.3,
          pricePerSecondUsdBySize: { '1024x1792': 0.5, '1792x1024': 0.5 },
        },
      ],
    });
  });

  it("never shows the provider's base URL or API key, though the configuration holds them", async () => {
    const { send } = setup();

    const response = await send({ method: 'GET', path: '/models' });

    // testProviderConfig() holds both: http://127.0.0.1:9/v1 and test-key-not-used.
    expect(response.body).not.toMatch(/127\.0\.0\.1|test-key-not-used|baseUrl|apiKey|authHeader/);
  });

  it("shows a model with deployments as one model: no deployment's id, endpoint, limits or key", async () => {
    const config = testProviderConfig();
    const sora2 = config.models['sora-2'];
    if (!sora2) throw new Error('the test catalogue has sora-2');
    sora2.deployments = [
      {
        id: 'eastus-pool',
        baseUrl: 'https://eastus.example.test/openai/v1',
        weight: 2,
        maxConcurrent: 3,
        requestsPerMinute: 17,
        apiKey: 'sk-deployment-key',
      },
    ];
    const { send } = setup(config);

    const response = await send({ method: 'GET', path: '/models' });

    expect(response.statusCode).toBe(200);
    expect(response.body).not.toMatch(
      /eastus|sk-deployment-key|deployments|maxConcurrent|requestsPerMinute|weight/,
    );
    expect(response.json).toMatchObject({ models: [{ id: 'sora-2', pricePerSecondUsd: 0.1 }, {}] });
  });
});

describe('routing and failures', () => {
  it('answers 404 for an unknown route', async () => {
    const { send } = setup();

    const response = await send({ method: 'GET', path: '/v1/models' });

    expect(response.statusCode).toBe(404);
    expect(response.json).toMatchObject({ error: { code: 'route_not_found' } });
  });

  it('answers 404 for a known path with a method no route has (as API Gateway does)', async () => {
    const { send } = setup();

    const response = await send({ method: 'DELETE', path: `/videos/${newJobId()}` });

    expect(response.statusCode).toBe(404);
    expect(response.json).toMatchObject({ error: { code: 'route_not_found' } });
  });

  it('answers 500 with a generic message when the store fails, and logs the error', async () => {
    const { store, send, lines } = setup();
    vi.spyOn(store, 'list').mockRejectedValue(
      new Error(
        'ProvisionedThroughputExceededException: table arn:aws:dynamodb:us-east-1:123:table/jobs',
      ),
    );

    const response = await send({ method: 'GET', path: '/videos' });

    expect(response.statusCode).toBe(500);
    expect(response.json).toEqual({
      error: { code: 'internal_error', message: 'Internal server error' },
    });
    expect(lines.some((line) => line.level === 'error')).toBe(true);
  });
});
