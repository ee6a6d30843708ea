import type { Node } from 'constructs';

/**
 * A bad CDK context value: `cdk synth` prints its message as one line naming the key (see
 * infra/cdk-app.ts), not a stack trace with the validation library's dump.
 */
export class ContextError extends Error {
  override readonly name = 'ContextError';
  /** The context key at fault, e.g. `limits:maxConcurrentJobs`. */
  readonly key: string;

  constructor(key: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.key = key;
  }
}

/**
 * A scalar CDK context value (`-c key=value` or cdk.json) as a string; absent, null or empty is
 * undefined. Anything else (an object, a list) fails synthesis naming the key.
 */
export function contextValue(node: Node, key: string): string | undefined {
  const value: unknown = node.tryGetContext(key);
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'string' || typeof value === 'number') return String(value);
  throw new ContextError(
    key,
    `context ${key} must be a string or a number, got ${JSON.stringify(value)}`,
  );
}
