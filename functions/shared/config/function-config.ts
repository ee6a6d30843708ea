/**
 * The configuration reader of every Lambda handler but the authorizer: each handler names the
 * settings it needs, and gets them typed, or one ConfigurationError naming every missing
 * variable and every invalid value. The plain settings (names, ids, switches) and the reader
 * itself are in plain-config.ts; here are the settings parsed with a schema, which the
 * authorizer does not load (it reads one secret id, with readPlainConfig).
 */
import { type ClientRateConfig, clientRateConfigFromEnv } from '../limits/client-rate-config.ts';
import { type LimitsConfig, limitsConfigFromEnv } from '../limits/limits-config.ts';
import { type ProviderSettings, providerSettingsFromEnv } from '../provider/provider-config.ts';
import { functionEnvironment } from './function-environment.ts';
import {
  type Env,
  type PlainConfig,
  plainReaders,
  readSettings,
  type SettingReaders,
} from './plain-config.ts';

export interface FunctionConfig extends PlainConfig {
  /** Base URL, models, prices, timeouts (PROVIDER_*): everything but the key. */
  provider: ProviderSettings;
  /** MAX_CONCURRENT_JOBS, PROVIDER_REQUESTS_PER_MINUTE, DAILY_BUDGET_USD, OVER_BUDGET_ACTION. */
  limits: LimitsConfig;
  /** Each API client's request rate: CLIENT_REQUESTS_PER_WINDOW, CLIENT_RATE_WINDOW_SECONDS. */
  clientRate: ClientRateConfig;
}

export type Setting = keyof FunctionConfig;

const readers: SettingReaders<FunctionConfig> = {
  ...plainReaders,
  provider: providerSettingsFromEnv,
  limits: limitsConfigFromEnv,
  clientRate: clientRateConfigFromEnv,
};

/**
 * Reads `settings` from `env`, throwing one ConfigurationError that names every missing
 * variable and every invalid value.
 */
export function readConfig<K extends Setting>(
  settings: readonly K[],
  env: Env = functionEnvironment(),
): Pick<FunctionConfig, K> {
  return readSettings(readers, settings, env);
}
