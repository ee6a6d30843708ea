/** Lambda entry of the HTTP API's authorizer; the secret id is checked at cold start. */
import type { APIGatewayRequestAuthorizerEventV2 } from 'aws-lambda';
import { loggableError } from '../shared/observability/loggable-error.ts';
import { logger } from '../shared/observability/observability.ts';
import { recordMetric } from '../shared/observability/pipeline-metrics.ts';
import { withObservability } from '../shared/observability/with-observability.ts';
import { readSecretString } from '../shared/secrets/read-secret.ts';
import { readAuthorizerConfig } from './api-config.ts';
import {
  type AuthorizerHandler,
  createAuthorizerHandler,
  parseApiTokens,
} from './token-authorizer.ts';

export { createAuthorizerHandler };

const { apiTokensSecretId } = readAuthorizerConfig(process.env);

const authorize = createAuthorizerHandler({
  // readSecretString caches the secret for a few minutes per container.
  readTokens: async () => parseApiTokens(await readSecretString(apiTokensSecretId)),
});

/** The authorizer with its failures logged and its denials counted (RequestsUnauthorized). */
export function observedAuthorizer(authorizer: AuthorizerHandler): AuthorizerHandler {
  return async (event: APIGatewayRequestAuthorizerEventV2) => {
    try {
      const result = await authorizer(event);
      if (!result.isAuthorized) recordMetric('RequestsUnauthorized');
      return result;
    } catch (error) {
      logger.error('Authorizer could not read the API tokens', { error: loggableError(error) });
      throw error;
    }
  };
}

export const handler = withObservability('authorizer', observedAuthorizer(authorize));
