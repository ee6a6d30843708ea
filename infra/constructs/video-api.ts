import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import {
  CorsHttpMethod,
  HttpApi,
  HttpMethod,
  HttpStage,
  LogGroupLogDestination,
  type ThrottleSettings,
} from 'aws-cdk-lib/aws-apigatewayv2';
import {
  HttpLambdaAuthorizer,
  HttpLambdaResponseType,
} from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { API_ROUTES } from '../../functions/api/api-routes.ts';
import { AUTHORIZER_CACHE_TTL_SECONDS } from '../../functions/api/token-authorizer.ts';

export const DEFAULT_API_THROTTLE: Required<ThrottleSettings> = { rateLimit: 20, burstLimit: 40 };

export interface VideoApiProps {
  /** The api handler: every route, payload format 2.0. */
  handler: IFunction;
  /** The REQUEST authorizer (simple responses) checking `Authorization: Bearer <token>`. */
  authorizer: IFunction;
  throttle?: ThrottleSettings;
  logRetention?: RetentionDays;
  /** Browser origins allowed to call the API (CORS), e.g. the web console's. */
  corsOrigins?: string[];
}

// One JSON line per request; nothing from headers or bodies (tokens, prompts) is logged.
const accessLogFormat = AccessLogFormat.custom(
  JSON.stringify({
    requestId: '$context.requestId',
    requestTime: '$context.requestTime',
    sourceIp: '$context.identity.sourceIp',
    httpMethod: '$context.httpMethod',
    routeKey: '$context.routeKey',
    status: '$context.status',
    protocol: '$context.protocol',
    responseLength: '$context.responseLength',
    responseLatency: '$context.responseLatency',
    integrationLatency: '$context.integrationLatency',
    integrationError: '$context.integrationErrorMessage',
    authorizerError: '$context.authorizer.error',
  }),
);

/**
 * The HTTP API: the routes of `API_ROUTES`, all behind the bearer-token authorizer, on a
 * throttled `$default` stage with access logs.
 */
export class VideoApi extends Construct {
  readonly httpApi: HttpApi;
  readonly stage: HttpStage;
  readonly accessLogGroup: LogGroup;
  /** The stage URL, ending in a slash. */
  readonly url: string;

  constructor(scope: Construct, id: string, props: VideoApiProps) {
    super(scope, id);

    const authorizer = new HttpLambdaAuthorizer('BearerTokenAuthorizer', props.authorizer, {
      responseTypes: [HttpLambdaResponseType.SIMPLE],
      identitySource: ['$request.header.Authorization'],
      // A decision is kept this long per token; with the authorizer's own cache of the secret,
      // a revoked token keeps working at most REVOKED_TOKEN_WORST_CASE_SECONDS.
      resultsCacheTtl: Duration.seconds(AUTHORIZER_CACHE_TTL_SECONDS),
    });

    this.httpApi = new HttpApi(this, 'HttpApi', {
      apiName: `${Stack.of(this).stackName}-videos`,
      description: 'sora-pipeline video generation API',
      defaultAuthorizer: authorizer,
      // The stage below replaces the default one, to set throttling and access logs.
      createDefaultStage: false,
      // API Gateway answers preflights itself (no authorizer) and adds the CORS headers to every
      // answer, its own 401/403 included. Bearer tokens, no cookies: no credentials mode.
      ...(props.corsOrigins && props.corsOrigins.length > 0
        ? {
            corsPreflight: {
              allowOrigins: props.corsOrigins,
              allowMethods: [CorsHttpMethod.GET, CorsHttpMethod.POST],
              allowHeaders: ['authorization', 'content-type', 'idempotency-key'],
              // `date` lets the console show ages on the server's clock.
              exposeHeaders: ['date', 'location', 'retry-after', 'idempotent-replayed'],
              maxAge: Duration.hours(1),
            },
          }
        : {}),
    });

    this.accessLogGroup = new LogGroup(this, 'AccessLogs', {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stage = new HttpStage(this, 'DefaultStage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      throttle: props.throttle ?? DEFAULT_API_THROTTLE,
      accessLogSettings: {
        destination: new LogGroupLogDestination(this.accessLogGroup),
        format: accessLogFormat,
      },
    });
    this.url = this.stage.url;

    // Every route of the route table (functions/api/api-routes.ts), each to the one function.
    const integration = new HttpLambdaIntegration('ApiIntegration', props.handler);
    for (const route of API_ROUTES) {
      this.httpApi.addRoutes({
        path: route.path,
        methods: [HttpMethod[route.method]],
        integration,
        authorizer,
      });
    }
  }
}
