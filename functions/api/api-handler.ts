import type { Logger } from '@aws-lambda-powertools/logger';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
} from 'aws-lambda';
import type { JobStanding } from '../shared/admission/standing.ts';
import { BATCH_ID_PATTERN } from '../shared/intake/intake-idempotency.ts';
import { readClientUsage } from '../shared/jobs/client-usage.ts';
import {
  JOB_STATUSES,
  type Job,
  type JobStatus,
  ownerOf,
  waitsForSlot,
} from '../shared/jobs/job.ts';
import {
  JobNotCompletedError,
  JobNotFoundError,
  JobStartFailedError,
  ValidationError,
} from '../shared/jobs/job-errors.ts';
import { isJobId } from '../shared/jobs/job-id.ts';
import { decodeUtf8 } from '../shared/jobs/prompt-text.ts';
import {
  CONTENT_VARIANTS,
  type ContentVariant,
  contentKey,
  jobPath,
  toPublicJob,
} from '../shared/jobs/public-job.ts';
import {
  checkReferenceFile,
  type SubmitJobContext,
  type SubmitJobDeps,
  submitJob,
} from '../shared/jobs/submit-job.ts';
import { isUtcDay, utcDay } from '../shared/limits/limits-table.ts';
import type { ClientBudgetReport, UsageReport } from '../shared/limits/usage-report.ts';
import { MAX_REFERENCE_IMAGE_BYTES, UPLOADS_PREFIX } from '../shared/media/reference-image.ts';
import { loggableError } from '../shared/observability/loggable-error.ts';
import type { StoreUpload } from '../shared/storage/uploads.ts';
import { type CancelJobDeps, cancelBatch, cancelJob } from '../shared/workflow/cancel-job.ts';
import {
  ContentNotFoundError,
  PayloadTooLargeError,
  RouteNotFoundError,
  UnsupportedMediaTypeError,
} from './api-errors.ts';
import { type OperationId, ROUTES_BY_KEY } from './api-routes.ts';
import { type Caller, callerOf } from './caller.ts';
import { CONTENT_LINK_TTL_SECONDS, type ContentLink } from './content-link.ts';
import { describeError, errorResponse } from './error-response.ts';
import { jsonResponse } from './json-response.ts';
import { publicModelCatalogue } from './model-catalogue.ts';
import { formToRequest, parseMultipart } from './multipart-request.ts';

/**
 * Whose a submission is, under which share, and which uploads it may name: a client its own, an
 * admin any key under uploads/ (how an operator's own uploads are used).
 */
function submitter(caller: Caller): Pick<SubmitJobContext, 'client' | 'share' | 'uploadsPrefix'> {
  const { client, share } = caller;
  return caller.admin ? { client, share, uploadsPrefix: UPLOADS_PREFIX } : { client, share };
}

/** Bodies are a prompt and a few fields: 16 KiB leaves room for a 4000-character prompt in UTF-8. */
export const MAX_BODY_BYTES = 16 * 1024;
/** A multipart POST /videos also carries the reference image. */
export const MAX_MULTIPART_BYTES = MAX_REFERENCE_IMAGE_BYTES + 64 * 1024;
export const DEFAULT_PAGE_SIZE = 20;
/** A page of GET /videos shows the queue place of at most this many waiting jobs. */
export const MAX_LISTED_STANDINGS = 20;
export const MAX_PAGE_SIZE = 100;

const IDEMPOTENCY_KEY_PATTERN = /^[\x20-\x7E]{1,255}$/;

export type ApiLogger = Pick<Logger, 'info' | 'warn' | 'error' | 'appendKeys' | 'resetKeys'> & {
  addContext(context: Context): void;
};

export interface ApiDeps extends SubmitJobDeps {
  /** Presigns a GET of a key in the videos bucket. */
  contentLink: ContentLink;
  /** A UTC day's spending against the budget, and the concurrency slots in use now. */
  usage: (day: string) => Promise<UsageReport>;
  /** A client's part of a UTC day's budget, against its own daily budget. */
  clientBudget: (client: string, day: string) => Promise<ClientBudgetReport>;
  /** Cancels jobs: stops executions, deletes provider jobs, settles the ledger. */
  cancel: CancelJobDeps;
  /** Where a job stands: its queue place and ETA (absent: not shown). */
  standing?: (job: Job) => Promise<JobStanding | undefined>;
  /** The client's webhook signing secret (`whsec_...`). */
  webhookSecret: (client: string) => Promise<string>;
  /** Stores a client's reference image under uploads/<client>/ and answers its key (absent: refused). */
  storeUpload?: StoreUpload;
  logger: ApiLogger;
}

export type ApiHandler = (
  event: APIGatewayProxyEventV2,
  context?: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

/** One request as an operation sees it: the event, its `{id}` path parameter and its caller. */
interface ApiRequest {
  event: APIGatewayProxyEventV2;
  id: string | undefined;
  caller: Caller;
}

type Operation = (request: ApiRequest) => Promise<APIGatewayProxyStructuredResultV2>;

/**
 * The HTTP API (payload v2) in one function: API Gateway names the matched route in `routeKey`
 * (routes in api-routes.ts), and the operation of that route parses the request, calls the use
 * case or the store, and shapes the response. Every error goes through `errorResponse`. A client
 * sees only its own jobs: another client's job answers 404, as one that does not exist.
 */
export function createApiHandler(deps: ApiDeps): ApiHandler {
  const { store, logger } = deps;

  const operations: Record<OperationId, Operation> = {
    async createVideo({ event, caller }) {
      const context = { source: 'api' as const, ...submitter(caller) };
      const contentType = header(event, 'content-type') ?? '';
      if (!/^multipart\/form-data/i.test(contentType)) {
        return submitted(readJsonBody(event), event, context);
      }
      // The openai SDK's form: fields, and the reference image as the file input_reference.
      const form = await parseMultipart(contentType, rawBody(event, MAX_MULTIPART_BYTES));
      const request = formToRequest(form.fields);
      if (form.file !== undefined) {
        if ('input_reference' in request) {
          throw new ValidationError(
            'input_reference',
            'input_reference: send a file or a key, not both',
          );
        }
        if (deps.storeUpload === undefined) {
          throw new ValidationError(
            'input_reference',
            'input_reference: files are not accepted here',
          );
        }
        // Checked before it is stored: a request that will be refused leaves nothing in uploads/.
        checkReferenceFile(request, form.file.bytes, deps);
        request.input_reference = { key: await deps.storeUpload(form.file.bytes, caller.client) };
      }
      return submitted(request, event, context);
    },

    async remixVideo({ event, id, caller }) {
      const source = await findJob(id, caller);
      const body = readJsonBody(event);
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        throw new ValidationError('body', 'body: must be a JSON object');
      }
      for (const field of ['model', 'size', 'seconds']) {
        if (field in body) {
          throw new ValidationError(
            field,
            `${field}: a remix keeps the model, size and seconds of the video it remixes`,
          );
        }
      }
      if (source.status !== 'COMPLETED' || source.providerJobId === undefined) {
        throw new JobNotCompletedError(
          source.status === 'COMPLETED'
            ? `Job ${source.jobId} cannot be remixed: the provider never named its video`
            : `Job ${source.jobId} is ${source.status} and cannot be remixed: only a COMPLETED video can`,
        );
      }
      const request = { ...body, model: source.model, size: source.size, seconds: source.seconds };
      return submitted(request, event, {
        source: 'api',
        ...submitter(caller),
        remixOf: {
          jobId: source.jobId,
          providerJobId: source.providerJobId,
          ...(source.deployment === undefined ? {} : { deployment: source.deployment }),
        },
      });
    },

    async listVideos({ event, caller }) {
      const query = event.queryStringParameters ?? {};
      const client = caller.admin ? nonEmpty(query.client) : caller.client;
      const batchId = nonEmpty(query.batch);
      const page = await store.list({
        status: parseStatus(query.status),
        limit: parseLimit(query.limit),
        cursor: nonEmpty(query.cursor),
        ...(client === undefined ? {} : { client }),
        ...(batchId === undefined ? {} : { batchId }),
      });
      // Where the page's waiting jobs stand, for the first few of them (each is a few reads).
      const shown = new Set(
        page.jobs
          .filter(waitsForSlot)
          .slice(0, MAX_LISTED_STANDINGS)
          .map((job) => job.jobId),
      );
      const videos = await Promise.all(
        page.jobs.map(async (job) =>
          toPublicJob(job, shown.has(job.jobId) ? await deps.standing?.(job) : undefined),
        ),
      );
      return jsonResponse(200, { videos, nextCursor: page.nextCursor ?? null });
    },

    async getVideo({ id, caller }) {
      const job = await findJob(id, caller);
      return jsonResponse(200, toPublicJob(job, await deps.standing?.(job)));
    },

    async getVideoContent({ event, id, caller }) {
      const variant = parseVariant(event.queryStringParameters?.variant);
      // `redirect=false` answers the link as JSON: a browser app cannot read a redirect's Location.
      const redirect = parseRedirect(event.queryStringParameters?.redirect);
      const job = await findJob(id, caller);
      if (job.status !== 'COMPLETED') {
        throw new JobNotCompletedError(
          `Job ${job.jobId} is ${job.status}: only a COMPLETED video has content`,
        );
      }
      const key = contentKey(job, variant);
      if (key === undefined) throw new ContentNotFoundError(`Job ${job.jobId} has no ${variant}`);
      const url = await deps.contentLink(key);
      if (redirect) {
        return { statusCode: 302, headers: { Location: url, 'Cache-Control': 'no-store' } };
      }
      return jsonResponse(200, { url, expiresInSeconds: CONTENT_LINK_TTL_SECONDS });
    },

    async cancelVideo({ id, caller }) {
      const job = await findJob(id, caller);
      if (job.status === 'CANCELLED') {
        // Already cancelled: the clean-up steps are idempotent, so a retry finishes them.
        return jsonResponse(200, toPublicJob(await cancelJob(deps.cancel, job)));
      }
      const cancelled = await cancelJob(deps.cancel, job);
      logger.info('Video job cancelled', {
        providerJobId: cancelled.providerJobId,
        wasStatus: job.status,
      });
      return jsonResponse(200, toPublicJob(cancelled));
    },

    async cancelBatch({ id, caller }) {
      if (id === undefined || !BATCH_ID_PATTERN.test(id)) {
        throw new ValidationError('id', 'id: not a batch id');
      }
      const result = await cancelBatch(deps.cancel, id, caller.admin ? undefined : caller.client);
      logger.info('Batch cancelled', { batchId: id, cancelled: result.cancelled.length });
      return jsonResponse(200, result);
    },

    async getUsage({ event, caller }) {
      const query = event.queryStringParameters ?? {};
      const day = parseDay(query.day, deps.clock());
      // A client sees its own share next to the deployment's; an admin asks for anyone's.
      const client = caller.admin ? nonEmpty(query.client) : caller.client;
      const [usage, share, budget] = await Promise.all([
        deps.usage(day),
        client === undefined ? undefined : readClientUsage(store, client, day),
        client === undefined ? undefined : deps.clientBudget(client, day),
      ]);
      const report: UsageReport =
        share === undefined || budget === undefined
          ? usage
          : { ...usage, client: { ...share, budget } };
      return jsonResponse(200, report);
    },

    async listModels() {
      return jsonResponse(200, publicModelCatalogue(deps.providerConfig));
    },

    async getWebhookSecret({ caller }) {
      return jsonResponse(200, { key: await deps.webhookSecret(caller.client) });
    },
  };

  /** Submits a request (new or remix) with the request's Idempotency-Key, answering 202 or 200. */
  async function submitted(
    body: unknown,
    event: APIGatewayProxyEventV2,
    context: SubmitJobContext,
  ): Promise<APIGatewayProxyStructuredResultV2> {
    const idempotencyKey = readIdempotencyKey(event);
    const { job, created } = await submitJob(
      body,
      idempotencyKey === undefined ? context : { ...context, idempotencyKey },
      deps,
    );
    logger.appendKeys({ jobId: job.jobId });
    logger.info(created ? 'Video job created' : 'Video job replayed', {
      model: job.model,
      size: job.size,
      seconds: job.seconds,
      deferred: job.deferred,
      remixOf: job.remixOf,
    });
    const headers: Record<string, string> = { Location: jobPath(job.jobId) };
    if (!created) headers['Idempotent-Replayed'] = 'true';
    return jsonResponse(created ? 202 : 200, toPublicJob(job), headers);
  }

  /** The job, if it exists and the caller may see it; JobNotFoundError otherwise. */
  async function findJob(id: string | undefined, caller: Caller): Promise<Job> {
    if (id === undefined || !isJobId(id)) throw new JobNotFoundError('No job with this id');
    logger.appendKeys({ jobId: id });
    const job = await store.get(id);
    if (job === undefined || !(caller.admin || ownerOf(job) === caller.client)) {
      throw new JobNotFoundError(`Job ${id} not found`);
    }
    return job;
  }

  return async (event, context) => {
    logger.resetKeys();
    if (context !== undefined) logger.addContext(context);
    const method = event.requestContext.http.method.toUpperCase();
    const route = event.routeKey;
    try {
      const operation = ROUTES_BY_KEY.get(route)?.operationId;
      if (operation === undefined) {
        throw new RouteNotFoundError(`No route for ${method} ${requestPath(event)}`);
      }
      const caller = callerOf(event, (field) =>
        logger.warn('Authorizer context holds a malformed share; using the default share', {
          field,
        }),
      );
      logger.appendKeys({ client: caller.client });
      const response = await operations[operation]({
        event,
        id: event.pathParameters?.id,
        caller,
      });
      logger.info('Request handled', { method, route, statusCode: response.statusCode });
      return response;
    } catch (error) {
      const { status, code } = describeError(error);
      if (error instanceof JobStartFailedError) logger.appendKeys({ jobId: error.jobId });
      if (status >= 500) {
        logger.error('Request failed', {
          method,
          route,
          statusCode: status,
          code,
          error: loggableError(error),
        });
      } else {
        const field = error instanceof ValidationError ? error.field : undefined;
        logger.info('Request refused', { method, route, statusCode: status, code, field });
      }
      return errorResponse(error);
    }
  };
}

/** The path without the stage prefix (present unless the stage is `$default`) or a trailing slash. */
function requestPath(event: APIGatewayProxyEventV2): string {
  const stage = event.requestContext.stage;
  let path = event.rawPath;
  if (stage && stage !== '$default' && path.startsWith(`/${stage}/`)) {
    path = path.slice(stage.length + 1);
  }
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

function header(event: APIGatewayProxyEventV2, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === wanted) return value;
  }
  return undefined;
}

function rawBody(event: APIGatewayProxyEventV2, maxBytes: number): Buffer {
  const raw = event.body ?? '';
  const bytes = event.isBase64Encoded ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8');
  if (bytes.byteLength > maxBytes) throw new PayloadTooLargeError(maxBytes);
  return bytes;
}

function readJsonBody(event: APIGatewayProxyEventV2): unknown {
  requireJsonContentType(header(event, 'Content-Type'));
  // Refused as the drop folder refuses a file: a lenient decode would store U+FFFD instead.
  const text = decodeUtf8(rawBody(event, MAX_BODY_BYTES));
  if (text === undefined) throw new ValidationError('body', 'body: is not valid UTF-8');
  if (text.trim() === '') throw new ValidationError('body', 'body: must be a JSON object');
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ValidationError('body', 'body: is not valid JSON', { cause: error });
  }
}

/**
 * The body must be declared JSON: `application/json`, with parameters (`; charset=utf-8`) or not,
 * the type case-insensitive as media types are. Anything else (a form, text/plain, no type) is
 * refused before the body is read, so a client never has a body we guessed at accepted.
 */
function requireJsonContentType(contentType: string | undefined): void {
  const mediaType = contentType?.split(';')[0]?.trim().toLowerCase();
  if (mediaType !== 'application/json') {
    throw new UnsupportedMediaTypeError(
      `Content-Type ${contentType === undefined ? '(none)' : JSON.stringify(contentType)} is not application/json`,
    );
  }
}

function readIdempotencyKey(event: APIGatewayProxyEventV2): string | undefined {
  const value = header(event, 'Idempotency-Key');
  if (value === undefined) return undefined;
  const key = value.trim();
  if (!IDEMPOTENCY_KEY_PATTERN.test(key)) {
    throw new ValidationError(
      'Idempotency-Key',
      'Idempotency-Key: must be 1 to 255 printable ASCII characters',
    );
  }
  return key;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function parseStatus(value: string | undefined): JobStatus | undefined {
  if (value === undefined || value === '') return undefined;
  const status = JOB_STATUSES.find((candidate) => candidate === value.toUpperCase());
  if (status === undefined) {
    throw new ValidationError('status', `status: must be one of ${JOB_STATUSES.join(', ')}`);
  }
  return status;
}

function parseLimit(value: string | undefined): number {
  if (value === undefined || value === '') return DEFAULT_PAGE_SIZE;
  const limit = /^\d{1,4}$/.test(value) ? Number(value) : Number.NaN;
  if (!(limit >= 1 && limit <= MAX_PAGE_SIZE)) {
    throw new ValidationError('limit', `limit: must be an integer from 1 to ${MAX_PAGE_SIZE}`);
  }
  return limit;
}

/** `?day=YYYY-MM-DD` (UTC), today when absent. */
function parseDay(value: string | undefined, now: Date): string {
  if (value === undefined || value === '') return utcDay(now);
  if (!isUtcDay(value)) {
    throw new ValidationError('day', 'day: must be a UTC date, YYYY-MM-DD');
  }
  return value;
}

function parseRedirect(value: string | undefined): boolean {
  if (value === undefined || value === '' || value === 'true') return true;
  if (value === 'false') return false;
  throw new ValidationError('redirect', 'redirect: must be true or false');
}

function parseVariant(value: string | undefined): ContentVariant {
  if (value === undefined || value === '') return 'video';
  const variant = CONTENT_VARIANTS.find((candidate) => candidate === value);
  if (variant === undefined) {
    throw new ValidationError('variant', `variant: must be one of ${CONTENT_VARIANTS.join(', ')}`);
  }
  return variant;
}
