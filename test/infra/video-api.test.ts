import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { API_ROUTES, routeKey } from '../../functions/api/api-routes.ts';
import { AUTHORIZER_CACHE_TTL_SECONDS } from '../../functions/api/token-authorizer.ts';
import { DEFAULT_API_THROTTLE } from '../../infra/constructs/video-api.ts';
import type { CfnTemplate } from '../../infra/local/cfn-template.ts';
import { httpApiFromTemplate } from '../../infra/local/http-api-routes.ts';
import { localResolver } from '../../infra/local/local-resources.ts';
import { HANDLER_MODULES } from '../../infra/stacks/pipeline-stack.ts';
import { functionLogicalId, synthesizeForTest } from './synthesized-pipeline.ts';

let template: Template;

beforeAll(() => {
  template = synthesizeForTest().pipelineTemplate;
});

const routes = () => Object.values(template.findResources('AWS::ApiGatewayV2::Route'));

function onlyResource(type: string) {
  const [entry, ...others] = Object.entries(template.findResources(type));
  if (!entry || others.length > 0) throw new Error(`expected one ${type}`);
  return { id: entry[0], properties: entry[1].Properties };
}

describe('routes', () => {
  it('serves exactly the routes of the route table', () => {
    expect(
      routes()
        .map((route) => route.Properties.RouteKey)
        .sort(),
    ).toEqual(API_ROUTES.map(routeKey).sort());
    expect(routes().map((route) => route.Properties.RouteKey)).toContain(
      'POST /videos/{id}/cancel',
    );
  });

  it('puts the bearer-token authorizer on every route', () => {
    const authorizer = onlyResource('AWS::ApiGatewayV2::Authorizer');

    for (const route of routes()) {
      expect(route.Properties).toMatchObject({
        AuthorizationType: 'CUSTOM',
        AuthorizerId: { Ref: authorizer.id },
      });
    }
  });

  it('sends every route to the api function with payload format 2.0', () => {
    const integration = onlyResource('AWS::ApiGatewayV2::Integration');

    expect(integration.properties).toMatchObject({
      IntegrationType: 'AWS_PROXY',
      PayloadFormatVersion: '2.0',
      IntegrationUri: {
        'Fn::GetAtt': [functionLogicalId(template, HANDLER_MODULES.api), 'Arn'],
      },
    });
    for (const route of routes()) {
      expect(route.Properties.Target).toEqual({
        'Fn::Join': ['', ['integrations/', { Ref: integration.id }]],
      });
    }
  });
});

describe('authorizer', () => {
  it('is a REQUEST authorizer with simple responses on the Authorization header', () => {
    expect(onlyResource('AWS::ApiGatewayV2::Authorizer').properties).toMatchObject({
      AuthorizerType: 'REQUEST',
      AuthorizerPayloadFormatVersion: '2.0',
      EnableSimpleResponses: true,
      IdentitySource: ['$request.header.Authorization'],
    });
  });

  it('caches a decision for at most a minute, so a revoked token stops working soon', () => {
    const ttl = onlyResource('AWS::ApiGatewayV2::Authorizer').properties
      .AuthorizerResultTtlInSeconds;

    expect(ttl).toBe(AUTHORIZER_CACHE_TTL_SECONDS);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60);
  });

  it('is cached as long on the local stack, whose gateway reads the TTL from this template', () => {
    const raw = template.toJSON() as CfnTemplate;
    const local = httpApiFromTemplate(raw, localResolver(raw));

    expect(local.routes.length).toBeGreaterThan(0);
    for (const route of local.routes) {
      expect(route.authorizer?.ttlSeconds, route.routeKey).toBe(AUTHORIZER_CACHE_TTL_SECONDS);
    }
  });

  it('runs the authorizer function', () => {
    const authorizerUri = JSON.stringify(
      onlyResource('AWS::ApiGatewayV2::Authorizer').properties.AuthorizerUri,
    );

    expect(authorizerUri).toContain(functionLogicalId(template, HANDLER_MODULES.authorizer));
  });

  it('may be invoked by API Gateway for this API only', () => {
    const authorizerFunction = functionLogicalId(template, HANDLER_MODULES.authorizer);

    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      FunctionName: { 'Fn::GetAtt': [authorizerFunction, 'Arn'] },
      Principal: 'apigateway.amazonaws.com',
      SourceArn: Match.objectLike({
        'Fn::Join': ['', Match.arrayWith([{ Ref: onlyResource('AWS::ApiGatewayV2::Api').id }])],
      }),
    });
  });
});

describe('default stage', () => {
  it('deploys automatically as $default', () => {
    expect(onlyResource('AWS::ApiGatewayV2::Stage').properties).toMatchObject({
      StageName: '$default',
      AutoDeploy: true,
    });
  });

  it('throttles every route', () => {
    expect(onlyResource('AWS::ApiGatewayV2::Stage').properties.DefaultRouteSettings).toEqual({
      ThrottlingRateLimit: DEFAULT_API_THROTTLE.rateLimit,
      ThrottlingBurstLimit: DEFAULT_API_THROTTLE.burstLimit,
    });
    expect(DEFAULT_API_THROTTLE.burstLimit).toBeGreaterThanOrEqual(DEFAULT_API_THROTTLE.rateLimit);
  });

  it('writes JSON access logs with the request id to a log group with a retention', () => {
    const settings = onlyResource('AWS::ApiGatewayV2::Stage').properties.AccessLogSettings;
    const logGroupId: string = settings.DestinationArn['Fn::GetAtt'][0];
    const format = JSON.parse(settings.Format);

    expect(format.requestId).toBe('$context.requestId');
    expect(format.status).toBe('$context.status');
    expect(template.findResources('AWS::Logs::LogGroup')[logGroupId]?.Properties).toEqual({
      RetentionInDays: 30,
    });
  });

  it('logs no headers, bodies or authorizer context (tokens and prompts stay out)', () => {
    const format = onlyResource('AWS::ApiGatewayV2::Stage').properties.AccessLogSettings.Format;

    expect(format).not.toMatch(/header|requestBody|authorization|authorizer\.(?!error)/i);
  });
});

it('outputs the API URL', () => {
  template.hasOutput('ApiUrl', {
    Value: Match.objectLike({ 'Fn::Join': Match.anyValue() }),
  });
});
