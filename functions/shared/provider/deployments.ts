/**
 * A model's provider deployments (issue 24): the catalogue entry's `deployments`, or one implicit
 * deployment (`default`, the configured base URL) for a model that lists none.
 */
import type { ProviderSettings } from './provider-config.ts';

export const DEFAULT_DEPLOYMENT = 'default';

export interface DeploymentSpec {
  id: string;
  baseUrl: string;
  weight: number;
  maxConcurrent?: number;
  requestsPerMinute?: number;
  apiKey?: string;
}

export function deploymentsOf(settings: ProviderSettings, model: string): DeploymentSpec[] {
  const spec = settings.models[model] as { deployments?: DeploymentSpec[] } | undefined;
  if (spec?.deployments !== undefined && spec.deployments.length > 0) return spec.deployments;
  return [{ id: DEFAULT_DEPLOYMENT, baseUrl: settings.baseUrl, weight: 1 }];
}

export function deploymentById(
  settings: ProviderSettings,
  model: string,
  id: string,
): DeploymentSpec | undefined {
  return deploymentsOf(settings, model).find((deployment) => deployment.id === id);
}
