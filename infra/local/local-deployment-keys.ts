import { DEFAULT_DEPLOYMENT } from '../../functions/shared/provider/deployments.ts';
import { LocalStackError } from './local-errors.ts';

export interface LocalProviderKeys {
  /** The catalogue (PROVIDER_MODELS form) without any deployment's `apiKey`. */
  models: string | undefined;
  /** The provider key secret: the stack's key, or a JSON object of keys by deployment id. */
  secret: string;
}

/**
 * Locally a deployment may carry its own `"apiKey"` in the catalogue (a second simulator, another
 * region's key). The functions get it the way they get keys on AWS, from the provider key secret
 * as a map by deployment id, so no key reaches the template or the functions' environment
 * (synth refuses one there). Every other deployment, and `default`, gets `key` (PROVIDER_API_KEY,
 * or the simulator's). A catalogue that is not JSON is passed on as is for synth to report.
 */
export function localProviderKeys(models: string | undefined, key: string): LocalProviderKeys {
  const unchanged = { models, secret: key };
  if (models === undefined) return unchanged;
  let catalogue: unknown;
  try {
    catalogue = JSON.parse(models);
  } catch {
    return unchanged;
  }
  if (!isObject(catalogue)) return unchanged;
  const keys: Record<string, string> = { [DEFAULT_DEPLOYMENT]: key };
  // Each id's own key as first listed (undefined: none), to hold every listing of it equal.
  const ownKeys = new Map<string, string | undefined>();
  let moved = false;
  for (const [model, spec] of Object.entries(catalogue)) {
    const deployments = isObject(spec) ? spec.deployments : undefined;
    if (!Array.isArray(deployments)) continue;
    deployments.forEach((deployment: unknown, index) => {
      if (!isObject(deployment) || typeof deployment.id !== 'string') return;
      const { id } = deployment;
      // An empty or non-string apiKey stays for synth to name.
      const apiKey =
        typeof deployment.apiKey === 'string' && deployment.apiKey !== ''
          ? deployment.apiKey
          : undefined;
      if (ownKeys.has(id) && ownKeys.get(id) !== apiKey) {
        throw new LocalStackError(
          'provider-settings',
          `models.${model}.deployments[${index}].apiKey (PROVIDER_MODELS): deployment "${id}" has another apiKey in an earlier model; one id has one key`,
        );
      }
      ownKeys.set(id, apiKey);
      keys[id] = apiKey ?? key;
      if (apiKey !== undefined) {
        delete deployment.apiKey;
        moved = true;
      }
    });
  }
  return moved ? { models: JSON.stringify(catalogue), secret: JSON.stringify(keys) } : unchanged;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
