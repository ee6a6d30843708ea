import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { createApiHandler } from '../../../functions/api/api-handler.ts';
import { API_ROUTES, type OperationId } from '../../../functions/api/api-routes.ts';
import type { Caller } from '../../../functions/api/caller.ts';
import { openApiDocument } from '../../../functions/api/openapi.ts';
import {
  OPERATIONS,
  type OperationRequest,
  type OperationSpec,
} from '../../../functions/api/operations.ts';
import { newJobId } from '../../../functions/shared/jobs/job-id.ts';
import { videoRequestSchema } from '../../../functions/shared/jobs/job-request.ts';
import { apiDeps } from '../../support/api-deps.ts';
import { httpApiEvent } from '../../support/http-api-event.ts';
import { InMemoryJobStore } from '../../support/in-memory-job-store.ts';
import { aJob } from '../../support/job-fixtures.ts';

/**
 * The operations' declarations (operations.ts) are the one statement of what each route reads:
 * the handler reads from a request only the parameters they declare, and the OpenAPI document
 * lists exactly those, so a parameter cannot be read without being documented.
 */

const NOW = new Date('2026-03-04T05:06:07.000Z');
const ADMIN = { client: 'ops', admin: true };
const document = openApiDocument();

function setup() {
  const store = new InMemoryJobStore({ now: () => NOW });
  const handler = createApiHandler(apiDeps(store, NOW));
  return { store, handler };
}

/** An operation's declaration, seen through the shape all of them share. */
const specOf = (operationId: OperationId): OperationSpec => OPERATIONS[operationId];

const names = (schema: OperationSpec['query']): string[] =>
  schema === undefined ? [] : Object.keys(schema.shape).sort();

/** The declared parameters of an operation, as `in name` (the document's location names). */
function declaredParameters(spec: OperationSpec): string[] {
  return [
    ...names(spec.path).map((name) => `path ${name}`),
    ...names(spec.headers).map((name) => `header ${name}`),
    ...names(spec.query).map((name) => `query ${name}`),
  ].sort();
}

/** Records every key read from an object, and whether its keys were ever listed. */
function watched(values: Record<string, string>) {
  const read = new Set<string>();
  let listed = false;
  const proxy = new Proxy(values, {
    get(target, key, receiver) {
      if (typeof key === 'string') read.add(key);
      return Reflect.get(target, key, receiver);
    },
    has(target, key) {
      if (typeof key === 'string') read.add(key);
      return Reflect.has(target, key);
    },
    ownKeys(target) {
      listed = true;
      return Reflect.ownKeys(target);
    },
  });
  return { proxy, read, listed: () => listed };
}

/** A request that reaches the operation: a real job id, a batch id, a JSON body where it takes one. */
function requestFor(route: (typeof API_ROUTES)[number], jobId: string): APIGatewayProxyEventV2 {
  const path = route.path
    .replace('/batches/{id}', '/batches/batch_0123456789abcdef01234567')
    .replace('{id}', jobId);
  const hasBody = specOf(route.operationId).body !== undefined;
  return httpApiEvent({
    method: route.method,
    path,
    authorizer: ADMIN,
    ...(hasBody
      ? {
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ prompt: 'A kite over a beach' }),
        }
      : {}),
  });
}

describe('operation declarations', () => {
  it.each(API_ROUTES.map((route) => [route.operationId, route] as const))(
    '%s reads from the query and path only the parameters it declares',
    async (operationId, route) => {
      const { store, handler } = setup();
      const job = aJob({ jobId: newJobId(NOW), status: 'COMPLETED', providerJobId: 'video_1' });
      store.seed(job);
      const event = requestFor(route, job.jobId);
      // Every declared query parameter is present (an empty value counts as absent), and so are
      // some that no declaration names.
      const query = watched({
        ...Object.fromEntries(names(specOf(operationId).query).map((name) => [name, ''])),
        sort: 'createdAt',
        fields: 'id',
      });
      const path = watched({ ...event.pathParameters, other: 'x' });
      event.queryStringParameters = query.proxy;
      if (event.pathParameters !== undefined) event.pathParameters = path.proxy;

      const response = await handler(event);

      expect(response.body ?? '', operationId).not.toMatch(/route_not_found|internal_error/);
      expect([...query.read].sort()).toEqual(names(specOf(operationId).query));
      expect(query.listed()).toBe(false);
      expect([...path.read].sort()).toEqual(names(specOf(operationId).path));
      expect(path.listed()).toBe(false);
    },
  );

  it('documents every declared parameter of every operation, and no other', () => {
    for (const route of API_ROUTES) {
      const documented = document.paths[route.path]?.[
        route.method.toLowerCase() as 'get' | 'post'
      ]?.parameters?.map((parameter) => {
        expect(parameter.description, `${route.operationId} ${parameter.name}`).not.toBe('');
        return `${parameter.in} ${parameter.name}`;
      });
      expect((documented ?? []).sort(), route.operationId).toEqual(
        declaredParameters(specOf(route.operationId)),
      );
    }
  });

  it('documents the batch and client filters of GET /videos and the client of GET /usage, the client as admin-only', () => {
    const parameter = (path: string, name: string) =>
      document.paths[path]?.get?.parameters?.find((candidate) => candidate.name === name);

    expect(parameter('/videos', 'batch')).toMatchObject({ in: 'query', required: false });
    for (const path of ['/videos', '/usage']) {
      expect(parameter(path, 'client')?.description, path).toMatch(/^Admins only: /);
    }
  });

  it('renders each parameter from its schema: defaults, enums and patterns as the handler applies them', () => {
    const list = document.paths['/videos']?.get?.parameters ?? [];
    const content = document.paths['/videos/{id}/content']?.get?.parameters ?? [];

    expect(list.find((parameter) => parameter.name === 'limit')?.schema).toEqual({
      type: 'integer',
      minimum: 1,
      maximum: 100,
      default: 20,
    });
    expect(content.find((parameter) => parameter.name === 'redirect')?.schema).toEqual({
      type: 'string',
      enum: ['true', 'false'],
      default: 'true',
    });
    expect(content.find((parameter) => parameter.name === 'variant')?.schema).toMatchObject({
      default: 'video',
    });
  });

  it('gives POST /videos the request schema the use case validates with', () => {
    expect(OPERATIONS.createVideo.body.json).toBe(videoRequestSchema);
  });

  it('hands an operation a query typed with exactly its declared parameters', () => {
    type ListQuery = OperationRequest<'listVideos', Caller>['query'];
    type UsageQuery = OperationRequest<'getUsage', Caller>['query'];
    type ModelsQuery = OperationRequest<'listModels', Caller>['query'];

    // Checked by the type check (tsc): reading an undeclared parameter does not compile.
    expectTypeOf<keyof ListQuery>().toEqualTypeOf<
      'status' | 'limit' | 'cursor' | 'batch' | 'client'
    >();
    expectTypeOf<keyof UsageQuery>().toEqualTypeOf<'day' | 'client'>();
    expectTypeOf<keyof ModelsQuery>().toEqualTypeOf<never>();
    expect(Object.keys(OPERATIONS.listVideos.query.shape).sort()).toEqual([
      'batch',
      'client',
      'cursor',
      'limit',
      'status',
    ]);
  });
});

describe('parameters parsed with their declaration', () => {
  const send = async (
    path: string,
    query: Record<string, string>,
    authorizer: Record<string, unknown> = ADMIN,
  ) => {
    const { store, handler } = setup();
    const mine = aJob({ jobId: newJobId(NOW), client: 'ops' });
    const batchId = 'batch_0123456789abcdef01234567';
    const batched = aJob({
      jobId: newJobId(new Date(NOW.getTime() + 1)),
      client: 'alice',
      batchId,
    });
    store.seed(mine, batched);
    const response = await handler(httpApiEvent({ method: 'GET', path, query, authorizer }));
    return { response, json: JSON.parse(response.body ?? '{}'), mine, batched };
  };

  it('answers 400 naming batch for a value that is not a batch id', async () => {
    const { response, json } = await send('/videos', { batch: 'inbox/a.txt' });

    expect(response.statusCode).toBe(400);
    expect(json).toMatchObject({ error: { code: 'invalid_request', field: 'batch' } });
  });

  it('lists the jobs of a batch, and ignores parameters no declaration names', async () => {
    const { response, json, batched } = await send('/videos', {
      batch: 'batch_0123456789abcdef01234567',
      sort: 'oldest',
    });

    expect(response.statusCode).toBe(200);
    expect(json.videos.map((video: { id: string }) => video.id)).toEqual([batched.jobId]);
  });

  it.each<[OperationId, string, Record<string, string>, string]>([
    ['listVideos', 'limit', { limit: '1e1' }, '/videos'],
    ['listVideos', 'limit', { limit: ' 5' }, '/videos'],
    ['getUsage', 'day', { day: '2026-02-30' }, '/usage'],
  ])('%s answers 400 naming %s for %o', async (_operation, field, query, path) => {
    const { response, json } = await send(path, query);

    expect(response.statusCode).toBe(400);
    expect(json).toMatchObject({
      error: { code: 'invalid_request', field, message: expect.stringMatching(`^${field}: `) },
    });
  });
});

describe('a remix body parsed with its declaration', () => {
  it.each(['model', 'size', 'seconds'])(
    'answers 400 naming %s, which a remix keeps from its source',
    async (field) => {
      const { store, handler } = setup();
      const source = aJob({ jobId: newJobId(NOW), status: 'COMPLETED', providerJobId: 'video_1' });
      store.seed(source);

      const response = await handler(
        httpApiEvent({
          method: 'POST',
          path: `/videos/${source.jobId}/remix`,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ prompt: 'At night', [field]: '4' }),
        }),
      );

      expect(response.statusCode).toBe(400);
      expect(JSON.parse(response.body ?? '{}')).toEqual({
        error: {
          code: 'invalid_request',
          field,
          message: `${field}: a remix keeps the model, size and seconds of the video it remixes`,
        },
      });
      expect(store.all()).toEqual([source]);
    },
  );
});
