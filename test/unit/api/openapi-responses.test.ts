import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { describe, expect, expectTypeOf, it, vi } from 'vitest';
import type { z } from 'zod';
import { createApiHandler } from '../../../functions/api/api-handler.ts';
import { API_ROUTES, routeKey } from '../../../functions/api/api-routes.ts';
import { withClientRate } from '../../../functions/api/client-rate.ts';
import {
  type OpenApiHeader,
  type OpenApiResponse,
  openApiDocument,
} from '../../../functions/api/openapi.ts';
import {
  errorSchema,
  gatewayErrorSchema,
  modelCatalogueSchema,
  usageSchema,
  videoListSchema,
  videoSchema,
} from '../../../functions/api/openapi-schemas.ts';
import { MAX_BODY_BYTES } from '../../../functions/api/operations.ts';
import type { Job } from '../../../functions/shared/jobs/job.ts';
import { newJobId } from '../../../functions/shared/jobs/job-id.ts';
import type { PublicJob } from '../../../functions/shared/jobs/public-job.ts';
import type { ClientRateLimiter } from '../../../functions/shared/limits/dynamo-client-rate-limiter.ts';
import { readClientBudget, readUsage } from '../../../functions/shared/limits/usage-report.ts';
import { clientWebhookSecret } from '../../../functions/shared/webhooks/webhook-signing.ts';
import { type HttpRequest, httpApiEvent } from '../../support/http-api-event.ts';
import { InMemoryJobStore } from '../../support/in-memory-job-store.ts';
import { inMemoryCancelDeps, inMemoryUsageSources } from '../../support/in-memory-limits.ts';
import { aJob } from '../../support/job-fixtures.ts';
import { testProviderConfig } from '../../support/provider-config-fixture.ts';
import { recordingLogger } from '../../support/recording-logger.ts';

/**
 * The document cannot drift from the handler: real handler answers, one per documented outcome,
 * must be documented (status, headers, error code) and parse against the schema the document
 * gives for them.
 */

const NOW = new Date('2026-03-04T05:06:07.000Z');
const PROMPT = 'A lighthouse in a storm, waves crashing, cinematic';
const document = openApiDocument();

const ZOD_BY_COMPONENT: Record<string, z.ZodType> = {
  Video: videoSchema,
  VideoList: videoListSchema,
  Error: errorSchema,
  GatewayError: gatewayErrorSchema,
  Usage: usageSchema,
  ModelCatalogue: modelCatalogueSchema,
};

function setup(
  options: { startFails?: boolean; storeFails?: boolean; budgetUsd?: number | null } = {},
) {
  const store = new InMemoryJobStore({ now: () => NOW });
  const limits = inMemoryUsageSources({ budgetUsd: options.budgetUsd ?? null });
  if (options.storeFails) {
    vi.spyOn(store, 'get').mockRejectedValue(new Error('DynamoDB is having a bad day'));
  }
  const startExecution = vi.fn(async (_jobId: string) => {
    if (options.startFails) throw new Error('StartExecution throttled');
  });
  const handler = createApiHandler({
    store,
    cancel: inMemoryCancelDeps(store).deps,
    webhookSecret: async (client) => clientWebhookSecret('test-signing-secret', client),
    startExecution,
    providerConfig: testProviderConfig(),
    clock: () => NOW,
    newJobId,
    contentLink: async (key) => `https://videos.example.com/${key}?X-Amz-Expires=300`,
    usage: (day) => readUsage(limits, day),
    clientBudget: (client, day) => readClientBudget(limits.budget, client, day),
    logger: recordingLogger().logger,
  });
  const send = (request: HttpRequest) => handler(httpApiEvent(request));
  return { store, limits, send };
}

function completedJob(overrides: Partial<Job> = {}): Job {
  const jobId = newJobId(NOW);
  return aJob({
    jobId,
    status: 'COMPLETED',
    progress: 100,
    completedAt: NOW.toISOString(),
    result: {
      bucket: 'videos-bucket',
      key: `videos/${jobId}/video.mp4`,
      bytes: 1234,
      sha256: 'e'.repeat(64),
      contentType: 'video/mp4',
      thumbnailKey: `videos/${jobId}/thumbnail.webp`,
    },
    ...overrides,
  });
}

function failedJob(): Job {
  return aJob({
    jobId: newJobId(NOW),
    status: 'FAILED',
    error: { code: 'moderation_blocked', message: 'Blocked by moderation', retryable: false },
  });
}

const post = (body: unknown, headers: Record<string, string> = {}): HttpRequest => ({
  method: 'POST',
  path: '/videos',
  headers: { 'content-type': 'application/json', ...headers },
  body: typeof body === 'string' ? body : JSON.stringify(body),
});

const get = (path: string, query?: Record<string, string>): HttpRequest => ({
  method: 'GET',
  path,
  ...(query ? { query } : {}),
});

function deref<T>(value: T | { $ref: string }): T {
  if (typeof value !== 'object' || value === null || !('$ref' in value)) return value;
  let node: unknown = document;
  for (const segment of value.$ref.slice(2).split('/')) {
    node = (node as Record<string, unknown>)[segment];
  }
  expect(node, value.$ref).toBeDefined();
  return node as T;
}

/**
 * Asserts that the document describes this response of `METHOD /template`: the status, every
 * header sent (and every required header), the body against the documented schema, and for an
 * error the code among the status's documented examples.
 */
function expectDocumented(
  route: string,
  response: APIGatewayProxyStructuredResultV2,
): { body: unknown } {
  const [method = '', template = ''] = route.split(' ');
  const operation = document.paths[template]?.[method.toLowerCase() as 'get' | 'post'];
  expect(operation, `${route} is documented`).toBeDefined();
  const status = String(response.statusCode);
  const documented = operation?.responses[status];
  expect(documented, `${route} documents ${status}`).toBeDefined();
  const described = deref<OpenApiResponse>(documented ?? { description: '' });

  const sent = Object.keys(response.headers ?? {}).filter((name) => name !== 'Content-Type');
  const headers = described.headers ?? {};
  for (const name of sent) expect(Object.keys(headers), `${route} ${status}`).toContain(name);
  for (const [name, header] of Object.entries(headers)) {
    if (deref<OpenApiHeader>(header).required) expect(sent, `${route} ${status}`).toContain(name);
  }

  const media = described.content?.['application/json'];
  if (media === undefined) {
    expect(response.body, `${route} ${status} has no documented body`).toBeUndefined();
    return { body: undefined };
  }
  const body: unknown = JSON.parse(response.body ?? 'null');
  const names = JSON.stringify(media.schema).match(/#\/components\/schemas\/\w+/g) ?? [];
  const schemas = names.map((ref) => ZOD_BY_COMPONENT[ref.split('/').at(-1) ?? '']);
  const errors = schemas.map((schema) => schema?.safeParse(body).error);
  expect(
    errors.some((error) => error === undefined),
    `${route} ${status} body ${JSON.stringify(body)} against ${names.join(' | ')}: ${errors.map(String).join('; ')}`,
  ).toBe(true);
  const code = errorSchema.safeParse(body).data?.error.code;
  if (code !== undefined && media.examples !== undefined) {
    expect(Object.keys(media.examples), `${route} ${status}`).toContain(code);
  }
  return { body };
}

describe('the documented response schemas', () => {
  it('have the same TypeScript shape as the public job view the handler builds', () => {
    expectTypeOf<z.output<typeof videoSchema>>().toEqualTypeOf<PublicJob>();
  });
});

describe('POST /videos answers as documented', () => {
  it('202 with Location for a new video', async () => {
    const { send } = setup();

    const response = await send(post({ prompt: PROMPT, seconds: 8, size: '1280x720' }));

    expect(response.statusCode).toBe(202);
    expectDocumented('POST /videos', response);
  });

  it('200 with Idempotent-Replayed for a replay of the same key and body', async () => {
    const { send } = setup();
    const request = post({ prompt: PROMPT }, { 'Idempotency-Key': 'order-42' });
    await send(request);

    const response = await send(request);

    expect(response.statusCode).toBe(200);
    expectDocumented('POST /videos', response);
  });

  it.each([
    ['an unknown field', { prompt: PROMPT, colour: 'red' }, {}],
    ['a size the model lacks', { prompt: PROMPT, size: '640x480' }, {}],
    ['a body that is not JSON', '{"prompt":', {}],
    ['a bad Idempotency-Key', { prompt: PROMPT }, { 'Idempotency-Key': 'k'.repeat(256) }],
  ])('400 for %s', async (_what, body, headers) => {
    const { send } = setup();

    const response = await send(post(body, headers));

    expect(response.statusCode).toBe(400);
    expectDocumented('POST /videos', response);
  });

  it('409 when the key was used with another body', async () => {
    const { send } = setup();
    await send(post({ prompt: PROMPT }, { 'Idempotency-Key': 'order-42' }));

    const response = await send(post({ prompt: 'Other' }, { 'Idempotency-Key': 'order-42' }));

    expect(response.statusCode).toBe(409);
    expectDocumented('POST /videos', response);
  });

  it('413 for a body over the limit', async () => {
    const { send } = setup();

    const response = await send(post({ prompt: 'x'.repeat(MAX_BODY_BYTES) }));

    expect(response.statusCode).toBe(413);
    expectDocumented('POST /videos', response);
  });

  it.each([
    ['with', { 'Idempotency-Key': 'order-7' }],
    ['without', {}],
  ])('503 with Retry-After when the workflow cannot start (%s a key)', async (_w, headers) => {
    const { send } = setup({ startFails: true });

    const response = await send(post({ prompt: PROMPT }, headers));

    expect(response.statusCode).toBe(503);
    expectDocumented('POST /videos', response);
  });
});

describe('GET /videos answers as documented', () => {
  it('200 with a page of queued, completed and failed videos and a cursor', async () => {
    const { store, send } = setup();
    store.seed(aJob({ jobId: newJobId(NOW) }), completedJob(), failedJob());

    const response = await send(get('/videos', { limit: '2' }));

    expect(response.statusCode).toBe(200);
    const { body } = expectDocumented('GET /videos', response);
    expect(videoListSchema.parse(body).nextCursor).toEqual(expect.any(String));
  });

  it.each([
    ['limit', { limit: '0' }],
    ['status', { status: 'DONE' }],
    ['cursor', { cursor: 'not-a-cursor' }],
  ])('400 for a bad %s', async (_field, query) => {
    const { send } = setup();

    const response = await send(get('/videos', query));

    expect(response.statusCode).toBe(400);
    expectDocumented('GET /videos', response);
  });
});

describe('GET /videos/{id} answers as documented', () => {
  it.each([
    ['completed', completedJob()],
    ['failed', failedJob()],
    ['in progress', aJob({ jobId: newJobId(NOW), status: 'IN_PROGRESS', progress: 37 })],
  ])('200 for a %s video', async (_what, job) => {
    const { store, send } = setup();
    store.seed(job);

    const response = await send(get(`/videos/${job.jobId}`));

    expect(response.statusCode).toBe(200);
    expectDocumented('GET /videos/{id}', response);
  });

  it('404 for an unknown id', async () => {
    const { send } = setup();

    const response = await send(get(`/videos/${newJobId(NOW)}`));

    expect(response.statusCode).toBe(404);
    expectDocumented('GET /videos/{id}', response);
  });

  it('500 with the documented body when the store fails', async () => {
    const { send } = setup({ storeFails: true });

    const response = await send(get(`/videos/${newJobId(NOW)}`));

    expect(response.statusCode).toBe(500);
    expectDocumented('GET /videos/{id}', response);
  });
});

describe('GET /videos/{id}/content answers as documented', () => {
  it('302 to the file for a completed video, with no body', async () => {
    const { store, send } = setup();
    const job = completedJob();
    store.seed(job);

    const response = await send(get(`/videos/${job.jobId}/content`));

    expect(response.statusCode).toBe(302);
    expectDocumented('GET /videos/{id}/content', response);
  });

  it.each([
    ['400 for an unknown variant', completedJob(), { variant: 'poster' }, 400],
    ['404 for a variant the video lacks', completedJob(), { variant: 'spritesheet' }, 404],
    ['409 for a video not completed', aJob({ jobId: newJobId(NOW) }), {}, 409],
  ])('%s', async (_what, job, query, status) => {
    const { store, send } = setup();
    store.seed(job);

    const response = await send(get(`/videos/${job.jobId}/content`, query));

    expect(response.statusCode).toBe(status);
    expectDocumented('GET /videos/{id}/content', response);
  });

  it('404 for an unknown id', async () => {
    const { send } = setup();

    const response = await send(get(`/videos/${newJobId(NOW)}/content`));

    expect(response.statusCode).toBe(404);
    expectDocumented('GET /videos/{id}/content', response);
  });
});

describe('GET /usage answers as documented', () => {
  it('200 with the day under a budget, slots in use', async () => {
    const { limits, send } = setup({ budgetUsd: 25 });
    await limits.budget.reserve(newJobId(NOW), 0.4, '2026-03-04');
    await limits.semaphore.acquire('job_running');

    const response = await send(get('/usage'));

    expect(response.statusCode).toBe(200);
    expectDocumented('GET /usage', response);
  });

  it("200 with the caller's share against its own budget", async () => {
    const { limits, send } = setup({ budgetUsd: 25 });
    const caller = { name: 'default', dailyBudgetUsd: 5 };
    await limits.budget.reserve(newJobId(NOW), 0.4, '2026-03-04', caller);

    const response = await send(get('/usage'));

    expect(JSON.parse(response.body ?? 'null')).toMatchObject({
      client: { budget: { limitUsd: 5, reservedUsd: 0.4, remainingUsd: 4.6 } },
    });
    expectDocumented('GET /usage', response);
  });

  it('200 with nulls when there is no budget', async () => {
    const { send } = setup({ budgetUsd: null });

    const response = await send(get('/usage', { day: '2026-03-01' }));

    expect(response.statusCode).toBe(200);
    expectDocumented('GET /usage', response);
  });

  it('400 for a day that is not YYYY-MM-DD', async () => {
    const { send } = setup();

    const response = await send(get('/usage', { day: '04/03/2026' }));

    expect(response.statusCode).toBe(400);
    expectDocumented('GET /usage', response);
  });
});

describe('GET /models answers as documented', () => {
  it('200 with the catalogue', async () => {
    const { send } = setup();

    const response = await send(get('/models'));

    expect(response.statusCode).toBe(200);
    expectDocumented('GET /models', response);
  });
});

describe('a client over its request rate is answered as documented', () => {
  const refusing: ClientRateLimiter = {
    take: async () => ({ allowed: false, retryAfterSeconds: 2 }),
  };
  const handler = withClientRate(
    async () => {
      throw new Error('the operation must not run');
    },
    { limiter: refusing, clock: () => NOW, logger: recordingLogger().logger },
  );

  it.each(API_ROUTES.map(routeKey))('429 with Retry-After on %s', async (route) => {
    const [method = '', template = ''] = route.split(' ');

    const response = await handler(
      httpApiEvent({ method, path: template.replaceAll('{id}', newJobId(NOW)) }),
    );

    expect(response.statusCode).toBe(429);
    expectDocumented(route, response);
  });
});
