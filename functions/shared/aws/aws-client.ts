/**
 * What every AWS client of the pipeline shares. Each client lives in a module of its own
 * (dynamodb-client.ts, s3-client.ts, sfn-client.ts, eventbridge-client.ts) so a function bundles
 * only the clients it imports, and is created on first use, once per container (never per
 * invocation). S3 and Step Functions are SDK clients; DynamoDB and EventBridge are called over
 * their JSON APIs (aws-json-api.ts), which keeps the SDK out of most cold starts. Endpoints
 * come from the standard `AWS_ENDPOINT_URL_*` variables, which is how the local stack points
 * the same code at DynamoDB Local, s3rver and its own endpoint. Every call is a subsegment of
 * the invocation's trace in Lambda.
 */

// A few retries of AWS calls are safe: none of them starts a paid provider job.
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
