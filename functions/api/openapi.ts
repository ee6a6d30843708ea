import { z } from 'zod';
import packageJson from '../../package.json' with { type: 'json' };
import { BATCH_ID_PATTERN } from '../shared/intake/intake-idempotency.ts';
import { JOB_PRIORITIES } from '../shared/jobs/job.ts';
import { videoRequestSchema } from '../shared/jobs/job-request.ts';
import { CONTENT_VARIANTS } from '../shared/jobs/public-job.ts';
import { MAX_BATCH_CANCEL } from '../shared/workflow/cancel-job.ts';
import { ClientRateLimitedError, PayloadTooLargeError } from './api-errors.ts';
import {
  DEFAULT_PAGE_SIZE,
  MAX_BODY_BYTES,
  MAX_MULTIPART_BYTES,
  MAX_PAGE_SIZE,
} from './api-handler.ts';
import { API_ROUTES, type OperationId } from './api-routes.ts';
import { describeError } from './error-response.ts';
import {
  batchCancellationSchema,
  contentLinkSchema,
  errorSchema,
  gatewayErrorSchema,
  JOB_ID_PATTERN,
  jobErrorSchema,
  modelCatalogueSchema,
  modelSchema,
  usageSchema,
  videoFileSchema,
  videoListSchema,
  videoSchema,
  webhookSecretSchema,
} from './openapi-schemas.ts';

/**
 * The OpenAPI 3.1 document of the HTTP API. Every schema in it is generated from a zod schema:
 * the request body from `videoRequestSchema`, the one the handler validates with; the responses
 * from `openapi-schemas.ts`, which tests hold to the handler's real answers. Error statuses and
 * codes come from `describeError`, the function that produces them.
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

/** The errors each operation's handler can raise, by error name (statuses come from describeError). */
export const OPERATION_ERRORS = {
  createVideo: [
    'ValidationError',
    'IdempotencyConflictError',
    'PayloadTooLargeError',
    'UnsupportedMediaTypeError',
    'JobStartFailedError',
  ],
  listVideos: ['ValidationError'],
  getUsage: ['ValidationError'],
  listModels: [],
  getVideo: ['JobNotFoundError'],
  cancelVideo: ['JobNotFoundError', 'JobNotCancellableError'],
  cancelBatch: ['ValidationError'],
  remixVideo: [
    'ValidationError',
    'JobNotFoundError',
    'JobNotCompletedError',
    'IdempotencyConflictError',
    'PayloadTooLargeError',
    'UnsupportedMediaTypeError',
    'JobStartFailedError',
  ],
  getWebhookSecret: [],
  getVideoContent: [
    'ValidationError',
    'JobNotFoundError',
    'ContentNotFoundError',
    'JobNotCompletedError',
  ],
} as const satisfies Record<OperationId, readonly string[]>;

const JSON_TYPE = 'application/json';
const schemaRef = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const headerRef = (name: string) => ({ $ref: `#/components/headers/${name}` });
const responseRef = (name: string) => ({ $ref: `#/components/responses/${name}` });

/** The request schema exactly as zod renders it for inputs (the dialect is stated once, document-wide). */
export function videoRequestJsonSchema(): JsonSchema {
  const { $schema: _dialect, ...schema } = z.toJSONSchema(videoRequestSchema, { io: 'input' });
  return schema;
}

function responseSchemas(): Record<string, JsonSchema> {
  const registry = z.registry<{ id: string }>();
  registry.add(jobErrorSchema, { id: 'JobError' });
  registry.add(videoFileSchema, { id: 'VideoFile' });
  registry.add(videoSchema, { id: 'Video' });
  registry.add(videoListSchema, { id: 'VideoList' });
  registry.add(usageSchema, { id: 'Usage' });
  registry.add(modelSchema, { id: 'Model' });
  registry.add(modelCatalogueSchema, { id: 'ModelCatalogue' });
  registry.add(contentLinkSchema, { id: 'ContentLink' });
  registry.add(batchCancellationSchema, { id: 'BatchCancellation' });
  registry.add(webhookSecretSchema, { id: 'WebhookSecret' });
  registry.add(errorSchema, { id: 'Error' });
  registry.add(gatewayErrorSchema, { id: 'GatewayError' });
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
function errorResponses(names: readonly string[]): Record<string, OpenApiResponse> {
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

function operation(
  operationId: keyof typeof OPERATION_ERRORS,
  fields: Omit<OpenApiOperation, 'operationId' | 'tags' | 'security'>,
  tags: string[] = ['videos'],
): OpenApiOperation {
  return {
    operationId,
    tags,
    security: [{ [BEARER_SCHEME]: [] }],
    ...fields,
    responses: {
      ...fields.responses,
      ...errorResponses(OPERATION_ERRORS[operationId]),
      ...gatewayResponses(),
    },
  };
}

const idParameter: OpenApiParameter = {
  name: 'id',
  in: 'path',
  required: true,
  description: 'The job id (`id` of the Video).',
  schema: { type: 'string', pattern: JOB_ID_PATTERN },
};

const idempotencyKeyParameter: OpenApiParameter = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  description:
    "Your key for safe retries, 1 to 255 printable ASCII characters (e.g. a UUID), scoped to your client (another client's key is another key). Reusing a key with a different body is refused with 409.",
  schema: { type: 'string', pattern: '^[ -~]{1,255}$' },
};

const exampleVideo = {
  id: 'job_01K8Z3Y5M4Q7V2W9X6C1B0N8T5',
  status: 'IN_PROGRESS',
  source: 'api',
  client: 'default',
  prompt: 'A cat playing piano in a jazz club',
  model: 'sora-2',
  size: '720x1280',
  seconds: '4',
  deferred: false,
  priority: 'normal',
  progress: 42,
  estimatedCostUsd: 0.4,
  createdAt: '2026-03-04T05:06:07.000Z',
  updatedAt: '2026-03-04T05:06:31.000Z',
  links: { self: '/videos/job_01K8Z3Y5M4Q7V2W9X6C1B0N8T5' },
};

/** The OpenAPI paths: one operation per route of the route table. */
function paths(): Record<string, OpenApiPathItem> {
  const byId = operations();
  const items: Record<string, OpenApiPathItem> = {};
  for (const route of API_ROUTES) {
    const method = route.method.toLowerCase() as HttpMethod;
    items[route.path] = { ...items[route.path], [method]: byId[route.operationId] };
  }
  return items;
}

function operations(): Record<OperationId, OpenApiOperation> {
  return {
    createVideo: operation('createVideo', {
      summary: 'Submit a video',
      description:
        'Validates the request against the provider catalogue (model, size, seconds) and starts the generation workflow; nothing is started when the request is refused. Poll the returned job (Location) until it is COMPLETED or FAILED. Send an Idempotency-Key to retry safely: the same key with the same body returns the same job (200) and never starts a second paid generation.',
      parameters: [idempotencyKeyParameter],
      requestBody: {
        required: true,
        description: `A JSON object of at most ${MAX_BODY_BYTES} bytes, or a multipart form (as the openai SDK sends it) of at most ${MAX_MULTIPART_BYTES} bytes with the reference image as the file \`input_reference\`.`,
        content: {
          [JSON_TYPE]: {
            schema: schemaRef('VideoRequest'),
            example: {
              prompt: 'A cat playing piano in a jazz club',
              seconds: '4',
              priority: 'high',
              startTimeoutSeconds: 3600,
            },
          },
          'multipart/form-data': {
            schema: {
              type: 'object',
              required: ['prompt'],
              properties: {
                prompt: { type: 'string' },
                model: { type: 'string' },
                size: { type: 'string' },
                seconds: { type: 'string' },
                defer: { type: 'string', enum: ['true', 'false'] },
                priority: { type: 'string', enum: [...JOB_PRIORITIES] },
                startTimeoutSeconds: {
                  type: 'string',
                  pattern: '^[0-9]+$',
                  description: 'Whole seconds, as in the JSON body.',
                },
                webhook: { type: 'string', description: 'The webhook object, as JSON text.' },
                input_reference: {
                  type: 'string',
                  format: 'binary',
                  description:
                    "A JPEG, PNG or WebP of exactly the video's size; stored under uploads/ and checked before anything is recorded.",
                },
              },
            },
          },
        },
      },
      responses: {
        '202': {
          description: 'The job was created and its workflow started (or, with defer, queued).',
          headers: {
            Location: headerRef('JobLocation'),
            'Cache-Control': headerRef('CacheControl'),
          },
          content: {
            [JSON_TYPE]: {
              schema: schemaRef('Video'),
              example: {
                ...exampleVideo,
                status: 'QUEUED',
                priority: 'high',
                startTimeoutSeconds: 3600,
                progress: 0,
              },
            },
          },
        },
        '200': {
          description:
            'A replay: this Idempotency-Key was used before with the same request; the existing job is returned and nothing new is started.',
          headers: {
            Location: headerRef('JobLocation'),
            'Idempotent-Replayed': headerRef('IdempotentReplayed'),
            'Cache-Control': headerRef('CacheControl'),
          },
          content: { [JSON_TYPE]: { schema: schemaRef('Video'), example: exampleVideo } },
        },
      },
    }),
    listVideos: operation('listVideos', {
      summary: 'List videos',
      description: 'Jobs newest first, optionally only those in one status, a page at a time.',
      parameters: [
        {
          name: 'status',
          in: 'query',
          required: false,
          description: 'Only jobs in this status (case-insensitive).',
          schema: { type: 'string', enum: [...videoStatuses()] },
        },
        {
          name: 'limit',
          in: 'query',
          required: false,
          description: `Page size, 1 to ${MAX_PAGE_SIZE}.`,
          schema: {
            type: 'integer',
            minimum: 1,
            maximum: MAX_PAGE_SIZE,
            default: DEFAULT_PAGE_SIZE,
          },
        },
        {
          name: 'cursor',
          in: 'query',
          required: false,
          description: 'The nextCursor of the previous page (opaque).',
          schema: { type: 'string' },
        },
      ],
      responses: {
        '200': {
          description: 'One page of jobs.',
          headers: { 'Cache-Control': headerRef('CacheControl') },
          content: {
            [JSON_TYPE]: {
              schema: schemaRef('VideoList'),
              example: { videos: [exampleVideo], nextCursor: null },
            },
          },
        },
      },
    }),
    getVideo: operation('getVideo', {
      summary: 'Get a video',
      description:
        'The job with its status and progress; poll it every few seconds until the status is COMPLETED or FAILED.',
      parameters: [idParameter],
      responses: {
        '200': {
          description: 'The job.',
          headers: { 'Cache-Control': headerRef('CacheControl') },
          content: { [JSON_TYPE]: { schema: schemaRef('Video'), example: exampleVideo } },
        },
      },
    }),
    getVideoContent: operation('getVideoContent', {
      summary: 'Download a video',
      description:
        'Redirects (302) to a short-lived presigned S3 link of the MP4 (or its thumbnail or spritesheet), or answers the link as JSON with `redirect=false`. Fetch the link without your Authorization header: it carries its own signature.',
      parameters: [
        idParameter,
        {
          name: 'variant',
          in: 'query',
          required: false,
          description: 'Which file: the MP4, its thumbnail or its spritesheet (case-exact).',
          schema: { type: 'string', enum: [...CONTENT_VARIANTS], default: 'video' },
        },
        {
          name: 'redirect',
          in: 'query',
          required: false,
          description:
            '`false` answers 200 with the link as JSON instead of redirecting (for browser apps, which cannot read a redirect).',
          schema: { type: 'string', enum: ['true', 'false'], default: 'true' },
        },
      ],
      responses: {
        '200': {
          description: 'With `redirect=false`: the presigned link and how long it is valid.',
          headers: { 'Cache-Control': headerRef('CacheControl') },
          content: {
            [JSON_TYPE]: {
              schema: schemaRef('ContentLink'),
              example: {
                url: 'https://videos-bucket.s3.eu-west-1.amazonaws.com/videos/job_01K8Z3Y5M4Q7V2W9X6C1B0N8T5/video.mp4?X-Amz-Signature=...',
                expiresInSeconds: 300,
              },
            },
          },
        },
        '302': {
          description: 'The file is at Location.',
          headers: {
            Location: {
              description:
                'Presigned S3 URL of the file, valid for five minutes (S3 checks expiry when a download starts, not while it streams).',
              required: true,
              schema: { type: 'string', format: 'uri' },
            },
            'Cache-Control': headerRef('CacheControl'),
          },
        },
      },
    }),
    cancelVideo: operation('cancelVideo', CANCEL_VIDEO),
    remixVideo: operation('remixVideo', {
      summary: 'Remix a video',
      description:
        "Creates a new job that remixes a COMPLETED video with a new prompt, through the same workflow, limits and ledger as any job: same model, size and seconds as the video it remixes, its own MP4 at the end. `remixOf` names the source. The provider must still hold the source video (content expires at some providers after about an hour): otherwise the remix FAILS with the provider's reason. Send an Idempotency-Key to retry safely.",
      parameters: [idParameter, idempotencyKeyParameter],
      requestBody: {
        required: true,
        description: `A JSON object of at most ${MAX_BODY_BYTES} bytes: \`prompt\` (required), \`webhook\` and \`defer\` as for POST /videos; no model, size or seconds.`,
        content: {
          [JSON_TYPE]: {
            schema: {
              type: 'object',
              required: ['prompt'],
              properties: {
                prompt: { type: 'string', maxLength: 4000 },
                defer: { type: 'boolean' },
                webhook: { $ref: '#/components/schemas/VideoRequest/properties/webhook' },
              },
              additionalProperties: false,
            },
            example: { prompt: 'The same scene at night, in the rain' },
          },
        },
      },
      responses: {
        '202': {
          description: 'The remix job was created and its workflow started (or queued).',
          headers: {
            Location: headerRef('JobLocation'),
            'Cache-Control': headerRef('CacheControl'),
          },
          content: {
            [JSON_TYPE]: {
              schema: schemaRef('Video'),
              example: {
                ...exampleVideo,
                id: 'job_01K8Z3Y5M4Q7V2W9X6C1B0N8T6',
                status: 'QUEUED',
                progress: 0,
                remixOf: exampleVideo.id,
                prompt: 'The same scene at night, in the rain',
                links: { self: '/videos/job_01K8Z3Y5M4Q7V2W9X6C1B0N8T6' },
              },
            },
          },
        },
        '200': {
          description: 'A replay of an earlier remix request with the same Idempotency-Key.',
          headers: {
            Location: headerRef('JobLocation'),
            'Idempotent-Replayed': headerRef('IdempotentReplayed'),
            'Cache-Control': headerRef('CacheControl'),
          },
          content: { [JSON_TYPE]: { schema: schemaRef('Video') } },
        },
      },
    }),
    cancelBatch: operation('cancelBatch', CANCEL_BATCH),
    getUsage: usageOperation(),
    listModels: operation(
      'listModels',
      {
        summary: 'List the models',
        description:
          "The provider catalogue: each model a request may name, with the sizes and durations it accepts, its defaults, and its price per second (per size where prices differ), from which a job's estimatedCostUsd and the daily budget's reservations are computed.",
        responses: {
          '200': {
            description: 'The catalogue.',
            headers: { 'Cache-Control': headerRef('CacheControl') },
            content: {
              [JSON_TYPE]: {
                schema: schemaRef('ModelCatalogue'),
                example: {
                  defaultModel: 'sora-2',
                  models: [
                    {
                      id: 'sora-2',
                      provider: 'openai-videos',
                      sizes: ['720x1280', '1280x720'],
                      seconds: ['4', '8', '12'],
                      defaultSize: '720x1280',
                      defaultSeconds: '4',
                      pricePerSecondUsd: 0.1,
                    },
                    {
                      id: 'sora-2-pro',
                      provider: 'openai-videos',
                      sizes: ['720x1280', '1280x720', '1024x1792', '1792x1024'],
                      seconds: ['4', '8', '12'],
                      defaultSize: '720x1280',
                      defaultSeconds: '4',
                      pricePerSecondUsd: 0.3,
                      pricePerSecondUsdBySize: { '1024x1792': 0.5, '1792x1024': 0.5 },
                    },
                  ],
                },
              },
            },
          },
        },
      },
      ['models'],
    ),
    getWebhookSecret: operation(
      'getWebhookSecret',
      {
        summary: 'Your webhook signing secret',
        description:
          'The secret your receiver verifies webhook deliveries with (Standard Webhooks: `webhook-signature` is `v1,<base64 HMAC-SHA256>` of `<webhook-id>.<webhook-timestamp>.<body>`, keyed by the base64 part of the secret). One per client, the same on every call.',
        responses: {
          '200': {
            description: 'The secret.',
            headers: { 'Cache-Control': headerRef('CacheControl') },
            content: {
              [JSON_TYPE]: {
                schema: schemaRef('WebhookSecret'),
                example: { key: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' },
              },
            },
          },
        },
      },
      ['webhooks'],
    ),
  };
}

const CANCEL_VIDEO: Omit<OpenApiOperation, 'operationId' | 'tags' | 'security'> = {
  summary: 'Cancel a video',
  description:
    'A waiting job (QUEUED) becomes CANCELLED at once and never calls the provider; its slot and budget reservation, if it held them, are given back. A job at the provider becomes CANCELLED, its execution is stopped and the provider job deleted where the provider allows; its slot is handed to the next waiting job, and its cost counts as spent (the provider may charge for a job it started). Cancelling a CANCELLED job answers it again (200); a COMPLETED or FAILED job answers 409.',
  parameters: [idParameter],
  responses: {
    '200': {
      description: 'The job, CANCELLED.',
      headers: { 'Cache-Control': headerRef('CacheControl') },
      content: {
        [JSON_TYPE]: {
          schema: schemaRef('Video'),
          example: {
            ...exampleVideo,
            status: 'CANCELLED',
            cancelledAt: '2026-03-04T05:06:40.000Z',
          },
        },
      },
    },
  },
};

const CANCEL_BATCH: Omit<OpenApiOperation, 'operationId' | 'tags' | 'security'> = {
  summary: 'Cancel the waiting jobs of a batch',
  description: `Cancels the QUEUED jobs of a batch (the jobs of one dropped file share its batch id, \`batchId\` on each Video), at most ${MAX_BATCH_CANCEL} per call: call again while \`more\` is true. Jobs already at the provider go on; cancel them one by one. A client cancels only its own jobs.`,
  parameters: [
    {
      name: 'id',
      in: 'path',
      required: true,
      description: 'The batch id (`batchId` of its Videos).',
      schema: { type: 'string', pattern: BATCH_ID_PATTERN.source },
    },
  ],
  responses: {
    '200': {
      description: 'What this call cancelled.',
      headers: { 'Cache-Control': headerRef('CacheControl') },
      content: {
        [JSON_TYPE]: {
          schema: schemaRef('BatchCancellation'),
          example: {
            batchId: 'batch_0123456789abcdef01234567',
            cancelled: ['job_01K8Z3Y5M4Q7V2W9X6C1B0N8T5'],
            more: false,
          },
        },
      },
    },
  },
};

const exampleUsage = {
  day: '2026-03-04',
  client: {
    client: 'alice',
    spentUsd: 2.4,
    reservedUsd: 0.4,
    jobs: { submitted: 8, completed: 6, failed: 0, cancelled: 1 },
    truncated: false,
    budget: { limitUsd: 5, reservedUsd: 0.4, spentUsd: 2.4, remainingUsd: 2.2 },
  },
  budget: { limitUsd: 25, reservedUsd: 1.2, spentUsd: 8.4, orphanedUsd: 0.4, remainingUsd: 15 },
  concurrency: { limit: 4, inUse: 3 },
  jobs: { started: 24, completed: 21, orphaned: 1 },
};

function usageOperation(): OpenApiOperation {
  return operation(
    'getUsage',
    {
      summary: 'Spending and slots',
      description:
        "A UTC day's spending against the daily budget (today unless `day` is given) and the concurrency slots in use now, with the caller's own share of the day and its part of the budget (`client`, `client.budget`). A job that today's budget, or its client's own daily budget, cannot cover is not started: it waits as QUEUED (deferred) for a later scheduled run, or FAILS with `budget_exceeded`, as the deployment is configured.",
      parameters: [
        {
          name: 'day',
          in: 'query',
          required: false,
          description: 'The UTC day, YYYY-MM-DD; today when absent.',
          schema: { type: 'string', format: 'date' },
        },
        {
          name: 'client',
          in: 'query',
          required: false,
          description:
            'Admins only: the client whose share and budget to show (`client`); ignored for any other caller, who always sees its own.',
          schema: { type: 'string' },
        },
      ],
      responses: {
        '200': {
          description: "The day's usage.",
          headers: { 'Cache-Control': headerRef('CacheControl') },
          content: { [JSON_TYPE]: { schema: schemaRef('Usage'), example: exampleUsage } },
        },
      },
    },
    ['usage'],
  );
}

function videoStatuses(): readonly string[] {
  const status = videoSchema.shape.status;
  return status.options;
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
    tags: [
      { name: 'videos', description: 'Video generation jobs' },
      { name: 'usage', description: 'Spending against the daily budget, concurrency slots' },
      { name: 'models', description: 'The provider catalogue: models, sizes, durations, prices' },
      { name: 'webhooks', description: 'Signed event deliveries to your URL' },
    ],
    paths: paths(),
    components: components(),
  };
}
