import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request as the stub server received it. */
export interface RecordedRequest {
  method: string;
  /** Path and query, e.g. /v1/videos?limit=2 */
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export type Responder = (request: RecordedRequest, res: ServerResponse) => void | Promise<void>;

export interface StubServer {
  /** Base URL including /v1, as the provider config takes it. */
  baseUrl: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

/** A scripted HTTP server on 127.0.0.1 (random port) that records every request. */
export async function startStubServer(respond: Responder): Promise<StubServer> {
  const requests: RecordedRequest[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const recorded = {
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      headers: req.headers,
      body: Buffer.concat(chunks),
    };
    requests.push(recorded);
    await respond(recorded, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const json = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(json)),
  });
  res.end(json);
}

export function sendError(
  res: ServerResponse,
  status: number,
  error: { message: string; code: string | null; param?: string | null; type?: string },
  headers: Record<string, string> = {},
): void {
  sendJson(
    res,
    status,
    {
      error: {
        message: error.message,
        type: error.type ?? 'invalid_request_error',
        param: error.param ?? null,
        code: error.code,
      },
    },
    headers,
  );
}

/** A wire `video` object with sensible values; override what the test is about. */
export function videoObject(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'video_123',
    object: 'video',
    status: 'queued',
    progress: 0,
    model: 'sora-2',
    size: '720x1280',
    seconds: '4',
    prompt: 'a calm lake at dawn',
    created_at: 1_760_000_000,
    completed_at: null,
    expires_at: null,
    error: null,
    remixed_from_video_id: null,
    ...overrides,
  };
}
