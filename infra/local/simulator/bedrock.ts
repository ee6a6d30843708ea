/**
 * Amazon Bedrock's asynchronous invocation API, as `@aws-sdk/client-bedrock-runtime` sends and
 * expects it (restJson1): StartAsyncInvoke (`POST /async-invoke`), GetAsyncInvoke
 * (`GET /async-invoke/{invocationArn}`) and ListAsyncInvokes (`GET /async-invoke`), for Luma
 * Ray2 (`luma.ray-v2:0`), text to video.
 *
 * - SigV4 is accepted without checking (any credentials do).
 * - A repeated clientRequestToken answers the invocation it started: no second job.
 * - Errors are Bedrock's: the status, `x-amzn-ErrorType` and `{"message"}`.
 * - The same knobs as /v1/videos: latency, injected 5xx, per-minute limit (ThrottlingException),
 *   concurrent jobs (ServiceQuotaExceededException), dropped create answers, the moderation
 *   marker (ValidationException) and the render-failure marker (status Failed).
 * - When an invocation completes, the MP4 is written to local S3 at
 *   `<s3Uri>/<invocation id>/output.mp4` (before any answer reports it Completed), the way Bedrock
 *   writes into the caller's bucket. `truncateContentBytes` writes a cut-short object.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { constants } from 'node:http2';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { ApiError } from './api-error.ts';
import { planContent } from './content.ts';
import type { SimulatorJournal } from './journal.ts';
import type { SimulatorKnobs } from './knobs.ts';
import { countStatus, type ResponseContext, sendJson } from './responses.ts';
import type { TrafficControl } from './traffic.ts';
import { renderFailure, statusAt, type VideoRecord, VideoStore } from './video-store.ts';

export const BEDROCK_REGION = 'us-east-1';
const ACCOUNT = '000000000000';
export const RAY2 = 'luma.ray-v2:0';

/** What the Bedrock routes use of the simulator's context (routes.ts's BedrockContext extends it). */
export interface BedrockContext extends ResponseContext {
  knobs: SimulatorKnobs;
  now: () => number;
  traffic: TrafficControl;
  bedrock: BedrockInvocations;
  /** Where jobs are kept across restarts, if anywhere (journal.ts). */
  journal: SimulatorJournal | undefined;
}

/** Ray2's frame sizes by resolution and aspect ratio (short side 540 or 720 pixels). */
const FRAMES: Record<string, Record<string, string>> = {
  '720p': {
    '16:9': '1280x720',
    '9:16': '720x1280',
    '1:1': '720x720',
    '4:3': '960x720',
    '3:4': '720x960',
    '21:9': '1680x720',
    '9:21': '720x1680',
  },
  '540p': {
    '16:9': '960x540',
    '9:16': '540x960',
    '1:1': '540x540',
    '4:3': '720x540',
    '3:4': '540x720',
    '21:9': '1260x540',
    '9:21': '540x1260',
  },
};

const ray2Input = z.strictObject({
  prompt: z.string().min(1).max(5000),
  aspect_ratio: z.enum(['1:1', '16:9', '9:16', '4:3', '3:4', '21:9', '9:21']).default('16:9'),
  resolution: z.enum(['540p', '720p']).default('720p'),
  duration: z.enum(['5s', '9s']).default('5s'),
  loop: z.boolean().default(false),
});

const startRequest = z.object({
  modelId: z.string().min(1),
  modelInput: z.unknown(),
  outputDataConfig: z.object({
    s3OutputDataConfig: z.object({
      s3Uri: z.string().regex(/^s3:\/\/[a-z0-9][.\-a-z0-9]{1,61}[a-z0-9](\/.*)?$/),
      kmsKeyId: z.string().optional(),
      bucketOwner: z.string().optional(),
    }),
  }),
  clientRequestToken: z
    .string()
    .min(1)
    .max(256)
    .regex(/^[a-zA-Z0-9](-*[a-zA-Z0-9])*$/)
    .optional(),
  tags: z.array(z.object({ key: z.string(), value: z.string() })).optional(),
});

interface Invocation {
  arn: string;
  record: VideoRecord;
  token: string;
  s3Uri: string;
  /** The output write, started once when the render is seen finished. */
  written: Promise<void> | undefined;
}

/** What a test sees of an invocation. */
export interface InvocationSnapshot {
  invocationArn: string;
  clientRequestToken: string;
  status: 'InProgress' | 'Completed' | 'Failed';
  s3Uri: string;
  /** Where the MP4 is (or will be) written. */
  outputKey: string;
  prompt: string;
  size: string;
  seconds: string;
}

/** Bedrock's side of the simulator: its own jobs, and where finished videos are written. */
export class BedrockInvocations {
  readonly store: VideoStore;
  readonly #byArn = new Map<string, Invocation>();
  readonly #byToken = new Map<string, Invocation>();
  #s3: S3Client | undefined;

  constructor(seed: number) {
    this.store = new VideoStore(seed + 1);
  }

  /** Points the output writes at an S3 endpoint (the local stack's s3rver). */
  connectS3(endpoint: string): void {
    this.#s3 = new S3Client({
      endpoint,
      region: BEDROCK_REGION,
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      requestChecksumCalculation: 'WHEN_REQUIRED',
    });
  }

  snapshots(nowMs: number): InvocationSnapshot[] {
    return [...this.#byArn.values()].map((invocation) => ({
      invocationArn: invocation.arn,
      clientRequestToken: invocation.token,
      status: bedrockStatus(invocation.record, nowMs),
      s3Uri: invocation.s3Uri,
      outputKey: outputLocation(invocation).key,
      prompt: invocation.record.prompt,
      size: invocation.record.size,
      seconds: invocation.record.seconds,
    }));
  }

  get(arn: string): Invocation | undefined {
    return this.#byArn.get(arn);
  }

  byToken(token: string): Invocation | undefined {
    return this.#byToken.get(token);
  }

  add(record: VideoRecord, token: string, s3Uri: string): Invocation {
    const arn = `arn:aws:bedrock:${BEDROCK_REGION}:${ACCOUNT}:async-invoke/${record.id.replace(/^video_/, '')}`;
    const invocation: Invocation = { arn, record, token, s3Uri, written: undefined };
    this.#byArn.set(arn, invocation);
    this.#byToken.set(token, invocation);
    return invocation;
  }

  all(): Invocation[] {
    return [...this.#byArn.values()];
  }

  /** Writes the finished MP4 once; answers wait for it, as Bedrock writes before it says Completed. */
  async ensureWritten(ctx: BedrockContext, invocation: Invocation): Promise<void> {
    if (bedrockStatus(invocation.record, ctx.now()) !== 'Completed') return;
    invocation.written ??= this.#write(ctx, invocation).catch((error: unknown) => {
      invocation.written = undefined;
      throw error;
    });
    await invocation.written;
  }

  async #write(ctx: BedrockContext, invocation: Invocation): Promise<void> {
    if (!this.#s3) {
      throw new Error('The simulator has no S3 endpoint to write Bedrock outputs to');
    }
    const plan = planContent(invocation.record, 'video', ctx.knobs.contentSizeBytes);
    let body = Buffer.concat([...plan.chunks()]);
    const cut = ctx.knobs.truncateContentBytes;
    if (cut !== null && cut < body.length) body = body.subarray(0, cut);
    const { bucket, key } = outputLocation(invocation);
    await this.#s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'video/mp4' }),
    );
  }
}

function outputLocation(invocation: Invocation): { bucket: string; key: string } {
  const [, bucket = '', prefix = ''] = /^s3:\/\/([^/]+)\/?(.*)$/.exec(invocation.s3Uri) ?? [];
  const id = invocation.arn.split('/').at(-1) ?? '';
  const folder = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
  return { bucket, key: `${folder}${id}/output.mp4` };
}

function bedrockStatus(record: VideoRecord, nowMs: number): InvocationSnapshot['status'] {
  const status = statusAt(record, nowMs);
  if (status === 'completed') return 'Completed';
  if (status === 'failed') return 'Failed';
  return 'InProgress';
}

/** Whether a request is for Bedrock's async-invoke API. */
export function isBedrockPath(pathname: string): boolean {
  return pathname === '/async-invoke' || pathname.startsWith('/async-invoke/');
}

/** Serves one Bedrock request (after latency and injected faults). */
export async function routeBedrock(
  ctx: BedrockContext,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  body: Promise<Record<string, unknown>>,
): Promise<void> {
  const method = req.method ?? 'GET';
  if (url.pathname === '/async-invoke') {
    if (method === 'POST') return startAsyncInvoke(ctx, res, await body);
    if (method === 'GET') return sendJson(ctx, res, 200, await listAsyncInvokes(ctx, url));
  } else if (method === 'GET') {
    const arn = decodeURIComponent(url.pathname.slice('/async-invoke/'.length));
    const invocation = ctx.bedrock.get(arn);
    if (!invocation)
      throw bedrockError(404, 'ResourceNotFoundException', `Invocation ${arn} not found.`);
    return sendJson(ctx, res, 200, await describe(ctx, invocation));
  }
  throw bedrockError(
    404,
    'UnknownOperationException',
    `${method} ${url.pathname} is not an operation`,
  );
}

function startAsyncInvoke(
  ctx: BedrockContext,
  res: ServerResponse,
  raw: Record<string, unknown>,
): void {
  ctx.counters.createRequests += 1;
  const request = startRequest.safeParse(raw);
  if (!request.success) throw validation(request.error);
  const { modelId, outputDataConfig } = request.data;
  if (modelId !== RAY2 && !modelId.endsWith(`/${RAY2}`)) {
    throw bedrockError(400, 'ValidationException', 'The provided model identifier is invalid.');
  }
  const input = ray2Input.safeParse(request.data.modelInput);
  if (!input.success) throw validation(input.error, 'modelInput');
  const token = request.data.clientRequestToken ?? crypto.randomUUID();
  const existing = ctx.bedrock.byToken(token);
  if (existing) {
    sendJson(ctx, res, 200, { invocationArn: existing.arn });
    return;
  }

  const limited = ctx.traffic.admit(ctx.knobs, ctx.now());
  if (limited)
    throw bedrockError(
      429,
      'ThrottlingException',
      'Too many requests, please wait before trying again.',
    );
  const { knobs } = ctx;
  const nowMs = ctx.now();
  const limit = knobs.maxConcurrentJobs;
  if (limit !== null && ctx.bedrock.store.activeJobsAt(nowMs) >= limit) {
    throw bedrockError(
      400,
      'ServiceQuotaExceededException',
      `Too many concurrent async invocations: the quota is ${limit}.`,
    );
  }
  const { prompt, aspect_ratio, resolution, duration } = input.data;
  if (prompt.includes(knobs.moderationMarker)) {
    throw bedrockError(
      400,
      'ValidationException',
      'This request has been blocked by our content filters.',
    );
  }
  const record = ctx.bedrock.store.create(
    {
      prompt,
      model: RAY2,
      size: FRAMES[resolution]?.[aspect_ratio] ?? '1280x720',
      seconds: duration === '9s' ? '9' : '5',
      remixedFromVideoId: null,
      inputReference: null,
      idempotencyKey: token,
    },
    nowMs,
    {
      speed: knobs.speed,
      contentTtlSeconds: knobs.contentTtlSeconds,
      renderFactor: knobs.models[RAY2]?.renderFactor ?? 1.5,
      willFail: prompt.includes(knobs.renderFailureMarker),
    },
  );
  const invocation = ctx.bedrock.add(record, token, outputDataConfig.s3OutputDataConfig.s3Uri);
  ctx.journal?.append({ kind: 'invocation', record, token, s3Uri: invocation.s3Uri });
  ctx.counters.creates += 1;
  if (knobs.dropNextCreateResponses > 0) {
    knobs.dropNextCreateResponses -= 1;
    ctx.counters.droppedCreateResponses += 1;
    abort(res);
    return;
  }
  sendJson(ctx, res, 200, { invocationArn: invocation.arn });
}

async function describe(ctx: BedrockContext, invocation: Invocation) {
  await ctx.bedrock.ensureWritten(ctx, invocation);
  const { record } = invocation;
  const nowMs = ctx.now();
  const status = bedrockStatus(record, nowMs);
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    invocationArn: invocation.arn,
    modelArn: `arn:aws:bedrock:${BEDROCK_REGION}::foundation-model/${RAY2}`,
    clientRequestToken: invocation.token,
    status,
    ...(status === 'Failed' ? { failureMessage: renderFailure.message } : {}),
    submitTime: iso(record.createdAtMs),
    lastModifiedTime: iso(
      status === 'InProgress' ? Math.max(record.startsAtMs, record.createdAtMs) : record.endsAtMs,
    ),
    ...(status === 'InProgress' ? {} : { endTime: iso(record.endsAtMs) }),
    outputDataConfig: { s3OutputDataConfig: { s3Uri: invocation.s3Uri } },
  };
}

async function listAsyncInvokes(ctx: BedrockContext, url: URL) {
  const query = url.searchParams;
  const after = query.get('submitTimeAfter');
  const before = query.get('submitTimeBefore');
  const statusEquals = query.get('statusEquals');
  const maxResults = Number(query.get('maxResults') ?? 1000);
  const descending = (query.get('sortOrder') ?? 'Descending') === 'Descending';
  const offset = Number(query.get('nextToken') ?? 0);
  if (!Number.isInteger(maxResults) || maxResults < 1 || maxResults > 1000) {
    throw bedrockError(400, 'ValidationException', 'maxResults must be between 1 and 1000.');
  }
  const nowMs = ctx.now();
  let matching = ctx.bedrock.all().filter((invocation) => {
    const submitted = invocation.record.createdAtMs;
    return (
      (after === null || submitted > Date.parse(after)) &&
      (before === null || submitted < Date.parse(before)) &&
      (statusEquals === null || bedrockStatus(invocation.record, nowMs) === statusEquals)
    );
  });
  if (descending) matching = matching.reverse();
  const page = matching.slice(offset, offset + maxResults);
  const summaries = await Promise.all(page.map((invocation) => describe(ctx, invocation)));
  const next = offset + maxResults < matching.length ? String(offset + maxResults) : undefined;
  return { asyncInvokeSummaries: summaries, ...(next ? { nextToken: next } : {}) };
}

/** A Bedrock error answer: the status, its exception name and a message. */
export function bedrockError(status: number, name: string, message: string): ApiError {
  return new ApiError(status, { message, type: name, code: name });
}

function validation(error: z.ZodError, prefix?: string): ApiError {
  const issue = error.issues[0];
  const path = [prefix, ...(issue?.path ?? []).map(String)].filter(Boolean).join('.');
  return bedrockError(
    400,
    'ValidationException',
    `1 validation error detected: Value at '${path || 'body'}' failed to satisfy constraint: ${issue?.message ?? 'invalid'}`,
  );
}

/** Sends an error the way Bedrock does: `x-amzn-ErrorType` and `{"message"}`. */
export function sendBedrockError(ctx: BedrockContext, res: ServerResponse, error: unknown): void {
  if (res.headersSent) {
    abort(res);
    return;
  }
  if (!(error instanceof ApiError)) ctx.logError(error);
  const answer =
    error instanceof ApiError
      ? asBedrock(error)
      : bedrockError(500, 'InternalServerException', 'Internal server error');
  countStatus(ctx, answer.status);
  const json = JSON.stringify({ message: answer.message });
  res.writeHead(answer.status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(json)),
    'x-amzn-errortype': answer.type,
  });
  res.end(json);
}

/** Breaks the exchange off: resets the HTTP/2 stream (SDK clients) or the HTTP/1.1 socket. */
export function abort(res: ServerResponse): void {
  const stream = (res as unknown as { stream?: { close(code: number): void } }).stream;
  if (stream) stream.close(constants.NGHTTP2_INTERNAL_ERROR);
  else res.socket?.resetAndDestroy();
}

/** Injected /v1/videos-style faults in Bedrock's words. */
function asBedrock(error: ApiError): ApiError {
  if (/Exception$/.test(error.type)) return error;
  if (error.status === 429) return bedrockError(429, 'ThrottlingException', error.message);
  if (error.status === 503) return bedrockError(503, 'ServiceUnavailableException', error.message);
  if (error.status >= 500) return bedrockError(500, 'InternalServerException', error.message);
  return bedrockError(error.status, 'ValidationException', error.message);
}
