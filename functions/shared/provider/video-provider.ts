import type { Readable } from 'node:stream';
import type { Video } from 'openai/resources/videos';
import { guardContentStream } from './content-stream.ts';
import type { ProviderConfig } from './provider-config.ts';
import {
  classifyProviderError,
  type ProviderError,
  type ProviderOperation,
} from './provider-errors.ts';
import { type ProviderVideo, toProviderVideo } from './provider-video.ts';
import { segment, VideosHttp } from './videos-http.ts';

export interface VideoProviderOptions {
  /** Replaces the global fetch (tests). */
  fetch?: typeof fetch;
}

/** A reference image: a public/data URL, a file already uploaded to the provider, or bytes. */
export type InputReference =
  | { imageUrl: string }
  | { fileId: string }
  | { data: Uint8Array | Blob; filename: string; contentType: string };

export interface CreateVideoRequest {
  prompt: string;
  model: string;
  size: string;
  seconds: string;
  inputReference?: InputReference | undefined;
  /** Sent as the Idempotency-Key header; derive it from our job id. */
  idempotencyKey: string;
  /** Our job id: Bedrock takes it as the clientRequestToken and names the output prefix by it. */
  jobId?: string | undefined;
}

export interface RemixVideoRequest {
  prompt: string;
  idempotencyKey: string;
}

export interface ListVideosRequest {
  after?: string | undefined;
  limit?: number | undefined;
  order?: 'asc' | 'desc' | undefined;
}

export interface VideoList {
  videos: ProviderVideo[];
  hasMore: boolean;
  /** Cursor for the next page (`after`). */
  lastId: string | undefined;
}

export type ContentVariant = 'video' | 'thumbnail' | 'spritesheet';

export interface VideoContent {
  /** The body as it arrives; errors with ProviderTransientError when cut short or stalled. */
  stream: Readable;
  contentLength: number | undefined;
  contentType: string;
}

export interface FindCreatedJobCriteria {
  prompt: string;
  model: string;
  size: string;
  seconds: string;
  /** Taken just before the ambiguous create was sent. */
  createdAfter: Date;
  /** For a remix: the source video. */
  remixedFromVideoId?: string | undefined;
  /** Provider ids already claimed by other jobs. */
  excludeIds?: Iterable<string> | undefined;
  /** Our job id (Bedrock finds the invocation by the clientRequestToken derived from it). */
  jobId?: string | undefined;
}

export interface FindCreatedJobOptions {
  /** Pages of the newest-first listing to scan before giving up (default 5). */
  maxPages?: number;
  /** Page size (default 100). */
  pageSize?: number;
  /** Tolerated difference between our clock and the provider's (default 30 s). */
  clockSkewSeconds?: number;
}

/**
 * Client for a /v1/videos provider, over a small fetch client (videos-http.ts). Create it once
 * per module.
 *
 * Every method throws ProviderError subclasses only (see provider-errors.ts).
 */
export class VideoProvider {
  readonly #http: VideosHttp;
  readonly #config: ProviderConfig;

  constructor(config: ProviderConfig, options: VideoProviderOptions = {}) {
    this.#config = config;
    this.#http = new VideosHttp({
      apiKey: config.apiKey,
      baseUrl: config.baseUrl,
      timeoutMs: config.timeoutMs,
      maxRetries: config.maxRetries,
      authHeader: config.authHeader,
      fetch: options.fetch,
    });
  }

  /**
   * Starts a generation. Never retried here: a retried create can start a second paid job (the
   * client would retry 408/409/429/5xx and timeouts). A timeout or a connection lost after sending
   * throws ProviderAmbiguousCreateError; reconcile with findCreatedJob before creating again. A
   * connection that was refused or never resolved sent nothing, so it is a plain
   * ProviderTransientError.
   */
  async create(request: CreateVideoRequest): Promise<ProviderVideo> {
    requireText('idempotencyKey', request.idempotencyKey);
    try {
      const video = await this.#http.json<Video>({
        method: 'POST',
        path: '/videos',
        body: createForm(request),
        ...this.#unsafeCall(request.idempotencyKey),
      });
      return toProviderVideo(video);
    } catch (error) {
      throw this.#classify(error, 'create', request.prompt);
    }
  }

  /** Starts a remix of a completed video; same no-retry, ambiguity rules as create. */
  async remix(videoId: string, request: RemixVideoRequest): Promise<ProviderVideo> {
    requireText('videoId', videoId);
    requireText('idempotencyKey', request.idempotencyKey);
    try {
      const video = await this.#http.json<Video>({
        method: 'POST',
        path: `/videos/${segment(videoId)}/remix`,
        body: { prompt: request.prompt },
        ...this.#unsafeCall(request.idempotencyKey),
      });
      return toProviderVideo(video);
    } catch (error) {
      throw this.#classify(error, 'remix', request.prompt);
    }
  }

  async retrieve(videoId: string): Promise<ProviderVideo> {
    requireText('videoId', videoId);
    try {
      const video = await this.#http.json<Video>({
        method: 'GET',
        path: `/videos/${segment(videoId)}`,
      });
      return toProviderVideo(video);
    } catch (error) {
      throw this.#classify(error, 'retrieve');
    }
  }

  async list(request: ListVideosRequest = {}): Promise<VideoList> {
    try {
      const page = await this.#http.json<VideoPage>({
        method: 'GET',
        path: '/videos',
        query: { after: request.after, limit: request.limit, order: request.order },
      });
      const videos = page.data.map(toProviderVideo);
      return {
        videos,
        hasMore: page.has_more === true,
        lastId: page.last_id || videos.at(-1)?.id,
      };
    } catch (error) {
      throw this.#classify(error, 'list');
    }
  }

  async delete(videoId: string): Promise<{ id: string; deleted: boolean }> {
    requireText('videoId', videoId);
    try {
      const result = await this.#http.json<{ id: string; deleted: boolean }>({
        method: 'DELETE',
        path: `/videos/${segment(videoId)}`,
      });
      return { id: result.id, deleted: result.deleted };
    } catch (error) {
      throw this.#classify(error, 'delete');
    }
  }

  /**
   * Opens a content download. The body is streamed, never buffered whole; consume or destroy
   * the stream. Throws ProviderContentExpiredError once the content has expired.
   */
  async downloadContent(videoId: string, variant: ContentVariant = 'video'): Promise<VideoContent> {
    requireText('videoId', videoId);
    let response: Response;
    try {
      response = await this.#http.send({
        method: 'GET',
        path: `/videos/${segment(videoId)}/content`,
        query: { variant },
        headers: { Accept: 'application/binary' },
      });
    } catch (error) {
      throw this.#classify(error, 'download');
    }
    const contentLength = parseContentLength(response.headers.get('content-length'));
    return {
      stream: guardContentStream(response.body, {
        expectedLength: contentLength,
        idleTimeoutMs: this.#config.timeoutMs,
        classify: (error) => this.#classify(error, 'download'),
      }),
      contentLength,
      contentType: response.headers.get('content-type') ?? 'application/octet-stream',
    };
  }

  /**
   * Looks for the job an ambiguous create may have started: scans the newest-first listing
   * (a bounded number of pages) for a job created at or after `createdAfter` with the same
   * prompt, model, size and seconds. When several match, the oldest (closest to our create) wins;
   * pass `excludeIds` to skip jobs already claimed. Returns undefined when none is found.
   */
  async findCreatedJob(
    criteria: FindCreatedJobCriteria,
    options: FindCreatedJobOptions = {},
  ): Promise<ProviderVideo | undefined> {
    const maxPages = options.maxPages ?? 5;
    const pageSize = options.pageSize ?? 100;
    const clockSkewSeconds = options.clockSkewSeconds ?? 30;
    const oldest = Math.floor(criteria.createdAfter.getTime() / 1000) - clockSkewSeconds;
    const excluded = new Set(criteria.excludeIds ?? []);
    let match: ProviderVideo | undefined;
    let after: string | undefined;
    for (let page = 0; page < maxPages; page++) {
      const { videos, hasMore, lastId } = await this.list({
        order: 'desc',
        limit: pageSize,
        after,
      });
      let reachedOlder = false;
      for (const video of videos) {
        if (video.createdAt < oldest) {
          reachedOlder = true;
        } else if (!excluded.has(video.id) && matchesCriteria(video, criteria)) {
          match = video;
        }
      }
      if (reachedOlder || !hasMore || !lastId) break;
      after = lastId;
    }
    return match;
  }

  #unsafeCall(idempotencyKey: string) {
    return { maxRetries: 0, headers: { 'Idempotency-Key': idempotencyKey } };
  }

  /**
   * The request's prompt is redacted like the key: a provider's answer (a moderation refusal)
   * may quote it, and the error's message reaches Lambda's own error log line.
   */
  #classify(error: unknown, operation: ProviderOperation, prompt?: string): ProviderError {
    const secrets = prompt === undefined ? [this.#config.apiKey] : [this.#config.apiKey, prompt];
    return classifyProviderError(error, { operation, secrets });
  }
}

function matchesCriteria(video: ProviderVideo, criteria: FindCreatedJobCriteria): boolean {
  return (
    video.prompt === criteria.prompt &&
    video.model === criteria.model &&
    video.size === criteria.size &&
    video.seconds === criteria.seconds &&
    (criteria.remixedFromVideoId === undefined ||
      video.remixedFromVideoId === criteria.remixedFromVideoId)
  );
}

/** One page of GET /videos. */
interface VideoPage {
  data: Video[];
  has_more?: boolean;
  last_id?: string | null;
}

/**
 * The create body as a multipart form, as the openai SDK sent it: text fields, the reference
 * image as the file `input_reference`, or its URL or file id as `input_reference[image_url]` /
 * `input_reference[file_id]`.
 */
function createForm(request: CreateVideoRequest): FormData {
  const form = new FormData();
  form.append('prompt', request.prompt);
  form.append('model', request.model);
  form.append('size', request.size);
  form.append('seconds', request.seconds);
  const reference = request.inputReference;
  if (!reference) return form;
  if ('imageUrl' in reference) {
    form.append('input_reference[image_url]', reference.imageUrl);
  } else if ('fileId' in reference) {
    form.append('input_reference[file_id]', reference.fileId);
  } else {
    const blob =
      reference.data instanceof Blob
        ? reference.data
        : new Blob([reference.data as Uint8Array<ArrayBuffer>], { type: reference.contentType });
    form.append(
      'input_reference',
      new File([blob], reference.filename, { type: reference.contentType }),
    );
  }
  return form;
}

function parseContentLength(header: string | null): number | undefined {
  if (header === null || !/^\d+$/.test(header.trim())) return undefined;
  return Number(header);
}

function requireText(name: string, value: string): void {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new TypeError(`${name} must be a non-empty string`);
  }
}
