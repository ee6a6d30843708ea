import type { Node } from 'constructs';
import {
  CLIENT_RATE_ENV_NAMES,
  ClientRateConfigError,
  clientRateConfigFromEnv,
  clientRateEnvironment,
} from '../../functions/shared/limits/client-rate-config.ts';
import {
  LIMITS_ENV_NAMES,
  type LimitsConfig,
  LimitsConfigError,
  limitsConfigFromEnv,
  limitsEnvironment,
} from '../../functions/shared/limits/limits-config.ts';
import { ContextError, contextValue } from './context-value.ts';

/**
 * CDK context keys of the shared limits (`cdk deploy -c limits:maxConcurrentJobs=2`, cdk.json
 * "context", or the local stack's synthesis), by the environment variable each one sets.
 */
export const LIMITS_CONTEXT_KEYS = {
  maxConcurrentJobs: 'limits:maxConcurrentJobs',
  requestsPerMinute: 'limits:requestsPerMinute',
  dailyBudgetUsd: 'budget:dailyUsd',
  overBudgetAction: 'budget:overBudgetAction',
} as const satisfies Record<keyof typeof LIMITS_ENV_NAMES, string>;

/** Removed with the slot-wait loop; refused so a stale setting is not silently ignored. */
const REMOVED_SLOT_WAIT_KEY = 'limits:maxSlotWaitMinutes';

export interface LimitsSettings {
  /** MAX_CONCURRENT_JOBS, PROVIDER_REQUESTS_PER_MINUTE, ... for the functions that use limits. */
  environment: Record<string, string>;
}

/**
 * Reads the limits from CDK context (defaults in functions/shared/limits/limits-config.ts: 4
 * slots, 20 requests per minute, no budget, `queue`) and validates them
 * with the schema the functions use at cold start, so a bad value fails `cdk synth`.
 */
export function limitsSettingsFromContext(node: Node): LimitsSettings {
  if (contextValue(node, REMOVED_SLOT_WAIT_KEY) !== undefined) {
    throw new ContextError(
      REMOVED_SLOT_WAIT_KEY,
      `context ${REMOVED_SLOT_WAIT_KEY} is no longer used: jobs wait for a slot parked, with no execution running and no time limit (docs/architecture.md, "Admission"). Remove it from cdk.json or -c.`,
    );
  }
  const env: Record<string, string> = {};
  for (const [field, key] of Object.entries(LIMITS_CONTEXT_KEYS)) {
    const value = contextValue(node, key);
    if (value !== undefined) env[LIMITS_ENV_NAMES[field as keyof typeof LIMITS_ENV_NAMES]] = value;
  }
  let config: LimitsConfig;
  try {
    config = limitsConfigFromEnv(env);
  } catch (error) {
    if (error instanceof LimitsConfigError) {
      // Name the context keys, not the variables they become.
      let message = error.message;
      let firstKey: string | undefined;
      for (const [field, key] of Object.entries(LIMITS_CONTEXT_KEYS)) {
        const envName = LIMITS_ENV_NAMES[field as keyof typeof LIMITS_ENV_NAMES];
        if (message.includes(envName)) firstKey ??= key;
        message = message.replaceAll(envName, `context ${key}`);
      }
      throw new ContextError(firstKey ?? 'limits', message, { cause: error });
    }
    throw error;
  }
  return { environment: limitsEnvironment(config) };
}

/** CDK context keys of each API client's request rate, by the environment variable each sets. */
export const CLIENT_RATE_CONTEXT_KEYS = {
  requestsPerWindow: 'limits:clientRequestsPerWindow',
  windowSeconds: 'limits:clientRateWindowSeconds',
} as const satisfies Record<keyof typeof CLIENT_RATE_ENV_NAMES, string>;

/**
 * Each API client's request rate from CDK context (default in client-rate-config.ts: 20
 * requests per 2-second window; 0 requests turns it off), validated with the schema the API
 * function uses at cold start, so a bad value fails `cdk synth` naming the context key.
 */
export function clientRateSettingsFromContext(node: Node): LimitsSettings {
  const env: Record<string, string> = {};
  for (const [field, key] of Object.entries(CLIENT_RATE_CONTEXT_KEYS)) {
    const value = contextValue(node, key);
    if (value !== undefined) {
      env[CLIENT_RATE_ENV_NAMES[field as keyof typeof CLIENT_RATE_ENV_NAMES]] = value;
    }
  }
  try {
    return { environment: clientRateEnvironment(clientRateConfigFromEnv(env)) };
  } catch (error) {
    if (!(error instanceof ClientRateConfigError)) throw error;
    for (const [field, key] of Object.entries(CLIENT_RATE_CONTEXT_KEYS)) {
      const envName = CLIENT_RATE_ENV_NAMES[field as keyof typeof CLIENT_RATE_ENV_NAMES];
      if (error.message.startsWith(envName)) {
        throw new ContextError(key, error.message.replace(envName, `context ${key}`), {
          cause: error,
        });
      }
    }
    throw error;
  }
}
