/**
 * The HTTP API's routes, written once: the CDK construct creates an API Gateway route for each
 * (infra/constructs/video-api.ts), the Lambda router dispatches on the `routeKey` API Gateway
 * sends (api-handler.ts), and the OpenAPI document has a path operation for each (openapi.ts).
 * What each route takes and answers is declared in operations.ts, keyed by `operationId`, as
 * are the handler's operations, so a route without a declaration or a handler fails the type
 * check. This table stays apart so the CDK stack and the console read it without the schemas.
 */

export const API_ROUTES = [
  { method: 'POST', path: '/videos', operationId: 'createVideo' },
  { method: 'GET', path: '/videos', operationId: 'listVideos' },
  { method: 'GET', path: '/videos/{id}', operationId: 'getVideo' },
  { method: 'GET', path: '/videos/{id}/content', operationId: 'getVideoContent' },
  { method: 'POST', path: '/videos/{id}/cancel', operationId: 'cancelVideo' },
  { method: 'POST', path: '/videos/{id}/remix', operationId: 'remixVideo' },
  { method: 'POST', path: '/batches/{id}/cancel', operationId: 'cancelBatch' },
  { method: 'GET', path: '/usage', operationId: 'getUsage' },
  { method: 'GET', path: '/models', operationId: 'listModels' },
  { method: 'GET', path: '/webhooks/secret', operationId: 'getWebhookSecret' },
] as const satisfies readonly ApiRouteShape[];

interface ApiRouteShape {
  method: 'GET' | 'POST';
  /** As API Gateway writes it: literal segments and `{id}`. */
  path: string;
  operationId: string;
}

export type ApiRoute = (typeof API_ROUTES)[number];
export type OperationId = ApiRoute['operationId'];

/** API Gateway's route key: `POST /videos/{id}/cancel`. */
export const routeKey = (route: Pick<ApiRoute, 'method' | 'path'>): string =>
  `${route.method} ${route.path}`;

/** The route of each route key, for the router. */
export const ROUTES_BY_KEY: ReadonlyMap<string, ApiRoute> = new Map(
  API_ROUTES.map((route) => [routeKey(route), route]),
);
