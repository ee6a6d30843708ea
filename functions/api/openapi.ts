import { z } from 'zod';
import packageJson from '../../package.json' with { type: 'json' };
import { videoRequestSchema } from '../shared/jobs/job-request.ts';
import { ClientRateLimitedError, PayloadTooLargeError } from './api-errors.ts';
import { API_ROUTES, type OperationId } from './api-routes.ts';
import { describeError } from './error-response.ts';
import { COMPONENT_SCHEMAS } from './openapi-schemas.ts';
import {
  type ErrorName,
  MAX_BODY_BYTES,
  OPERATIONS,
  type OperationSpec,
  type ResponseHeaderName,
  type ResponseSpec,
  type Tag,
} from './operations.ts';

/**
 * The OpenAPI 3.1 document of the HTTP API, rendered from the operations' declarations
 * (operations.ts): their parameters and request bodies from the zod schemas the handler parses
 * with, their responses from `openapi-schemas.ts` (which tests hold to the handler's real
 * answers), their error statuses and codes from `describeError`, the function that produces them.
 */

export type JsonSchema = Record<string, unknown>;

export interface OpenApiHeader {
  description: string;
  required?: boolean;
  schema: JsonSchema;
}

export interface OpenApiMediaType {
  schema: JsonSchema;
  example?: unknown;
  examples?: Record<string, { summary?: string; value: unknown }>;
}

export interface OpenApiResponse {
  description: string;
  headers?: Record<string, OpenApiHeader | { $ref: string }>;
  content?: Record<string, OpenApiMediaType>;
}

export interface OpenApiParameter {
  name: string;
  in: 'path' | 'query' | 'header';
  description: string;
  required?: boolean;
  schema: JsonSchema;
}

export interface OpenApiOperation {
  operationId: string;
  summary: string;
  description: string;
  tags: string[];
  security: Record<string, string[]>[];
  parameters?: OpenApiParameter[];
  requestBody?: {
    required: boolean;
    description?: string;
    content: Record<string, OpenApiMediaType>;
  };
  responses: Record<string, OpenApiResponse | { $ref: string }>;
}

export type HttpMethod = 'get' | 'post';

export type OpenApiPathItem = Partial<Record<HttpMethod, OpenApiOperation>>;

export interface OpenApiDocument {
  openapi: '3.1.0';
  jsonSchemaDialect: string;
  info: { title: string; version: string; description: string };
  servers: { url: string; description?: string; variables?: Record<string, unknown> }[];
  tags: { name: string; description: string }[];
  paths: Record<string, OpenApiPathItem>;
  components: {
    schemas: Record<string, JsonSchema>;
    securitySchemes: Record<string, Record<string, unknown>>;
    responses: Record<string, OpenApiResponse>;
    headers: Record<string, OpenApiHeader>;
  };
}

export interface OpenApiOptions {
  /** The one server to list (the local stack passes its own URL); absent, local and AWS are listed. */
  serverUrl?: string;
}

export const BEARER_SCHEME = 'bearerAuth';

const JSON_TYPE = 'application/json';
const schemaRef = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const headerRef = (name: string) => ({ $ref: `#/components/headers/${name}` });
const responseRef = (name: string) => ({ $ref: `#/components/responses/${name}` });

/** The request schema exactly as zod renders it for inputs (the dialect is stated once, document-wide). */
function videoRequestJsonSchema(): JsonSchema {
  const { $schema: _dialect, ...schema } = z.toJSONSchema(videoRequestSchema, { io: 'input' });
  return schema;
}

function responseSchemas(): Record<string, JsonSchema> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(COMPONENT_SCHEMAS)) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, {
    io: 'output',
    uri: (id) => `#/components/schemas/${id}`,
  });
  // zod stamps each schema with $schema and a fragment-only $id; OpenAPI locates them by key.
  return Object.fromEntries(
    Object.entries(schemas).map(([name, schema]) => {
      const { $schema: _dialect, $id: _id, ...rest } = schema;
      return [name, rest];
    }),
  );
}

/** A stand-in error with the given name: describeError goes by name only. */
function namedError(name: string): Error {
  const error = new Error(name);
  error.name = name;
  return error;
}

/** The message an error's example shows: the one the handler would write, where it writes its own. */
function exampleMessage(entry: { name: string; message: string }): string {
  return entry.name === 'PayloadTooLargeError'
    ? new PayloadTooLargeError(MAX_BODY_BYTES).message
    : entry.message;
}

/** Error responses of an operation, one per status, with an example per code. */
function errorResponses(names: readonly ErrorName[]): Record<string, OpenApiResponse> {
  const byStatus = new Map<number, { code: string; message: string; name: string }[]>();
  for (const name of names) {
    const mapping = describeError(namedError(name));
    if (mapping.code === 'internal_error') {
      throw new Error(`${name} has no public error mapping (error-response.ts)`);
    }
    const entries = byStatus.get(mapping.status) ?? [];
    entries.push({ ...mapping, name });
    byStatus.set(mapping.status, entries);
  }
  const responses: Record<string, OpenApiResponse> = {};
  for (const [status, entries] of byStatus) {
    const response: OpenApiResponse = {
      description: entries.map((entry) => `\`${entry.code}\`: ${entry.message}.`).join(' '),
      headers: { 'Cache-Control': headerRef('CacheControl') },
      content: {
        [JSON_TYPE]: {
          schema: schemaRef('Error'),
          examples: Object.fromEntries(
            entries.map((entry) => [
              entry.code,
              {
                value: {
                  error:
                    entry.name === 'ValidationError'
                      ? {
                          code: entry.code,
                          message: 'size: must be WIDTHxHEIGHT, e.g. "1280x720"',
                          field: 'size',
                        }
                      : { code: entry.code, message: exampleMessage(entry) },
                },
              },
            ]),
          ),
        },
      },
    };
    if (entries.some((entry) => entry.name === 'JobStartFailedError')) {
      response.headers = { ...response.headers, 'Retry-After': headerRef('RetryAfter') };
    }
    responses[String(status)] = response;
  }
  return responses;
}

/**
 * What API Gateway, the authorizer and the client's request rate (client-rate.ts) can answer on
 * any route, before the operation runs.
 */
function gatewayResponses(): Record<string, { $ref: string }> {
  return {
    '401': responseRef('Unauthorized'),
    '403': responseRef('Forbidden'),
    '429': responseRef('TooManyRequests'),
    '500': responseRef('InternalError'),
  };
}

/** How each tag is described in the document. */
const TAGS: Record<Tag, string> = {
  videos: 'Video generation jobs',
  usage: 'Spending against the daily budget, concurrency slots',
  models: 'The provider catalogue: models, sizes, durations, prices',
  webhooks: 'Signed event deliveries to your URL',
};

/** The HTTP name of each response header component. */
const RESPONSE_HEADERS: Record<ResponseHeaderName, string> = {
  JobLocation: 'Location',
  IdempotentReplayed: 'Idempotent-Replayed',
  ContentLocation: 'Location',
};

/** Request bodies that are components of their own (the others are written inline). */
const REQUEST_COMPONENTS = new Map<unknown, string>([[videoRequestSchema, 'VideoRequest']]);

/**
 * A zod/mini schema as JSON Schema for a request (its input side). A default behind a pipe
 * (`limit`: digits in, a number out) is lost by zod's renderer, so it is put back here.
 */
function inputJsonSchema(schema: z.core.$ZodType): JsonSchema {
  const { $schema: _dialect, ...rendered } = z.toJSONSchema(schema, {
    io: 'input',
    override: ({ zodSchema, jsonSchema }) => {
      const def = zodSchema._zod.def;
      if (def.type === 'default' && jsonSchema.default === undefined) {
        jsonSchema.default = def.defaultValue;
      }
    },
  });
  return rendered;
}

/** The parameters an object schema declares, each with its description and schema. */
function renderParameters(
  schema: z.core.$ZodType | undefined,
  location: OpenApiParameter['in'],
): OpenApiParameter[] {
  if (schema === undefined) return [];
  const rendered = inputJsonSchema(schema) as {
    properties?: Record<string, JsonSchema>;
    required?: string[];
  };
  return Object.entries(rendered.properties ?? {}).map(([name, property]) => {
    const { description, ...parameterSchema } = property;
    return {
      name,
      in: location,
      required: rendered.required?.includes(name) ?? false,
      description: String(description ?? ''),
      schema: parameterSchema,
    };
  });
}

function renderRequestBody(
  body: NonNullable<OperationSpec['body']>,
): OpenApiOperation['requestBody'] {
  const component = REQUEST_COMPONENTS.get(body.json);
  const content: Record<string, OpenApiMediaType> = {
    [JSON_TYPE]: {
      schema: component === undefined ? inputJsonSchema(body.json) : schemaRef(component),
      ...(body.example === undefined ? {} : { example: body.example }),
    },
  };
  if (body.multipart !== undefined) content['multipart/form-data'] = { schema: body.multipart };
  return { required: true, description: body.description, content };
}

function renderResponse(response: ResponseSpec): OpenApiResponse {
  const headers: NonNullable<OpenApiResponse['headers']> = {};
  for (const name of response.headers ?? []) headers[RESPONSE_HEADERS[name]] = headerRef(name);
  headers['Cache-Control'] = headerRef('CacheControl');
  return {
    description: response.description,
    headers,
    ...(response.body === undefined
      ? {}
      : {
          content: {
            [JSON_TYPE]: {
              schema: schemaRef(response.body),
              ...(response.example === undefined ? {} : { example: response.example }),
            },
          },
        }),
  };
}

/** One operation of the document, from its declaration. */
export function renderOperation(operationId: OperationId, spec: OperationSpec): OpenApiOperation {
  const parameters = [
    ...renderParameters(spec.path, 'path'),
    ...renderParameters(spec.headers, 'header'),
    ...renderParameters(spec.query, 'query'),
  ];
  const responses: OpenApiOperation['responses'] = {};
  for (const [status, response] of Object.entries(spec.responses)) {
    responses[status] = renderResponse(response);
  }
  return {
    operationId,
    summary: spec.summary,
    description: spec.description,
    tags: [spec.tag],
    security: [{ [BEARER_SCHEME]: [] }],
    ...(parameters.length === 0 ? {} : { parameters }),
    ...(spec.body === undefined ? {} : { requestBody: renderRequestBody(spec.body) }),
    responses: { ...responses, ...errorResponses(spec.errors), ...gatewayResponses() },
  };
}

/** The OpenAPI paths: one operation per route of the route table. */
function paths(): Record<string, OpenApiPathItem> {
  const items: Record<string, OpenApiPathItem> = {};
  for (const route of API_ROUTES) {
    const method = route.method.toLowerCase() as HttpMethod;
    const operation = renderOperation(route.operationId, OPERATIONS[route.operationId]);
    items[route.path] = { ...items[route.path], [method]: operation };
  }
  return items;
}

/**
 * A 429: over the client's own request rate (the function's error envelope, with Retry-After),
 * or over the stage's throttle (API Gateway's own answer).
 */
function tooManyRequests(): OpenApiResponse {
  const refusal = new ClientRateLimitedError('alice', 1);
  const { code, message } = describeError(refusal);
  return {
    description: `\`${code}\`: ${message} (each client's own rate, \`limits:clientRequestsPerWindow\`). Or \`Too Many Requests\` from API Gateway: the stage's rate and burst limits, all clients together; retry after a short wait.`,
    headers: {
      'Cache-Control': headerRef('CacheControl'),
      'Retry-After': headerRef('ClientRetryAfter'),
    },
    content: {
      [JSON_TYPE]: {
        schema: { oneOf: [schemaRef('Error'), schemaRef('GatewayError')] },
        examples: {
          [code]: { value: { error: { code, message } } },
          gateway: { value: { message: 'Too Many Requests' } },
        },
      },
    },
  };
}

function components(): OpenApiDocument['components'] {
  const gatewayError = (description: string, message: string): OpenApiResponse => ({
    description,
    content: { [JSON_TYPE]: { schema: schemaRef('GatewayError'), example: { message } } },
  });
  return {
    schemas: { VideoRequest: videoRequestJsonSchema(), ...responseSchemas() },
    securitySchemes: {
      [BEARER_SCHEME]: {
        type: 'http',
        scheme: 'bearer',
        description:
          'An API token: `Authorization: Bearer <token>`. The tokens are in the API tokens secret ({"tokens":["..."]}) checked by the Lambda authorizer; the local stack writes its token to .local/stack.json.',
      },
    },
    responses: {
      Unauthorized: gatewayError('No Authorization header.', 'Unauthorized'),
      Forbidden: gatewayError('The bearer token is not one of the API tokens.', 'Forbidden'),
      TooManyRequests: tooManyRequests(),
      InternalError: {
        description:
          "`internal_error`: an unexpected failure in the API function (its logs have the details), or API Gateway's own error when the authorizer fails.",
        headers: { 'Cache-Control': headerRef('CacheControl') },
        content: {
          [JSON_TYPE]: {
            schema: { oneOf: [schemaRef('Error'), schemaRef('GatewayError')] },
            example: { error: { code: 'internal_error', message: 'Internal server error' } },
          },
        },
      },
    },
    headers: {
      CacheControl: {
        description: 'Always `no-store`: jobs change state.',
        schema: { type: 'string', const: 'no-store' },
      },
      JobLocation: {
        description: 'Path of the job, relative to the API URL: GET it to watch progress.',
        required: true,
        schema: { type: 'string' },
      },
      IdempotentReplayed: {
        description: '`true` when the response replays an earlier request with the same key.',
        required: true,
        schema: { type: 'string', const: 'true' },
      },
      RetryAfter: {
        description: 'Seconds to wait before retrying with the same Idempotency-Key.',
        required: true,
        schema: { type: 'string', pattern: '^[0-9]+$' },
      },
      ContentLocation: {
        description:
          'Presigned S3 URL of the file, valid for five minutes (S3 checks expiry when a download starts, not while it streams).',
        required: true,
        schema: { type: 'string', format: 'uri' },
      },
      ClientRetryAfter: {
        description:
          "Seconds until the client's request window frees (sent with `too_many_requests`, not with API Gateway's own throttling).",
        schema: { type: 'string', pattern: '^[0-9]+$' },
      },
    },
  };
}

/** The OpenAPI 3.1 document of the HTTP API, a plain JSON value. */
export function openApiDocument(options: OpenApiOptions = {}): OpenApiDocument {
  const servers: OpenApiDocument['servers'] =
    options.serverUrl === undefined
      ? [
          { url: 'http://127.0.0.1:4000', description: 'The local stack (`npm start`)' },
          {
            url: 'https://{apiId}.execute-api.{region}.amazonaws.com',
            description: 'A deployment: the ApiUrl output of the SoraPipeline stack',
            variables: {
              apiId: { default: 'abc123defg', description: 'The HTTP API id' },
              region: { default: 'us-east-1', description: 'The AWS region' },
            },
          },
        ]
      : [{ url: options.serverUrl }];
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: 'sora-pipeline video API',
      version: packageJson.version,
      description:
        'Submit prompts, watch the jobs and download the MP4s of the sora-pipeline, a video-generation pipeline over the /v1/videos protocol. Every request needs `Authorization: Bearer <token>`.',
    },
    servers,
    tags: Object.entries(TAGS).map(([name, description]) => ({ name, description })),
    paths: paths(),
    components: components(),
  };
}
