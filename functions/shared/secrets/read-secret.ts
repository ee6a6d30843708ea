/**
 * Reads a string secret from Secrets Manager (GetSecretValue over its JSON API, signed with the
 * function's credentials from the environment, as Lambda provides them), cached per container.
 * Not the AWS SDK: the authorizer's only AWS call would otherwise bring the SDK into its bundle.
 * Traced as an `aws` subsegment `SecretsManager` like the SDK clients' calls.
 */
import { signPost } from '../aws/sigv4.ts';
import { tracer } from '../observability/observability.ts';
import { markStatus } from '../observability/xray-tracer.ts';

/** A required secret is missing, empty or malformed. Names the secret id, never its value. */
export class SecretUnavailableError extends Error {
  override name = 'SecretUnavailableError';
}

type Env = Readonly<Record<string, string | undefined>>;

// Cached for five minutes: a rotated key is picked up without a redeploy, and a warm Lambda
// does not call Secrets Manager on every invocation.
const MAX_AGE_MS = 300_000;
const TIMEOUT_MS = 10_000;
const MAX_ATTEMPTS = 3;

const cache = new Map<string, { value: string; readAt: number }>();

/** Reads a string secret by id (name or ARN), cached per container. */
export async function readSecretString(secretId: string, env: Env = process.env): Promise<string> {
  const cached = cache.get(secretId);
  if (cached && Date.now() - cached.readAt < MAX_AGE_MS) return cached.value;
  let value: unknown;
  try {
    value = await getSecretValue(secretId, env);
  } catch (error) {
    throw new SecretUnavailableError(`Secret ${secretId} could not be read`, { cause: error });
  }
  if (typeof value !== 'string' || value.trim() === '') {
    throw new SecretUnavailableError(`Secret ${secretId} is empty or not a string`);
  }
  cache.set(secretId, { value: value.trim(), readAt: Date.now() });
  return value.trim();
}

/** A Secrets Manager error answer (`__type`, HTTP status). */
export class SecretsManagerCallError extends Error {
  override name = 'SecretsManagerCallError';
  readonly status: number;

  constructor(message: string, status: number) {
    super(message);
    this.status = status;
  }
}

async function getSecretValue(secretId: string, env: Env): Promise<unknown> {
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (!region || !accessKeyId || !secretAccessKey) {
    throw new Error('AWS_REGION and credentials (AWS_ACCESS_KEY_ID, ...) must be set');
  }
  const url = new URL(
    env.AWS_ENDPOINT_URL_SECRETS_MANAGER ??
      env.AWS_ENDPOINT_URL ??
      `https://secretsmanager.${region}.amazonaws.com/`,
  );
  const body = JSON.stringify({ SecretId: secretId });
  return tracer.traceCall('SecretsManager', 'aws', async (subsegment) => {
    for (let attempt = 1; ; attempt += 1) {
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers: signPost({
            url,
            region,
            service: 'secretsmanager',
            headers: {
              'content-type': 'application/x-amz-json-1.1',
              'x-amz-target': 'secretsmanager.GetSecretValue',
            },
            body,
            credentials: { accessKeyId, secretAccessKey, sessionToken: env.AWS_SESSION_TOKEN },
            now: new Date(),
          }),
          body,
          signal: AbortSignal.timeout(TIMEOUT_MS),
        });
        const answer = (await response.json().catch(() => ({}))) as Record<string, unknown>;
        if (subsegment) {
          subsegment.aws = {
            operation: 'GetSecretValue',
            region,
            request_id: response.headers.get('x-amzn-requestid') ?? undefined,
            retries: attempt - 1,
          };
          subsegment.http = { response: { status: response.status } };
          markStatus(subsegment, response.status);
        }
        if (response.ok) return answer.SecretString;
        const type = String(answer.__type ?? 'UnknownError')
          .split('#')
          .pop();
        throw new SecretsManagerCallError(
          `GetSecretValue answered ${response.status} ${type}`,
          response.status,
        );
      } catch (error) {
        if (attempt >= MAX_ATTEMPTS || !retryable(error)) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt * Math.random()));
      }
    }
  });
}

// Throttling and 5xx answers and network failures are worth another try; refusals are not.
function retryable(error: unknown): boolean {
  if (error instanceof SecretsManagerCallError) {
    return error.status >= 500 || /Throttling/.test(error.message);
  }
  return true;
}
