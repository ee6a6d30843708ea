import { z } from 'zod';
import { DEFERRED_REASONS, JOB_PRIORITIES, JOB_SOURCES, JOB_STATUSES } from '../shared/jobs/job.ts';
import { CONTENT_VARIANTS } from '../shared/jobs/public-job.ts';
import { MODEL_PROVIDERS } from '../shared/provider/provider-config.ts';
import { WEBHOOK_EVENTS } from '../shared/webhooks/webhook-events.ts';

import { JOB_ID_PATTERN, type ResponseSchemaName } from './operations.ts';

/**
 * The API's response bodies as zod schemas, for the OpenAPI document. The handlers build these
 * bodies with plain TypeScript (`toPublicJob`, `errorResponse`); the schemas are strict, and a
 * test runs the real handler and parses what it answers, so a field added, removed or renamed on
 * either side fails the build instead of drifting.
 */

export { JOB_ID_PATTERN };

export const jobErrorSchema = z
  .strictObject({
    code: z
      .string()
      .describe(
        'Machine-readable reason: the provider\'s error code (e.g. "moderation_blocked") or the pipeline\'s error name.',
      ),
    message: z.string().describe('Human-readable reason; never contains a secret or a stack.'),
    retryable: z.boolean().describe('Whether submitting the same request again could succeed.'),
  })
  .meta({ title: 'JobError', description: 'Why a video FAILED.' });

export const videoFileSchema = z
  .strictObject({
    bytes: z.number().int().nonnegative().describe('Size of the MP4 in bytes.'),
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .describe('SHA-256 of the MP4 (hex), to check a download.'),
    contentType: z.string().describe('Media type of the video, "video/mp4".'),
    variants: z
      .array(z.enum(CONTENT_VARIANTS))
      .describe('The variants GET /videos/{id}/content can return.'),
  })
  .meta({ title: 'VideoFile', description: 'The stored video of a COMPLETED job.' });

export const videoSchema = z
  .strictObject({
    id: z.string().regex(new RegExp(JOB_ID_PATTERN)).describe('The job id.'),
    status: z
      .enum(JOB_STATUSES)
      .describe(
        'QUEUED, then IN_PROGRESS, then COMPLETED or FAILED; CANCELLED when a client cancelled it. COMPLETED, FAILED and CANCELLED are final.',
      ),
    client: z.string().describe('The client (API token owner) the job belongs to.'),
    batchId: z
      .string()
      .optional()
      .describe('The batch the job is part of (one dropped file): GET /videos?batch= lists it.'),
    remixOf: z
      .string()
      .optional()
      .describe('Set on a remix: the id of the video it remixes (POST /videos/{id}/remix).'),
    source: z
      .enum(JOB_SOURCES)
      .describe('Where the job came from: the HTTP API, the S3 drop folder or a batch.'),
    prompt: z.string(),
    model: z.string(),
    size: z.string().describe('WIDTHxHEIGHT, e.g. "720x1280".'),
    seconds: z.string().describe('Duration in whole seconds, as a string ("4").'),
    deferred: z.boolean().describe('True when the job waits for a scheduled batch run.'),
    deferredReason: z
      .enum(DEFERRED_REASONS)
      .optional()
      .describe(
        'Why a deferred job waits: "capacity" (no slot free for it: it waits in its client\'s queue), "failover" (its provider deployment refused the create, having made nothing: it waits for a slot on one that can take it), "scheduled" (submitted for a batch run, or put back for it) or "budget" (the daily budget could not cover it).',
      ),
    priority: z
      .enum(JOB_PRIORITIES)
      .describe("Orders the job within its client's share: high, then normal, then low."),
    startTimeoutSeconds: z
      .int()
      .positive()
      .optional()
      .describe(
        'As asked: a job not admitted this many seconds after submission ends CANCELLED with error code start_timeout, having cost nothing.',
      ),
    startedAt: z.iso
      .datetime()
      .optional()
      .describe('When the job was admitted (given a slot and its budget reservation).'),
    deployment: z
      .string()
      .optional()
      .describe(
        "The provider deployment the job runs on, once admitted (one of its model's deployments; default for a model without).",
      ),
    queue: z
      .strictObject({
        position: z
          .int()
          .positive()
          .describe('1 = the next job to be admitted under the current shares.'),
        etaSeconds: z
          .number()
          .nonnegative()
          .nullable()
          .describe(
            'Seconds until the job is expected done, from recent durations of its model and seconds (null without any).',
          ),
      })
      .optional()
      .describe(
        'A job waiting for a slot: where it stands (GET /videos/{id}, and GET /videos for the first 20 waiting jobs of a page).',
      ),
    etaSeconds: z
      .number()
      .nonnegative()
      .nullable()
      .optional()
      .describe(
        'GET /videos/{id} of a running job: seconds until it is expected done (null without recent durations).',
      ),
    progress: z.number().min(0).max(100).describe('0..100, as last reported by the provider.'),
    estimatedCostUsd: z
      .number()
      .nonnegative()
      .describe('Price per second of the model (and size) times the duration, in USD.'),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
    completedAt: z.iso.datetime().optional(),
    cancelledAt: z.iso.datetime().optional().describe('Set when CANCELLED.'),
    webhook: z
      .strictObject({
        url: z.string(),
        events: z.array(z.enum(WEBHOOK_EVENTS)),
        lastDelivery: z
          .strictObject({
            webhookId: z.string().describe('The `webhook-id` of the delivery (one per event).'),
            event: z.enum(WEBHOOK_EVENTS),
            status: z
              .enum(['delivered', 'retrying', 'failed'])
              .describe('delivered: a 2xx; retrying: another attempt follows; failed: given up.'),
            attempts: z.number().int().nonnegative(),
            httpStatus: z.number().int().optional().describe("The receiver's last HTTP status."),
            error: z.string().optional().describe('Why the last attempt failed.'),
            at: z.iso.datetime(),
          })
          .optional()
          .describe('How the last delivery went.'),
      })
      .optional()
      .describe('Set when the job was submitted with a webhook.'),
    video: videoFileSchema.optional().describe('Set when COMPLETED.'),
    error: jobErrorSchema.optional().describe('Set when FAILED.'),
    links: z
      .strictObject({
        self: z.string().describe('Path of this job: GET it to watch progress.'),
        content: z
          .string()
          .optional()
          .describe('Path of the video (set when COMPLETED): GET it to be redirected to the MP4.'),
      })
      .describe('Paths relative to the API URL.'),
  })
  .meta({ title: 'Video', description: 'A video job as the API shows it.' });

export const videoListSchema = z
  .strictObject({
    videos: z.array(videoSchema).describe('Newest first.'),
    nextCursor: z
      .string()
      .nullable()
      .describe('Pass as `cursor` to get the next page; null on the last page.'),
  })
  .meta({ title: 'VideoList', description: 'One page of video jobs.' });

export const contentLinkSchema = z
  .strictObject({
    url: z
      .url()
      .describe('Presigned S3 URL of the file; fetch it without your Authorization header.'),
    expiresInSeconds: z.number().int().positive().describe('How long the link is valid.'),
  })
  .meta({
    title: 'ContentLink',
    description: 'A short-lived presigned link to a stored file (`redirect=false`).',
  });

const usd = z.number().nonnegative();

export const usageSchema = z
  .strictObject({
    day: z.iso.date().describe('The UTC day, YYYY-MM-DD.'),
    budget: z
      .strictObject({
        limitUsd: usd.nullable().describe('The daily budget (DAILY_BUDGET_USD); null: no budget.'),
        reservedUsd: usd.describe(
          'Estimated cost of the jobs started this day that are still running.',
        ),
        spentUsd: usd.describe(
          'Actual cost of the videos the provider rendered on this day’s budget, whether or not the download succeeded.',
        ),
        orphanedUsd: usd.describe(
          'Cost of provider jobs the pipeline created that no job holds (orphans, e.g. a create that answered after its job was closed); counted against the budget.',
        ),
        remainingUsd: usd
          .nullable()
          .describe(
            'limitUsd - reservedUsd - spentUsd - orphanedUsd (never below 0); null without a budget.',
          ),
      })
      .describe(
        'A job reserves its estimated cost before the provider create call; the cost is spent once the provider has rendered the video (whatever happens to the download); the reservation is given back only when the provider never rendered it.',
      ),
    concurrency: z
      .strictObject({
        limit: z.number().int().positive().describe('At most this many provider jobs at once.'),
        inUse: z.number().int().nonnegative().describe('Slots held by running jobs now.'),
      })
      .describe('Now, whatever the day asked for.'),
    jobs: z
      .strictObject({
        started: z.number().int().nonnegative().describe('Jobs whose cost was reserved this day.'),
        completed: z
          .number()
          .int()
          .nonnegative()
          .describe('Jobs whose actual cost was charged to this day.'),
        orphaned: z
          .number()
          .int()
          .nonnegative()
          .describe('Provider jobs recorded as orphans this day.'),
      })
      .describe('Job counts of the day.'),
    client: z
      .strictObject({
        client: z.string().describe('The client.'),
        spentUsd: usd.describe(
          'Cost of its videos the provider rendered (or started and was not stopped before it could charge), of the jobs submitted this day.',
        ),
        reservedUsd: usd.describe('Estimated cost of its jobs of the day still running.'),
        jobs: z.strictObject({
          submitted: z.number().int().nonnegative(),
          completed: z.number().int().nonnegative(),
          failed: z.number().int().nonnegative(),
          cancelled: z.number().int().nonnegative(),
        }),
        truncated: z
          .boolean()
          .describe('More jobs than one report reads (2,000): the figures cover the newest.'),
        budget: z
          .strictObject({
            limitUsd: usd
              .nullable()
              .describe(
                "The client's own daily budget, as its latest job reserved on this day ran under it; null: none (only the deployment's applies), or no job reserved yet.",
              ),
            reservedUsd: usd.describe(
              'Estimated cost of its jobs reserved on this day’s budget and still running.',
            ),
            spentUsd: usd.describe(
              'Actual cost of its videos the provider rendered, charged to this day’s budget.',
            ),
            remainingUsd: usd
              .nullable()
              .describe(
                'limitUsd - reservedUsd - spentUsd (never below 0); null without a budget of its own.',
              ),
          })
          .describe(
            "Its part of the day's budget, as the budget counts it (a job counts on the day its cost was reserved). A job needs room in both budgets: its client's running out holds that client's jobs only.",
          ),
      })
      .optional()
      .describe(
        "The caller's own share (an admin's: the client named by `?client=`, else absent), from the jobs it submitted this day.",
      ),
  })
  .meta({
    title: 'Usage',
    description: "One UTC day's spending against the daily budget, and the concurrency slots now.",
  });

const pricePerSecond = z.number().nonnegative();

export const modelSchema = z
  .strictObject({
    id: z.string().describe('What to send as `model`, e.g. "sora-2".'),
    provider: z
      .enum(MODEL_PROVIDERS)
      .describe('Who renders it: a /v1/videos service or Amazon Bedrock.'),
    sizes: z.array(z.string()).describe('The `size` values it accepts, WIDTHxHEIGHT.'),
    seconds: z
      .array(z.string())
      .describe('The `seconds` values it accepts, whole seconds as strings.'),
    defaultSize: z.string().describe('The size of a request that names none.'),
    defaultSeconds: z.string().describe('The duration of a request that names none.'),
    pricePerSecondUsd: pricePerSecond.describe(
      'USD per second of video: estimatedCostUsd is this times the duration.',
    ),
    pricePerSecondUsdBySize: z
      .record(z.string(), pricePerSecond)
      .optional()
      .describe('Prices that differ by size, overriding pricePerSecondUsd for those sizes.'),
  })
  .meta({ title: 'Model', description: 'One model of the catalogue.' });

export const modelCatalogueSchema = z
  .strictObject({
    defaultModel: z.string().describe('The model of a request that names none.'),
    models: z.array(modelSchema),
  })
  .meta({
    title: 'ModelCatalogue',
    description:
      "The provider catalogue: the models a request may name, their sizes, durations, defaults and prices (the budget's estimates).",
  });

export const batchCancellationSchema = z
  .strictObject({
    batchId: z.string(),
    cancelled: z.array(z.string()).describe('Ids of the jobs this call cancelled.'),
    more: z.boolean().describe('More waiting jobs may be left: call again.'),
  })
  .meta({ title: 'BatchCancellation', description: 'What cancelling a batch did.' });

export const webhookSecretSchema = z
  .strictObject({
    key: z
      .string()
      .regex(/^whsec_[A-Za-z0-9+/]+={0,2}$/)
      .describe('whsec_ and the base64 key.'),
  })
  .meta({ title: 'WebhookSecret', description: "The caller's webhook signing secret." });

export const errorSchema = z
  .strictObject({
    error: z.strictObject({
      code: z.string().describe('Stable machine-readable code, e.g. "invalid_request".'),
      message: z.string().describe('What went wrong, for people.'),
      field: z
        .string()
        .optional()
        .describe(
          'With invalid_request: the bad field (a body field, "body", "Idempotency-Key" or a query parameter).',
        ),
    }),
  })
  .meta({ title: 'Error', description: "An error answered by the pipeline's API function." });

export const gatewayErrorSchema = z
  .strictObject({
    message: z.string().describe('"Unauthorized", "Forbidden", "Too Many Requests", ...'),
  })
  .meta({
    title: 'GatewayError',
    description:
      'An error answered by API Gateway itself, before the request reaches the API function.',
  });

/**
 * The document's schema components by name: every response body an operation declares
 * (operations.ts names them), the error bodies, and the schemas nested in them.
 */
export const COMPONENT_SCHEMAS = {
  JobError: jobErrorSchema,
  VideoFile: videoFileSchema,
  Video: videoSchema,
  VideoList: videoListSchema,
  Usage: usageSchema,
  Model: modelSchema,
  ModelCatalogue: modelCatalogueSchema,
  ContentLink: contentLinkSchema,
  BatchCancellation: batchCancellationSchema,
  WebhookSecret: webhookSecretSchema,
  Error: errorSchema,
  GatewayError: gatewayErrorSchema,
} as const satisfies Record<ResponseSchemaName | 'Error' | 'GatewayError', z.ZodType> &
  Record<string, z.ZodType>;
