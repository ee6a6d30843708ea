/**
 * One call to an AWS service that speaks the JSON protocol (DynamoDB, EventBridge, Secrets
 * Manager): a signed POST with `X-Amz-Target: <prefix>.<Operation>`, a JSON answer, an error
 * named by `__type`. What the AWS SDK client would do for these calls, without loading it: the
 * SDK's DynamoDB client alone was more than half of the API function's cold start (~220 KB of
 * the ~410 KB it loaded at init; docs/architecture.md, Cold start). S3 and Bedrock stay on the
 * SDK (streaming, multipart, presigning).
 *
 * Like the SDK clients it stands in for: credentials and region from the environment (as Lambda
 * provides them), the endpoint from `AWS_ENDPOINT_URL_<SERVICE>` (how the local stack points
 * the same code at DynamoDB Local and its own endpoint), up to AWS_MAX_ATTEMPTS tries with
 * jittered backoff for throttling, 5xx answers and network failures (never for a refusal), and
 * each call an `aws` subsegment of the invocation's trace, named as the SDK names the service.
 */
import { tracer } from '../observability/observability.ts';
import { markStatus, type XRayTracer } from '../observability/xray-tracer.ts';
import { AWS_MAX_ATTEMPTS } from './aws-client.ts';
import { signPost } from './sigv4.ts';

type Env = Readonly<Record<string, string | undefined>>;

/** How to reach and name one JSON-protocol service. */
export interface AwsJsonService {
  /** X-Ray's name for it, as for the SDK client (DynamoDB, EventBridge, SecretsManager). */
  traceName: string;
  /** SigV4 signing name (dynamodb, events, secretsmanager). */
  signingName: string;
  /** The host's first label: https://<hostPrefix>.<region>.amazonaws.com. */
  hostPrefix: string;
  /** `AWS_ENDPOINT_URL_<endpointId>` overrides the endpoint (the SDK's variable names). */
  endpointId: string;
  /** X-Amz-Target is `<targetPrefix>.<Operation>`. */
  targetPrefix: string;
  jsonVersion: '1.0' | '1.1';
}

/** An error answer from an AWS JSON service: `name` is its type, e.g. ConditionalCheckFailedException. */
export class AwsServiceError extends Error {
  readonly status: number;
  readonly requestId: string | undefined;
  /** The answer's other fields (CancellationReasons, Item, ...). */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(
    type: string,
    message: string,
    status: number,
    answer: Record<string, unknown>,
    requestId?: string,
  ) {
    super(message);
    this.name = type;
    this.status = status;
    this.requestId = requestId;
    const { __type: _type, message: _message, Message: _Message, ...details } = answer;
    this.details = details;
  }
}

/** No answer: the connection failed (`code`, e.g. ECONNREFUSED) or the attempt timed out. */
export class AwsNetworkError extends Error {
  override readonly name = 'AwsNetworkError';
  readonly code: string;

  constructor(service: string, operation: string, url: URL, timeoutMs: number, cause: unknown) {
    const reason = cause as { name?: string; cause?: { code?: unknown } } | undefined;
    const code =
      reason?.name === 'TimeoutError'
        ? 'ETIMEDOUT'
        : typeof reason?.cause?.code === 'string'
          ? reason.cause.code
          : 'ENETWORK';
    const what =
      code === 'ETIMEDOUT' ? `no answer within ${timeoutMs} ms` : `could not connect (${code})`;
    super(`${service} ${operation} to ${url.host}: ${what}`, { cause });
    this.code = code;
  }
}

/**
 * Sees each attempt before it is sent (and may add to its input), and may return a function
 * that sees its answer. Benches count calls and capacity units with it.
 */
export type AwsCallHook = (call: {
  service: string;
  operation: string;
  input: Record<string, unknown>;
}) => ((answered: { status: number; answer: Record<string, unknown> }) => void) | undefined;

export interface AwsJsonClientOptions {
  env?: Env;
  fetch?: typeof fetch;
  maxAttempts?: number;
  /** Per attempt; a DynamoDB answer takes milliseconds. */
  timeoutMs?: number;
  /** Default: the pipeline's tracer (observability.ts). */
  tracer?: Pick<XRayTracer, 'traceCall'>;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const BACKOFF_BASE_MS = 100;
const BACKOFF_CAP_MS = 20_000;

// The SDK's standard retry strategy treats these as throttling (retried after a backoff).
const THROTTLING = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'RequestThrottledException',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'TransactionInProgressException',
  'RequestLimitExceeded',
  'LimitExceededException',
  'RequestThrottled',
]);

/** A client of one JSON-protocol service. */
export class AwsJsonClient {
  readonly #service: AwsJsonService;
  readonly #env: Env;
  readonly #fetch: typeof fetch;
  readonly #maxAttempts: number;
  readonly #timeoutMs: number;
  readonly #tracer: Pick<XRayTracer, 'traceCall'>;
  readonly #hooks = new Set<AwsCallHook>();

  constructor(service: AwsJsonService, options: AwsJsonClientOptions = {}) {
    this.#service = service;
    this.#env = options.env ?? process.env;
    this.#fetch = options.fetch ?? fetch;
    this.#maxAttempts = options.maxAttempts ?? AWS_MAX_ATTEMPTS;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#tracer = options.tracer ?? tracer;
  }

  /** Adds a hook on every attempt (see AwsCallHook); returns the function that removes it. */
  hook(hook: AwsCallHook): () => void {
    this.#hooks.add(hook);
    return () => this.#hooks.delete(hook);
  }

  /** Sends `operation` with `input`; the answer's JSON, or an AwsServiceError. */
  async call(operation: string, input: Record<string, unknown>): Promise<Record<string, unknown>> {
    const { region, credentials, url } = this.#target();
    const service = this.#service;
    return this.#tracer.traceCall(service.traceName, 'aws', async (subsegment) => {
      for (let attempt = 1; ; attempt += 1) {
        try {
          const call = { service: service.traceName, operation, input: { ...input } };
          const seen = [...this.#hooks].map((hook) => hook(call));
          const body = JSON.stringify(call.input);
          const response = await this.#fetch(url, {
            method: 'POST',
            headers: signPost({
              url,
              region,
              service: service.signingName,
              headers: {
                'content-type': `application/x-amz-json-${service.jsonVersion}`,
                'x-amz-target': `${service.targetPrefix}.${operation}`,
              },
              body,
              credentials,
              now: new Date(),
            }),
            body,
            signal: AbortSignal.timeout(this.#timeoutMs),
          });
          const text = await response.text();
          const requestId = response.headers.get('x-amzn-requestid') ?? undefined;
          if (subsegment) {
            subsegment.aws = { operation, region, request_id: requestId, retries: attempt - 1 };
            subsegment.http = { response: { status: response.status } };
            // The subsegment tells how the call ended: a retried throttle is only a retry.
            subsegment.error = subsegment.fault = subsegment.throttle = false;
            markStatus(subsegment, response.status);
          }
          const answer = parseAnswer(text);
          for (const answered of seen) answered?.({ status: response.status, answer });
          if (response.ok) return answer;
          throw serviceError(operation, response.status, answer, requestId);
        } catch (error) {
          if (attempt >= this.#maxAttempts || !retryable(error)) {
            throw error instanceof AwsServiceError
              ? error
              : new AwsNetworkError(service.traceName, operation, url, this.#timeoutMs, error);
          }
          const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
          await new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
        }
      }
    });
  }

  #target() {
    const env = this.#env;
    const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
    const accessKeyId = env.AWS_ACCESS_KEY_ID;
    const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
    if (!region || !accessKeyId || !secretAccessKey) {
      throw new Error(
        `${this.#service.traceName} needs AWS_REGION and credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) in the environment`,
      );
    }
    const domain = region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
    const url = new URL(
      env[`AWS_ENDPOINT_URL_${this.#service.endpointId}`] ??
        env.AWS_ENDPOINT_URL ??
        `https://${this.#service.hostPrefix}.${region}.${domain}/`,
    );
    const credentials = { accessKeyId, secretAccessKey, sessionToken: env.AWS_SESSION_TOKEN };
    return { region, credentials, url };
  }
}

function parseAnswer(text: string): Record<string, unknown> {
  if (text.trim() === '') return {};
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function serviceError(
  operation: string,
  status: number,
  answer: Record<string, unknown>,
  requestId: string | undefined,
): AwsServiceError {
  // `com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException`, or with `:<url>` after.
  const type =
    String(answer.__type ?? '')
      .split('#')
      .pop()
      ?.split(':')[0] || (status >= 500 ? 'InternalServerError' : 'UnknownError');
  const message = String(answer.message ?? answer.Message ?? `${operation} answered ${status}`);
  return new AwsServiceError(type, message, status, answer, requestId);
}

// Throttling, 5xx answers and network failures (fetch's TypeError, a timeout) are worth
// another try; a refusal (a failed condition, a validation error) never is.
function retryable(error: unknown): boolean {
  if (error instanceof AwsServiceError) return error.status >= 500 || THROTTLING.has(error.name);
  return true;
}
