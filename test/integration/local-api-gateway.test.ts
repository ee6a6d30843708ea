import { App, Duration, Stack } from 'aws-cdk-lib';
import { CorsHttpMethod, HttpApi, HttpMethod } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  HttpLambdaAuthorizer,
  HttpLambdaResponseType,
} from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import type { APIGatewayProxyEventV2WithLambdaAuthorizer } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AUTHORIZER_CACHE_TTL_SECONDS } from '../../functions/api/token-authorizer.ts';
import { useClock } from '../../functions/shared/clock.ts';
import type { CfnTemplate } from '../../infra/local/cfn-template.ts';
import { httpApiFromTemplate, type LocalHttpApi } from '../../infra/local/http-api-routes.ts';
import { functionError, type LambdaInvokeResult } from '../../infra/local/in-process-lambdas.ts';
import {
  type RunningLocalApiGateway,
  startLocalApiGateway,
} from '../../infra/local/local-api-gateway.ts';
import { localResolver } from '../../infra/local/local-resources.ts';

type Event = APIGatewayProxyEventV2WithLambdaAuthorizer<Record<string, unknown>>;

/** An HTTP API shaped like the pipeline's: every route behind a Lambda REQUEST authorizer. */
function synthesizeApi(): LocalHttpApi {
  const app = new App();
  const stack = new Stack(app, 'Api');
  const fn = (id: string) =>
    new LambdaFunction(stack, id, {
      runtime: Runtime.NODEJS_24_X,
      handler: 'index.handler',
      code: Code.fromInline('exports.handler = async () => ({})'),
      timeout: Duration.seconds(5),
    });
  const authorizer = new HttpLambdaAuthorizer('Bearer', fn('AuthorizerFn'), {
    responseTypes: [HttpLambdaResponseType.SIMPLE],
    resultsCacheTtl: Duration.seconds(AUTHORIZER_CACHE_TTL_SECONDS),
  });
  const api = new HttpApi(stack, 'Http', { defaultAuthorizer: authorizer });
  const integration = new HttpLambdaIntegration('ApiIntegration', fn('ApiFn'));
  api.addRoutes({ path: '/videos', methods: [HttpMethod.POST, HttpMethod.GET], integration });
  api.addRoutes({ path: '/videos/{id}', methods: [HttpMethod.GET], integration });
  api.addRoutes({ path: '/videos/{id}/content', methods: [HttpMethod.GET], integration });
  const template = app.synth().getStackByName('Api').template as CfnTemplate;
  return httpApiFromTemplate(template, localResolver(template));
}

let api: LocalHttpApi;
let gateway: RunningLocalApiGateway;
const invocations: { functionArn: string; event: Event }[] = [];
let apiResult: () => LambdaInvokeResult;
let authorize: (event: { identitySource: string[] }) => LambdaInvokeResult;

beforeAll(async () => {
  api = synthesizeApi();
  gateway = await startLocalApiGateway({
    api,
    invokeLambda: async (functionArn, event) => {
      invocations.push({ functionArn, event: event as Event });
      return functionArn.includes('AuthorizerFn')
        ? authorize(event as { identitySource: string[] })
        : apiResult();
    },
  });
});

afterAll(async () => {
  await gateway.close();
});

beforeEach(() => {
  invocations.length = 0;
  authorize = () => ({ payload: { isAuthorized: true, context: { principal: 'tester' } } });
  apiResult = () => ({ payload: { statusCode: 200, body: '{}' } });
});

const apiCalls = () => invocations.filter((call) => call.functionArn.includes(':function:ApiFn'));
const authorizerCalls = () =>
  invocations.filter((call) => call.functionArn.includes(':function:AuthorizerFn'));

describe('local API Gateway routes', () => {
  it('serves exactly the routes the template declares', () => {
    expect(api.routes.map((route) => route.routeKey).sort()).toEqual([
      'GET /videos',
      'GET /videos/{id}',
      'GET /videos/{id}/content',
      'POST /videos',
    ]);
  });

  it('answers 404 Not Found for a path no route declares, invoking nothing', async () => {
    const response = await fetch(`${gateway.url}/nothing-here`, {
      headers: { authorization: 'Bearer a' },
    });

    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ message: 'Not Found' });
    expect(invocations).toHaveLength(0);
  });
});

describe('local API Gateway events', () => {
  it('builds the payload 2.0 event API Gateway sends, authorizer context included', async () => {
    await fetch(`${gateway.url}/videos/vid%20one?limit=5&tag=a&tag=b`, {
      headers: { Authorization: 'Bearer event-shape', 'X-Custom': 'Yes', Cookie: 'a=1; b=2' },
    });

    const event = apiCalls()[0]?.event;
    expect(event).toMatchObject({
      version: '2.0',
      routeKey: 'GET /videos/{id}',
      rawPath: '/videos/vid%20one',
      rawQueryString: 'limit=5&tag=a&tag=b',
      pathParameters: { id: 'vid one' },
      queryStringParameters: { limit: '5', tag: 'a,b' },
      cookies: ['a=1', 'b=2'],
      isBase64Encoded: false,
      requestContext: {
        http: { method: 'GET', path: '/videos/vid%20one' },
        routeKey: 'GET /videos/{id}',
        stage: '$default',
        authorizer: { lambda: { principal: 'tester' } },
      },
    });
    expect(event?.headers).toMatchObject({
      authorization: 'Bearer event-shape',
      'x-custom': 'Yes',
    });
    expect(event?.headers.cookie).toBeUndefined();
    expect(event?.body).toBeUndefined();
  });

  it('passes a JSON body as text and a binary body base64-encoded', async () => {
    await fetch(`${gateway.url}/videos`, {
      method: 'POST',
      headers: { authorization: 'Bearer body', 'content-type': 'application/json' },
      body: '{"prompt":"a cat"}',
    });
    await fetch(`${gateway.url}/videos`, {
      method: 'POST',
      headers: { authorization: 'Bearer body', 'content-type': 'application/octet-stream' },
      body: new Uint8Array([0, 255, 1]),
    });

    const [json, binary] = apiCalls().map((call) => call.event);
    expect(json).toMatchObject({ body: '{"prompt":"a cat"}', isBase64Encoded: false });
    expect(binary).toMatchObject({ body: 'AP8B', isBase64Encoded: true });
  });

  it('passes a JSON body that is not valid UTF-8 base64-encoded, its bytes intact', async () => {
    const bytes = Buffer.concat([
      Buffer.from('{"prompt":"'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('"}'),
    ]);

    await fetch(`${gateway.url}/videos`, {
      method: 'POST',
      headers: { authorization: 'Bearer body', 'content-type': 'application/json' },
      body: bytes,
    });

    const [event] = apiCalls().map((call) => call.event);
    expect(event).toMatchObject({ body: bytes.toString('base64'), isBase64Encoded: true });
  });

  it('answers 413 with Connection: close to a body over 10 MB, invoking nothing', async () => {
    const response = await fetch(`${gateway.url}/videos`, {
      method: 'POST',
      headers: { authorization: 'Bearer big', 'content-type': 'application/json' },
      body: Buffer.alloc(10 * 1024 * 1024 + 1, 0x20),
    });

    expect(response.status).toBe(413);
    expect(response.headers.get('connection')).toBe('close');
    expect(await response.json()).toEqual({ message: 'Request Entity Too Large' });
    expect(invocations).toEqual([]);
  });
});

describe('local API Gateway authorization', () => {
  it('answers 401 Unauthorized without an Authorization header, invoking nothing', async () => {
    const response = await fetch(`${gateway.url}/videos`);

    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ message: 'Unauthorized' });
    expect(invocations).toHaveLength(0);
  });

  it('answers 403 Forbidden when the authorizer says no, without invoking the route', async () => {
    authorize = () => ({ payload: { isAuthorized: false } });

    const response = await fetch(`${gateway.url}/videos`, {
      headers: { authorization: 'Bearer wrong' },
    });

    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({ message: 'Forbidden' });
    expect(authorizerCalls()[0]?.event).toMatchObject({
      type: 'REQUEST',
      identitySource: ['Bearer wrong'],
      routeKey: 'GET /videos',
    });
    expect(apiCalls()).toHaveLength(0);
  });

  it("keeps a decision for the template's TTL on the pipeline's clock, then asks again", async () => {
    const ttlSeconds = api.routes[0]?.authorizer?.ttlSeconds ?? 0;
    expect(ttlSeconds).toBe(AUTHORIZER_CACHE_TTL_SECONDS);
    let clock = Date.parse('2026-03-04T12:00:00.000Z');
    const restoreClock = useClock(() => clock);
    const get = () =>
      fetch(`${gateway.url}/videos`, { headers: { authorization: 'Bearer cached-token' } });
    try {
      await get();
      clock += ttlSeconds * 1000 - 1;
      await get();
      expect(authorizerCalls()).toHaveLength(1);

      clock += 1;
      await get();
      expect(authorizerCalls()).toHaveLength(2);
    } finally {
      restoreClock();
    }
  });

  it('answers 500 when the authorizer fails', async () => {
    authorize = () => ({ functionError: functionError(new Error('secret unavailable')) });

    const response = await fetch(`${gateway.url}/videos`, {
      headers: { authorization: 'Bearer broken' },
    });

    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({ message: 'Internal Server Error' });
    expect(apiCalls()).toHaveLength(0);
  });
});

describe('local API Gateway responses', () => {
  it('maps statusCode, headers and a base64 body from the function result', async () => {
    apiResult = () => ({
      payload: {
        statusCode: 201,
        headers: { 'Content-Type': 'video/mp4', Location: '/videos/1' },
        body: Buffer.from([1, 2, 3]).toString('base64'),
        isBase64Encoded: true,
      },
    });

    const response = await fetch(`${gateway.url}/videos`, {
      method: 'POST',
      headers: { authorization: 'Bearer r1' },
    });

    expect(response.status).toBe(201);
    expect(response.headers.get('content-type')).toBe('video/mp4');
    expect(response.headers.get('location')).toBe('/videos/1');
    expect([...new Uint8Array(await response.arrayBuffer())]).toEqual([1, 2, 3]);
  });

  it('turns a result without statusCode into a 200 JSON body', async () => {
    apiResult = () => ({ payload: { id: 'v1' } });

    const response = await fetch(`${gateway.url}/videos`, {
      headers: { authorization: 'Bearer r2' },
    });

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(await response.json()).toEqual({ id: 'v1' });
  });

  it('answers 500 Internal Server Error when the function throws, hiding the error', async () => {
    apiResult = () => ({ functionError: functionError(new Error('db password is hunter2')) });

    const response = await fetch(`${gateway.url}/videos`, {
      headers: { authorization: 'Bearer r3' },
    });

    expect(response.status).toBe(500);
    expect(await response.text()).toBe('{"message":"Internal Server Error"}');
  });
});

describe('local API Gateway CORS', () => {
  const CONSOLE = 'https://console.example.test';
  const LOCAL_CONSOLE = 'http://127.0.0.1:4001';
  let corsGateway: RunningLocalApiGateway;

  beforeAll(async () => {
    const app = new App();
    const stack = new Stack(app, 'CorsApi');
    const fn = (id: string) =>
      new LambdaFunction(stack, id, {
        runtime: Runtime.NODEJS_24_X,
        handler: 'index.handler',
        code: Code.fromInline('exports.handler = async () => ({})'),
      });
    const authorizer = new HttpLambdaAuthorizer('Bearer', fn('AuthorizerFn'), {
      responseTypes: [HttpLambdaResponseType.SIMPLE],
    });
    const http = new HttpApi(stack, 'Http', {
      defaultAuthorizer: authorizer,
      corsPreflight: {
        allowOrigins: [CONSOLE],
        allowMethods: [CorsHttpMethod.GET, CorsHttpMethod.POST],
        allowHeaders: ['authorization', 'content-type'],
        exposeHeaders: ['location'],
        maxAge: Duration.hours(1),
      },
    });
    http.addRoutes({
      path: '/videos',
      methods: [HttpMethod.GET],
      integration: new HttpLambdaIntegration('ApiIntegration', fn('ApiFn')),
    });
    const template = app.synth().getStackByName('CorsApi').template as CfnTemplate;
    corsGateway = await startLocalApiGateway({
      api: httpApiFromTemplate(template, localResolver(template)),
      invokeLambda: async (functionArn, event) => {
        invocations.push({ functionArn, event: event as Event });
        return functionArn.includes('AuthorizerFn')
          ? authorize(event as { identitySource: string[] })
          : apiResult();
      },
      extraCorsOrigins: () => [LOCAL_CONSOLE],
    });
  });

  afterAll(async () => {
    await corsGateway.close();
  });

  const preflight = (origin: string, method = 'POST') =>
    fetch(`${corsGateway.url}/videos`, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': method,
        'access-control-request-headers': 'authorization,content-type',
      },
    });

  it('answers a preflight from an allowed origin itself, before routes and the authorizer', async () => {
    const response = await preflight(CONSOLE);

    expect(response.status).toBe(204);
    expect(Object.fromEntries(response.headers)).toMatchObject({
      'access-control-allow-origin': CONSOLE,
      'access-control-allow-methods': 'GET,POST',
      'access-control-allow-headers': 'authorization,content-type',
      'access-control-max-age': '3600',
    });
    expect(invocations).toHaveLength(0);
  });

  it('allows the origins the local stack adds (its console) besides the template literal ones', async () => {
    const response = await preflight(LOCAL_CONSOLE);

    expect(response.headers.get('access-control-allow-origin')).toBe(LOCAL_CONSOLE);
  });

  it('gives another origin, or a method not allowed, no CORS headers', async () => {
    for (const response of [
      await preflight('https://evil.example.test'),
      await preflight(CONSOLE, 'DELETE'),
    ]) {
      expect(response.headers.get('access-control-allow-origin')).toBeNull();
    }
    expect(invocations).toHaveLength(0);
  });

  it("adds the allow-origin and expose headers to answers, the authorizer's 401 included", async () => {
    const allowed = await fetch(`${corsGateway.url}/videos`, {
      headers: { origin: CONSOLE, authorization: 'Bearer cors' },
    });
    const unauthenticated = await fetch(`${corsGateway.url}/videos`, {
      headers: { origin: CONSOLE },
    });

    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(CONSOLE);
    expect(allowed.headers.get('access-control-expose-headers')).toBe('location');
    expect(unauthenticated.status).toBe(401);
    expect(unauthenticated.headers.get('access-control-allow-origin')).toBe(CONSOLE);
  });

  it('adds no CORS header on an API without a CORS configuration', async () => {
    const response = await fetch(`${gateway.url}/videos`, {
      headers: { origin: CONSOLE, authorization: 'Bearer no-cors' },
    });

    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });
});
