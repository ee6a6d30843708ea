import type { APIGatewayProxyEventV2, APIGatewayRequestAuthorizerEventV2 } from 'aws-lambda';
import { API_ROUTES, routeKey } from '../../functions/api/api-routes.ts';
import { matchRoute } from '../../infra/local/http-api-routes.ts';

export interface HttpRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  query?: Record<string, string>;
  body?: string;
  isBase64Encoded?: boolean;
  stage?: string;
  /** What the authorizer put in its context (`requestContext.authorizer.lambda`). */
  authorizer?: Record<string, unknown>;
}

/** The API's routes as API Gateway selects among them (the local gateway's matcher). */
const gatewayRoutes = API_ROUTES.map((route) => ({
  routeKey: routeKey(route),
  method: route.method,
  segments: route.path.split('/').filter((segment) => segment !== ''),
  functionArn: 'api',
}));

/**
 * An HTTP API payload v2 event as API Gateway sends it (header names lowercased): the route it
 * matched in `routeKey` with its path parameters, `$default` when none matched (in AWS such a
 * request never reaches the function).
 */
export function httpApiEvent(request: HttpRequest): APIGatewayProxyEventV2 {
  const match = matchRoute(gatewayRoutes, request.method, request.path);
  const matchedKey = match?.route.routeKey ?? '$default';
  const stage = request.stage ?? '$default';
  const rawPath = stage === '$default' ? request.path : `/${stage}${request.path}`;
  const headers = Object.fromEntries(
    Object.entries(request.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value]),
  );
  const rawQueryString = new URLSearchParams(request.query ?? {}).toString();
  const event: APIGatewayProxyEventV2 = {
    version: '2.0',
    routeKey: matchedKey,
    rawPath,
    rawQueryString,
    headers,
    queryStringParameters: request.query,
    body: request.body,
    isBase64Encoded: request.isBase64Encoded ?? false,
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'api.example.com',
      domainPrefix: 'api',
      http: {
        method: request.method,
        path: rawPath,
        protocol: 'HTTP/1.1',
        sourceIp: '192.0.2.1',
        userAgent: 'vitest',
      },
      requestId: 'request-1',
      routeKey: matchedKey,
      stage,
      time: '04/Mar/2026:05:06:07 +0000',
      timeEpoch: 1_772_600_767_000,
    },
  };
  if (match && Object.keys(match.pathParameters).length > 0) {
    event.pathParameters = match.pathParameters;
  }
  if (request.authorizer) {
    Object.assign(event.requestContext, { authorizer: { lambda: request.authorizer } });
  }
  return event;
}

/** The REQUEST authorizer event (payload v2) API Gateway sends for `GET /videos`. */
export function authorizerEvent(
  headers: Record<string, string>,
): APIGatewayRequestAuthorizerEventV2 {
  return {
    version: '2.0',
    type: 'REQUEST',
    routeArn: 'arn:aws:execute-api:us-east-1:123456789012:api/$default/GET/videos',
    identitySource: Object.values(headers),
    routeKey: 'GET /videos',
    rawPath: '/videos',
    rawQueryString: '',
    cookies: [],
    headers,
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'api.example.com',
      domainPrefix: 'api',
      http: {
        method: 'GET',
        path: '/videos',
        protocol: 'HTTP/1.1',
        sourceIp: '192.0.2.1',
        userAgent: 'vitest',
      },
      requestId: 'r',
      routeKey: 'GET /videos',
      stage: '$default',
      time: '04/Mar/2026:05:06:07 +0000',
      timeEpoch: 0,
    },
  };
}
