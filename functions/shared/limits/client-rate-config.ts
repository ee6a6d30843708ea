/**
 * Each API client's request rate (functions/api/client-rate.ts): at most `requestsPerWindow`
 * requests per fixed window of `windowSeconds`, counted per client. Read from the API function's
 * environment (set by CDK from context, infra/stacks/limits-settings.ts; `cdk synth` parses the
 * same values, so a bad one fails the synth).
 */

/** The environment variables, by config field (for error messages and for CDK). */
export const CLIENT_RATE_ENV_NAMES = {
  requestsPerWindow: 'CLIENT_REQUESTS_PER_WINDOW',
  windowSeconds: 'CLIENT_RATE_WINDOW_SECONDS',
} as const;

export interface ClientRateConfig {
  /** Requests one client may send per window; 0 turns the limit off. */
  requestsPerWindow: number;
  /** Length of a window, in seconds (windows start at whole multiples of it since the epoch). */
  windowSeconds: number;
}

/**
 * 10 requests per second per client on average, 20 at once: half the stage's throttle
 * (DEFAULT_API_THROTTLE, 20 per second, bursts of 40), so one client cannot take all of it.
 */
export const DEFAULT_CLIENT_RATE: ClientRateConfig = { requestsPerWindow: 20, windowSeconds: 2 };

const LIMITS = {
  requestsPerWindow: { min: 0, max: 100_000 },
  windowSeconds: { min: 1, max: 3600 },
} as const;

/** The client rate configuration is invalid; the message names the variable. */
export class ClientRateConfigError extends Error {
  override name = 'ClientRateConfigError';
}

/**
 * Reads the client rate from the environment; absent or empty values take the defaults, an
 * invalid one throws ClientRateConfigError naming it.
 */
export function clientRateConfigFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): ClientRateConfig {
  const read = (field: keyof ClientRateConfig): number => {
    const name = CLIENT_RATE_ENV_NAMES[field];
    const value = env[name]?.trim();
    if (value === undefined || value === '') return DEFAULT_CLIENT_RATE[field];
    const { min, max } = LIMITS[field];
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      throw new ClientRateConfigError(
        `${name} must be a whole number from ${min} to ${max}, not ${JSON.stringify(value)}`,
      );
    }
    return Number(value);
  };
  return { requestsPerWindow: read('requestsPerWindow'), windowSeconds: read('windowSeconds') };
}

/** The environment that `clientRateConfigFromEnv` reads back as `config` (CDK sets it). */
export function clientRateEnvironment(config: ClientRateConfig): Record<string, string> {
  return {
    [CLIENT_RATE_ENV_NAMES.requestsPerWindow]: String(config.requestsPerWindow),
    [CLIENT_RATE_ENV_NAMES.windowSeconds]: String(config.windowSeconds),
  };
}
