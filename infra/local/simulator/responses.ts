import type { ServerResponse } from 'node:http';
import { ApiError } from './api-error.ts';

/** Running totals, as `stats` reports them. */
export interface Counters {
  requests: number;
  createRequests: number;
  creates: number;
  rateLimited: number;
  serverErrors: number;
  droppedCreateResponses: number;
  responsesByStatus: Record<number, number>;
}

/** What answering needs: the counters to update and where to report unexpected errors. */
export interface ResponseContext {
  counters: Counters;
  /** Where unexpected errors (simulator bugs, answered as a bare 500) are reported. */
  logError: (error: unknown) => void;
}

/** Counts an answer by status, as `stats` reports them. */
export function countStatus(ctx: ResponseContext, status: number): void {
  const { counters } = ctx;
  counters.responsesByStatus[status] = (counters.responsesByStatus[status] ?? 0) + 1;
  if (status === 429) counters.rateLimited += 1;
  if (status >= 500) counters.serverErrors += 1;
}

/** Answers with a JSON body and an exact Content-Length. */
export function sendJson(
  ctx: ResponseContext,
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  countStatus(ctx, status);
  const json = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(json)),
  });
  res.end(json);
}

// The one place errors become responses; anything unexpected is a bare 500 with no internals.
export function sendError(ctx: ResponseContext, res: ServerResponse, error: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (!(error instanceof ApiError)) ctx.logError(error);
  const apiError =
    error instanceof ApiError
      ? error
      : new ApiError(
          500,
          {
            message: 'The server had an error while processing your request.',
            type: 'server_error',
            code: 'server_error',
          },
          { cause: error },
        );
  const headers: Record<string, string> = {};
  if (apiError.retryAfterMs !== null) {
    const ms = Math.max(1, Math.ceil(apiError.retryAfterMs));
    headers['retry-after'] = String(Math.max(1, Math.ceil(ms / 1000)));
    headers['retry-after-ms'] = String(ms);
  }
  sendJson(ctx, res, apiError.status, apiError.toEnvelope(), headers);
}
