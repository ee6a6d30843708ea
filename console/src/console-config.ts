/**
 * `config.json`, served next to the console: where the API is and the provider's model
 * catalogue (the same one the API validates requests against). Written by CDK on AWS and by the
 * local stack on this machine; it holds no secret.
 */
export interface ModelSpec {
  sizes: string[];
  seconds: string[];
  defaultSize: string;
  defaultSeconds: string;
  pricePerSecondUsd: number;
  pricePerSecondUsdBySize?: Record<string, number>;
}

export interface ConsoleConfig {
  /** The HTTP API's base URL, without a trailing slash. */
  apiUrl: string;
  defaultModel: string;
  models: Record<string, ModelSpec>;
  /**
   * The API's route keys (`POST /videos/{id}/cancel`, ...): the console offers an action only
   * when the API it talks to has the route for it.
   */
  routes?: string[];
  /**
   * What a job the day's budget cannot cover does: waits for a later day (`queue`) or fails at
   * once (`reject`). Absent from an older deployment's config.json.
   */
  overBudgetAction?: 'queue' | 'reject';
}

/**
 * The API's prompt limit, counted after trimming (a copy of functions/shared/jobs/job-request.ts's,
 * which would bring zod into the bundle; a unit test holds them equal).
 */
export const MAX_PROMPT_LENGTH = 4000;

/** The longest start timeout the API accepts, in seconds (a copy held equal by the same test). */
export const MAX_START_TIMEOUT_SECONDS = 604800;

export async function loadConfig(): Promise<ConsoleConfig> {
  const response = await fetch('config.json', { cache: 'no-store' });
  if (!response.ok) throw new Error(`config.json: HTTP ${response.status}`);
  const config = (await response.json()) as ConsoleConfig;
  if (typeof config.apiUrl !== 'string' || typeof config.models !== 'object') {
    throw new Error('config.json: apiUrl and models are required');
  }
  return { ...config, apiUrl: config.apiUrl.replace(/\/+$/, '') };
}

/** The estimate the API records as estimatedCostUsd: price per second (by size) times seconds. */
export function estimateCostUsd(spec: ModelSpec, size: string, seconds: string): number {
  const price = spec.pricePerSecondUsdBySize?.[size] ?? spec.pricePerSecondUsd;
  return Math.round(price * Number(seconds) * 10_000) / 10_000;
}
