import * as z from 'zod/mini';
import '../shared/schema-messages.ts';
import { BATCH_ID_PATTERN } from '../shared/intake/intake-idempotency.ts';
import { JOB_PRIORITIES, JOB_STATUSES } from '../shared/jobs/job.ts';
import { videoRequestSchema } from '../shared/jobs/job-request.ts';
import { CONTENT_VARIANTS } from '../shared/jobs/public-job.ts';
import { isUtcDay } from '../shared/limits/limits-table.ts';
import { MAX_REFERENCE_IMAGE_BYTES } from '../shared/media/reference-image.ts';
import { MAX_BATCH_CANCEL } from '../shared/workflow/cancel-job.ts';
import type { OperationId } from './api-routes.ts';
import type { MultipartRequest } from './multipart-request.ts';

/**
 * Every operation of the HTTP API, declared once: its path, header and query parameters and its
 * JSON body as zod schemas, its responses, the errors it can answer, its summary and its auth.
 * The handler (api-handler.ts) parses each request with these schemas and hands the operation
 * only what they parsed, so it cannot read a parameter declared nowhere; the OpenAPI document
 * (openapi.ts) is rendered from the same declarations, so the two cannot drift. Method and path
 * come from the route table (api-routes.ts), which the CDK stack and the console also read.
 *
 * Query values arrive as strings; an empty one counts as absent. Schemas here are zod/mini: this
 * module is in the API function's bundle (see schema-messages.ts).
 */

/** Bodies are a prompt and a few fields: 16 KiB leaves room for a 4000-character prompt in UTF-8. */
export const MAX_BODY_BYTES = 16 * 1024;
/** A multipart POST /videos also carries the reference image. */
export const MAX_MULTIPART_BYTES = MAX_REFERENCE_IMAGE_BYTES + 64 * 1024;
export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

/** `job_` + a ULID in Crockford base32 (see `shared/jobs/job-id.ts`). */
export const JOB_ID_PATTERN = '^job_[0-9A-HJKMNP-TV-Z]{26}$';

/** The response body schemas, by their name in the document (zod schemas in openapi-schemas.ts). */
export type ResponseSchemaName =
  | 'Video'
  | 'VideoList'
  | 'Usage'
  | 'ModelCatalogue'
  | 'ContentLink'
  | 'BatchCancellation'
  | 'WebhookSecret';

/** Response headers besides Cache-Control (every response has it), by their name in the document. */
export type ResponseHeaderName = 'JobLocation' | 'IdempotentReplayed' | 'ContentLocation';

export type Tag = 'videos' | 'usage' | 'models' | 'webhooks';

/** An error name the handler can raise (its status and code come from error-response.ts). */
export type ErrorName =
  | 'ValidationError'
  | 'JobNotFoundError'
  | 'ContentNotFoundError'
  | 'IdempotencyConflictError'
  | 'JobNotCancellableError'
  | 'JobNotCompletedError'
  | 'PayloadTooLargeError'
  | 'UnsupportedMediaTypeError'
  | 'JobStartFailedError';

export interface ResponseSpec {
  description: string;
  /** The JSON body's schema; absent: no body. */
  body?: ResponseSchemaName;
  headers?: readonly ResponseHeaderName[];
  example?: unknown;
}

export interface BodySpec {
  /** The JSON body: the handler parses it with this schema (and so does the use case after it). */
  json: z.ZodMiniType;
  description: string;
  example?: unknown;
  /**
   * Also accepted as multipart/form-data (the openai SDK's form), read by multipart-request.ts
   * into the same JSON request and parsed with the same schema; this is the form's description.
   */
  multipart?: Record<string, unknown>;
}

/** A parameter object: each key one parameter, each value its schema (with its description). */
type ParameterSchema = z.ZodMiniObject;

export interface OperationSpec {
  summary: string;
  description: string;
  tag: Tag;
  /** Every route needs an API token, checked by the Lambda authorizer before the function runs. */
  auth: 'bearer';
  path?: ParameterSchema;
  /**
   * What a path parameter its schema refuses means: `not-found` answers it as a job that does not
   * exist (404, as the id of another client's job); otherwise it is a bad request (400).
   */
  pathMismatch?: 'not-found';
  headers?: ParameterSchema;
  query?: ParameterSchema;
  body?: BodySpec;
  responses: Readonly<Record<number, ResponseSpec>>;
  /** The errors the operation can answer, by name (the authorizer's and rate limit's aside). */
  errors: readonly ErrorName[];
}

const described = <T extends z.ZodMiniType>(schema: T, description: string): T =>
  schema.check(z.describe(description));

const jobIdPath = z.object({
  id: described(
    z.string().check(z.regex(new RegExp(JOB_ID_PATTERN))),
    'The job id (`id` of the Video).',
  ),
});

const idempotencyKeyHeader = z.object({
  'Idempotency-Key': described(
    z.optional(
      // Surrounding whitespace is not part of the key: a client library may add it.
      z.pipe(
        z.transform((value) => (typeof value === 'string' ? value.trim() : value)),
        z.string().check(z.regex(/^[ -~]{1,255}$/, 'must be 1 to 255 printable ASCII characters')),
      ),
    ),
    "Your key for safe retries, 1 to 255 printable ASCII characters (e.g. a UUID), scoped to your client (another client's key is another key). Reusing a key with a different body is refused with 409.",
  ),
});

/** Admin tokens act for any client; for anyone else the parameter is read and ignored. */
const adminClient = (what: string) =>
  described(
    z.optional(z.string()),
    `Admins only: ${what}; ignored for any other caller, who always sees its own.`,
  );

const STATUS_MESSAGE = `must be one of ${JOB_STATUSES.join(', ')}`;
const LIMIT_MESSAGE = `must be an integer from 1 to ${MAX_PAGE_SIZE}`;

const listVideosQuery = z.object({
  status: described(
    z.optional(
      z.pipe(
        z.transform((value) => (typeof value === 'string' ? value.toUpperCase() : value)),
        z.enum(JOB_STATUSES, { error: STATUS_MESSAGE }),
      ),
    ),
    'Only jobs in this status (case-insensitive).',
  ),
  limit: described(
    z._default(
      z.pipe(
        // Digits only: Number() would also take "1e1", "0x10" or " 5".
        z.transform((value) =>
          typeof value === 'string' && /^\d{1,4}$/.test(value) ? Number(value) : Number.NaN,
        ),
        z.int(LIMIT_MESSAGE).check(z.gte(1, LIMIT_MESSAGE), z.lte(MAX_PAGE_SIZE, LIMIT_MESSAGE)),
      ),
      DEFAULT_PAGE_SIZE,
    ),
    `Page size, 1 to ${MAX_PAGE_SIZE}.`,
  ),
  cursor: described(z.optional(z.string()), 'The nextCursor of the previous page (opaque).'),
  batch: described(
    z.optional(
      z.string().check(z.regex(BATCH_ID_PATTERN, 'must be a batch id (`batchId` of a Video)')),
    ),
    'Only the jobs of this batch (`batchId` of its Videos: the jobs of one dropped file).',
  ),
  client: adminClient('only the jobs of this client (all clients when absent)'),
});

const usageQuery = z.object({
  day: described(
    z.optional(
      z
        .string()
        .check(z.refine(isUtcDay, 'must be a UTC date, YYYY-MM-DD'), z.meta({ format: 'date' })),
    ),
    'The UTC day, YYYY-MM-DD; today when absent.',
  ),
  client: adminClient('the client whose share and budget to show (`client`)'),
});

const contentQuery = z.object({
  variant: described(
    z._default(
      z.enum(CONTENT_VARIANTS, { error: `must be one of ${CONTENT_VARIANTS.join(', ')}` }),
      'video',
    ),
    'Which file: the MP4, its thumbnail or its spritesheet (case-exact).',
  ),
  redirect: described(
    z.prefault(
      z.pipe(
        z.enum(['true', 'false'], { error: 'must be true or false' }),
        z.transform((value) => value === 'true'),
      ),
      'true',
    ),
    '`false` answers 200 with the link as JSON instead of redirecting (for browser apps, which cannot read a redirect).',
  ),
});

const REMIX_KEEPS = 'a remix keeps the model, size and seconds of the video it remixes';
const keptByRemix = described(
  z.optional(z.never({ error: REMIX_KEEPS })),
  'Not sent: the remix keeps the value of the video it remixes.',
);

/** A remix's body: a video request without model, size and seconds, which come from its source. */
const remixRequestSchema = z.strictObject({
  ...videoRequestSchema.shape,
  model: keptByRemix,
  size: keptByRemix,
  seconds: keptByRemix,
});

const videoRequestForm = {
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

const exampleCatalogue = {
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
};

const submitErrors = [
  'ValidationError',
  'IdempotencyConflictError',
  'PayloadTooLargeError',
  'UnsupportedMediaTypeError',
  'JobStartFailedError',
] as const satisfies readonly ErrorName[];

export const OPERATIONS = {
  createVideo: {
    summary: 'Submit a video',
    description:
      'Validates the request against the provider catalogue (model, size, seconds) and starts the generation workflow; nothing is started when the request is refused. Poll the returned job (Location) until it is COMPLETED or FAILED. Send an Idempotency-Key to retry safely: the same key with the same body returns the same job (200) and never starts a second paid generation.',
    tag: 'videos',
    auth: 'bearer',
    headers: idempotencyKeyHeader,
    body: {
      json: videoRequestSchema,
      description: `A JSON object of at most ${MAX_BODY_BYTES} bytes, or a multipart form (as the openai SDK sends it) of at most ${MAX_MULTIPART_BYTES} bytes with the reference image as the file \`input_reference\`.`,
      example: {
        prompt: 'A cat playing piano in a jazz club',
        seconds: '4',
        priority: 'high',
        startTimeoutSeconds: 3600,
      },
      multipart: videoRequestForm,
    },
    responses: {
      202: {
        description: 'The job was created and its workflow started (or, with defer, queued).',
        body: 'Video',
        headers: ['JobLocation'],
        example: {
          ...exampleVideo,
          status: 'QUEUED',
          priority: 'high',
          startTimeoutSeconds: 3600,
          progress: 0,
        },
      },
      200: {
        description:
          'A replay: this Idempotency-Key was used before with the same request; the existing job is returned and nothing new is started.',
        body: 'Video',
        headers: ['JobLocation', 'IdempotentReplayed'],
        example: exampleVideo,
      },
    },
    errors: submitErrors,
  },

  listVideos: {
    summary: 'List videos',
    description:
      'Jobs newest first, optionally only those in one status or one batch, a page at a time. A client lists its own jobs; an admin lists every client’s, or one client’s with `client`.',
    tag: 'videos',
    auth: 'bearer',
    query: listVideosQuery,
    responses: {
      200: {
        description: 'One page of jobs.',
        body: 'VideoList',
        example: { videos: [exampleVideo], nextCursor: null },
      },
    },
    errors: ['ValidationError'],
  },

  getVideo: {
    summary: 'Get a video',
    description:
      'The job with its status and progress; poll it every few seconds until the status is COMPLETED or FAILED.',
    tag: 'videos',
    auth: 'bearer',
    path: jobIdPath,
    pathMismatch: 'not-found',
    responses: { 200: { description: 'The job.', body: 'Video', example: exampleVideo } },
    errors: ['JobNotFoundError'],
  },

  getVideoContent: {
    summary: 'Download a video',
    description:
      'Redirects (302) to a short-lived presigned S3 link of the MP4 (or its thumbnail or spritesheet), or answers the link as JSON with `redirect=false`. Fetch the link without your Authorization header: it carries its own signature.',
    tag: 'videos',
    auth: 'bearer',
    path: jobIdPath,
    pathMismatch: 'not-found',
    query: contentQuery,
    responses: {
      200: {
        description: 'With `redirect=false`: the presigned link and how long it is valid.',
        body: 'ContentLink',
        example: {
          url: 'https://videos-bucket.s3.eu-west-1.amazonaws.com/videos/job_01K8Z3Y5M4Q7V2W9X6C1B0N8T5/video.mp4?X-Amz-Signature=...',
          expiresInSeconds: 300,
        },
      },
      302: { description: 'The file is at Location.', headers: ['ContentLocation'] },
    },
    errors: ['ValidationError', 'JobNotFoundError', 'ContentNotFoundError', 'JobNotCompletedError'],
  },

  cancelVideo: {
    summary: 'Cancel a video',
    description:
      'A waiting job (QUEUED) becomes CANCELLED at once and never calls the provider; its slot and budget reservation, if it held them, are given back. A job at the provider becomes CANCELLED, its execution is stopped and the provider job deleted where the provider allows; its slot is handed to the next waiting job, and its cost counts as spent (the provider may charge for a job it started). Cancelling a CANCELLED job answers it again (200); a COMPLETED or FAILED job answers 409.',
    tag: 'videos',
    auth: 'bearer',
    path: jobIdPath,
    pathMismatch: 'not-found',
    responses: {
      200: {
        description: 'The job, CANCELLED.',
        body: 'Video',
        example: { ...exampleVideo, status: 'CANCELLED', cancelledAt: '2026-03-04T05:06:40.000Z' },
      },
    },
    errors: ['JobNotFoundError', 'JobNotCancellableError'],
  },

  remixVideo: {
    summary: 'Remix a video',
    description:
      "Creates a new job that remixes a COMPLETED video with a new prompt, through the same workflow, limits and ledger as any job: same model, size and seconds as the video it remixes, its own MP4 at the end. `remixOf` names the source. The provider must still hold the source video (content expires at some providers after about an hour): otherwise the remix FAILS with the provider's reason. Send an Idempotency-Key to retry safely.",
    tag: 'videos',
    auth: 'bearer',
    path: jobIdPath,
    pathMismatch: 'not-found',
    headers: idempotencyKeyHeader,
    body: {
      json: remixRequestSchema,
      description: `A JSON object of at most ${MAX_BODY_BYTES} bytes: the fields of POST /videos (\`prompt\` required) except model, size and seconds.`,
      example: { prompt: 'The same scene at night, in the rain' },
    },
    responses: {
      202: {
        description: 'The remix job was created and its workflow started (or queued).',
        body: 'Video',
        headers: ['JobLocation'],
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
      200: {
        description: 'A replay of an earlier remix request with the same Idempotency-Key.',
        body: 'Video',
        headers: ['JobLocation', 'IdempotentReplayed'],
      },
    },
    errors: [...submitErrors, 'JobNotFoundError', 'JobNotCompletedError'],
  },

  cancelBatch: {
    summary: 'Cancel the waiting jobs of a batch',
    description: `Cancels the QUEUED jobs of a batch (the jobs of one dropped file share its batch id, \`batchId\` on each Video), at most ${MAX_BATCH_CANCEL} per call: call again while \`more\` is true. Jobs already at the provider go on; cancel them one by one. A client cancels only its own jobs.`,
    tag: 'videos',
    auth: 'bearer',
    path: z.object({
      id: described(
        z.string().check(z.regex(BATCH_ID_PATTERN, 'not a batch id')),
        'The batch id (`batchId` of its Videos).',
      ),
    }),
    responses: {
      200: {
        description: 'What this call cancelled.',
        body: 'BatchCancellation',
        example: {
          batchId: 'batch_0123456789abcdef01234567',
          cancelled: ['job_01K8Z3Y5M4Q7V2W9X6C1B0N8T5'],
          more: false,
        },
      },
    },
    errors: ['ValidationError'],
  },

  getUsage: {
    summary: 'Spending and slots',
    description:
      "A UTC day's spending against the daily budget (today unless `day` is given) and the concurrency slots in use now, with the caller's own share of the day and its part of the budget (`client`, `client.budget`). A job that today's budget, or its client's own daily budget, cannot cover is not started: it waits as QUEUED (deferred) for a later scheduled run, or FAILS with `budget_exceeded`, as the deployment is configured.",
    tag: 'usage',
    auth: 'bearer',
    query: usageQuery,
    responses: {
      200: { description: "The day's usage.", body: 'Usage', example: exampleUsage },
    },
    errors: ['ValidationError'],
  },

  listModels: {
    summary: 'List the models',
    description:
      "The provider catalogue: each model a request may name, with the sizes and durations it accepts, its defaults, and its price per second (per size where prices differ), from which a job's estimatedCostUsd and the daily budget's reservations are computed.",
    tag: 'models',
    auth: 'bearer',
    responses: {
      200: { description: 'The catalogue.', body: 'ModelCatalogue', example: exampleCatalogue },
    },
    errors: [],
  },

  getWebhookSecret: {
    summary: 'Your webhook signing secret',
    description:
      'The secret your receiver verifies webhook deliveries with (Standard Webhooks: `webhook-signature` is `v1,<base64 HMAC-SHA256>` of `<webhook-id>.<webhook-timestamp>.<body>`, keyed by the base64 part of the secret). One per client, the same on every call.',
    tag: 'webhooks',
    auth: 'bearer',
    responses: {
      200: {
        description: 'The secret.',
        body: 'WebhookSecret',
        example: { key: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' },
      },
    },
    errors: [],
  },
} as const satisfies Record<OperationId, OperationSpec>;

export type Operations = typeof OPERATIONS;

/** What a declared parameter object parsed to; with none declared, an object with no keys to read. */
type Parsed<Spec, Key extends string> =
  Spec extends Record<Key, infer S extends z.ZodMiniType> ? z.output<S> : Record<never, never>;

/** What an operation is handed: its caller and what its declaration parsed, nothing else. */
export interface OperationRequest<Id extends OperationId, Caller> {
  caller: Caller;
  path: Parsed<Operations[Id], 'path'>;
  headers: Parsed<Operations[Id], 'headers'>;
  query: Parsed<Operations[Id], 'query'>;
  body: Operations[Id] extends { body: { json: infer S extends z.ZodMiniType } }
    ? z.output<S>
    : undefined;
  /** The reference image of a multipart form (the file `input_reference`), if sent. */
  file?: MultipartRequest['file'];
}
