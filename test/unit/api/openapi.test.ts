import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { describeError } from '../../../functions/api/error-response.ts';
import {
  BEARER_SCHEME,
  type OpenApiDocument,
  type OpenApiOperation,
  type OpenApiResponse,
  openApiDocument,
} from '../../../functions/api/openapi.ts';
import {
  batchCancellationSchema,
  contentLinkSchema,
  errorSchema,
  gatewayErrorSchema,
  JOB_ID_PATTERN,
  modelCatalogueSchema,
  usageSchema,
  videoListSchema,
  videoSchema,
  webhookSecretSchema,
} from '../../../functions/api/openapi-schemas.ts';
import { isJobId, newJobId } from '../../../functions/shared/jobs/job-id.ts';
import { videoRequestSchema } from '../../../functions/shared/jobs/job-request.ts';

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** Every operation of the document with its path and method. */
function operations(document: OpenApiDocument) {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, operation]) => ({
      path,
      method,
      operation: operation as OpenApiOperation,
    })),
  );
}

/** Follows a local `$ref` (`#/components/...`) through the document. */
function resolveRef(document: OpenApiDocument, ref: string): unknown {
  expect(ref).toMatch(/^#\//);
  let node: unknown = document;
  for (const segment of ref.slice(2).split('/')) {
    const key = segment.replaceAll('~1', '/').replaceAll('~0', '~');
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, key)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

function deref<T>(document: OpenApiDocument, value: T | { $ref: string }): T {
  if (typeof value === 'object' && value !== null && '$ref' in value) {
    return resolveRef(document, value.$ref) as T;
  }
  return value;
}

/** Every `$ref` value anywhere in a JSON value. */
function refsIn(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(refsIn);
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, item]) =>
    key === '$ref' && typeof item === 'string' ? [item] : refsIn(item),
  );
}

const ZOD_BY_COMPONENT: Record<string, z.ZodType> = {
  Video: videoSchema,
  VideoList: videoListSchema,
  Error: errorSchema,
  GatewayError: gatewayErrorSchema,
  Usage: usageSchema,
  ContentLink: contentLinkSchema,
  BatchCancellation: batchCancellationSchema,
  WebhookSecret: webhookSecretSchema,
  ModelCatalogue: modelCatalogueSchema,
};

describe('openApiDocument structure', () => {
  const document = openApiDocument();

  it('is an OpenAPI 3.1 document with info, servers, paths and components', () => {
    expect(document.openapi).toMatch(/^3\.1\.\d+$/);
    expect(document.info.title).not.toBe('');
    expect(document.info.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(document.servers.length).toBeGreaterThan(0);
    expect(Object.keys(document.paths).length).toBeGreaterThan(0);
    expect(Object.keys(document.components.schemas).length).toBeGreaterThan(0);
  });

  it('is plain JSON: serializing and parsing it gives the same value', () => {
    expect(JSON.parse(JSON.stringify(document))).toEqual(document);
  });

  it('has only path templates starting with a slash and only HTTP methods under them', () => {
    for (const [path, item] of Object.entries(document.paths)) {
      expect(path).toMatch(/^\/[^?#]*$/);
      for (const method of Object.keys(item)) expect(HTTP_METHODS).toContain(method);
    }
  });

  it('gives every operation a unique operationId, a summary and described responses', () => {
    const ids = operations(document).map(({ operation }) => operation.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { operation } of operations(document)) {
      expect(operation.summary).not.toBe('');
      const statuses = Object.keys(operation.responses);
      expect(statuses.length).toBeGreaterThan(0);
      for (const status of statuses) {
        expect(status).toMatch(/^[1-5]\d\d$/);
        const response = deref(document, operation.responses[status]);
        expect(response?.description, `${operation.operationId} ${status}`).toBeTruthy();
      }
    }
  });

  it('resolves every $ref inside the document', () => {
    const refs = refsIn(document);

    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) expect(resolveRef(document, ref), ref).toBeDefined();
  });

  it('declares exactly the path parameters each path template names, all required', () => {
    for (const { path, operation } of operations(document)) {
      const named = [...path.matchAll(/\{([^}]+)\}/g)].map((match) => match[1]);
      const declared = (operation.parameters ?? []).filter((parameter) => parameter.in === 'path');
      expect(declared.map((parameter) => parameter.name).sort()).toEqual(named.sort());
      for (const parameter of declared) expect(parameter.required).toBe(true);
    }
  });

  it('requires the bearer token on every operation, through an HTTP bearer scheme', () => {
    expect(document.components.securitySchemes[BEARER_SCHEME]).toMatchObject({
      type: 'http',
      scheme: 'bearer',
    });
    for (const { operation } of operations(document)) {
      expect(operation.security).toEqual([{ [BEARER_SCHEME]: [] }]);
      expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['401', '403']));
    }
  });

  it('uses only tags it declares', () => {
    const declared = document.tags.map((tag) => tag.name);
    for (const { operation } of operations(document)) {
      for (const tag of operation.tags) expect(declared).toContain(tag);
    }
  });

  it('puts an example of the declared schema in every JSON example it gives', () => {
    let checked = 0;
    for (const { operation } of operations(document)) {
      for (const [status, value] of Object.entries(operation.responses)) {
        const response = deref<OpenApiResponse>(document, value);
        for (const media of Object.values(response.content ?? {})) {
          const examples = [
            ...(media.example === undefined ? [] : [media.example]),
            ...Object.values(media.examples ?? {}).map((example) => example.value),
          ];
          const names = refsIn(media.schema).map((ref) => ref.split('/').at(-1) ?? '');
          const schemas = names.map((name) => ZOD_BY_COMPONENT[name]);
          for (const example of examples) {
            const valid = schemas.some((schema) => schema?.safeParse(example).success);
            expect(valid, `${operation.operationId} ${status}: ${JSON.stringify(example)}`).toBe(
              true,
            );
            checked += 1;
          }
        }
      }
    }
    const create = document.paths['/videos']?.post;
    const requestExample = create?.requestBody?.content['application/json']?.example;
    expect(videoRequestSchema.safeParse(requestExample).success).toBe(true);
    expect(checked).toBeGreaterThan(10);
  });
});

describe('openApiDocument schemas', () => {
  const document = openApiDocument();

  it('renders the request body schema exactly as z.toJSONSchema renders videoRequestSchema', () => {
    const { $schema, ...expected } = z.toJSONSchema(videoRequestSchema, { io: 'input' });

    expect(document.components.schemas.VideoRequest).toEqual(expected);
    expect(document.jsonSchemaDialect).toBe($schema);
  });

  it('takes the POST /videos body from the VideoRequest schema', () => {
    const body = document.paths['/videos']?.post?.requestBody;

    expect(body?.required).toBe(true);
    expect(body?.content['application/json']?.schema).toEqual({
      $ref: '#/components/schemas/VideoRequest',
    });
  });

  it.each([
    ['Video', videoSchema],
    ['VideoList', videoListSchema],
    ['Error', errorSchema],
    ['GatewayError', gatewayErrorSchema],
    ['Usage', usageSchema],
  ])('renders the %s response schema from its zod schema', (name, schema) => {
    const { $schema: _dialect, ...expected } = z.toJSONSchema(schema, { io: 'output' });
    const rendered = document.components.schemas[name];

    // Nested schemas are $refs in the document and inlined standalone: compare the top level.
    expect(rendered?.required).toEqual(expected.required);
    expect(Object.keys((rendered?.properties as object) ?? {})).toEqual(
      Object.keys((expected.properties as object) ?? {}),
    );
  });

  it('describes job ids with a pattern that agrees with isJobId', () => {
    const pattern = new RegExp(JOB_ID_PATTERN);
    const samples = [
      newJobId(),
      newJobId(new Date(0)),
      'job_01K8Z3Y5M4Q7V2W9X6C1B0N8T5',
      'job_01K8Z3Y5M4Q7V2W9X6C1B0N8TU',
      'job_01K8Z3Y5M4Q7V2W9X6C1B0N8T',
      'job_01k8z3y5m4q7v2w9x6c1b0n8t5',
      'video_01K8Z3Y5M4Q7V2W9X6C1B0N8T5',
    ];

    for (const sample of samples) expect(pattern.test(sample), sample).toBe(isJobId(sample));
    const idParameter = document.paths['/videos/{id}']?.get?.parameters?.[0];
    expect(idParameter?.schema).toEqual({ type: 'string', pattern: JOB_ID_PATTERN });
  });
});

describe('openApiDocument error responses', () => {
  const document = openApiDocument();

  it('documents each error status with the codes describeError gives for it', () => {
    const errorStatuses: string[] = [];
    for (const { operation } of operations(document)) {
      for (const [status, value] of Object.entries(operation.responses)) {
        if ('$ref' in value || Number(status) < 400) continue;
        errorStatuses.push(status);
        const examples = value.content?.['application/json']?.examples ?? {};
        expect(Object.keys(examples).length, `${operation.operationId} ${status}`).toBeGreaterThan(
          0,
        );
        for (const [code, example] of Object.entries(examples)) {
          expect(errorSchema.parse(example.value).error.code).toBe(code);
          expect(value.description).toContain(`\`${code}\``);
        }
      }
    }
    expect(errorStatuses).toEqual(expect.arrayContaining(['400', '404', '409', '413', '503']));
  });

  it('matches the status describeError maps each documented code to', () => {
    const statusOfCode = new Map(
      [
        'ValidationError',
        'JobNotFoundError',
        'ContentNotFoundError',
        'IdempotencyConflictError',
        'JobNotCompletedError',
        'JobNotCancellableError',
        'PayloadTooLargeError',
        'UnsupportedMediaTypeError',
        'JobStartFailedError',
      ].map((name) => {
        const error = new Error(name);
        error.name = name;
        const { code, status } = describeError(error);
        return [code, String(status)];
      }),
    );
    for (const { operation } of operations(document)) {
      for (const [status, value] of Object.entries(operation.responses)) {
        if ('$ref' in value) continue;
        for (const code of Object.keys(value.content?.['application/json']?.examples ?? {})) {
          expect(statusOfCode.get(code), `${operation.operationId} ${code}`).toBe(status);
        }
      }
    }
  });

  it('tells the client when to retry a 503 and that a 200 replayed a request', () => {
    const create = document.paths['/videos']?.post;
    const unavailable = create?.responses['503'];
    const replayed = create?.responses['200'];

    expect(unavailable && 'headers' in unavailable ? unavailable.headers : {}).toHaveProperty(
      'Retry-After',
    );
    expect(replayed && 'headers' in replayed ? replayed.headers : {}).toHaveProperty(
      'Idempotent-Replayed',
    );
  });

  it('documents the content route as a 302 to a Location, with no body', () => {
    const found = document.paths['/videos/{id}/content']?.get?.responses['302'];

    expect(found).toBeDefined();
    expect(found && 'headers' in found ? Object.keys(found.headers ?? {}) : []).toContain(
      'Location',
    );
    expect(found && 'content' in found ? found.content : undefined).toBeUndefined();
  });

  it('lists only the given server when one is passed (the local stack serves its own URL)', () => {
    const local = openApiDocument({ serverUrl: 'http://127.0.0.1:4123' });

    expect(local.servers).toEqual([{ url: 'http://127.0.0.1:4123' }]);
  });
});
