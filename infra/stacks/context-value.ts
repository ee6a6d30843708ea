import type { Node } from 'constructs';

/**
 * A scalar CDK context value (`-c key=value` or cdk.json) as a string; absent, null or empty is
 * undefined. Anything else (an object, a list) fails synthesis naming the key.
 */
export function contextValue(node: Node, key: string): string | undefined {
  const value: unknown = node.tryGetContext(key);
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'string' || typeof value === 'number') return String(value);
  throw new Error(`Context ${key} must be a string or a number, got ${JSON.stringify(value)}`);
}
