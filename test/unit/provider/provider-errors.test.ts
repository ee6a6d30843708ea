import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import { describe, expect, it } from 'vitest';
import {
  classifyProviderError,
  ProviderAmbiguousCreateError,
  ProviderContentExpiredError,
  ProviderError,
  ProviderNotFoundError,
  type ProviderOperation,
  ProviderRateLimitedError,
  ProviderRejectedError,
  ProviderTransientError,
  parseRetryAfterSeconds,
  redactSecrets,
} from '../../../functions/shared/provider/provider-errors.ts';

function httpError(
  status: number,
  error: { message: string; code: string | null; param?: string | null; type?: string } | null,
  headers: Record<string, string> = {},
): APIError {
  const body = error
    ? { error: { type: 'invalid_request_error', param: null, ...error } }
    : undefined;
  return APIError.generate(status, body, error ? undefined : 'Bad Gateway', new Headers(headers));
}

function socketError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

/** What undici throws from fetch(): TypeError('fetch failed') wrapping the socket error. */
function connectionError(message: string, code: string): APIConnectionError {
  return new APIConnectionError({
    cause: new TypeError('fetch failed', { cause: socketError(message, code) }),
  });
}

/** Every message and stack down the cause chain, as a logger printing the error would see it. */
function causeChainText(error: unknown): string {
  const parts: string[] = [];
  let link: unknown = error;
  for (let depth = 0; link instanceof Error && depth < 10; depth++) {
    parts.push(link.message, link.stack ?? '');
    link = link.cause;
  }
  return parts.join('\n');
}

describe('classifyProviderError: HTTP answers', () => {
  it.each<[string, number, string | null, ProviderOperation, string, string, boolean]>([
    [
      '400 invalid size',
      400,
      'invalid_value',
      'create',
      'ProviderRejectedError',
      'invalid_value',
      false,
    ],
    [
      '400 moderation',
      400,
      'moderation_blocked',
      'create',
      'ProviderRejectedError',
      'moderation_blocked',
      false,
    ],
    ['422', 422, null, 'create', 'ProviderRejectedError', 'invalid_request', false],
    [
      '401 bad key',
      401,
      'invalid_api_key',
      'retrieve',
      'ProviderRejectedError',
      'invalid_api_key',
      false,
    ],
    ['401 without code', 401, null, 'retrieve', 'ProviderRejectedError', 'unauthorized', false],
    ['403', 403, null, 'create', 'ProviderRejectedError', 'forbidden', false],
    [
      '404 on create (wrong base URL)',
      404,
      'unknown_url',
      'create',
      'ProviderRejectedError',
      'unknown_url',
      false,
    ],
    [
      '404 on list without code',
      404,
      null,
      'list',
      'ProviderRejectedError',
      'endpoint_not_found',
      false,
    ],
    [
      '404 on retrieve',
      404,
      'video_not_found',
      'retrieve',
      'ProviderNotFoundError',
      'video_not_found',
      false,
    ],
    ['404 on delete', 404, null, 'delete', 'ProviderNotFoundError', 'not_found', false],
    [
      '404 on the remix source',
      404,
      'video_not_found',
      'remix',
      'ProviderNotFoundError',
      'video_not_found',
      false,
    ],
    [
      '404 video_expired',
      404,
      'video_expired',
      'download',
      'ProviderContentExpiredError',
      'video_expired',
      false,
    ],
    [
      '410 on download',
      410,
      null,
      'download',
      'ProviderContentExpiredError',
      'video_expired',
      false,
    ],
    ['408', 408, null, 'create', 'ProviderTransientError', 'request_timeout', true],
    ['409', 409, null, 'retrieve', 'ProviderTransientError', 'conflict', true],
    [
      '400 video_not_ready on download',
      400,
      'video_not_ready',
      'download',
      'ProviderTransientError',
      'video_not_ready',
      true,
    ],
    [
      '400 video_failed on download',
      400,
      'video_failed',
      'download',
      'ProviderRejectedError',
      'video_failed',
      false,
    ],
    [
      '429',
      429,
      'rate_limit_exceeded',
      'create',
      'ProviderRateLimitedError',
      'rate_limit_exceeded',
      true,
    ],
    ['429 without code', 429, null, 'list', 'ProviderRateLimitedError', 'rate_limited', true],
    [
      '429 insufficient_quota',
      429,
      'insufficient_quota',
      'create',
      'ProviderRejectedError',
      'insufficient_quota',
      false,
    ],
    [
      '500 on retrieve',
      500,
      'server_error',
      'retrieve',
      'ProviderTransientError',
      'server_error',
      true,
    ],
    [
      '503 on create (server said no)',
      503,
      'service_unavailable',
      'create',
      'ProviderTransientError',
      'service_unavailable',
      true,
    ],
    ['500 without code', 500, null, 'download', 'ProviderTransientError', 'server_error', true],
    ['502 on retrieve', 502, null, 'retrieve', 'ProviderTransientError', 'server_error', true],
    [
      '502 on create (gateway)',
      502,
      null,
      'create',
      'ProviderAmbiguousCreateError',
      'server_error',
      false,
    ],
    [
      '504 on remix (gateway)',
      504,
      null,
      'remix',
      'ProviderAmbiguousCreateError',
      'server_error',
      false,
    ],
  ])('maps %s to %s', (_label, status, code, operation, name, expectedCode, retryable) => {
    // Prepare
    const error = httpError(status, { message: 'provider says so', code });

    // Act
    const classified = classifyProviderError(error, { operation });

    // Assess
    expect(classified).toBeInstanceOf(ProviderError);
    expect(classified.name).toBe(name);
    expect(classified.constructor.name).toBe(name);
    expect(classified.code).toBe(expectedCode);
    expect(classified.retryable).toBe(retryable);
    expect(classified.status).toBe(status);
    expect(classified.operation).toBe(operation);
    expect(classified.providerMessage).toBe('provider says so');
    expect(classified.cause).toBe(error);
  });

  it('keeps the parameter the provider blamed on a rejection', () => {
    // Act
    const classified = classifyProviderError(
      httpError(400, { message: "Invalid 'size'", code: 'invalid_value', param: 'size' }),
      { operation: 'create' },
    );

    // Assess
    expect(classified).toBeInstanceOf(ProviderRejectedError);
    expect((classified as ProviderRejectedError).param).toBe('size');
    expect(classified.message).toContain('param size');
  });

  it('reads the wait from retry-after-ms on a 429 and puts it in the message', () => {
    // Act
    const classified = classifyProviderError(
      httpError(
        429,
        { message: 'slow down', code: 'rate_limit_exceeded' },
        { 'retry-after': '30', 'retry-after-ms': '2500' },
      ),
      { operation: 'create' },
    );

    // Assess
    expect(classified).toBeInstanceOf(ProviderRateLimitedError);
    expect((classified as ProviderRateLimitedError).retryAfterSeconds).toBe(3);
    expect(classified.message).toContain('retry after 3s');
  });

  it('leaves retryAfterSeconds undefined when the 429 carries no hint', () => {
    const classified = classifyProviderError(httpError(429, { message: 'x', code: null }), {
      operation: 'list',
    });
    expect((classified as ProviderRateLimitedError).retryAfterSeconds).toBeUndefined();
  });

  it('uses the raw body when a gateway answers without the JSON envelope', () => {
    // Act
    const classified = classifyProviderError(httpError(502, null), { operation: 'retrieve' });

    // Assess
    expect(classified).toBeInstanceOf(ProviderTransientError);
    expect(classified.providerMessage).toContain('Bad Gateway');
  });

  it('passes a ProviderError through unchanged', () => {
    // Prepare
    const original = new ProviderNotFoundError('gone', { code: 'not_found', providerMessage: 'x' });

    // Act & Assess
    expect(classifyProviderError(original, { operation: 'retrieve' })).toBe(original);
  });
});

describe('classifyProviderError: network failures', () => {
  it('treats a timeout on create as ambiguous: the job may exist', () => {
    const classified = classifyProviderError(new APIConnectionTimeoutError(), {
      operation: 'create',
    });
    expect(classified).toBeInstanceOf(ProviderAmbiguousCreateError);
    expect(classified.code).toBe('timeout');
    expect(classified.retryable).toBe(false);
  });

  it('treats a timeout on a safe call as transient', () => {
    const classified = classifyProviderError(new APIConnectionTimeoutError(), {
      operation: 'retrieve',
    });
    expect(classified).toBeInstanceOf(ProviderTransientError);
    expect(classified.code).toBe('timeout');
  });

  it('treats a connection reset after sending a remix as ambiguous', () => {
    const classified = classifyProviderError(
      connectionError('other side closed', 'UND_ERR_SOCKET'),
      { operation: 'remix' },
    );
    expect(classified).toBeInstanceOf(ProviderAmbiguousCreateError);
    expect(classified.code).toBe('network_error');
    expect(classified.providerMessage).toContain('other side closed');
  });

  it.each(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH'])(
    'treats %s on create as transient: nothing was sent',
    (code) => {
      const classified = classifyProviderError(connectionError(`connect ${code}`, code), {
        operation: 'create',
      });
      expect(classified).toBeInstanceOf(ProviderTransientError);
      expect(classified.code).toBe('connection_refused');
    },
  );

  it('treats a connect timeout on create as transient, though the SDK calls it a timeout', () => {
    // Prepare: the SDK wraps undici's ConnectTimeoutError in an APIConnectionTimeoutError.
    const error = Object.assign(new APIConnectionTimeoutError(), {
      cause: new TypeError('fetch failed', {
        cause: socketError('Connect Timeout Error', 'UND_ERR_CONNECT_TIMEOUT'),
      }),
    });

    // Act
    const classified = classifyProviderError(error, { operation: 'create' });

    // Assess
    expect(classified).toBeInstanceOf(ProviderTransientError);
  });

  it('finds a refused connection inside an AggregateError (IPv4 and IPv6 both tried)', () => {
    const error = new TypeError('fetch failed', {
      cause: new AggregateError([
        socketError('connect ECONNREFUSED ::1:80', 'ECONNREFUSED'),
        socketError('connect ECONNREFUSED 127.0.0.1:80', 'ECONNREFUSED'),
      ]),
    });
    const classified = classifyProviderError(error, { operation: 'create' });
    expect(classified).toBeInstanceOf(ProviderTransientError);
  });

  it('treats an aborted create as ambiguous', () => {
    const classified = classifyProviderError(new APIUserAbortError(), { operation: 'create' });
    expect(classified).toBeInstanceOf(ProviderAmbiguousCreateError);
    expect(classified.code).toBe('aborted');
  });

  it('treats a body that breaks off during a download as transient', () => {
    const error = new TypeError('terminated', {
      cause: socketError('other side closed', 'UND_ERR_SOCKET'),
    });
    const classified = classifyProviderError(error, { operation: 'download' });
    expect(classified).toBeInstanceOf(ProviderTransientError);
    expect(classified.retryable).toBe(true);
  });

  it('treats an undici body timeout on a download as a transient timeout', () => {
    const error = new TypeError('terminated', {
      cause: socketError('Body Timeout Error', 'UND_ERR_BODY_TIMEOUT'),
    });
    const classified = classifyProviderError(error, { operation: 'download' });
    expect(classified).toBeInstanceOf(ProviderTransientError);
    expect(classified.code).toBe('timeout');
  });
});

describe('classifyProviderError: secrets', () => {
  const apiKey = 'sk-proj-abcdefghijklmnopqrstuvwxyz0123456789';

  it('keeps the API key out of message, providerMessage and cause', () => {
    // Prepare
    const error = httpError(401, {
      message: `Incorrect API key provided: ${apiKey}. You can find your key in the dashboard.`,
      code: 'invalid_api_key',
    });

    // Act
    const classified = classifyProviderError(error, { operation: 'create', secrets: [apiKey] });

    // Assess
    expect(classified).toBeInstanceOf(ProviderRejectedError);
    expect(classified.message).not.toContain(apiKey);
    expect(classified.providerMessage).not.toContain(apiKey);
    expect(classified.providerMessage).toContain('[REDACTED]');
    expect(causeChainText(classified)).not.toContain(apiKey);
    expect(JSON.stringify(classified)).not.toContain(apiKey);
    expect(classified.stack).not.toContain(apiKey);
  });

  it('masks key-shaped tokens even when the key itself is not known', () => {
    const classified = classifyProviderError(
      httpError(401, { message: 'Incorrect API key provided: sk-abc****wxyz.', code: null }),
      { operation: 'retrieve' },
    );
    expect(classified.providerMessage).not.toContain('wxyz');
  });

  it('keeps the key out of network error messages too', () => {
    const error = new TypeError('fetch failed', {
      cause: socketError(`weird proxy error with Bearer ${apiKey}`, 'ECONNRESET'),
    });
    const classified = classifyProviderError(error, { operation: 'retrieve', secrets: [apiKey] });
    expect(classified.message).not.toContain(apiKey);
    expect(causeChainText(classified)).not.toContain(apiKey);
  });
});

describe('parseRetryAfterSeconds', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');

  it.each<[string, Record<string, string>, number | undefined]>([
    ['delta seconds', { 'Retry-After': '7' }, 7],
    ['fractional seconds, rounded up', { 'retry-after': '1.2' }, 2],
    ['milliseconds, preferred over seconds', { 'retry-after': '9', 'retry-after-ms': '1001' }, 2],
    ['an HTTP date', { 'retry-after': 'Thu, 01 Jan 2026 00:00:05 GMT' }, 5],
    ['a date in the past', { 'retry-after': 'Wed, 31 Dec 2025 23:59:00 GMT' }, 0],
    ['garbage', { 'retry-after': 'soon' }, undefined],
    ['no header', {}, undefined],
  ])('reads %s', (_label, headers, expected) => {
    expect(parseRetryAfterSeconds(headers, now)).toBe(expected);
    expect(parseRetryAfterSeconds(new Headers(headers), now)).toBe(expected);
  });
});

describe('redactSecrets', () => {
  it('removes known secrets, key-shaped tokens and bearer tokens', () => {
    const text = 'key my-secret-value, sk-live-1234567 and Authorization: Bearer abc.def';
    const redacted = redactSecrets(text, ['my-secret-value']);
    expect(redacted).toBe('key [REDACTED], sk-[REDACTED] and Authorization: Bearer [REDACTED]');
  });
});

describe('error classes', () => {
  it.each([
    [ProviderRateLimitedError, true],
    [ProviderTransientError, true],
    [ProviderRejectedError, false],
    [ProviderNotFoundError, false],
    [ProviderContentExpiredError, false],
    [ProviderAmbiguousCreateError, false],
  ] as const)(
    '%o sets its name (the state machine matches on it) and keeps the cause',
    (Type, retryable) => {
      // Prepare
      const cause = new Error('root');

      // Act
      const error = new Type('boom', { code: 'c', providerMessage: 'p' }, { cause });

      // Assess
      expect(error.name).toBe(Type.name);
      expect(error.retryable).toBe(retryable);
      expect(error.cause).toBe(cause);
      expect(error).toBeInstanceOf(Error);
    },
  );
});
