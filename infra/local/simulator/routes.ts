import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { ApiError, invalidValue, rateLimited } from './api-error.ts';
import { authorize } from './auth.ts';
import {
  abort,
  type BedrockContext,
  isBedrockPath,
  routeBedrock,
  sendBedrockError,
} from './bedrock.ts';
import { planContent, sendContent, type Variant, variants } from './content.ts';
import { parseCreateFields, parseRemixPrompt } from './create-params.ts';
import { readBody } from './request-body.ts';
import { countStatus, sendError, sendJson } from './responses.ts';
import {
  type ListQuery,
  statusAt,
  toVideoObject,
  type VideoParams,
  type VideoStore,
} from './video-store.ts';

/** Everything a request handler reads or changes. */
export interface SimulatorContext extends BedrockContext {
  store: VideoStore;
  closing: AbortSignal;
}

/** Serves one request: latency, injected faults, auth, then the /v1/videos routes. */
export async function handleRequest(
  ctx: SimulatorContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  ctx.counters.requests += 1;
  res.setHeader('x-request-id', `req_${ctx.counters.requests.toString(16).padStart(12, '0')}`);
  // The body is read as it arrives, before the simulated latency: a client that gives up while
  // the provider is "working" has still sent its create, and the job must still start.
  const body = req.method === 'POST' ? readBody(req) : Promise.resolve({});
  body.catch(() => {}); // awaited by the route, or never if the request is refused first
  try {
    if (ctx.knobs.latencyMs > 0) {
      await delay(ctx.knobs.latencyMs, undefined, { signal: ctx.closing });
    }
    const url = new URL(req.url ?? '/', 'http://simulator');
    if (isBedrockPath(url.pathname)) return await serveBedrock(ctx, req, res, url, body);
    // Azure OpenAI's v1 API lives under /openai/v1/ (https://<resource>.openai.azure.com).
    if (url.pathname.startsWith('/openai/v1/')) url.pathname = url.pathname.slice('/openai'.length);
    if (!url.pathname.startsWith('/v1/')) throw unknownUrl(req, url);
    const injected = ctx.traffic.injectedFailure(ctx.knobs);
    if (injected) throw injected;
    authorize(req, ctx.knobs.apiKey);
    if (ctx.knobs.rateLimitScope === 'all') admit(ctx);
    await route(ctx, req, res, url, body);
  } catch (error) {
    if (ctx.closing.aborted) {
      res.destroy();
      return;
    }
    sendError(ctx, res, error);
  }
}

/** Bedrock's API: the same injected faults, SigV4 accepted unchecked, Bedrock's error shape. */
async function serveBedrock(
  ctx: SimulatorContext,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  body: Promise<Record<string, unknown>>,
): Promise<void> {
  try {
    const injected = ctx.traffic.injectedFailure(ctx.knobs);
    if (injected) throw injected;
    await routeBedrock(ctx, req, res, url, body);
  } catch (error) {
    if (ctx.closing.aborted) {
      abort(res);
      return;
    }
    sendBedrockError(ctx, res, error);
  }
}

async function route(
  ctx: SimulatorContext,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  body: Promise<Record<string, unknown>>,
): Promise<void> {
  const method = req.method ?? 'GET';
  const parts = url.pathname.replace(/\/+$/, '').split('/').slice(2).map(decodeSegment);
  const [collection, id, action, ...rest] = parts;
  if (collection !== 'videos' || rest.length > 0) throw unknownUrl(req, url);
  if (id === undefined) {
    if (method === 'POST') return createVideo(ctx, req, res, body);
    if (method === 'GET') return sendJson(ctx, res, 200, listVideos(ctx, url));
    throw methodNotAllowed(req, url);
  }
  if (action === undefined) {
    if (method === 'GET') {
      return sendJson(ctx, res, 200, toVideoObject(ctx.store.get(id), ctx.now()));
    }
    if (method === 'DELETE') {
      const atMs = ctx.now();
      ctx.store.delete(id, atMs);
      ctx.journal?.append({ kind: 'deleted', id, atMs });
      return sendJson(ctx, res, 200, { id, object: 'video.deleted', deleted: true });
    }
    throw methodNotAllowed(req, url);
  }
  if (action === 'remix' && method === 'POST') return remixVideo(ctx, req, res, body, id);
  if (action === 'content' && method === 'GET') return sendVideoContent(ctx, res, id, url);
  if (action === 'remix' || action === 'content') throw methodNotAllowed(req, url);
  throw unknownUrl(req, url);
}

async function createVideo(
  ctx: SimulatorContext,
  req: IncomingMessage,
  res: ServerResponse,
  body: Promise<Record<string, unknown>>,
) {
  ctx.counters.createRequests += 1;
  if (ctx.knobs.rateLimitScope === 'create') admit(ctx);
  const fields = parseCreateFields(await body, ctx.knobs.models);
  startJob(ctx, res, { ...fields, remixedFromVideoId: null, idempotencyKey: idempotencyKey(req) });
}

async function remixVideo(
  ctx: SimulatorContext,
  req: IncomingMessage,
  res: ServerResponse,
  body: Promise<Record<string, unknown>>,
  sourceId: string,
) {
  ctx.counters.createRequests += 1;
  if (ctx.knobs.rateLimitScope === 'create') admit(ctx);
  const source = ctx.store.get(sourceId);
  const prompt = parseRemixPrompt(await body);
  const status = statusAt(source, ctx.now());
  if (status !== 'completed') {
    throw new ApiError(400, {
      message: `Video '${sourceId}' cannot be remixed: its status is '${status}', not 'completed'.`,
      type: 'invalid_request_error',
      param: 'video_id',
      code: 'video_not_ready',
    });
  }
  startJob(ctx, res, {
    prompt,
    model: source.model,
    size: source.size,
    seconds: source.seconds,
    inputReference: null,
    remixedFromVideoId: sourceId,
    idempotencyKey: idempotencyKey(req),
  });
}

/** Moderation and capacity checks, then a new job on the clock. */
function startJob(ctx: SimulatorContext, res: ServerResponse, params: VideoParams): void {
  const { knobs, store } = ctx;
  if (params.prompt.includes(knobs.moderationMarker)) {
    throw new ApiError(400, {
      message: knobs.quotePromptInErrors
        ? `Your request was blocked by our moderation system: "${params.prompt}" may contain content that is not allowed.`
        : 'Your request was blocked by our moderation system. The prompt may contain content that is not allowed.',
      type: 'invalid_request_error',
      param: 'prompt',
      code: 'moderation_blocked',
    });
  }
  const nowMs = ctx.now();
  const limit = knobs.maxConcurrentJobs;
  if (limit !== null && store.activeJobsAt(nowMs) >= limit) {
    const nextEnd = store.nextJobEndAfter(nowMs) ?? nowMs + 1000;
    throw rateLimited(
      `Too many concurrent video jobs: at most ${limit} may be queued or in progress at once.`,
      nextEnd - nowMs,
    );
  }
  const record = store.create(params, nowMs, {
    speed: knobs.speed,
    contentTtlSeconds: knobs.contentTtlSeconds,
    renderFactor: knobs.models[params.model]?.renderFactor ?? 1,
    willFail: params.prompt.includes(knobs.renderFailureMarker),
  });
  ctx.journal?.append({ kind: 'video', record });
  ctx.counters.creates += 1;
  if (knobs.dropNextCreateResponses > 0) {
    knobs.dropNextCreateResponses -= 1;
    ctx.counters.droppedCreateResponses += 1;
    res.socket?.resetAndDestroy();
    return;
  }
  sendJson(ctx, res, 200, toVideoObject(record, nowMs));
}

function listVideos(ctx: SimulatorContext, url: URL) {
  const query: ListQuery = { after: url.searchParams.get('after'), limit: 20, order: 'desc' };
  const limit = url.searchParams.get('limit');
  if (limit !== null) {
    query.limit = Number(limit);
    if (!/^\d+$/.test(limit) || query.limit < 1 || query.limit > 100) {
      throw invalidValue(
        'limit',
        `Invalid 'limit': expected an integer from 1 to 100, got '${limit}'.`,
      );
    }
  }
  const order = url.searchParams.get('order');
  if (order !== null) {
    if (order !== 'asc' && order !== 'desc') {
      throw invalidValue('order', `Invalid 'order': expected 'asc' or 'desc', got '${order}'.`);
    }
    query.order = order;
  }
  return ctx.store.list(query, ctx.now());
}

async function sendVideoContent(ctx: SimulatorContext, res: ServerResponse, id: string, url: URL) {
  const record = ctx.store.get(id);
  const variant = url.searchParams.get('variant') ?? 'video';
  if (!isVariant(variant)) {
    throw invalidValue(
      'variant',
      `Invalid 'variant': expected one of ${variants.join(', ')}, got '${variant}'.`,
    );
  }
  const nowMs = ctx.now();
  const status = statusAt(record, nowMs);
  if (status !== 'completed') {
    throw new ApiError(400, {
      message:
        status === 'failed'
          ? `Video '${id}' failed to generate and has no content.`
          : `Video '${id}' is not ready yet: its status is '${status}'.`,
      type: 'invalid_request_error',
      param: 'video_id',
      code: status === 'failed' ? 'video_failed' : 'video_not_ready',
    });
  }
  if (record.expiresAtMs !== null && nowMs >= record.expiresAtMs) {
    throw new ApiError(404, {
      message: `The content of video '${id}' has expired and is no longer available.`,
      type: 'invalid_request_error',
      param: 'video_id',
      code: 'video_expired',
    });
  }
  const { knobs } = ctx;
  const plan = planContent(record, variant, knobs.contentSizeBytes);
  const cuts = [
    { afterBytes: knobs.truncateContentBytes, mode: 'truncate' as const },
    { afterBytes: knobs.dropConnectionAfterBytes, mode: 'drop' as const },
  ].flatMap((cut) => (cut.afterBytes === null ? [] : [{ ...cut, afterBytes: cut.afterBytes }]));
  const cutoff = cuts.sort((a, b) => a.afterBytes - b.afterBytes)[0] ?? null;
  countStatus(ctx, 200);
  await sendContent(res, plan, cutoff);
}

function admit(ctx: SimulatorContext): void {
  const limited = ctx.traffic.admit(ctx.knobs, ctx.now());
  if (limited) throw limited;
}

const unknownUrl = (req: IncomingMessage, url: URL): ApiError =>
  new ApiError(404, {
    message: `Invalid URL (${req.method} ${url.pathname})`,
    type: 'invalid_request_error',
    code: 'unknown_url',
  });

const methodNotAllowed = (req: IncomingMessage, url: URL): ApiError =>
  new ApiError(405, {
    message: `Method ${req.method} is not allowed on ${url.pathname}.`,
    type: 'invalid_request_error',
    code: 'method_not_allowed',
  });

// A malformed escape is kept as it is: it names no video, so it ends in a plain 404.
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

const idempotencyKey = (req: IncomingMessage): string | null => {
  const key = req.headers['idempotency-key'];
  return typeof key === 'string' && key !== '' ? key : null;
};

const isVariant = (value: string): value is Variant =>
  (variants as readonly string[]).includes(value);
