import type { JobPriority } from '../../functions/shared/jobs/job.ts';
import type { PublicJob } from '../../functions/shared/jobs/public-job.ts';
import type { UsageReport } from '../../functions/shared/limits/usage-report.ts';
import { noteServerDate } from './server-clock.ts';

export type { PublicJob, UsageReport };
export type Variant = 'video' | 'thumbnail' | 'spritesheet';

/** An error answer of the API: its status, code and, for a refused field, the field's name. */
export class ApiError extends Error {
  override name = 'ApiError';
  readonly status: number;
  readonly code: string;
  readonly field: string | undefined;

  constructor(status: number, code: string, message: string, field?: string) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

export interface JobPage {
  videos: PublicJob[];
  nextCursor: string | null;
}

export interface ListQuery {
  status?: string;
  batch?: string;
  cursor?: string;
  limit?: number;
}

export interface SubmitRequest {
  prompt: string;
  model: string;
  size: string;
  seconds: string;
  defer?: boolean;
  priority?: JobPriority;
  startTimeoutSeconds?: number;
}

/** The console's only way out: the HTTP API, with the bearer token on every call. */
export class ApiClient {
  private readonly baseUrl: string;
  private readonly token: string;

  constructor(baseUrl: string, token: string) {
    this.baseUrl = baseUrl;
    this.token = token;
  }

  listJobs(query: ListQuery): Promise<JobPage> {
    const params = new URLSearchParams();
    if (query.status) params.set('status', query.status);
    if (query.batch) params.set('batch', query.batch);
    if (query.cursor) params.set('cursor', query.cursor);
    params.set('limit', String(query.limit ?? 20));
    return this.request('GET', `/videos?${params}`);
  }

  getJob(id: string): Promise<PublicJob> {
    return this.request('GET', `/videos/${encodeURIComponent(id)}`);
  }

  submit(request: SubmitRequest, idempotencyKey: string): Promise<PublicJob> {
    return this.request('POST', '/videos', request, { 'Idempotency-Key': idempotencyKey });
  }

  cancel(id: string): Promise<PublicJob> {
    return this.request('POST', `/videos/${encodeURIComponent(id)}/cancel`);
  }

  /** Cancels the waiting jobs of a batch (100 at most); answers the ids, and whether more wait. */
  cancelBatch(batchId: string): Promise<{ cancelled: string[]; more: boolean }> {
    return this.request('POST', `/batches/${encodeURIComponent(batchId)}/cancel`);
  }

  remix(id: string, prompt: string, idempotencyKey: string): Promise<PublicJob> {
    return this.request(
      'POST',
      `/videos/${encodeURIComponent(id)}/remix`,
      { prompt },
      { 'Idempotency-Key': idempotencyKey },
    );
  }

  usage(): Promise<UsageReport> {
    return this.request('GET', '/usage');
  }

  /** A short-lived presigned link to a stored file (the API's `redirect=false` form). */
  async contentLink(id: string, variant: Variant): Promise<string> {
    const params = new URLSearchParams({ variant, redirect: 'false' });
    const answer = await this.request<{ url: string }>(
      'GET',
      `/videos/${encodeURIComponent(id)}/content?${params}`,
    );
    return answer.url;
  }

  private async request<T>(
    method: string,
    path: string,
    body?: unknown,
    extraHeaders: Record<string, string> = {},
  ): Promise<T> {
    const headers: Record<string, string> = {
      Authorization: `Bearer ${this.token}`,
      ...extraHeaders,
    };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        cache: 'no-store',
        credentials: 'omit',
        referrerPolicy: 'no-referrer',
      });
    } catch {
      throw new ApiError(0, 'network_error', 'The API could not be reached.', undefined);
    }
    noteServerDate(response.headers.get('date'));
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!response.ok) throw toApiError(response.status, parsed);
    return parsed as T;
  }
}

function toApiError(status: number, body: unknown): ApiError {
  const envelope = body as { error?: { code?: string; message?: string; field?: string } };
  if (envelope?.error?.code) {
    return new ApiError(
      status,
      envelope.error.code,
      envelope.error.message ?? envelope.error.code,
      envelope.error.field,
    );
  }
  // API Gateway's own answers: {"message": "Unauthorized"}.
  const message = (body as { message?: string })?.message ?? `HTTP ${status}`;
  return new ApiError(status, message.toLowerCase().replace(/\s+/g, '_'), message);
}
