/**
 * Amazon Bedrock's asynchronous invocations as a video provider: StartAsyncInvoke to create,
 * GetAsyncInvoke to poll, ListAsyncInvokes to reconcile, and the MP4 Bedrock writes into our
 * bucket as the content.
 *
 * - Create sends our job id as the clientRequestToken (its `_` as `-`, which the token's pattern
 *   requires): Bedrock answers a repeated token with the same invocation, so no retry can start a
 *   second paid job. The output goes to `s3://<bucket>/<outputPrefix><jobId>/`.
 * - Bedrock reports no progress: InProgress is `in_progress` at 0 until Completed (100), and the
 *   wait policy paces the polls on elapsed time.
 * - The video is read from the object Bedrock wrote; the download step verifies it (size, ISO-BMFF,
 *   sha256) as it streams it to the video's key, then `discardContent` deletes Bedrock's copy.
 *   There is no thumbnail or spritesheet.
 */
import {
  type AsyncInvokeSummary,
  type BedrockRuntimeClient,
  GetAsyncInvokeCommand,
  type GetAsyncInvokeCommandOutput,
  ListAsyncInvokesCommand,
  StartAsyncInvokeCommand,
} from '@aws-sdk/client-bedrock-runtime';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3';
import { guardContentStream } from '../content-stream.ts';
import type { JobProvider } from '../job-provider.ts';
import {
  ProviderNotFoundError,
  type ProviderOperation,
  ProviderRejectedError,
  ProviderTransientError,
} from '../provider-errors.ts';
import type { ProviderVideo, ProviderVideoStatus } from '../provider-video.ts';
import { VideoParamsError } from '../video-params-error.ts';
import type {
  ContentVariant,
  CreateVideoRequest,
  FindCreatedJobCriteria,
  FindCreatedJobOptions,
  RemixVideoRequest,
  VideoContent,
} from '../video-provider.ts';
import { classifyBedrockError, failureCode } from './bedrock-errors.ts';
import { BEDROCK_OUTPUT_PREFIX } from './bedrock-output.ts';
import { ray2ModelInput } from './ray2-request.ts';

export { BEDROCK_OUTPUT_PREFIX } from './bedrock-output.ts';

export interface BedrockProviderOptions {
  bedrock: BedrockRuntimeClient;
  s3: S3Client;
  /** The videos bucket: Bedrock writes there, and only there is content read from. */
  bucket: string;
  /** A stalled content body is abandoned after this long. */
  idleTimeoutMs: number;
  outputPrefix?: string;
}

/** The clientRequestToken of a job: its id, `_` as `-` (the token allows [a-zA-Z0-9-] only). */
export function bedrockClientRequestToken(jobId: string): string {
  return jobId.replace(/[^a-zA-Z0-9-]/g, '-');
}

export class BedrockProvider implements JobProvider {
  readonly #options: Required<BedrockProviderOptions>;

  constructor(options: BedrockProviderOptions) {
    this.#options = { outputPrefix: BEDROCK_OUTPUT_PREFIX, ...options };
  }

  async create(request: CreateVideoRequest): Promise<ProviderVideo> {
    const jobId = request.jobId;
    if (!jobId) throw new TypeError('jobId is required for a Bedrock create');
    if (request.inputReference)
      throw unsupported('create', 'a reference image (Ray2 is text to video here)');
    const modelInput = toModelInput(request);
    const s3Uri = `s3://${this.#options.bucket}/${this.#options.outputPrefix}${jobId}/`;
    try {
      const started = await this.#options.bedrock.send(
        new StartAsyncInvokeCommand({
          modelId: request.model,
          modelInput: { ...modelInput },
          outputDataConfig: { s3OutputDataConfig: { s3Uri } },
          clientRequestToken: bedrockClientRequestToken(jobId),
        }),
      );
      return {
        id: requireArn(started.invocationArn),
        status: 'queued',
        progress: 0,
        model: request.model,
        size: request.size,
        seconds: request.seconds,
        prompt: request.prompt,
        createdAt: Math.floor(Date.now() / 1000),
        completedAt: undefined,
        expiresAt: undefined,
        error: undefined,
        remixedFromVideoId: undefined,
      };
    } catch (error) {
      throw classifyBedrockError(error, 'create');
    }
  }

  /** Bedrock has no remix of an invocation: refused, never sent. */
  async remix(_invocationArn: string, _request: RemixVideoRequest): Promise<ProviderVideo> {
    throw unsupported('remix', 'remixes');
  }

  async retrieve(invocationArn: string): Promise<ProviderVideo> {
    return toProviderVideo(await this.#get(invocationArn, 'retrieve'));
  }

  /**
   * The invocation our job's clientRequestToken started, from the newest-first listing of those
   * submitted since `createdAfter` (less the clock skew). Without a job id nothing can match.
   */
  async findCreatedJob(
    criteria: FindCreatedJobCriteria,
    options: FindCreatedJobOptions = {},
  ): Promise<ProviderVideo | undefined> {
    if (!criteria.jobId) return undefined;
    const token = bedrockClientRequestToken(criteria.jobId);
    const excluded = new Set(criteria.excludeIds ?? []);
    const skewMs = (options.clockSkewSeconds ?? 30) * 1000;
    let nextToken: string | undefined;
    for (let page = 0; page < (options.maxPages ?? 5); page++) {
      let listed: { asyncInvokeSummaries?: AsyncInvokeSummary[]; nextToken?: string };
      try {
        listed = await this.#options.bedrock.send(
          new ListAsyncInvokesCommand({
            submitTimeAfter: new Date(criteria.createdAfter.getTime() - skewMs),
            sortBy: 'SubmissionTime',
            sortOrder: 'Descending',
            maxResults: options.pageSize ?? 100,
            nextToken,
          }),
        );
      } catch (error) {
        throw classifyBedrockError(error, 'list');
      }
      const match = listed.asyncInvokeSummaries?.find(
        (summary) =>
          summary.clientRequestToken === token && !excluded.has(summary.invocationArn ?? ''),
      );
      if (match) return toProviderVideo(match);
      nextToken = listed.nextToken;
      if (!nextToken) break;
    }
    return undefined;
  }

  /**
   * Bedrock cannot cancel an async invocation: an orphan renders to the end (its cost is counted
   * by the ledger), and what it writes under the output prefix expires by the bucket's rule.
   */
  async delete(invocationArn: string): Promise<{ id: string; deleted: boolean }> {
    return { id: invocationArn, deleted: false };
  }

  async downloadContent(
    invocationArn: string,
    variant: ContentVariant = 'video',
  ): Promise<VideoContent> {
    if (variant !== 'video') {
      const message = `download: Bedrock renders no ${variant}`;
      throw new ProviderNotFoundError(message, {
        code: 'variant_not_available',
        providerMessage: message,
        operation: 'download',
      });
    }
    const key = (await this.#outputObjects(invocationArn)).find((name) => name.endsWith('.mp4'));
    if (!key) {
      // Completed, but the object is not listed yet: worth another try.
      const message = `download: no MP4 under the output of ${invocationArn} yet`;
      throw new ProviderTransientError(message, {
        code: 'video_not_ready',
        providerMessage: message,
        operation: 'download',
      });
    }
    try {
      const object = await this.#options.s3.send(
        new GetObjectCommand({ Bucket: this.#options.bucket, Key: key }),
      );
      const body = object.Body?.transformToWebStream() ?? null;
      return {
        stream: guardContentStream(body as ReadableStream<Uint8Array> | null, {
          expectedLength: object.ContentLength,
          idleTimeoutMs: this.#options.idleTimeoutMs,
          classify: (error) => classifyBedrockError(error, 'download'),
        }),
        contentLength: object.ContentLength,
        contentType: 'video/mp4',
      };
    } catch (error) {
      throw classifyBedrockError(error, 'download');
    }
  }

  /** Deletes what Bedrock wrote for the invocation (after the video was stored at its key). */
  async discardContent(invocationArn: string): Promise<void> {
    const keys = await this.#outputObjects(invocationArn);
    if (keys.length === 0) return;
    try {
      await this.#options.s3.send(
        new DeleteObjectsCommand({
          Bucket: this.#options.bucket,
          Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true },
        }),
      );
    } catch (error) {
      throw classifyBedrockError(error, 'delete');
    }
  }

  async #get(invocationArn: string, operation: ProviderOperation) {
    if (!invocationArn.trim()) throw new TypeError('invocationArn must be a non-empty string');
    try {
      return await this.#options.bedrock.send(new GetAsyncInvokeCommand({ invocationArn }));
    } catch (error) {
      throw classifyBedrockError(error, operation);
    }
  }

  /** Keys under the invocation's output URI, which must lie in our bucket under our prefix. */
  async #outputObjects(invocationArn: string): Promise<string[]> {
    const invocation = await this.#get(invocationArn, 'download');
    const uri = invocation.outputDataConfig?.s3OutputDataConfig?.s3Uri ?? '';
    const match = /^s3:\/\/([^/]+)\/(.*)$/.exec(uri);
    const [, bucket, prefix] = match ?? [];
    if (
      bucket !== this.#options.bucket ||
      prefix === undefined ||
      !prefix.startsWith(this.#options.outputPrefix)
    ) {
      const message = `download: ${invocationArn} wrote to ${uri || 'nowhere'}, not under s3://${this.#options.bucket}/${this.#options.outputPrefix}`;
      throw new ProviderRejectedError(message, {
        code: 'unexpected_output_location',
        providerMessage: message,
        operation: 'download',
      });
    }
    try {
      const listed = await this.#options.s3.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }),
      );
      return (listed.Contents ?? []).flatMap((object) => (object.Key ? [object.Key] : []));
    } catch (error) {
      throw classifyBedrockError(error, 'download');
    }
  }
}

function unsupported(operation: 'create' | 'remix', what: string): ProviderRejectedError {
  const message = `${operation}: Bedrock (Luma Ray2) does not support ${what}`;
  return new ProviderRejectedError(message, {
    code: 'unsupported_by_model',
    providerMessage: message,
    operation,
  });
}

function toModelInput(request: CreateVideoRequest) {
  try {
    return ray2ModelInput(request);
  } catch (error) {
    if (!(error instanceof VideoParamsError)) throw error;
    throw new ProviderRejectedError(`create: ${error.message}`, {
      code: 'invalid_request',
      providerMessage: error.message,
      operation: 'create',
      param: error.field,
    });
  }
}

const STATUSES: Readonly<Record<string, ProviderVideoStatus>> = {
  InProgress: 'in_progress',
  Completed: 'completed',
  Failed: 'failed',
};

type Invocation = Partial<
  Pick<
    GetAsyncInvokeCommandOutput,
    'invocationArn' | 'modelArn' | 'status' | 'failureMessage' | 'submitTime' | 'endTime'
  >
>;

function toProviderVideo(invocation: Invocation): ProviderVideo {
  const status = STATUSES[invocation.status ?? ''] ?? 'failed';
  const seconds = (date: Date | undefined) =>
    date === undefined ? undefined : Math.floor(date.getTime() / 1000);
  let error: ProviderVideo['error'];
  if (status === 'failed') {
    const message = invocation.failureMessage?.trim();
    error = !STATUSES[invocation.status ?? '']
      ? { code: 'unexpected_status', message: `Bedrock reported status "${invocation.status}"` }
      : { code: failureCode(message ?? ''), message: message || 'Bedrock reported no reason' };
  }
  return {
    id: requireArn(invocation.invocationArn),
    status,
    progress: status === 'completed' ? 100 : 0,
    // foundation-model/<model id>: the model id, as the catalogue names it.
    model: invocation.modelArn?.split('/').at(-1) ?? '',
    size: '',
    seconds: '',
    prompt: undefined,
    createdAt: seconds(invocation.submitTime) ?? 0,
    completedAt: status === 'completed' ? seconds(invocation.endTime) : undefined,
    expiresAt: undefined,
    error,
    remixedFromVideoId: undefined,
  };
}

function requireArn(arn: string | undefined): string {
  if (!arn) {
    throw new ProviderTransientError('Bedrock answered without an invocation ARN', {
      code: 'invalid_response',
      providerMessage: 'no invocationArn',
    });
  }
  return arn;
}
