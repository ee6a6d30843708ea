import { createHash } from 'node:crypto';
import type { ClientShare } from '../admission/client-share.ts';
import { UPLOADS_PREFIX, validateReferenceImage } from '../media/reference-image.ts';
import { recordMetric } from '../observability/pipeline-metrics.ts';
import {
  estimateCostUsd,
  modelProvider,
  type ProviderSettings,
  resolveVideoParams,
} from '../provider/provider-config.ts';
import { VideoParamsError } from '../provider/video-params-error.ts';
import { clientUploadsPrefix, mayUseUpload } from '../storage/upload-keys.ts';
import { DEFAULT_WEBHOOK_EVENTS, type WebhookRequest } from '../webhooks/webhook-events.ts';
import { validateWebhookUrl, type WebhookTargetPolicy } from '../webhooks/webhook-target.ts';
import type { StartExecution } from '../workflow/start-execution.ts';
import {
  DEFAULT_CLIENT,
  DEFAULT_PRIORITY,
  type Job,
  type JobPriority,
  type JobSource,
} from './job.ts';
import { JobStartFailedError, ValidationError } from './job-errors.ts';
import { parseVideoRequest } from './job-request.ts';
import type { JobStore } from './job-store.ts';

export interface SubmitJobContext {
  source: JobSource;
  /**
   * The caller's key for safe retries; scoped by source and client, so neither entry points nor
   * clients can collide (another client's key is a different key).
   */
  idempotencyKey?: string;
  /** The client the job belongs to (absent: the default client, e.g. the drop folder). */
  client?: string;
  /**
   * The client's share as its token carried it (absent: the default share, e.g. the drop folder).
   * Recorded on the job for admission; not part of the request's hash, so a share changed
   * between two submissions with one key still replays the first job.
   */
  share?: ClientShare;
  /** The batch the job is part of (a dropped file). */
  batchId?: string;
  /** A remix of this completed job (whose model, size and seconds the request repeats). */
  remixOf?: { jobId: string; providerJobId: string; deployment?: string };
  /**
   * The uploads the caller may name as `input_reference.key`. Absent: the client's own
   * (`uploads/<client>/`), or any key under `uploads/` when there is no client (the drop folder,
   * whose files only an operator can write). An admin caller passes `uploads/`.
   */
  uploadsPrefix?: string;
}

export interface SubmitJobDeps {
  store: JobStore;
  startExecution: StartExecution;
  /** Only the model catalogue is used; the API key in it is never needed here. */
  providerConfig: ProviderSettings;
  clock: () => Date;
  /** A new job id for a job created at `now` (see `job-id.ts`). */
  newJobId: (now: Date) => string;
  /** Which webhook URLs are accepted (absent: https to public addresses only). */
  webhookPolicy?: WebhookTargetPolicy;
  /** Reads an uploaded reference image (absent: `input_reference` is refused). */
  readUpload?: (key: string) => Promise<Uint8Array | undefined>;
}

/** What makes two submissions "the same request" for an idempotency key. */
export interface JobRequestFields {
  prompt: string;
  model: string;
  size: string;
  seconds: string;
  deferred: boolean;
  /** Present only when asked for, so requests without one hash as they always did. */
  webhook?: WebhookRequest;
  /**
   * Present only when not the default: `"priority": "normal"` asks for what no priority gives, so
   * it is the same request (same hash, a replay of the same key) as one without the field.
   */
  priority?: JobPriority;
  /** Present only when asked for (absent: the job waits for admission as long as it takes). */
  startTimeoutSeconds?: number;
  /** The job a remix remixes (part of what makes two remix requests the same). */
  remixOf?: string;
  /** The checked reference image of an image-to-video request. */
  inputReference?: NonNullable<Job['inputReference']>;
}

/**
 * Submits one video request from any entry point: validates it against the schema and the
 * provider catalogue, records the job (idempotently when a key is given) and starts its workflow
 * unless it is deferred.
 *
 * A started job records its execution name (its id) and is admitted by its workflow's first step
 * (functions/shared/admission); a deferred one waits with `deferredReason: 'scheduled'` for the
 * scheduler. A replay of a key whose job is still QUEUED (and not deferred)
 * starts the workflow again: the start is idempotent by execution name, so a crash between the write and the start is healed by
 * retrying with the same key. When the start fails, the job is closed as FAILED if there is no
 * key (a retry would create a new job, and this one must never run behind the caller's back) and
 * left QUEUED if there is one; either way JobStartFailedError is thrown.
 */
export async function submitJob(
  request: unknown,
  context: SubmitJobContext,
  deps: SubmitJobDeps,
): Promise<{ job: Job; created: boolean }> {
  const { fields, referenceKey } = resolveRequest(request, deps.providerConfig, deps.webhookPolicy);
  if (modelProvider(deps.providerConfig, fields.model) === 'bedrock') {
    // Ray2 on Bedrock renders text to video only: refused here, before anything is recorded.
    if (referenceKey !== undefined) throw bedrockTakesNoImage(fields.model);
    if (context.remixOf !== undefined) {
      throw new ValidationError('model', `model "${fields.model}" (Bedrock) has no remixes`);
    }
  }
  if (referenceKey !== undefined) {
    fields.inputReference = await checkedReference(
      referenceKey,
      fields.size,
      context.uploadsPrefix ??
        (context.client === undefined ? UPLOADS_PREFIX : clientUploadsPrefix(context.client)),
      deps,
    );
  }
  if (context.remixOf !== undefined) fields.remixOf = context.remixOf.jobId;
  const now = deps.clock();
  const timestamp = now.toISOString();
  const job: Job = {
    jobId: deps.newJobId(now),
    status: 'QUEUED',
    source: context.source,
    ...fields,
    requestHash: requestHash(fields),
    estimatedCostUsd: estimateCostUsd(deps.providerConfig, fields),
    createdAt: timestamp,
    updatedAt: timestamp,
    progress: 0,
    pollCount: 0,
  };
  if (context.idempotencyKey !== undefined) job.idempotencyKey = context.idempotencyKey;
  job.client = context.client ?? DEFAULT_CLIENT;
  if (context.share !== undefined) job.share = { ...context.share };
  if (context.remixOf !== undefined) job.remixOfProviderJobId = context.remixOf.providerJobId;
  // The source video lives on one deployment: the remix is created there.
  if (context.remixOf?.deployment !== undefined) {
    job.remixOfDeployment = context.remixOf.deployment;
  }
  if (context.batchId !== undefined) job.batchId = context.batchId;
  // A deferred job gets its execution name when the scheduler claims it.
  if (fields.deferred) job.deferredReason = 'scheduled';
  else job.executionName = job.jobId;

  const storeKey =
    context.idempotencyKey === undefined
      ? undefined
      : idempotencyStoreKey({ ...context, idempotencyKey: context.idempotencyKey });
  const result = await deps.store.create(job, storeKey);
  // Counted where a job is actually written: replays (a key used again, a redelivered S3 event)
  // are not new submissions.
  if (result.created) recordMetric('JobsSubmitted', 1, { source: result.job.source });
  if (!shouldStart(result.job)) return result;
  // Admission is the workflow's first step (AdmitJob): a job without a slot is parked there.
  try {
    await deps.startExecution(result.job.jobId);
  } catch (error) {
    throw await startFailed(result.job, storeKey !== undefined, error, deps);
  }
  return result;
}

/**
 * Whether this submission (or a replay of it) should start the job's workflow: a QUEUED job that
 * is not waiting for the schedule and whose execution, if any, is named by its id. A job the
 * scheduler re-drove under `<jobId>-<n>` is left to the scheduler (its sweep reconciles it).
 */
function shouldStart(job: Job): boolean {
  return (
    job.status === 'QUEUED' &&
    !job.deferred &&
    (job.executionName === undefined || job.executionName === job.jobId)
  );
}

/**
 * Where an idempotency key is recorded: `<source>:<key>` for the default client (as before named
 * clients existed), `<source>@<client>:<key>` for a named one. Client names hold no `:` or `@`,
 * so no two (client, key) pairs share a record.
 */
export function idempotencyStoreKey(
  context: SubmitJobContext & { idempotencyKey: string },
): string {
  const { source, client, idempotencyKey } = context;
  return client === undefined || client === DEFAULT_CLIENT
    ? `${source}:${idempotencyKey}`
    : `${source}@${client}:${idempotencyKey}`;
}

/** sha256 (hex) of the canonical JSON of the fields: keys sorted, nothing else in it. */
export function requestHash(fields: JobRequestFields): string {
  // The replacer list applies at every depth, so the webhook (nested) is appended on its own;
  // a request without one hashes as before webhooks existed.
  const { webhook, ...base } = fields;
  const canonical = JSON.stringify(base, Object.keys(base).sort());
  const hook = webhook === undefined ? '' : JSON.stringify([webhook.url, webhook.events]);
  return createHash('sha256')
    .update(canonical + hook)
    .digest('hex');
}

/**
 * Checks an image sent as a file against the request it came with, as a submission would check
 * it once stored (the request itself, a Bedrock model's refusal of images, the image's type, size
 * and dimensions): the API calls it before storing the file, so a request that will be refused
 * leaves nothing in uploads/. Throws ValidationError naming what is wrong.
 */
export function checkReferenceFile(
  request: unknown,
  bytes: Uint8Array,
  deps: Pick<SubmitJobDeps, 'providerConfig' | 'webhookPolicy'>,
): void {
  const { fields } = resolveRequest(request, deps.providerConfig, deps.webhookPolicy);
  if (modelProvider(deps.providerConfig, fields.model) === 'bedrock') {
    throw bedrockTakesNoImage(fields.model);
  }
  validateReferenceImage(bytes, fields.size, 'input_reference');
}

function bedrockTakesNoImage(model: string): ValidationError {
  return new ValidationError(
    'input_reference',
    `model "${model}" (Bedrock) takes no reference image: it renders text to video only`,
  );
}

/**
 * Reads and checks the reference image before anything is recorded or paid for. A key outside the
 * caller's uploads is answered as a missing one, without reading it: nothing about another
 * client's object (its existence, type or size) reaches the caller.
 */
async function checkedReference(
  key: string,
  size: string,
  uploadsPrefix: string,
  deps: SubmitJobDeps,
): Promise<NonNullable<Job['inputReference']>> {
  const field = 'input_reference.key';
  if (deps.readUpload === undefined) {
    throw new ValidationError(field, `${field}: reference images are not accepted here`);
  }
  const bytes = mayUseUpload(key, uploadsPrefix) ? await deps.readUpload(key) : undefined;
  if (bytes === undefined) {
    throw new ValidationError(field, `${field}: no object ${key} in the videos bucket`);
  }
  const info = validateReferenceImage(bytes, size, field);
  return { key, bytes: bytes.byteLength, ...info };
}

function resolveRequest(
  request: unknown,
  config: ProviderSettings,
  webhookPolicy: WebhookTargetPolicy = { allowLoopback: false },
): { fields: JobRequestFields; referenceKey: string | undefined } {
  const parsed = parseVideoRequest(request);
  try {
    const params = resolveVideoParams(config, parsed);
    const fields: JobRequestFields = {
      prompt: parsed.prompt,
      ...params,
      deferred: parsed.defer ?? false,
    };
    if (parsed.priority !== undefined && parsed.priority !== DEFAULT_PRIORITY) {
      fields.priority = parsed.priority;
    }
    if (parsed.startTimeoutSeconds !== undefined) {
      fields.startTimeoutSeconds = parsed.startTimeoutSeconds;
    }
    if (parsed.webhook !== undefined) {
      fields.webhook = {
        url: validateWebhookUrl(parsed.webhook.url, webhookPolicy),
        events: [...new Set(parsed.webhook.events ?? DEFAULT_WEBHOOK_EVENTS)],
      };
    }
    return { fields, referenceKey: parsed.input_reference?.key };
  } catch (error) {
    if (error instanceof VideoParamsError) {
      throw new ValidationError(error.field, error.message, { cause: error });
    }
    throw error;
  }
}

async function startFailed(
  job: Job,
  hasKey: boolean,
  cause: unknown,
  deps: SubmitJobDeps,
): Promise<JobStartFailedError> {
  if (hasKey) return new JobStartFailedError(job.jobId, false, { cause });
  try {
    await deps.store.recordFailed(
      job.jobId,
      {
        code: 'JobStartFailed',
        message: 'The workflow could not be started; submit the request again',
        retryable: true,
      },
      deps.clock().toISOString(),
    );
  } catch (recordError) {
    return new JobStartFailedError(job.jobId, false, {
      cause: new AggregateError([cause, recordError], 'start and recordFailed both failed'),
    });
  }
  recordMetric('JobsFailed', 1, { code: 'JobStartFailed' });
  return new JobStartFailedError(job.jobId, true, { cause });
}
