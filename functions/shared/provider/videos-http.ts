// The error classes alone ('openai/error' is standalone and small): provider-errors.ts
// classifies them, so this client throws exactly what the openai SDK threw before.
import {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
} from 'openai/error';

/**
 * A small fetch-based client for the /v1/videos protocol. It replaces the openai SDK in the
 * Lambda bundles (the SDK is ~385 KB for the handful of calls below) and keeps its transport
 * behaviour:
 *
 * - `Authorization: Bearer <apiKey>` on every request, or `api-key: <apiKey>` (and no bearer
 *   token) with `authHeader: 'api-key'` (Azure OpenAI's v1 API);
 * - `timeoutMs` per attempt, up to the response headers (a download's body is guarded by
 *   content-stream.ts instead); a timeout throws APIConnectionTimeoutError;
 * - up to `maxRetries` retries of a connection error, timeout, 408, 409, 429 or 5xx (or as the
 *   `x-should-retry` header says), waiting `retry-after-ms` / `Retry-After` when under a minute,
 *   else 0.5 s doubling up to 8 s with up to 25% jitter; a call can pass `maxRetries: 0`;
 * - an error answer becomes `APIError.generate(status, body, message, headers)`, a failed fetch
 *   an APIConnectionError with the fetch error as `cause`.
 */

export interface VideosHttpOptions {
  apiKey: string;
  /** Where the key goes: `Authorization: Bearer` (default) or Azure's `api-key` header. */
  authHeader?: 'authorization' | 'api-key' | undefined;
  /** Base URL including the version prefix, e.g. https://api.openai.com/v1. */
  baseUrl: string;
  timeoutMs: number;
  maxRetries: number;
  fetch?: typeof fetch | undefined;
}

export interface RequestOptions {
  method: 'GET' | 'POST' | 'DELETE';
  /** Path under the base URL, e.g. `/videos/abc`. */
  path: string;
  query?: Record<string, string | number | undefined> | undefined;
  /** A JSON value, or a FormData sent as multipart/form-data. */
  body?: unknown;
  headers?: Record<string, string> | undefined;
  /** Overrides the client's retries (0 for calls that start a paid job). */
  maxRetries?: number | undefined;
}

const MAX_HONOURED_RETRY_AFTER_MS = 60_000;

export class VideosHttp {
  readonly #options: VideosHttpOptions;
  readonly #fetch: typeof fetch;

  constructor(options: VideosHttpOptions) {
    this.#options = options;
    this.#fetch = options.fetch ?? fetch;
  }

  /** Sends the request and parses the JSON answer. */
  async json<T>(request: RequestOptions): Promise<T> {
    const response = await this.send(request);
    return (await response.json()) as T;
  }

  /** Sends the request with retries; resolves with a 2xx response whose body is unread. */
  async send(request: RequestOptions): Promise<Response> {
    const maxRetries = request.maxRetries ?? this.#options.maxRetries;
    for (let retry = 0; ; retry++) {
      const retriesLeft = retry < maxRetries;
      let response: Response;
      try {
        response = await this.#attempt(request);
      } catch (error) {
        if (!retriesLeft || error instanceof APIUserAbortError) throw error;
        await sleep(defaultDelayMs(retry));
        continue;
      }
      if (response.ok) return response;
      if (retriesLeft && shouldRetry(response)) {
        await response.body?.cancel().catch(() => {});
        await sleep(retryDelayMs(response.headers, retry));
        continue;
      }
      throw await toStatusError(response);
    }
  }

  async #attempt(request: RequestOptions): Promise<Response> {
    const headers: Record<string, string> = {
      Accept: 'application/json',
      ...(this.#options.authHeader === 'api-key'
        ? { 'api-key': this.#options.apiKey }
        : { Authorization: `Bearer ${this.#options.apiKey}` }),
      ...request.headers,
    };
    let body: FormData | string | undefined;
    if (request.body instanceof FormData) {
      body = request.body; // fetch sets the multipart Content-Type with its boundary
    } else if (request.body !== undefined) {
      body = JSON.stringify(request.body);
      headers['Content-Type'] = 'application/json';
    }
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.#options.timeoutMs);
    try {
      return await this.#fetch(this.#url(request), {
        method: request.method,
        headers,
        body,
        signal: controller.signal,
      });
    } catch (error) {
      if (controller.signal.aborted) throw new APIConnectionTimeoutError();
      throw new APIConnectionError({ cause: error as Error });
    } finally {
      clearTimeout(timer);
    }
  }

  #url(request: RequestOptions): string {
    const url = new URL(`${this.#options.baseUrl.replace(/\/+$/, '')}${request.path}`);
    for (const [name, value] of Object.entries(request.query ?? {})) {
      if (value !== undefined) url.searchParams.set(name, String(value));
    }
    return url.toString();
  }
}

/** Encodes a path segment (a video id) as the SDK's path`` template did. */
export function segment(value: string): string {
  return encodeURIComponent(value);
}

function shouldRetry(response: Response): boolean {
  const header = response.headers.get('x-should-retry');
  if (header === 'true') return true;
  if (header === 'false') return false;
  const { status } = response;
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/** The provider's wait when it gave one under a minute, else the default backoff. */
function retryDelayMs(headers: Headers, retry: number): number {
  let wait: number | undefined;
  const millis = headers.get('retry-after-ms');
  if (millis) {
    const value = Number.parseFloat(millis);
    if (!Number.isNaN(value)) wait = value;
  }
  const retryAfter = headers.get('retry-after');
  if (retryAfter && wait === undefined) {
    const seconds = Number.parseFloat(retryAfter);
    wait = Number.isNaN(seconds) ? Date.parse(retryAfter) - Date.now() : seconds * 1000;
  }
  if (
    wait === undefined ||
    !Number.isFinite(wait) ||
    wait < 0 ||
    wait > MAX_HONOURED_RETRY_AFTER_MS
  ) {
    return defaultDelayMs(retry);
  }
  return wait;
}

/** 0.5 s, 1 s, 2 s ... up to 8 s, minus up to 25% jitter. */
function defaultDelayMs(retry: number): number {
  const seconds = Math.min(0.5 * 2 ** retry, 8);
  return seconds * (1 - Math.random() * 0.25) * 1000;
}

async function toStatusError(response: Response): Promise<APIError> {
  const text = await response.text().catch(() => '');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return APIError.generate(
    response.status,
    json as object | undefined,
    json === undefined ? text : undefined,
    response.headers,
  );
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
