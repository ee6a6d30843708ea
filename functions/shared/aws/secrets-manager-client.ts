import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { tracer } from '../observability/observability.ts';
import {
  AWS_MAX_ATTEMPTS,
  createdOnFirstUse,
  hostedClientConfig,
  QUICK_CALL_TIMEOUTS,
  retrySettings,
} from './aws-client.ts';

/**
 * The Secrets Manager client (see aws-client.ts): GetSecretValue of the API tokens, the
 * provider's key and the webhook signing secret, each cached by read-secret.ts. Three tries: the
 * authorizer answers API Gateway within its timeout, and a secret that cannot be read fails the
 * request (a 500) rather than letting it wait.
 */
export const secretsManager = createdOnFirstUse(() =>
  tracer.captureAWSv3Client(
    new SecretsManagerClient({
      ...retrySettings(AWS_MAX_ATTEMPTS),
      requestHandler: QUICK_CALL_TIMEOUTS,
      ...hostedClientConfig('SECRETS_MANAGER'),
    }),
  ),
);
