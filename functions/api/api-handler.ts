import type { Logger } from '@aws-lambda-powertools/logger';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
} from 'aws-lambda';
import { JOB_STATUSES, type JobStatus } from '../shared/jobs/job.ts';
import {
  JobNotCompletedError,
  JobNotFoundError,
  JobStartFailedError,
  ValidationError,
} from '../shared/jobs/job-errors.ts';
import { isJobId } from '../shared/jobs/job-id.ts';
import { decodeUtf8 } from '../shared/jobs/prompt-text.ts';
import { type SubmitJobDeps, submitJob } from '../shared/jobs/submit-job.ts';
import { isUtcDay, utcDay } from '../shared/limits/limits-table.ts';
import type { UsageReport } from '../shared/limits/usage-report.ts';
import { loggableError } from '../shared/observability/loggable-error.ts';
import {
  ContentNotFoundError,
  MethodNotAllowedError,
  PayloadTooLargeError,
  RouteNotFoundError,
  UnsupportedMediaTypeError,
} from './api-errors.ts';
import type { ContentLink } from './content-link.ts';
import { describeError, errorResponse } from './error-response.ts';
import { jsonResponse } from './json-response.ts';
import {
  CONTENT_VARIANTS,
  type ContentVariant,
  contentKey,
  jobPath,
  toPublicJob,
} from './public-job.ts';

/** Bodies are a prompt and a few fields: 16 KiB leaves room for a 4000-character prompt in UTF-8. */
export const MAX_BODY_BYTES = 16 * 1024;
export const DEFAULT_PAGE_SIZE = 20;
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
  logger: ApiLogger;
}

export type ApiHandler = (
  event: APIGatewayProxyEventV2,
  context?: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

type RouteHandler = (
  event: APIGatewayProxyEventV2,
  pathParameter: string | undefined,
) => Promise<APIGatewayProxyStructuredResultV2>;

interface Route {
  name: string;
  path: RegExp;
  methods: Readonly<Record<string, RouteHandler>>;
}

/**
 * The HTTP API (payload v2) in one function: a small router over the request path, each route a
 * few lines that parse the request, call the use case or the store, and shape the response.
 * Every error goes through `errorResponse`.
 */
export function createApiHandler(deps: ApiDeps): ApiHandler {
  const { store, logger } = deps;

  const createVideo: RouteHandler = async (event) => {
    const body = readJsonBody(event);
    const idempotencyKey = readIdempotencyKey(event);
    const context =
      idempotencyKey === undefined
        ? { source: 'api' as const }
        : { source: 'api' as const, idempotencyKey };
    const { job, created } = await submitJob(body, context, deps);
    logger.appendKeys({ jobId: job.jobId });
    logger.info(created ? 'Video job created' : 'Video job replayed', {
      model: job.model,
      size: job.size,
      seconds: job.seconds,
      deferred: job.deferred,
    });
    const headers: Record<string, string> = { Location: jobPath(job.jobId) };
    if (!created) headers['Idempotent-Replayed'] = 'true';
    return jsonResponse(created ? 202 : 200, toPublicJob(job), headers);
  };

  const listVideos: RouteHandler = async (event) => {
    const query = event.queryStringParameters ?? {};
    const page = await store.list({
      status: parseStatus(query.status),
      limit: parseLimit(query.limit),
      cursor: query.cursor === undefined || query.cursor === '' ? undefined : query.cursor,
    });
    return jsonResponse(200, {
      videos: page.jobs.map(toPublicJob),
      nextCursor: page.nextCursor ?? null,
    });
  };

  const getVideo: RouteHandler = async (_event, id) => {
    const job = await findJob(id);
    return jsonResponse(200, toPublicJob(job));
  };

  const getContent: RouteHandler = async (event, id) => {
    const variant = parseVariant(event.queryStringParameters?.variant);
    const job = await findJob(id);
    if (job.status !== 'COMPLETED') {
      throw new JobNotCompletedError(`Job ${job.jobId} is ${job.status}`);
    }
    const key = contentKey(job, variant);
    if (key === undefined) throw new ContentNotFoundError(`Job ${job.jobId} has no ${variant}`);
    const url = await deps.contentLink(key);
    return { statusCode: 302, headers: { Location: url, 'Cache-Control': 'no-store' } };
  };

  const getUsage: RouteHandler = async (event) => {
    const day = parseDay(event.queryStringParameters?.day, deps.clock());
    return jsonResponse(200, await deps.usage(day));
  };

  const routes: readonly Route[] = [
    { name: '/videos', path: /^\/videos$/, methods: { GET: listVideos, POST: createVideo } },
    { name: '/videos/{id}', path: /^\/videos\/([^/]+)$/, methods: { GET: getVideo } },
    {
      name: '/videos/{id}/content',
      path: /^\/videos\/([^/]+)\/content$/,
      methods: { GET: getContent },
    },
    { name: '/usage', path: /^\/usage$/, methods: { GET: getUsage } },
  ];

  async function findJob(id: string | undefined) {
    if (id === undefined || !isJobId(id)) throw new JobNotFoundError('No job with this id');
    logger.appendKeys({ jobId: id });
    const job = await store.get(id);
    if (job === undefined) throw new JobNotFoundError(`Job ${id} not found`);
    return job;
  }

  return async (event, context) => {
    logger.resetKeys();
    if (context !== undefined) logger.addContext(context);
    const method = event.requestContext.http.method.toUpperCase();
    const path = requestPath(event);
    let route = '(none)';
    try {
      const match = matchRoute(routes, method, path);
      route = match.route;
      const response = await match.handler(event, match.pathParameter);
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

function matchRoute(routes: readonly Route[], method: string, path: string) {
  for (const route of routes) {
    const match = route.path.exec(path);
    if (match === null) continue;
    const handler = route.methods[method];
    if (handler === undefined) throw new MethodNotAllowedError(Object.keys(route.methods));
    return { route: route.name, handler, pathParameter: decodePathParameter(match[1]) };
  }
  throw new RouteNotFoundError(`No route for ${method} ${path}`);
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

function decodePathParameter(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

function header(event: APIGatewayProxyEventV2, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === wanted) return value;
  }
  return undefined;
}

function readJsonBody(event: APIGatewayProxyEventV2): unknown {
  requireJsonContentType(header(event, 'Content-Type'));
  const raw = event.body ?? '';
  const bytes = event.isBase64Encoded ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8');
  if (bytes.byteLength > MAX_BODY_BYTES) {
    throw new PayloadTooLargeError(`Body is over ${MAX_BODY_BYTES} bytes`);
  }
  // Refused as the drop folder refuses a file: a lenient decode would store U+FFFD instead.
  const text = decodeUtf8(bytes);
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

function parseVariant(value: string | undefined): ContentVariant {
  if (value === undefined || value === '') return 'video';
  const variant = CONTENT_VARIANTS.find((candidate) => candidate === value);
  if (variant === undefined) {
    throw new ValidationError('variant', `variant: must be one of ${CONTENT_VARIANTS.join(', ')}`);
  }
  return variant;
}
