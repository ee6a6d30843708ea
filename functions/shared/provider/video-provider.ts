import type { Readable } from 'node:stream';
import OpenAI, { type ClientOptions, toFile } from 'openai';
import type { VideoCreateParams, VideoListParams } from 'openai/resources/videos';
import { guardContentStream } from './content-stream.ts';
import type { ProviderConfig } from './provider-config.ts';
import {
  classifyProviderError,
  type ProviderError,
  type ProviderOperation,
} from './provider-errors.ts';
import { type ProviderVideo, toProviderVideo } from './provider-video.ts';

export interface VideoProviderOptions {
  /** Replaces the global fetch (tests). */
  fetch?: ClientOptions['fetch'];
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
 * Client for a /v1/videos provider, over the official openai SDK. Create it once per module.
 *
 * Every method throws ProviderError subclasses only (see provider-errors.ts).
 */
export class VideoProvider {
  readonly #client: OpenAI;
  readonly #config: ProviderConfig;

  constructor(config: ProviderConfig, options: VideoProviderOptions = {}) {
    this.#config = config;
    this.#client = new OpenAI({
      apiKey: config.apiKey,
      baseURL: config.baseUrl,
      timeout: config.timeoutMs,
      maxRetries: config.maxRetries,
      // The SDK would otherwise pick these up from OPENAI_* environment variables.
      organization: null,
      project: null,
      adminAPIKey: null,
      webhookSecret: null,
      // Azure OpenAI's v1 API takes the key as `api-key`; no bearer token is sent beside it.
      ...(config.authHeader === 'api-key'
        ? { defaultHeaders: { 'api-key': config.apiKey, Authorization: null } }
        : {}),
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
  }

  /**
   * Starts a generation. Never retried here: a retried create can start a second paid job (the
   * SDK would retry 408/409/429/5xx and timeouts). A timeout or a connection lost after sending
   * throws ProviderAmbiguousCreateError; reconcile with findCreatedJob before creating again. A
   * connection that was refused or never resolved sent nothing, so it is a plain
   * ProviderTransientError.
   */
  async create(request: CreateVideoRequest): Promise<ProviderVideo> {
    requireText('idempotencyKey', request.idempotencyKey);
    try {
      const body: VideoCreateParams = {
        prompt: request.prompt,
        model: request.model,
        // The SDK types list OpenAI's sizes and durations only; the catalogue is ours to choose.
        size: request.size as VideoCreateParams['size'],
        seconds: request.seconds as VideoCreateParams['seconds'],
      };
      if (request.inputReference) {
        body.input_reference = await toInputReference(request.inputReference);
      }
      const video = await this.#client.videos.create(
        body,
        this.#unsafeCall(request.idempotencyKey),
      );
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
      const video = await this.#client.videos.remix(
        videoId,
        { prompt: request.prompt },
        this.#unsafeCall(request.idempotencyKey),
      );
      return toProviderVideo(video);
    } catch (error) {
      throw this.#classify(error, 'remix', request.prompt);
    }
  }

  async retrieve(videoId: string): Promise<ProviderVideo> {
    requireText('videoId', videoId);
    try {
      return toProviderVideo(await this.#client.videos.retrieve(videoId));
    } catch (error) {
      throw this.#classify(error, 'retrieve');
    }
  }

  async list(request: ListVideosRequest = {}): Promise<VideoList> {
    const query: VideoListParams = {};
    if (request.after !== undefined) query.after = request.after;
    if (request.limit !== undefined) query.limit = request.limit;
    if (request.order !== undefined) query.order = request.order;
    try {
      const page = await this.#client.videos.list(query);
      const videos = page.data.map(toProviderVideo);
      return {
        videos,
        hasMore: page.has_more,
        lastId: page.last_id || videos.at(-1)?.id,
      };
    } catch (error) {
      throw this.#classify(error, 'list');
    }
  }

  async delete(videoId: string): Promise<{ id: string; deleted: boolean }> {
    requireText('videoId', videoId);
    try {
      const result = await this.#client.videos.delete(videoId);
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
      response = await this.#client.videos.downloadContent(videoId, { variant });
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

async function toInputReference(
  reference: InputReference,
): Promise<NonNullable<VideoCreateParams['input_reference']>> {
  if ('imageUrl' in reference) return { image_url: reference.imageUrl };
  if ('fileId' in reference) return { file_id: reference.fileId };
  return toFile(reference.data, reference.filename, { type: reference.contentType });
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
