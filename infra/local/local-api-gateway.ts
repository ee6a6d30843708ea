import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { nowMs } from '../../functions/shared/clock.ts';
import type { LocalAuthorizer, LocalHttpApi, LocalRoute } from './http-api-routes.ts';
import { matchRoute } from './http-api-routes.ts';
import type { LambdaInvokeResult } from './in-process-lambdas.ts';
import { LOCAL_ACCOUNT, LOCAL_REGION } from './local-ids.ts';

export interface LocalApiGatewayOptions {
  api: LocalHttpApi;
  invokeLambda: (functionArn: string, event: unknown) => Promise<LambdaInvokeResult>;
  /** 0 or absent picks a free port. */
  port?: number;
  /** Told about function errors that API Gateway would only log (the client sees a bare 500). */
  onFunctionError?: (routeKey: string, result: LambdaInvokeResult) => void;
  /**
   * Unauthenticated JSON documents served by path (GET/HEAD) before route matching, e.g.
   * `/openapi.json`. Local-only: API Gateway itself serves no such path.
   */
  documents?: Record<string, (apiUrl: string) => unknown>;
  /**
   * Origins allowed by the API's CORS configuration besides the template's literal ones (the
   * deployed console's origin is a CloudFront domain; locally the console has its own port).
   */
  extraCorsOrigins?: () => string[];
}

export interface RunningLocalApiGateway {
  /** http://127.0.0.1:PORT, the API's base URL (the `$default` stage). */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** HTTP API's payload limit. */
const MAX_BODY_BYTES = 10 * 1024 * 1024;
const TEXT_TYPE = /^(text\/|application\/(json|xml|javascript)|application\/[\w.+-]+\+(json|xml))/i;

type Reply = { status: number; headers: Record<string, string>; body: Buffer };

const message = (status: number, text: string): Reply => ({
  status,
  headers: { 'content-type': 'application/json' },
  body: Buffer.from(JSON.stringify({ message: text })),
});

/**
 * A local HTTP API: routes from the synthesized template, the payload 2.0 event API Gateway
 * builds, the Lambda REQUEST authorizer run first with API Gateway's decisions (missing identity
 * -> 401, denied -> 403, authorizer failure -> 500), then the route's function, its result
 * mapped to HTTP with the payload 2.0 rules. Request times and the authorizer cache's TTL run on
 * the pipeline's clock (the local stack's `--speed` clock).
 */
export async function startLocalApiGateway(
  options: LocalApiGatewayOptions,
): Promise<RunningLocalApiGateway> {
  let apiUrl = '';
  const authorizerCache = new Map<string, { expires: number; decision: AuthorizerDecision }>();
  const server = createServer((req, res) => {
    void handle(req, res).catch(() => {
      if (!res.headersSent) send(res, message(500, 'Internal Server Error'), randomUUID());
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const body = await readBody(req);
    if (body === undefined) {
      // The rest of the body is not read: the connection cannot carry another request.
      const tooLarge = message(413, 'Request Entity Too Large');
      return send(
        res,
        { ...tooLarge, headers: { ...tooLarge.headers, connection: 'close' } },
        requestId,
      );
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = (req.method ?? 'GET').toUpperCase();
    const cors = corsHeaders(req);
    if (cors.preflight)
      return send(res, { status: 204, headers: cors.headers, body: Buffer.alloc(0) }, requestId);
    const reply = (answer: Reply) =>
      send(res, { ...answer, headers: { ...answer.headers, ...cors.headers } }, requestId);
    const document = options.documents?.[url.pathname];
    if (document && (method === 'GET' || method === 'HEAD')) {
      return reply({
        status: 200,
        headers: {
          'content-type': 'application/json; charset=utf-8',
          'cache-control': 'no-store',
        },
        body: Buffer.from(JSON.stringify(document(apiUrl))),
      });
    }
    const match = matchRoute(options.api.routes, method, url.pathname);
    if (!match) return reply(message(404, 'Not Found'));
    const event = buildEvent(
      req,
      url,
      body,
      match.route,
      match.pathParameters,
      options.api.apiId,
      requestId,
    );

    let integrationEvent: APIGatewayProxyEventV2 = event;
    if (match.route.authorizer) {
      const decision = await authorize(match.route.authorizer, event, method, url.pathname);
      if (decision.outcome !== 'allow') {
        const [status, text] =
          decision.outcome === 'unauthorized'
            ? [401, 'Unauthorized']
            : decision.outcome === 'forbidden'
              ? [403, 'Forbidden']
              : [500, 'Internal Server Error'];
        return reply(message(status, text));
      }
      integrationEvent = {
        ...event,
        requestContext: { ...event.requestContext, authorizer: { lambda: decision.context } },
      } as APIGatewayProxyEventV2;
    }

    const result = await options.invokeLambda(match.route.functionArn, integrationEvent);
    if ('functionError' in result) {
      options.onFunctionError?.(match.route.routeKey, result);
      return reply(message(500, 'Internal Server Error'));
    }
    reply(mapResult(result.payload));
  }

  /**
   * API Gateway's CORS for an HTTP API with a CORS configuration: it answers a preflight itself
   * (before routes and authorizers) and adds the allow-origin header to every answer, the
   * authorizer's 401 and 403 included, when the request's Origin is allowed.
   */
  function corsHeaders(req: IncomingMessage): {
    preflight: boolean;
    headers: Record<string, string>;
  } {
    const cors = options.api.cors;
    const origin = req.headers.origin;
    const isPreflight =
      cors !== undefined &&
      req.method === 'OPTIONS' &&
      typeof req.headers['access-control-request-method'] === 'string';
    if (!cors || !origin) return { preflight: isPreflight, headers: {} };
    const origins = [...cors.allowOrigins, ...(options.extraCorsOrigins?.() ?? [])];
    if (!origins.includes(origin) && !origins.includes('*')) {
      return { preflight: isPreflight, headers: {} };
    }
    const headers: Record<string, string> = {
      'access-control-allow-origin': origin,
      vary: 'origin',
    };
    if (isPreflight) {
      const wanted = String(req.headers['access-control-request-method']).toUpperCase();
      if (!cors.allowMethods.includes(wanted) && !cors.allowMethods.includes('*')) {
        return { preflight: true, headers: {} };
      }
      headers['access-control-allow-methods'] = cors.allowMethods.join(',');
      if (cors.allowHeaders.length > 0) {
        headers['access-control-allow-headers'] = cors.allowHeaders.join(',');
      }
      if (cors.maxAgeSeconds !== undefined) {
        headers['access-control-max-age'] = String(cors.maxAgeSeconds);
      }
    } else if (cors.exposeHeaders.length > 0) {
      headers['access-control-expose-headers'] = cors.exposeHeaders.join(',');
    }
    return { preflight: isPreflight, headers };
  }

  async function authorize(
    authorizer: LocalAuthorizer,
    event: APIGatewayProxyEventV2,
    method: string,
    path: string,
  ): Promise<AuthorizerDecision> {
    const identity = authorizer.identitySource.map((source) => identityValue(source, event));
    if (identity.some((value) => value === undefined || value === '')) {
      return { outcome: 'unauthorized' };
    }
    const cacheKey = `${authorizer.logicalId}\n${identity.join('\n')}`;
    const cached = authorizerCache.get(cacheKey);
    if (cached && cached.expires > nowMs()) return cached.decision;
    const { body: _body, isBase64Encoded: _encoded, ...request } = event;
    const authorizerEvent = {
      ...request,
      type: 'REQUEST',
      routeArn: `arn:aws:execute-api:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${options.api.apiId}/$default/${method}${path}`,
      identitySource: identity,
    };
    const result = await options.invokeLambda(authorizer.functionArn, authorizerEvent);
    if ('functionError' in result) {
      options.onFunctionError?.(`authorizer ${authorizer.logicalId}`, result);
      return { outcome: 'error' };
    }
    const decision = authorizerDecision(result.payload, authorizer.simpleResponses);
    if (authorizer.ttlSeconds > 0 && decision.outcome !== 'error') {
      authorizerCache.set(cacheKey, {
        expires: nowMs() + authorizer.ttlSeconds * 1000,
        decision,
      });
    }
    return decision;
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  apiUrl = `http://127.0.0.1:${port}`;
  return {
    url: apiUrl,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

type AuthorizerDecision =
  | { outcome: 'allow'; context: Record<string, unknown> }
  | { outcome: 'unauthorized' | 'forbidden' | 'error' };

function authorizerDecision(payload: unknown, simpleResponses: boolean): AuthorizerDecision {
  if (typeof payload !== 'object' || payload === null) return { outcome: 'error' };
  const response = payload as {
    isAuthorized?: unknown;
    context?: unknown;
    policyDocument?: { Statement?: { Effect?: string }[] };
  };
  const context =
    typeof response.context === 'object' && response.context !== null
      ? (response.context as Record<string, unknown>)
      : {};
  if (simpleResponses) {
    if (typeof response.isAuthorized !== 'boolean') return { outcome: 'error' };
    return response.isAuthorized ? { outcome: 'allow', context } : { outcome: 'forbidden' };
  }
  const statements = response.policyDocument?.Statement;
  if (!Array.isArray(statements)) return { outcome: 'error' };
  const allowed =
    statements.some((statement) => statement.Effect === 'Allow') &&
    !statements.some((statement) => statement.Effect === 'Deny');
  return allowed ? { outcome: 'allow', context } : { outcome: 'forbidden' };
}

function identityValue(source: string, event: APIGatewayProxyEventV2): string | undefined {
  const header = /^\$request\.header\.(.+)$/.exec(source)?.[1];
  if (header) return event.headers[header.toLowerCase()];
  const query = /^\$request\.querystring\.(.+)$/.exec(source)?.[1];
  if (query) return event.queryStringParameters?.[query];
  return undefined;
}

/**
 * The request body, or undefined past the payload limit. It stops reading there without
 * destroying the socket (as leaving a `for await` would), so the 413 still reaches the client.
 */
function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) {
        chunks.push(chunk);
        return;
      }
      req.off('data', onData);
      req.off('end', onEnd);
      req.pause();
      resolve(undefined);
    };
    const onEnd = () => resolve(Buffer.concat(chunks));
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', reject);
  });
}

/** The payload 2.0 event API Gateway sends to the integration. */
export function buildEvent(
  req: IncomingMessage,
  url: URL,
  body: Buffer,
  route: LocalRoute,
  pathParameters: Record<string, string>,
  apiId: string,
  requestId: string,
): APIGatewayProxyEventV2 {
  const headers: Record<string, string> = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = (req.rawHeaders[i] ?? '').toLowerCase();
    const value = req.rawHeaders[i + 1] ?? '';
    if (name === 'cookie') continue;
    headers[name] = headers[name] === undefined ? value : `${headers[name]},${value}`;
  }
  const cookieHeader = req.headers.cookie;
  const cookies = cookieHeader ? cookieHeader.split(/;\s*/).filter(Boolean) : [];
  const queryStringParameters: Record<string, string> = {};
  for (const [key, value] of url.searchParams) {
    queryStringParameters[key] =
      queryStringParameters[key] === undefined ? value : `${queryStringParameters[key]},${value}`;
  }
  const now = new Date(nowMs());
  const host = headers.host ?? '127.0.0.1';
  const event: APIGatewayProxyEventV2 = {
    version: '2.0',
    routeKey: route.routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.replace(/^\?/, ''),
    headers,
    requestContext: {
      accountId: LOCAL_ACCOUNT,
      apiId,
      domainName: host,
      domainPrefix: host.split('.')[0] ?? host,
      http: {
        method: (req.method ?? 'GET').toUpperCase(),
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, ''),
        userAgent: headers['user-agent'] ?? '',
      },
      requestId,
      routeKey: route.routeKey,
      stage: '$default',
      time: clfTime(now),
      timeEpoch: now.getTime(),
    },
    isBase64Encoded: false,
  };
  if (cookies.length > 0) event.cookies = cookies;
  if (Object.keys(queryStringParameters).length > 0) {
    event.queryStringParameters = queryStringParameters;
  }
  if (Object.keys(pathParameters).length > 0) event.pathParameters = pathParameters;
  if (body.length > 0) {
    // Text that is not valid UTF-8 travels base64-encoded, as binary does: decoding it here would
    // turn the bad bytes into U+FFFD before the function could refuse them.
    const text = TEXT_TYPE.test(headers['content-type'] ?? '') && isUtf8(body);
    event.body = text ? body.toString('utf8') : body.toString('base64');
    event.isBase64Encoded = !text;
  }
  return event;
}

/** Payload 2.0 response rules: a result with statusCode is a response, anything else a JSON body. */
export function mapResult(payload: unknown): Reply {
  if (typeof payload === 'object' && payload !== null && 'statusCode' in payload) {
    const result = payload as {
      statusCode: unknown;
      headers?: Record<string, unknown>;
      cookies?: unknown;
      body?: unknown;
      isBase64Encoded?: unknown;
    };
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(result.headers ?? {})) {
      headers[name.toLowerCase()] = String(value);
    }
    const text = typeof result.body === 'string' ? result.body : '';
    const status = Number(result.statusCode);
    if (!Number.isInteger(status) || status < 100 || status > 599) {
      return message(500, 'Internal Server Error');
    }
    const reply: Reply = {
      status,
      headers,
      body: Buffer.from(text, result.isBase64Encoded === true ? 'base64' : 'utf8'),
    };
    if (Array.isArray(result.cookies) && result.cookies.length > 0) {
      reply.headers['set-cookie'] = result.cookies.map(String).join(', ');
    }
    return reply;
  }
  return {
    status: 200,
    headers: { 'content-type': 'application/json' },
    body: Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)),
  };
}

function send(res: ServerResponse, reply: Reply, requestId: string): void {
  res.writeHead(reply.status, {
    ...reply.headers,
    'content-length': String(reply.body.length),
    'apigw-requestid': requestId,
    // The server's time is the stack's clock (at --speed 20 it runs ahead of the wall clock).
    date: new Date(nowMs()).toUTCString(),
  });
  res.end(reply.body);
}

/** API Gateway's requestContext.time: 12/Mar/2020:19:03:58 +0000. */
function clfTime(date: Date): string {
  const months = [
    'Jan',
    'Feb',
    'Mar',
    'Apr',
    'May',
    'Jun',
    'Jul',
    'Aug',
    'Sep',
    'Oct',
    'Nov',
    'Dec',
  ];
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(date.getUTCDate())}/${months[date.getUTCMonth()]}/${date.getUTCFullYear()}:${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`;
}
