import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { isJobId } from '../../functions/shared/jobs/job-id.ts';
import type { ApiTarget } from './api-target.ts';

/** The API answered with an error: its status, code and message. */
export class ApiError extends Error {
  override name = 'ApiError';
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** The fields of a video the CLI shows (the API's Video; see the OpenAPI document). */
export interface Video {
  id: string;
  status: string;
  client: string;
  prompt: string;
  model: string;
  size: string;
  seconds: string;
  progress: number;
  createdAt: string;
  /** Absent from an API older than fair admission (issue 23). */
  priority?: string;
  startTimeoutSeconds?: number;
  startedAt?: string;
  /** GET /videos/{id} of a job waiting for a slot: its place in line and ETA. */
  queue?: { position: number; etaSeconds: number | null };
  /** GET /videos/{id} of a running job: seconds until it is expected done (null: unknown). */
  etaSeconds?: number | null;
  batchId?: string;
  remixOf?: string;
  video?: { bytes: number; sha256: string };
  error?: { code: string; message: string };
}

/** A small client of the HTTP API: JSON in and out, errors as ApiError with the API's message. */
export class ApiClient {
  readonly #target: ApiTarget;

  constructor(target: ApiTarget) {
    this.#target = target;
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { ...this.#target.headers };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await this.#fetch(path, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (!response.ok) throw apiError(response.status, json, this.#target);
    return json as T;
  }

  /**
   * Downloads a completed video into `dir/<id>.mp4`: follows the API's redirect to the presigned
   * link without the token, streams to a `.part` file while hashing, and keeps the file only if
   * its sha256 matches the job's. `signal` stops it; the partial file is removed.
   */
  async download(
    video: Video,
    dir: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<string> {
    const signal = options.signal ? { signal: options.signal } : {};
    // The id names the file: one that is not a job id (`../x`, `/etc/...`) from a broken or
    // hostile API would write outside `dir`.
    if (!isJobId(video.id)) {
      throw new ApiError(0, 'invalid_response', `the API answered a video id that is not a job id`);
    }
    let response = await this.#fetch(`/videos/${encodeURIComponent(video.id)}/content`, {
      headers: this.#target.headers,
      redirect: 'manual',
      ...signal,
    });
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location) {
      await response.arrayBuffer();
      response = await fetch(location, signal);
    } else if (!response.ok) {
      throw apiError(response.status, await response.json().catch(() => undefined), this.#target);
    }
    if (!response.ok || !response.body) {
      throw new ApiError(
        response.status,
        'download_failed',
        `the download answered ${response.status}`,
      );
    }
    await mkdir(dir, { recursive: true });
    const file = join(dir, `${video.id}.mp4`);
    const partial = `${file}.part`;
    const hash = createHash('sha256');
    const hashing = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        callback(null, chunk);
      },
    });
    try {
      await pipeline(
        Readable.fromWeb(response.body as WebReadableStream),
        hashing,
        createWriteStream(partial),
        ...(options.signal ? [{ signal: options.signal }] : []),
      );
    } catch (error) {
      await rm(partial, { force: true });
      throw error;
    }
    const sha256 = hash.digest('hex');
    if (video.video?.sha256 && sha256 !== video.video.sha256) {
      await rm(partial, { force: true });
      throw new ApiError(
        0,
        'checksum_mismatch',
        `the download's sha256 ${sha256} is not the video's`,
      );
    }
    await rename(partial, file);
    return file;
  }

  #fetch(path: string, init: RequestInit): Promise<Response> {
    return fetch(`${this.#target.apiUrl}${path}`, init).catch((error: unknown) => {
      const cause =
        error instanceof Error && error.cause instanceof Error ? error.cause.message : '';
      throw new ApiError(
        0,
        'unreachable',
        `cannot reach ${this.#target.description}${cause ? `: ${cause}` : ''}`,
      );
    });
  }
}

/**
 * The API's refusal as an ApiError with its message. A 401 or 403 is API Gateway's (its
 * authorizer refused the token; the function never answers them): it says which token to check.
 */
export function apiError(
  status: number,
  body: unknown,
  target: Pick<ApiTarget, 'tokenSource'>,
): ApiError {
  const error = (
    body as { error?: { code?: string; message?: string; field?: string } } | undefined
  )?.error;
  const gateway = (body as { message?: string } | undefined)?.message;
  if ((status === 401 || status === 403) && error === undefined) {
    return new ApiError(
      status,
      status === 401 ? 'unauthorized' : 'forbidden',
      `the API refused the token (${status}${gateway ? ` ${gateway}` : ''}): check ${target.tokenSource}`,
    );
  }
  const message = error?.message ?? gateway ?? `the API answered ${status}`;
  const field = error?.field && !message.includes(error.field) ? ` (field: ${error.field})` : '';
  return new ApiError(status, error?.code ?? `http_${status}`, `${message}${field}`);
}
