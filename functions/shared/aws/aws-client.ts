/**
 * What every AWS client of the pipeline shares. Each client is the official SDK client in a
 * module of its own (dynamodb-client.ts, eventbridge-client.ts, s3-client.ts, sfn-client.ts,
 * secrets-manager-client.ts) so a function bundles only the clients it imports; each is created
 * on first use, once per container (never per invocation), with the retries below, and traced
 * by the pipeline's tracer (a subsegment per call, the trace header on the request). Endpoints
 * come from the standard `AWS_ENDPOINT_URL_*` variables, which is how the local stack points the
 * same code at DynamoDB Local, s3rver and its own endpoint (handed over, not in process.env:
 * `hostedClientConfig`).
 */
import {
  type Env,
  functionEnvironment,
  hostedEnvironment,
} from '../config/function-environment.ts';

/** Tries per call (the first and its retries) where a client has no reason to differ. */
export const AWS_MAX_ATTEMPTS = 3;

/**
 * The retry settings of one client: the SDK's standard mode with `maxAttempts` tries, chosen on
 * purpose rather than left to defaults.
 *
 * - Standard: jittered exponential backoff (longer after a throttle), nothing retried that the
 *   service refused (a failed condition, a validation error), and a retry quota per client: once
 *   failures have spent it, a call fails at once instead of adding retries to a service that is
 *   throttling or down (a hot item of the limits, an outage). A failed step is then retried by
 *   its state machine, which waits longer than any SDK backoff.
 * - Not adaptive: adaptive adds a rate limiter on the client that learns from the throttles this
 *   one client sees and then delays every later call. A container sends one call at a time and
 *   lives minutes; it would learn little, and one throttled hot item (the slot item) would slow
 *   its calls to every other item of the table.
 *
 * `AWS_MAX_ATTEMPTS` and `AWS_RETRY_MODE`, the SDK's own variables, still win when a function's
 * configuration sets them: a change for one function without a change of code.
 */
export function retrySettings(
  maxAttempts: number,
  env: Env = functionEnvironment(),
): { maxAttempts: number | undefined; retryMode: 'standard' | undefined } {
  return {
    maxAttempts: env.AWS_MAX_ATTEMPTS === undefined ? maxAttempts : undefined,
    retryMode: env.AWS_RETRY_MODE === undefined ? 'standard' : undefined,
  };
}

/**
 * The request handler's limits per attempt, for the calls that answer in milliseconds (DynamoDB,
 * EventBridge, Secrets Manager): an attempt with no answer after 10 s is given up and retried (a
 * timeout is retryable) instead of holding the invocation until the function's own timeout. Not
 * for S3, whose parts take as long as the network needs.
 */
export const QUICK_CALL_TIMEOUTS = {
  connectionTimeout: 3_000,
  requestTimeout: 10_000,
  // Without it the SDK only logs a warning when requestTimeout passes.
  throwOnRequestTimeout: true,
} as const;

/** `make()` on the first call, the same value on every later one. */
export function createdOnFirstUse<T>(make: () => T): () => T {
  let value: { made: T } | undefined;
  return () => {
    value ??= { made: make() };
    return value.made;
  };
}

/**
 * `load()` on the first call, the same promise on every later one; a failed load is not kept,
 * so the next call tries again. For what a function imports only when an invocation needs it
 * (`import()`: a chunk of its own in the bundle, see infra/constructs/function-bundle.ts).
 */
export function loadedOnFirstUse<T>(load: () => Promise<T>): () => Promise<T> {
  let loaded: Promise<T> | undefined;
  return () => {
    loaded ??= load().catch((error: unknown) => {
      loaded = undefined;
      throw error;
    });
    return loaded;
  };
}

/** The services whose endpoint a host may set (`AWS_ENDPOINT_URL_<SERVICE>`). */
export type EndpointService =
  | 'DYNAMODB'
  | 'S3'
  | 'SFN'
  | 'SECRETS_MANAGER'
  | 'EVENTBRIDGE'
  | 'BEDROCK_RUNTIME';

/**
 * What a client takes from the environment a host handed the functions (function-environment.ts):
 * the service's endpoint, the region, the credentials and S3's checksum settings, the SDK's own
 * variables read from there rather than from process.env. Nothing on Lambda, where the SDK reads
 * the process's environment itself.
 */
export function hostedClientConfig(service: EndpointService) {
  const env = hostedEnvironment();
  if (!env) return {};
  const endpoint = env[`AWS_ENDPOINT_URL_${service}`];
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  return {
    ...(endpoint ? { endpoint } : {}),
    ...(env.AWS_REGION ? { region: env.AWS_REGION } : {}),
    ...(accessKeyId && secretAccessKey ? { credentials: { accessKeyId, secretAccessKey } } : {}),
  };
}

/** S3's checksum settings from a hosted environment (s3rver needs WHEN_REQUIRED). */
export function hostedChecksumConfig(): {
  requestChecksumCalculation?: ChecksumMode;
  responseChecksumValidation?: ChecksumMode;
} {
  const env = hostedEnvironment();
  const request = checksumMode(env?.AWS_REQUEST_CHECKSUM_CALCULATION);
  const response = checksumMode(env?.AWS_RESPONSE_CHECKSUM_VALIDATION);
  return {
    ...(request ? { requestChecksumCalculation: request } : {}),
    ...(response ? { responseChecksumValidation: response } : {}),
  };
}

type ChecksumMode = 'WHEN_REQUIRED' | 'WHEN_SUPPORTED';

function checksumMode(value: string | undefined): ChecksumMode | undefined {
  return value === 'WHEN_REQUIRED' || value === 'WHEN_SUPPORTED' ? value : undefined;
}
