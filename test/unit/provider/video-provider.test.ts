import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import busboy from 'busboy';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type ProviderConfigInput,
  parseProviderConfig,
} from '../../../functions/shared/provider/provider-config.ts';
import {
  ProviderAmbiguousCreateError,
  ProviderContentExpiredError,
  ProviderError,
  ProviderNotFoundError,
  ProviderRateLimitedError,
  ProviderRejectedError,
  ProviderTransientError,
} from '../../../functions/shared/provider/provider-errors.ts';
import { VideoProvider } from '../../../functions/shared/provider/video-provider.ts';
import {
  type RecordedRequest,
  type Responder,
  type StubServer,
  sendError,
  sendJson,
  startStubServer,
  videoObject,
} from './stub-server.ts';

const API_KEY = 'sk-unit-test-key-0123456789';

let server: StubServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function providerFor(
  respond: Responder,
  overrides: Partial<ProviderConfigInput> = {},
): Promise<{ provider: VideoProvider; requests: RecordedRequest[] }> {
  server = await startStubServer(respond);
  const config = parseProviderConfig({
    baseUrl: server.baseUrl,
    apiKey: API_KEY,
    timeoutMs: 2_000,
    ...overrides,
  });
  return { provider: new VideoProvider(config), requests: server.requests };
}

async function rejection(promise: Promise<unknown>): Promise<ProviderError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ProviderError) return error;
    throw error;
  }
  throw new Error('expected the call to fail');
}

async function streamError(stream: Readable): Promise<ProviderError> {
  return rejection(
    (async () => {
      for await (const _chunk of stream) {
        // drain
      }
    })(),
  );
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

interface FormPart {
  value: string;
  filename?: string;
  mimeType?: string;
}

function parseForm(request: RecordedRequest): Promise<Record<string, FormPart>> {
  return new Promise((resolve, reject) => {
    const parts: Record<string, FormPart> = {};
    const parser = busboy({ headers: request.headers });
    parser.on('field', (name, value) => {
      parts[name] = { value };
    });
    parser.on('file', (name, file, info) => {
      const chunks: Buffer[] = [];
      file.on('data', (chunk: Buffer) => chunks.push(chunk));
      file.on('end', () => {
        parts[name] = {
          value: Buffer.concat(chunks).toString('base64'),
          filename: info.filename,
          mimeType: info.mimeType,
        };
      });
    });
    parser.on('close', () => resolve(parts));
    parser.on('error', reject);
    parser.end(request.body);
  });
}

const createRequest = {
  prompt: 'a calm lake at dawn',
  model: 'sora-2',
  size: '1280x720',
  seconds: '8',
  idempotencyKey: 'job-42',
};

/** Answers 503 (with a 1 ms retry hint, so SDK retries are quick) `failures` times, then `then`. */
function failThen(failures: number, then: Responder): Responder {
  let seen = 0;
  return (request, res) => {
    seen += 1;
    if (seen <= failures) {
      sendError(
        res,
        503,
        { message: 'overloaded', code: 'service_unavailable', type: 'server_error' },
        { 'retry-after-ms': '1' },
      );
      return;
    }
    return then(request, res);
  };
}

describe('VideoProvider.create', () => {
  it('posts the parameters as multipart with the key and an Idempotency-Key header', async () => {
    // Prepare
    const { provider, requests } = await providerFor((_request, res) =>
      sendJson(res, 200, videoObject({ id: 'video_new', size: '1280x720', seconds: '8' })),
    );

    // Act
    const video = await provider.create(createRequest);

    // Assess
    expect(requests).toHaveLength(1);
    const [request] = requests;
    expect(request?.method).toBe('POST');
    expect(request?.url).toBe('/v1/videos');
    expect(request?.headers['idempotency-key']).toBe('job-42');
    expect(request?.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(request?.headers['content-type']).toMatch(/^multipart\/form-data/);
    const form = request ? await parseForm(request) : {};
    expect(form.prompt?.value).toBe('a calm lake at dawn');
    expect(form.model?.value).toBe('sora-2');
    expect(form.size?.value).toBe('1280x720');
    expect(form.seconds?.value).toBe('8');
    expect(video).toMatchObject({ id: 'video_new', status: 'queued', size: '1280x720' });
  });

  it('uploads a byte reference image as the input_reference file part', async () => {
    // Prepare
    const { provider, requests } = await providerFor((_request, res) =>
      sendJson(res, 200, videoObject()),
    );
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);

    // Act
    await provider.create({
      ...createRequest,
      inputReference: { data: png, filename: 'ref.png', contentType: 'image/png' },
    });

    // Assess
    const form = requests[0] ? await parseForm(requests[0]) : {};
    expect(form.input_reference).toEqual({
      value: png.toString('base64'),
      filename: 'ref.png',
      mimeType: 'image/png',
    });
  });

  it('does not retry a 5xx: a second create could start a second paid job', async () => {
    // Prepare
    const { provider, requests } = await providerFor(
      failThen(5, (_request, res) => sendJson(res, 200, videoObject())),
    );

    // Act
    const error = await rejection(provider.create(createRequest));

    // Assess
    expect(error).toBeInstanceOf(ProviderTransientError);
    expect(requests).toHaveLength(1);
  });

  it('does not retry a 429 and reports how long to wait', async () => {
    // Prepare
    const { provider, requests } = await providerFor((_request, res) =>
      sendError(
        res,
        429,
        { message: 'Rate limit reached', code: 'rate_limit_exceeded', type: 'requests' },
        { 'retry-after': '12' },
      ),
    );

    // Act
    const error = await rejection(provider.create(createRequest));

    // Assess
    expect(error).toBeInstanceOf(ProviderRateLimitedError);
    expect((error as ProviderRateLimitedError).retryAfterSeconds).toBe(12);
    expect(requests).toHaveLength(1);
  });

  it('reports a create that times out as ambiguous, after a single attempt', async () => {
    // Prepare: the server takes the request and never answers.
    const pending: ServerResponse[] = [];
    const { provider, requests } = await providerFor(
      (_request, res) => {
        pending.push(res);
      },
      { timeoutMs: 200 },
    );

    // Act
    const error = await rejection(provider.create(createRequest));

    // Assess
    expect(error).toBeInstanceOf(ProviderAmbiguousCreateError);
    expect(error.code).toBe('timeout');
    expect(requests).toHaveLength(1);
  });

  it('reports a connection dropped after sending as ambiguous', async () => {
    // Prepare
    const { provider, requests } = await providerFor((_request, res) => {
      res.socket?.destroy();
    });

    // Act
    const error = await rejection(provider.create(createRequest));

    // Assess
    expect(error).toBeInstanceOf(ProviderAmbiguousCreateError);
    expect(requests).toHaveLength(1);
  });

  it('reports a refused connection as transient: nothing reached the provider', async () => {
    // Prepare: a port that was just free and now has no listener.
    const stub = await startStubServer(() => {});
    const baseUrl = stub.baseUrl;
    await stub.close();
    const provider = new VideoProvider(parseProviderConfig({ baseUrl, apiKey: API_KEY }));

    // Act
    const error = await rejection(provider.create(createRequest));

    // Assess
    expect(error).toBeInstanceOf(ProviderTransientError);
    expect(error.code).toBe('connection_refused');
  });

  it('reports moderation as a rejection carrying the blamed parameter', async () => {
    // Prepare
    const { provider } = await providerFor((_request, res) =>
      sendError(res, 400, {
        message: 'Your request was blocked by our moderation system.',
        code: 'moderation_blocked',
        param: 'prompt',
      }),
    );

    // Act
    const error = await rejection(provider.create(createRequest));

    // Assess
    expect(error).toBeInstanceOf(ProviderRejectedError);
    expect(error.code).toBe('moderation_blocked');
    expect((error as ProviderRejectedError).param).toBe('prompt');
  });

  it('never puts the API key in the error of a refused key', async () => {
    // Prepare
    const { provider } = await providerFor((request, res) =>
      sendError(res, 401, {
        message: `Incorrect API key provided: ${request.headers.authorization}`,
        code: 'invalid_api_key',
      }),
    );

    // Act
    const error = await rejection(provider.create(createRequest));

    // Assess
    expect(error).toBeInstanceOf(ProviderRejectedError);
    expect(`${error.message} ${error.providerMessage} ${error.stack}`).not.toContain(API_KEY);
    expect(String((error.cause as Error).message)).not.toContain(API_KEY);
  });

  it('never puts the prompt in the error of a refusal that quotes it', async () => {
    // Prepare
    const { provider } = await providerFor((_request, res) =>
      sendError(res, 400, {
        message: `Your request was blocked by our moderation system: "${createRequest.prompt}".`,
        code: 'moderation_blocked',
        param: 'prompt',
      }),
    );

    // Act
    const error = await rejection(provider.create(createRequest));

    // Assess
    expect(error.code).toBe('moderation_blocked');
    expect(error.message).toContain('[REDACTED]');
    expect(`${error.message} ${error.providerMessage} ${error.stack}`).not.toContain(
      createRequest.prompt,
    );
    expect(String((error.cause as Error).message)).not.toContain(createRequest.prompt);
  });

  it('refuses an empty idempotency key before calling the provider', async () => {
    // Prepare
    const { provider, requests } = await providerFor((_request, res) =>
      sendJson(res, 200, videoObject()),
    );

    // Act & Assess
    await expect(provider.create({ ...createRequest, idempotencyKey: ' ' })).rejects.toThrow(
      /idempotencyKey/,
    );
    expect(requests).toHaveLength(0);
  });
});

describe('VideoProvider.remix', () => {
  it('posts the new prompt with an Idempotency-Key and does not retry', async () => {
    // Prepare
    const { provider, requests } = await providerFor(failThen(1, () => {}));

    // Act
    const error = await rejection(
      provider.remix('video_src', { prompt: 'now at dusk', idempotencyKey: 'job-43' }),
    );

    // Assess
    expect(error).toBeInstanceOf(ProviderTransientError);
    expect(requests).toHaveLength(1);
    expect(requests[0]?.url).toBe('/v1/videos/video_src/remix');
    expect(requests[0]?.headers['idempotency-key']).toBe('job-43');
    expect(JSON.parse(requests[0]?.body.toString() ?? '')).toEqual({ prompt: 'now at dusk' });
  });

  it('returns the new job with its source', async () => {
    // Prepare
    const { provider } = await providerFor((_request, res) =>
      sendJson(res, 200, videoObject({ id: 'video_remix', remixed_from_video_id: 'video_src' })),
    );

    // Act
    const video = await provider.remix('video_src', { prompt: 'dusk', idempotencyKey: 'k' });

    // Assess
    expect(video.remixedFromVideoId).toBe('video_src');
  });
});

describe('VideoProvider safe calls', () => {
  it('retries a retrieve on 503 and returns the normalized video', async () => {
    // Prepare
    const { provider, requests } = await providerFor(
      failThen(2, (_request, res) =>
        sendJson(
          res,
          200,
          videoObject({
            status: 'completed',
            progress: 100,
            completed_at: 1_760_000_100,
            expires_at: 1_760_003_700,
          }),
        ),
      ),
    );

    // Act
    const video = await provider.retrieve('video_123');

    // Assess
    expect(requests).toHaveLength(3);
    expect(requests.every((request) => request.url === '/v1/videos/video_123')).toBe(true);
    expect(video).toEqual({
      id: 'video_123',
      status: 'completed',
      progress: 100,
      model: 'sora-2',
      size: '720x1280',
      seconds: '4',
      prompt: 'a calm lake at dawn',
      createdAt: 1_760_000_000,
      completedAt: 1_760_000_100,
      expiresAt: 1_760_003_700,
      error: undefined,
      remixedFromVideoId: undefined,
    });
  });

  it('gives up after maxRetries retries with a transient error', async () => {
    // Prepare
    const { provider, requests } = await providerFor(
      failThen(99, () => {}),
      { maxRetries: 1 },
    );

    // Act
    const error = await rejection(provider.retrieve('video_123'));

    // Assess
    expect(error).toBeInstanceOf(ProviderTransientError);
    expect(error.status).toBe(503);
    expect(requests).toHaveLength(2);
  });

  it('maps a 404 on retrieve to ProviderNotFoundError without retrying', async () => {
    // Prepare
    const { provider, requests } = await providerFor((_request, res) =>
      sendError(res, 404, { message: 'no such video', code: 'video_not_found' }),
    );

    // Act
    const error = await rejection(provider.retrieve('video_missing'));

    // Assess
    expect(error).toBeInstanceOf(ProviderNotFoundError);
    expect(requests).toHaveLength(1);
  });

  it('reports a failed job with its error', async () => {
    // Prepare
    const { provider } = await providerFor((_request, res) =>
      sendJson(
        res,
        200,
        videoObject({
          status: 'failed',
          error: { code: 'render_failed', message: 'GPU fell over' },
        }),
      ),
    );

    // Act
    const video = await provider.retrieve('video_123');

    // Assess
    expect(video.status).toBe('failed');
    expect(video.error).toEqual({ code: 'render_failed', message: 'GPU fell over' });
  });

  it('reports an unknown status as failed instead of polling it forever', async () => {
    // Prepare
    const { provider } = await providerFor((_request, res) =>
      sendJson(res, 200, videoObject({ status: 'cancelled' })),
    );

    // Act
    const video = await provider.retrieve('video_123');

    // Assess
    expect(video.status).toBe('failed');
    expect(video.error?.code).toBe('unexpected_status');
  });

  it('lists with the cursor, limit and order, and returns the paging fields', async () => {
    // Prepare
    const { provider, requests } = await providerFor((_request, res) =>
      sendJson(res, 200, {
        object: 'list',
        data: [videoObject({ id: 'video_b' }), videoObject({ id: 'video_c' })],
        first_id: 'video_b',
        last_id: 'video_c',
        has_more: true,
      }),
    );

    // Act
    const page = await provider.list({ after: 'video_a', limit: 2, order: 'asc' });

    // Assess
    const url = new URL(requests[0]?.url ?? '', 'http://stub');
    expect(url.pathname).toBe('/v1/videos');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      after: 'video_a',
      limit: '2',
      order: 'asc',
    });
    expect(page.videos.map((video) => video.id)).toEqual(['video_b', 'video_c']);
    expect(page.hasMore).toBe(true);
    expect(page.lastId).toBe('video_c');
  });

  it('deletes a video', async () => {
    // Prepare
    const { provider, requests } = await providerFor((_request, res) =>
      sendJson(res, 200, { id: 'video_123', object: 'video.deleted', deleted: true }),
    );

    // Act
    const result = await provider.delete('video_123');

    // Assess
    expect(requests[0]?.method).toBe('DELETE');
    expect(requests[0]?.url).toBe('/v1/videos/video_123');
    expect(result).toEqual({ id: 'video_123', deleted: true });
  });
});

describe('VideoProvider.downloadContent', () => {
  const payload = Buffer.alloc(300_000, 7);

  it('streams the asked variant with its length and type', async () => {
    // Prepare
    const { provider, requests } = await providerFor((_request, res) => {
      res.writeHead(200, { 'content-type': 'image/webp', 'content-length': payload.length });
      res.end(payload);
    });

    // Act
    const content = await provider.downloadContent('video_123', 'thumbnail');
    const bytes = await readAll(content.stream);

    // Assess
    expect(requests[0]?.url).toBe('/v1/videos/video_123/content?variant=thumbnail');
    expect(content.contentLength).toBe(payload.length);
    expect(content.contentType).toBe('image/webp');
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(
      createHash('sha256').update(payload).digest('hex'),
    );
  });

  it('hands over the body before the provider has finished sending it', async () => {
    // Prepare: the server sends half, and the rest only once the client holds the stream.
    let sendRest: () => void = () => {};
    const { provider } = await providerFor((_request, res) => {
      res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': payload.length });
      res.write(payload.subarray(0, 1000));
      sendRest = () => res.end(payload.subarray(1000));
    });

    // Act
    const content = await provider.downloadContent('video_123');
    const chunks = content.stream[Symbol.asyncIterator]();
    const first = await chunks.next();
    sendRest();
    let received = (first.value as Buffer).length;
    for (let next = await chunks.next(); !next.done; next = await chunks.next()) {
      received += (next.value as Buffer).length;
    }

    // Assess
    expect(first.done).toBe(false);
    expect(received).toBe(payload.length);
  });

  it('errors the stream with ProviderTransientError when the body is cut short', async () => {
    // Prepare
    const { provider } = await providerFor((_request, res) => {
      res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': payload.length });
      res.write(payload.subarray(0, 50_000), () => res.destroy());
    });

    // Act
    const content = await provider.downloadContent('video_123');
    const error = await streamError(content.stream);

    // Assess
    expect(error).toBeInstanceOf(ProviderTransientError);
    expect(error.operation).toBe('download');
  });

  it('errors the stream with ProviderTransientError when the body stalls', async () => {
    // Prepare
    const { provider } = await providerFor(
      (_request, res) => {
        res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': payload.length });
        res.write(payload.subarray(0, 1000));
      },
      { timeoutMs: 200 },
    );

    // Act
    const content = await provider.downloadContent('video_123');
    const error = await streamError(content.stream);

    // Assess
    expect(error).toBeInstanceOf(ProviderTransientError);
    expect(error.code).toBe('download_stalled');
  });

  it('throws ProviderContentExpiredError for expired content', async () => {
    // Prepare
    const { provider } = await providerFor((_request, res) =>
      sendError(res, 404, { message: 'expired', code: 'video_expired', param: 'video_id' }),
    );

    // Act
    const error = await rejection(provider.downloadContent('video_123'));

    // Assess
    expect(error).toBeInstanceOf(ProviderContentExpiredError);
  });

  it('never reads the body whole', async () => {
    // Prepare
    const { provider } = await providerFor((_request, res) => {
      res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': payload.length });
      res.end(payload);
    });
    const spies = (['arrayBuffer', 'blob', 'bytes', 'text', 'json'] as const).map((method) =>
      vi.spyOn(Response.prototype, method),
    );

    // Act
    try {
      const content = await provider.downloadContent('video_123');
      await readAll(content.stream);

      // Assess
      for (const spy of spies) expect(spy).not.toHaveBeenCalled();
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
  });
});

describe('VideoProvider.findCreatedJob', () => {
  // Newest first, as the provider lists by default. created_at in Unix seconds.
  const listing = [
    videoObject({ id: 'v6', created_at: 1060, prompt: 'other' }),
    videoObject({ id: 'v5', created_at: 1050, prompt: 'p', size: '1280x720' }),
    videoObject({ id: 'v4', created_at: 1040, prompt: 'p' }),
    videoObject({ id: 'v3', created_at: 1030, prompt: 'p', seconds: '8' }),
    videoObject({ id: 'v2', created_at: 1020, prompt: 'p' }),
    videoObject({ id: 'v1', created_at: 900, prompt: 'p' }),
    videoObject({ id: 'v0', created_at: 800, prompt: 'p' }),
  ];

  /** Serves `listing` in pages, honouring after and limit. */
  const pagedList: Responder = (request, res) => {
    const url = new URL(request.url, 'http://stub');
    const after = url.searchParams.get('after');
    const limit = Number(url.searchParams.get('limit') ?? '20');
    const start = after ? listing.findIndex((video) => video.id === after) + 1 : 0;
    const data = listing.slice(start, start + limit);
    sendJson(res, 200, {
      object: 'list',
      data,
      first_id: data[0]?.id ?? null,
      last_id: data.at(-1)?.id ?? null,
      has_more: start + limit < listing.length,
    });
  };

  const criteria = {
    prompt: 'p',
    model: 'sora-2',
    size: '720x1280',
    seconds: '4',
    createdAfter: new Date(1_000_000),
  };

  it('finds the matching job closest to our create, across pages, newest first', async () => {
    // Prepare
    const { provider, requests } = await providerFor(pagedList);

    // Act
    const found = await provider.findCreatedJob(criteria, { pageSize: 2, clockSkewSeconds: 0 });

    // Assess
    expect(found?.id).toBe('v2');
    const queries = requests.map((request) => new URL(request.url, 'http://stub').searchParams);
    expect(queries.every((query) => query.get('order') === 'desc')).toBe(true);
    expect(queries.map((query) => query.get('after'))).toEqual([null, 'v5', 'v3']);
  });

  it('stops listing once it reaches jobs older than createdAfter', async () => {
    // Prepare
    const { provider, requests } = await providerFor(pagedList);

    // Act
    await provider.findCreatedJob(criteria, { pageSize: 2, clockSkewSeconds: 0 });

    // Assess: page 3 (v2, v1) reaches v1 (older); v0 is never asked for.
    expect(requests).toHaveLength(3);
  });

  it('skips ids already claimed by other jobs', async () => {
    // Prepare
    const { provider } = await providerFor(pagedList);

    // Act
    const found = await provider.findCreatedJob(
      { ...criteria, excludeIds: ['v2'] },
      { pageSize: 2, clockSkewSeconds: 0 },
    );

    // Assess
    expect(found?.id).toBe('v4');
  });

  it('gives up after maxPages', async () => {
    // Prepare
    const { provider, requests } = await providerFor(pagedList);

    // Act
    const found = await provider.findCreatedJob(criteria, {
      pageSize: 1,
      maxPages: 2,
      clockSkewSeconds: 0,
    });

    // Assess
    expect(found).toBeUndefined();
    expect(requests).toHaveLength(2);
  });

  it('returns undefined when nothing matches', async () => {
    // Prepare
    const { provider } = await providerFor(pagedList);

    // Act
    const found = await provider.findCreatedJob({ ...criteria, prompt: 'never sent' });

    // Assess
    expect(found).toBeUndefined();
  });

  it('tolerates clock skew: a job stamped slightly before createdAfter still matches', async () => {
    // Prepare
    const { provider } = await providerFor(pagedList);

    // Act
    const found = await provider.findCreatedJob(
      { ...criteria, createdAfter: new Date(1_025_000) },
      { clockSkewSeconds: 10 },
    );

    // Assess
    expect(found?.id).toBe('v2');
  });
});
