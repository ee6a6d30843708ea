import {
  type CfnTemplate,
  type IntrinsicResolver,
  resolveIntrinsics,
  resolveString,
  resourcesOfType,
  unsupported,
} from './cfn-template.ts';

export interface LocalAuthorizer {
  logicalId: string;
  /** ARN of the authorizer function. */
  functionArn: string;
  /** `$request.header.Authorization`, `$request.querystring.token`, ... */
  identitySource: string[];
  ttlSeconds: number;
  simpleResponses: boolean;
}

export interface LocalRoute {
  /** As in the template: `GET /videos/{id}`, `ANY /{proxy+}`, `$default`. */
  routeKey: string;
  method: string;
  /** Path template segments (empty for `$default`). */
  segments: string[];
  functionArn: string;
  authorizer?: LocalAuthorizer;
}

/** The HTTP API's CORS configuration (API Gateway answers preflights and adds the headers). */
export interface LocalCors {
  /** Literal origins of the template; an origin CDK resolves at deploy time is left out. */
  allowOrigins: string[];
  allowMethods: string[];
  allowHeaders: string[];
  exposeHeaders: string[];
  maxAgeSeconds?: number;
}

export interface LocalHttpApi {
  apiId: string;
  routes: LocalRoute[];
  cors?: LocalCors;
}

/**
 * The HTTP API (payload format 2.0, Lambda proxy integrations, Lambda REQUEST authorizers) as
 * the synthesized template declares it, so the local gateway serves exactly the deployed routes.
 */
export function httpApiFromTemplate(
  template: CfnTemplate,
  resolver: IntrinsicResolver,
): LocalHttpApi {
  const apis = resourcesOfType(template, 'AWS::ApiGatewayV2::Api');
  const [api] = apis;
  if (!api || apis.length > 1) throw unsupported(`expected one HTTP API, found ${apis.length}`);
  const [apiLogicalId] = api;
  const props = (logicalId: string, type: string) => {
    const resource = template.Resources[logicalId];
    if (resource?.Type !== type) throw unsupported(`${logicalId} is not a ${type}`);
    return resource.Properties ?? {};
  };
  const refOf = (value: unknown): string | undefined =>
    typeof value === 'object' && value !== null && 'Ref' in value ? String(value.Ref) : undefined;

  const authorizers = new Map<string, LocalAuthorizer>();
  for (const [logicalId, resource] of resourcesOfType(template, 'AWS::ApiGatewayV2::Authorizer')) {
    const properties = resource.Properties ?? {};
    if (properties.AuthorizerType !== 'REQUEST') {
      throw unsupported(
        `authorizer ${logicalId} is ${String(properties.AuthorizerType)}; only Lambda REQUEST authorizers run locally`,
      );
    }
    if (properties.AuthorizerPayloadFormatVersion !== '2.0') {
      throw unsupported(
        `authorizer ${logicalId} uses payload format ${String(properties.AuthorizerPayloadFormatVersion)}; only 2.0 runs locally`,
      );
    }
    const uri = resolveString(properties.AuthorizerUri, resolver, `${logicalId} AuthorizerUri`);
    const functionArn = /functions\/(.+)\/invocations$/.exec(uri)?.[1];
    if (!functionArn) throw unsupported(`authorizer ${logicalId} has no Lambda function URI`);
    const identitySource = resolveIntrinsics(properties.IdentitySource ?? [], resolver);
    authorizers.set(logicalId, {
      logicalId,
      functionArn,
      identitySource: Array.isArray(identitySource) ? identitySource.map(String) : [],
      ttlSeconds:
        typeof properties.AuthorizerResultTtlInSeconds === 'number'
          ? properties.AuthorizerResultTtlInSeconds
          : 0,
      simpleResponses: properties.EnableSimpleResponses === true,
    });
  }

  const routes: LocalRoute[] = [];
  for (const [logicalId, resource] of resourcesOfType(template, 'AWS::ApiGatewayV2::Route')) {
    const properties = resource.Properties ?? {};
    if (refOf(properties.ApiId) !== apiLogicalId) continue;
    const routeKey = String(properties.RouteKey);
    const target = resolveString(properties.Target, resolver, `${logicalId} Target`);
    const integrationId = /^integrations\/(.+)$/.exec(target)?.[1];
    if (!integrationId) throw unsupported(`route ${routeKey} has no integration target`);
    const integration = props(integrationId, 'AWS::ApiGatewayV2::Integration');
    if (integration.IntegrationType !== 'AWS_PROXY' || integration.PayloadFormatVersion !== '2.0') {
      throw unsupported(`route ${routeKey} is not a Lambda proxy integration with payload 2.0`);
    }
    const functionArn = resolveString(
      integration.IntegrationUri,
      resolver,
      `${integrationId} IntegrationUri`,
    );
    let authorizer: LocalAuthorizer | undefined;
    if (properties.AuthorizationType === 'CUSTOM') {
      const authorizerId = refOf(properties.AuthorizerId);
      authorizer = authorizerId ? authorizers.get(authorizerId) : undefined;
      if (!authorizer) throw unsupported(`route ${routeKey} names an unknown authorizer`);
    } else if (
      properties.AuthorizationType !== undefined &&
      properties.AuthorizationType !== 'NONE'
    ) {
      throw unsupported(
        `route ${routeKey} uses ${String(properties.AuthorizationType)} authorization`,
      );
    }
    const [method = '', path = ''] = routeKey === '$default' ? ['ANY', ''] : routeKey.split(' ');
    const route: LocalRoute = {
      routeKey,
      method,
      segments: path.split('/').filter((segment) => segment !== ''),
      functionArn,
    };
    if (authorizer) route.authorizer = authorizer;
    routes.push(route);
  }
  const httpApi: LocalHttpApi = {
    apiId: resolveString({ Ref: apiLogicalId }, resolver, 'API id'),
    routes,
  };
  const cors = corsConfiguration(api[1].Properties?.CorsConfiguration);
  if (cors) httpApi.cors = cors;
  return httpApi;
}

function corsConfiguration(value: unknown): LocalCors | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const config = value as Record<string, unknown>;
  const strings = (list: unknown) =>
    Array.isArray(list) ? list.filter((item): item is string => typeof item === 'string') : [];
  const cors: LocalCors = {
    allowOrigins: strings(config.AllowOrigins),
    allowMethods: strings(config.AllowMethods).map((method) => method.toUpperCase()),
    allowHeaders: strings(config.AllowHeaders).map((header) => header.toLowerCase()),
    exposeHeaders: strings(config.ExposeHeaders).map((header) => header.toLowerCase()),
  };
  if (typeof config.MaxAge === 'number') cors.maxAgeSeconds = config.MaxAge;
  return cors;
}

export interface RouteMatch {
  route: LocalRoute;
  pathParameters: Record<string, string>;
}

/**
 * API Gateway's route selection: the most specific path wins (literal segments before
 * `{param}`, `{param}` before `{proxy+}`), a named method before ANY, `$default` last.
 */
export function matchRoute(
  routes: LocalRoute[],
  method: string,
  path: string,
): RouteMatch | undefined {
  const requestSegments = path.split('/').filter((segment) => segment !== '');
  let best: { match: RouteMatch; rank: number[] } | undefined;
  for (const route of routes) {
    if (route.routeKey === '$default') continue;
    if (route.method !== method && route.method !== 'ANY') continue;
    const matched = matchSegments(route.segments, requestSegments);
    if (!matched) continue;
    const rank = [...matched.rank, route.method === 'ANY' ? 0 : 1];
    if (!best || compareRank(rank, best.rank) > 0) {
      best = { match: { route, pathParameters: matched.parameters }, rank };
    }
  }
  if (best) return best.match;
  const fallback = routes.find((route) => route.routeKey === '$default');
  return fallback ? { route: fallback, pathParameters: {} } : undefined;
}

function matchSegments(
  template: string[],
  request: string[],
): { parameters: Record<string, string>; rank: number[] } | undefined {
  const parameters: Record<string, string> = {};
  const rank: number[] = [];
  for (let i = 0; i < template.length; i += 1) {
    const segment = template[i] ?? '';
    const greedy = /^\{(.+)\+\}$/.exec(segment);
    if (greedy?.[1] && i === template.length - 1) {
      if (request.length <= i) return undefined;
      parameters[greedy[1]] = request.slice(i).map(decode).join('/');
      rank.push(0);
      return { parameters, rank };
    }
    const value = request[i];
    if (value === undefined) return undefined;
    const parameter = /^\{(.+)\}$/.exec(segment)?.[1];
    if (parameter) {
      parameters[parameter] = decode(value);
      rank.push(1);
    } else if (segment === value) {
      rank.push(2);
    } else {
      return undefined;
    }
  }
  return request.length === template.length ? { parameters, rank } : undefined;
}

function compareRank(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i += 1) {
    const difference = (a[i] ?? -1) - (b[i] ?? -1);
    if (difference !== 0) return difference;
  }
  return 0;
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
