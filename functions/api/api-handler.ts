import type { Logger } from '@aws-lambda-powertools/logger';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
} from 'aws-lambda';
import type { JobStanding } from '../shared/admission/standing.ts';
import { readClientUsage } from '../shared/jobs/client-usage.ts';
import { type Job, ownerOf, waitsForSlot } from '../shared/jobs/job.ts';
import {
  JobNotCompletedError,
  JobNotFoundError,
  JobStartFailedError,
  ValidationError,
} from '../shared/jobs/job-errors.ts';
import { contentKey, jobPath, toPublicJob } from '../shared/jobs/public-job.ts';
import {
  checkReferenceFile,
  type SubmitJobContext,
  type SubmitJobDeps,
  submitJob,
} from '../shared/jobs/submit-job.ts';
import { utcDay } from '../shared/limits/limits-table.ts';
import type { ClientBudgetReport, UsageReport } from '../shared/limits/usage-report.ts';
import { UPLOADS_PREFIX } from '../shared/media/reference-image.ts';
import { loggableError } from '../shared/observability/loggable-error.ts';
import type { StoreUpload } from '../shared/storage/uploads.ts';
import { type CancelJobDeps, cancelBatch, cancelJob } from '../shared/workflow/cancel-job.ts';
import { ContentNotFoundError, RouteNotFoundError } from './api-errors.ts';
import { type OperationId, ROUTES_BY_KEY } from './api-routes.ts';
import { type Caller, callerOf } from './caller.ts';
import { CONTENT_LINK_TTL_SECONDS, type ContentLink } from './content-link.ts';
import { describeError, errorResponse } from './error-response.ts';
import { jsonResponse } from './json-response.ts';
import { publicModelCatalogue } from './model-catalogue.ts';

import { OPERATIONS, type OperationRequest } from './operations.ts';
import { parseRequest } from './parse-request.ts';

/**
 * Whose a submission is, under which share, and which uploads it may name: a client its own, an
 * admin any key under uploads/ (how an operator's own uploads are used).
 */
function submitter(caller: Caller): Pick<SubmitJobContext, 'client' | 'share' | 'uploadsPrefix'> {
  const { client, share } = caller;
  return caller.admin ? { client, share, uploadsPrefix: UPLOADS_PREFIX } : { client, share };
}

/** A page of GET /videos shows the queue place of at most this many waiting jobs. */
export const MAX_LISTED_STANDINGS = 20;

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

/** An operation: what its declaration parsed from the request in, the response out. */
type Operation<Id extends OperationId> = (
  request: OperationRequest<Id, Caller>,
) => Promise<APIGatewayProxyStructuredResultV2>;

/**
 * The HTTP API (payload v2) in one function: API Gateway names the matched route in `routeKey`
 * (routes in api-routes.ts); the request is parsed with that operation's declaration
 * (operations.ts), and the operation, handed only what was parsed, calls the use case or the
 * store and shapes the response. Every error goes through `errorResponse`. A client
 * sees only its own jobs: another client's job answers 404, as one that does not exist.
 */
export function createApiHandler(deps: ApiDeps): ApiHandler {
  const { store, logger } = deps;

  const operations: { [Id in OperationId]: Operation<Id> } = {
    async createVideo({ caller, headers, body, file }) {
      const context = { source: 'api' as const, ...submitter(caller) };
      if (file === undefined) return submitted(body, headers, context);
      if (deps.storeUpload === undefined) {
        throw new ValidationError(
          'input_reference',
          'input_reference: files are not accepted here',
        );
      }
      // Checked before it is stored: a request that will be refused leaves nothing in uploads/.
      checkReferenceFile(body, file.bytes, deps);
      const key = await deps.storeUpload(file.bytes, caller.client);
      return submitted({ ...body, input_reference: { key } }, headers, context);
    },

    async remixVideo({ caller, path, headers, body }) {
      const source = await findJob(path.id, caller);
      if (source.status !== 'COMPLETED' || source.providerJobId === undefined) {
        throw new JobNotCompletedError(
          source.status === 'COMPLETED'
            ? `Job ${source.jobId} cannot be remixed: the provider never named its video`
            : `Job ${source.jobId} is ${source.status} and cannot be remixed: only a COMPLETED video can`,
        );
      }
      const request = { ...body, model: source.model, size: source.size, seconds: source.seconds };
      return submitted(request, headers, {
        source: 'api',
        ...submitter(caller),
        remixOf: {
          jobId: source.jobId,
          providerJobId: source.providerJobId,
          ...(source.deployment === undefined ? {} : { deployment: source.deployment }),
        },
      });
    },

    async listVideos({ caller, query }) {
      const client = caller.admin ? query.client : caller.client;
      const page = await store.list({
        status: query.status,
        limit: query.limit,
        cursor: query.cursor,
        ...(client === undefined ? {} : { client }),
        ...(query.batch === undefined ? {} : { batchId: query.batch }),
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

    async getVideo({ caller, path }) {
      const job = await findJob(path.id, caller);
      return jsonResponse(200, toPublicJob(job, await deps.standing?.(job)));
    },

    async getVideoContent({ caller, path, query }) {
      const { variant, redirect } = query;
      const job = await findJob(path.id, caller);
      if (job.status !== 'COMPLETED') {
        throw new JobNotCompletedError(
          `Job ${job.jobId} is ${job.status}: only a COMPLETED video has content`,
        );
      }
      const key = contentKey(job, variant);
      if (key === undefined) throw new ContentNotFoundError(`Job ${job.jobId} has no ${variant}`);
      const url = await deps.contentLink(key);
      // `redirect=false` answers the link as JSON: a browser app cannot read a redirect's Location.
      if (redirect) {
        return { statusCode: 302, headers: { Location: url, 'Cache-Control': 'no-store' } };
      }
      return jsonResponse(200, { url, expiresInSeconds: CONTENT_LINK_TTL_SECONDS });
    },

    async cancelVideo({ caller, path }) {
      const job = await findJob(path.id, caller);
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

    async cancelBatch({ caller, path }) {
      const result = await cancelBatch(
        deps.cancel,
        path.id,
        caller.admin ? undefined : caller.client,
      );
      logger.info('Batch cancelled', { batchId: path.id, cancelled: result.cancelled.length });
      return jsonResponse(200, result);
    },

    async getUsage({ caller, query }) {
      const day = query.day ?? utcDay(deps.clock());
      // A client sees its own share next to the deployment's; an admin asks for anyone's.
      const client = caller.admin ? query.client : caller.client;
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
    request: { 'Idempotency-Key'?: string | undefined },
    context: SubmitJobContext,
  ): Promise<APIGatewayProxyStructuredResultV2> {
    const idempotencyKey = request['Idempotency-Key'];
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
  async function findJob(id: string, caller: Caller): Promise<Job> {
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
      const request = { caller, ...(await parseRequest(event, OPERATIONS[operation])) };
      // The request was parsed with this operation's own declaration: it has that one's type.
      const run = operations[operation] as (parsed: typeof request) => ReturnType<Operation<never>>;
      const response = await run(request);
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
