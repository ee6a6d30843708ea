/**
 * What every AWS SDK client of the pipeline shares. Each client lives in a module of its own
 * (dynamodb-client.ts, s3-client.ts, sfn-client.ts, eventbridge-client.ts) so a function bundles
 * only the clients it imports, and is created on first use, once per container (never per
 * invocation). Endpoints
 * come from the standard `AWS_ENDPOINT_URL_*` variables, which is how the local stack points
 * the same code at DynamoDB Local, s3rver and its own endpoint. Each client is captured by the
 * tracer, so its calls are subsegments of the invocation's trace in Lambda.
 */

// A few SDK retries on AWS calls are safe: none of them starts a paid provider job.
export const AWS_MAX_ATTEMPTS = 3;

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
