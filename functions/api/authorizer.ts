/**
 * Lambda entry of the HTTP API's authorizer: the token check and the secret read (the Secrets
 * Manager client, secrets-manager-client.ts), nothing else. The secret id is read on the first
 * invocation, with the plain configuration reader: the settings parsed with a schema (the
 * provider catalogue, limits) are none of the authorizer's, and its cold start does not load them.
 */
import type { APIGatewayRequestAuthorizerEventV2 } from 'aws-lambda';
import { readPlainConfig } from '../shared/config/plain-config.ts';
import { lazyHandler } from '../shared/lazy-handler.ts';
import { loggableError } from '../shared/observability/loggable-error.ts';
import { logger } from '../shared/observability/observability.ts';
import { recordMetric } from '../shared/observability/pipeline-metrics.ts';
import { withObservability } from '../shared/observability/with-observability.ts';
import { readSecretString } from '../shared/secrets/read-secret.ts';
import {
  API_TOKENS_MAX_AGE_SECONDS,
  type AuthorizerHandler,
  createAuthorizerHandler,
  parseApiTokens,
} from './token-authorizer.ts';

export { createAuthorizerHandler };

const authorize = lazyHandler(() => {
  const { apiTokensSecretId } = readPlainConfig(['apiTokensSecretId']);
  return createAuthorizerHandler({
    // Kept briefly: a revoked token must stop working soon (REVOKED_TOKEN_WORST_CASE_SECONDS).
    readTokens: async () =>
      parseApiTokens(
        await readSecretString(apiTokensSecretId, {
          maxAgeMs: API_TOKENS_MAX_AGE_SECONDS * 1000,
        }),
      ),
  });
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
