import { DEFAULT_DEPLOYMENT, modelSpec, type ProviderSettings } from './provider-config.ts';

/**
 * The deployments that serve a model: several endpoints (Azure regions, gateway keys) behind one
 * model of the catalogue, each with its own limits. The catalogue lists them per model
 * (`"deployments": [...]`, checked by provider-config.ts); a model without a list is served by
 * the provider's base URL, as the one deployment named `default`.
 */

// Defined beside the catalogue's schema, which checks it (no import cycle).
export { DEFAULT_DEPLOYMENT };

export interface DeploymentSpec {
  /** Unique per model, `[a-z0-9-]{1,40}`; one id names one endpoint in every model listing it. */
  id: string;
  /** The endpoint, version prefix included, without a trailing slash. */
  baseUrl: string;
  /** Share of the model's jobs, relative to the other deployments' (> 0; default 1). */
  weight: number;
  /** Provider jobs this deployment may run at once (absent: no limit of its own). */
  maxConcurrent?: number;
  /** Create requests this deployment accepts per minute (absent: no limit of its own). */
  requestsPerMinute?: number;
  /** Local stack only: the key of this deployment (on AWS keys live in the provider key secret). */
  apiKey?: string;
}

/** The deployments of `model`, in catalogue order; throws VideoParamsError for an unknown model. */
export function deploymentsOf(settings: ProviderSettings, model: string): DeploymentSpec[] {
  const listed = modelSpec(settings, model).deployments;
  return listed === undefined ? [defaultDeployment(settings)] : listed.map((d) => ({ ...d }));
}

/** The deployment `id` of `model`, or undefined when the model has no such deployment. */
export function deploymentById(
  settings: ProviderSettings,
  model: string,
  id: string,
): DeploymentSpec | undefined {
  return deploymentsOf(settings, model).find((deployment) => deployment.id === id);
}

/**
 * The endpoint a deployment id names, whichever model lists it (the catalogue holds one baseUrl
 * and key per id across models), or the default deployment for `default`; undefined when no
 * model lists the id. For the calls that know only the provider job (poll, content, delete).
 */
export function deploymentEndpoint(
  settings: ProviderSettings,
  id: string,
): DeploymentSpec | undefined {
  for (const spec of Object.values(settings.models)) {
    const listed = spec.deployments?.find((deployment) => deployment.id === id);
    if (listed) return { ...listed };
  }
  return id === DEFAULT_DEPLOYMENT ? defaultDeployment(settings) : undefined;
}

function defaultDeployment(settings: ProviderSettings): DeploymentSpec {
  return { id: DEFAULT_DEPLOYMENT, baseUrl: settings.baseUrl, weight: 1 };
}

/**
 * A job's deployments as admission places it: its model's, or none when its model has left the
 * catalogue (the job keeps the slot pool without a deployment, as before deployments existed).
 */
export function deploymentsForJob(settings: ProviderSettings, model: string): DeploymentSpec[] {
  try {
    return deploymentsOf(settings, model);
  } catch {
    return [];
  }
}
