/**
 * Each client's own request rate, checked before any operation runs, so one client cannot use
 * the whole stage throttle (DEFAULT_API_THROTTLE) and starve the others.
 *
 * Why a counter in DynamoDB rather than API Gateway: per-client throttling in API Gateway is a
 * usage plan with API keys, which REST APIs have and HTTP APIs (v2, ours) do not (aws-cdk-lib's
 * apigatewayv2 UsagePlan and ApiKey are for WebSocket APIs); the stage and route throttles count
 * every client together. Moving to a REST API for it would also change the authorizer, the
 * payload format and the price. The counter costs one small DynamoDB write per request
 * (docs/scale.md).
 */
import type {
  ClientRateAnswer,
  ClientRateLimiter,
} from '../shared/limits/dynamo-client-rate-limiter.ts';
import { loggableError } from '../shared/observability/loggable-error.ts';
import { ClientRateLimitedError } from './api-errors.ts';
import type { ApiHandler, ApiLogger } from './api-handler.ts';
import { callerOf } from './caller.ts';
import { describeError, errorResponse } from './error-response.ts';

export interface ClientRateDeps {
  limiter: ClientRateLimiter;
  clock: () => Date;
  logger: Pick<ApiLogger, 'info' | 'warn' | 'appendKeys' | 'resetKeys'>;
}

/**
 * `handler` behind its caller's request rate: a request over it answers 429 with Retry-After
 * (seconds until the client's window frees) in the API's error envelope, and runs nothing. A
 * counter that cannot be written lets the request through (logged): the limit keeps clients
 * fair, it guards no money (the budget does), and an outage of it should not stop the API.
 */
export function withClientRate(handler: ApiHandler, deps: ClientRateDeps): ApiHandler {
  return async (event, context) => {
    const { client } = callerOf(event);
    // The keys of the previous request are not this one's (the handler resets them too).
    deps.logger.resetKeys();
    deps.logger.appendKeys({ client });
    let answer: ClientRateAnswer;
    try {
      answer = await deps.limiter.take(client, deps.clock());
    } catch (error) {
      deps.logger.warn('Client request rate not checked', { client, error: loggableError(error) });
      return handler(event, context);
    }
    if (answer.allowed) return handler(event, context);
    const refusal = new ClientRateLimitedError(client, answer.retryAfterSeconds);
    const { status, code } = describeError(refusal);
    deps.logger.info('Request refused', {
      method: event.requestContext.http.method.toUpperCase(),
      route: event.routeKey,
      statusCode: status,
      code,
      retryAfterSeconds: answer.retryAfterSeconds,
    });
    return errorResponse(refusal);
  };
}
