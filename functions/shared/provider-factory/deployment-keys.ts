import { ConfigurationError } from '../config/plain-config.ts';

/**
 * The key of one deployment in the provider key secret, which holds either one key for every
 * deployment, or a JSON object of keys by deployment id (`{"eastus":"...","westus":"..."}`).
 * Errors name the secret and the deployment, never a key.
 */
export function keyForDeployment(secret: string, deployment: string, secretId: string): string {
  const map = keysById(secret, secretId);
  if (map === undefined) return secret;
  const key = Object.hasOwn(map, deployment) ? map[deployment] : undefined;
  if (typeof key !== 'string' || key.trim() === '') {
    const known = Object.keys(map).join(', ') || 'none';
    throw new ConfigurationError(
      `The provider key secret ${secretId} has no key for deployment "${deployment}" (it maps ${known}); add "${deployment}" to its JSON object`,
    );
  }
  return key.trim();
}

// The secret is re-read through its cache on every call: parse each distinct value once.
let parsed: { secret: string; map: Record<string, unknown> | undefined } | undefined;

/** The keys by deployment id when the secret is a JSON object; undefined for a plain key. */
function keysById(secret: string, secretId: string): Record<string, unknown> | undefined {
  if (parsed?.secret === secret) return parsed.map;
  // An API key never starts with "{"; a secret that does is meant as a map.
  let map: Record<string, unknown> | undefined;
  if (secret.trimStart().startsWith('{')) {
    let value: unknown;
    try {
      value = JSON.parse(secret);
    } catch {
      value = undefined;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new ConfigurationError(
        `The provider key secret ${secretId} starts with "{" but is not a JSON object of keys by deployment id; store one key, or {"<deployment id>": "<key>", ...}`,
      );
    }
    map = value as Record<string, unknown>;
  }
  parsed = { secret, map };
  return map;
}
