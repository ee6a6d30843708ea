/** Lambda entry of the HTTP API's authorizer; the secret id is checked at cold start. */
import { logger } from '../shared/observability/observability.ts';
import { readSecretString } from '../shared/secrets/read-secret.ts';
import { readAuthorizerConfig } from './api-config.ts';
import { createAuthorizerHandler, parseApiTokens } from './token-authorizer.ts';

export { createAuthorizerHandler };

const { apiTokensSecretId } = readAuthorizerConfig(process.env);

const authorize = createAuthorizerHandler({
  // readSecretString caches the secret for a few minutes per container.
  readTokens: async () => parseApiTokens(await readSecretString(apiTokensSecretId)),
});

export const handler: typeof authorize = async (event) => {
  try {
    return await authorize(event);
  } catch (error) {
    logger.error('Authorizer could not read the API tokens', { error });
    throw error;
  }
};
