// The error classes alone ('openai/error'): importing them from 'openai' bundles the whole SDK.
import { APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai/error';

/**
 * The provider errors the workflow acts on. What each `name` means (retried, resumed, recorded,
 * alarmed) is in the error catalogue, functions/shared/errors/error-policy.ts: renaming one is a
 * breaking change to the state machine.
 */

export type ProviderOperation = 'create' | 'remix' | 'retrieve' | 'list' | 'delete' | 'download';

/** Calls that start a paid job: a blind retry can start a second one. */
const UNSAFE_OPERATIONS: ReadonlySet<ProviderOperation> = new Set(['create', 'remix']);

/**
 * Socket error codes raised before any request byte reaches the server (DNS, refused or
 * unreachable connect, connect timeout). Retrying those cannot duplicate a job.
 */
const NOT_SENT_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** Gateway answers that say nothing about whether the upstream processed the request. */
const AMBIGUOUS_CREATE_STATUSES: ReadonlySet<number> = new Set([502, 504]);

const MAX_PROVIDER_MESSAGE_LENGTH = 500;

export interface ProviderErrorFields {
  /** Machine-readable code: the provider's `error.code` when it sent one, else ours. */
  code: string;
  /** The provider's message (or the network error's), secrets redacted. */
  providerMessage: string;
  status?: number | undefined;
  operation?: ProviderOperation | undefined;
  requestId?: string | undefined;
}

export abstract class ProviderError extends Error {
  abstract readonly retryable: boolean;
  readonly code: string;
  readonly providerMessage: string;
  readonly status: number | undefined;
  readonly operation: ProviderOperation | undefined;
  readonly requestId: string | undefined;

  constructor(message: string, fields: ProviderErrorFields, options?: ErrorOptions) {
    super(message, options);
    this.code = fields.code;
    this.providerMessage = fields.providerMessage;
    this.status = fields.status;
    this.operation = fields.operation;
    this.requestId = fields.requestId;
  }
}

/** 429: retry after `retryAfterSeconds` when the provider said how long to wait. */
export class ProviderRateLimitedError extends ProviderError {
  override readonly name = 'ProviderRateLimitedError';
  readonly retryable = true;
  readonly retryAfterSeconds: number | undefined;

  constructor(
    message: string,
    fields: ProviderErrorFields & { retryAfterSeconds?: number | undefined },
    options?: ErrorOptions,
  ) {
    super(message, fields, options);
    this.retryAfterSeconds = fields.retryAfterSeconds;
  }
}

/** 5xx, network failure, timeout on a safe call, truncated or dropped download: retry. */
export class ProviderTransientError extends ProviderError {
  override readonly name = 'ProviderTransientError';
  readonly retryable = true;
}

/** 400/422, moderation, invalid parameters, bad key or quota: retrying cannot help. */
export class ProviderRejectedError extends ProviderError {
  override readonly name = 'ProviderRejectedError';
  readonly retryable = false;
  /** The request parameter the provider blamed, when it named one. */
  readonly param: string | undefined;

  constructor(
    message: string,
    fields: ProviderErrorFields & { param?: string | undefined },
    options?: ErrorOptions,
  ) {
    super(message, fields, options);
    this.param = fields.param;
  }
}

/** 404 on a video (or on its source video for a remix). */
export class ProviderNotFoundError extends ProviderError {
  override readonly name = 'ProviderNotFoundError';
  readonly retryable = false;
}

/** Content asked for after its `expires_at`: it is gone for good. */
export class ProviderContentExpiredError extends ProviderError {
  override readonly name = 'ProviderContentExpiredError';
  readonly retryable = false;
}

/**
 * A create (or remix) whose outcome is unknown: it timed out or lost its connection after the
 * request was sent, so the provider may have started a paid job. Reconcile (findCreatedJob)
 * before creating again.
 */
export class ProviderAmbiguousCreateError extends ProviderError {
  override readonly name = 'ProviderAmbiguousCreateError';
  readonly retryable = false;
}

export interface ClassifyOptions {
  operation: ProviderOperation;
  /** Values that must never appear in a message (the API key). */
  secrets?: readonly string[] | undefined;
}

/**
 * Maps an openai SDK error, a fetch/network error or a stream error to a ProviderError.
 * ProviderErrors pass through unchanged.
 */
export function classifyProviderError(error: unknown, options: ClassifyOptions): ProviderError {
  if (error instanceof ProviderError) return error;
  const { operation } = options;
  const secrets = options.secrets ?? [];
  const cause = safeCause(error, secrets);
  const unsafe = UNSAFE_OPERATIONS.has(operation);

  if (error instanceof APIError && typeof error.status === 'number') {
    return classifyStatus(error, error.status, options, cause);
  }

  const networkMessage = redactSecrets(describeNetworkError(error), secrets);
  const fields = { providerMessage: networkMessage, operation };
  if (findErrorCode(error, NOT_SENT_CODES)) {
    return new ProviderTransientError(
      `${operation}: could not reach the provider (nothing was sent): ${networkMessage}`,
      { ...fields, code: 'connection_refused' },
      { cause },
    );
  }
  const timedOut = isTimeout(error);
  const code =
    error instanceof APIUserAbortError ? 'aborted' : timedOut ? 'timeout' : 'network_error';
  if (unsafe) {
    return new ProviderAmbiguousCreateError(
      `${operation}: ${timedOut ? 'timed out' : 'lost the connection'} after the request was sent; the provider may have created the job: ${networkMessage}`,
      { ...fields, code },
      { cause },
    );
  }
  return new ProviderTransientError(
    `${operation}: ${timedOut ? 'timed out' : 'network error'}: ${networkMessage}`,
    { ...fields, code },
    { cause },
  );
}

/** What the status rules see of one HTTP error answer. */
interface StatusContext {
  status: number;
  operation: ProviderOperation;
  /** The provider's `error.code`, when it sent one. */
  providerCode: string | undefined;
  param: string | undefined;
  fields: Omit<ProviderErrorFields, 'code'>;
  headers: Headers | undefined;
  cause: unknown;
  /** `<operation>: <what> (<status> <code>[, param <param>]): <provider message>` */
  summary(what: string, code: string): string;
}

interface StatusRule {
  /** Why the rule exists, for a reader of the table. */
  name: string;
  matches(context: StatusContext): boolean;
  error(context: StatusContext): ProviderError;
}

/** Whatever no other rule claims: the provider refused the request; retrying cannot help. */
const REJECTED: StatusRule = {
  name: 'rejected',
  matches: () => true,
  error: (c) => {
    const code = c.providerCode ?? defaultRejectedCode(c.status);
    return new ProviderRejectedError(
      c.summary('rejected by the provider', code),
      { ...c.fields, code, param: c.param },
      { cause: c.cause },
    );
  },
};

/**
 * How an HTTP error answer is classified: the first rule that matches decides. The order is
 * the policy: a quota 429 before any 429, an ambiguous create before other 5xx, "asked to retry"
 * and "expired" before the 404/410 of a missing video, and "rejected" for everything else.
 */
const STATUS_RULES: readonly StatusRule[] = [
  {
    // OpenAI answers 429 for an exhausted quota too; waiting does not refill it.
    name: 'quota exhausted',
    matches: (c) => c.status === 429 && c.providerCode === 'insufficient_quota',
    error: (c) =>
      new ProviderRejectedError(
        c.summary('quota exhausted', 'insufficient_quota'),
        { ...c.fields, code: 'insufficient_quota', param: c.param },
        { cause: c.cause },
      ),
  },
  {
    name: 'rate limited',
    matches: (c) => c.status === 429,
    error: (c) => {
      const code = c.providerCode ?? 'rate_limited';
      const retryAfterSeconds = parseRetryAfterSeconds(c.headers);
      const wait = retryAfterSeconds === undefined ? '' : `; retry after ${retryAfterSeconds}s`;
      return new ProviderRateLimitedError(
        `${c.summary('rate limited', code)}${wait}`,
        { ...c.fields, code, retryAfterSeconds },
        { cause: c.cause },
      );
    },
  },
  {
    // A gateway failure says nothing about whether the upstream started the paid job.
    name: 'ambiguous create',
    matches: (c) =>
      c.status >= 500 &&
      UNSAFE_OPERATIONS.has(c.operation) &&
      AMBIGUOUS_CREATE_STATUSES.has(c.status),
    error: (c) => {
      const code = c.providerCode ?? 'server_error';
      return new ProviderAmbiguousCreateError(
        c.summary('gateway failure; the provider may have created the job', code),
        { ...c.fields, code },
        { cause: c.cause },
      );
    },
  },
  {
    name: 'provider error',
    matches: (c) => c.status >= 500,
    error: (c) => {
      const code = c.providerCode ?? 'server_error';
      return new ProviderTransientError(
        c.summary('provider error', code),
        { ...c.fields, code },
        { cause: c.cause },
      );
    },
  },
  {
    // 408: the server gave up waiting for our request; 409: a conflicting request (e.g. the same
    // Idempotency-Key) is still in flight; video_not_ready: content (or a remix source) asked
    // for a moment too early. All are worth another try.
    name: 'provider asked to retry',
    matches: (c) => c.status === 408 || c.status === 409 || c.providerCode === 'video_not_ready',
    error: (c) => {
      const code = c.providerCode ?? (c.status === 408 ? 'request_timeout' : 'conflict');
      return new ProviderTransientError(
        c.summary('provider asked to retry', code),
        { ...c.fields, code },
        { cause: c.cause },
      );
    },
  },
  {
    name: 'content expired',
    matches: (c) =>
      (c.providerCode !== undefined && /expired/i.test(c.providerCode)) ||
      (c.status === 410 && c.operation === 'download'),
    error: (c) => {
      const code = c.providerCode ?? 'video_expired';
      return new ProviderContentExpiredError(
        c.summary('content expired', code),
        { ...c.fields, code },
        { cause: c.cause },
      );
    },
  },
  {
    // A 404 on create or list means the endpoint is missing (wrong base URL): a configuration
    // fault, not a missing video; the last rule rejects it.
    name: 'not found',
    matches: (c) =>
      (c.status === 404 || c.status === 410) && c.operation !== 'create' && c.operation !== 'list',
    error: (c) => {
      const code = c.providerCode ?? 'not_found';
      return new ProviderNotFoundError(
        c.summary('not found', code),
        { ...c.fields, code },
        { cause: c.cause },
      );
    },
  },
  REJECTED,
];

function classifyStatus(
  error: APIError,
  status: number,
  options: ClassifyOptions,
  cause: unknown,
): ProviderError {
  const { operation } = options;
  const secrets = options.secrets ?? [];
  const body = errorBody(error.error);
  const providerMessage = truncate(redactSecrets(body.message ?? error.message, secrets));
  const providerCode = body.code ?? (typeof error.code === 'string' ? error.code : undefined);
  const param = body.param ?? (typeof error.param === 'string' ? error.param : undefined);
  const context: StatusContext = {
    status,
    operation,
    providerCode,
    param,
    fields: { providerMessage, status, operation, requestId: error.requestID ?? undefined },
    headers: error.headers,
    cause,
    summary: (what, code) =>
      `${operation}: ${what} (${status} ${code}${param ? `, param ${param}` : ''}): ${providerMessage}`,
  };
  return (STATUS_RULES.find((rule) => rule.matches(context)) ?? REJECTED).error(context);
}

function defaultRejectedCode(status: number): string {
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'endpoint_not_found';
  return 'invalid_request';
}

/**
 * Seconds to wait from `retry-after-ms` (preferred, as the openai SDK does) or `Retry-After`
 * (delta-seconds or an HTTP date), rounded up to whole seconds.
 */
export function parseRetryAfterSeconds(
  headers: Headers | Readonly<Record<string, string | undefined>> | undefined,
  now: number = Date.now(),
): number | undefined {
  if (!headers) return undefined;
  const get = (name: string) =>
    headers instanceof Headers ? (headers.get(name) ?? undefined) : headerValue(headers, name);
  const millis = get('retry-after-ms');
  if (millis !== undefined && millis.trim() !== '') {
    const value = Number(millis);
    if (Number.isFinite(value) && value >= 0) return Math.ceil(value / 1000);
  }
  const retryAfter = get('retry-after')?.trim();
  if (!retryAfter) return undefined;
  if (/^\d+(\.\d+)?$/.test(retryAfter)) return Math.ceil(Number(retryAfter));
  const date = Date.parse(retryAfter);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - now) / 1000));
}

function headerValue(
  headers: Readonly<Record<string, string | undefined>>,
  name: string,
): string | undefined {
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name) return value;
  }
  return undefined;
}

const KEY_LIKE = /\b(sk|sess|rk)-[A-Za-z0-9_*.-]{4,}/g;
const BEARER = /\bBearer\s+\S+/gi;

/** Removes the given secrets and anything shaped like an API key or bearer token. */
export function redactSecrets(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.split(secret).join('[REDACTED]');
  }
  return out.replace(KEY_LIKE, '$1-[REDACTED]').replace(BEARER, 'Bearer [REDACTED]');
}

/**
 * The original error is kept as `cause` for debugging unless some message in its chain carries
 * a secret; then a redacted stand-in takes its place.
 */
function safeCause(error: unknown, secrets: readonly string[]): unknown {
  const leaks = errorChain(error).some((link) => {
    const text = `${link.message} ${link.stack ?? ''}`;
    return redactSecrets(text, secrets) !== text;
  });
  if (!leaks || !(error instanceof Error)) return error;
  const standIn = new Error(redactSecrets(error.message, secrets));
  standIn.name = error.name;
  return standIn;
}

function errorChain(error: unknown): Error[] {
  const chain: Error[] = [];
  const pending: unknown[] = [error];
  while (pending.length > 0 && chain.length < 10) {
    const next = pending.shift();
    if (!(next instanceof Error) || chain.includes(next)) continue;
    chain.push(next);
    pending.push(next.cause);
    if (next instanceof AggregateError) pending.push(...next.errors);
  }
  return chain;
}

function findErrorCode(error: unknown, codes: ReadonlySet<string>): string | undefined {
  for (const link of errorChain(error)) {
    const code = 'code' in link ? link.code : undefined;
    if (typeof code === 'string' && codes.has(code)) return code;
  }
  return undefined;
}

function isTimeout(error: unknown): boolean {
  return error instanceof APIConnectionTimeoutError || errorChain(error).some(isTimeoutLink);
}

function isTimeoutLink(link: Error): boolean {
  const code = 'code' in link ? link.code : undefined;
  return (
    link.name === 'TimeoutError' ||
    code === 'ETIMEDOUT' ||
    code === 'UND_ERR_HEADERS_TIMEOUT' ||
    code === 'UND_ERR_BODY_TIMEOUT'
  );
}

/** The most specific message in the chain: "fetch failed" says less than "other side closed". */
function describeNetworkError(error: unknown): string {
  const chain = errorChain(error);
  if (chain.length === 0) return truncate(String(error));
  const parts = chain.map((link) => {
    const code = 'code' in link && typeof link.code === 'string' ? ` [${link.code}]` : '';
    return `${link.message}${code}`;
  });
  return truncate(parts.join(' <- '));
}

function errorBody(body: unknown): { message?: string; code?: string; param?: string } {
  if (typeof body !== 'object' || body === null) return {};
  const record = body as Record<string, unknown>;
  const pick = (key: string) => {
    const value = record[key];
    return typeof value === 'string' ? value : undefined;
  };
  return { message: pick('message'), code: pick('code'), param: pick('param') };
}

function truncate(text: string): string {
  return text.length > MAX_PROVIDER_MESSAGE_LENGTH
    ? `${text.slice(0, MAX_PROVIDER_MESSAGE_LENGTH)}...`
    : text;
}
