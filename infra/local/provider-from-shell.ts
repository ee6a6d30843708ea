import {
  ProviderConfigError,
  providerConfigFromEnv,
} from '../../functions/shared/provider/provider-config.ts';
import { LocalStackError } from './local-errors.ts';
import type { RealProvider } from './local-stack.ts';

/** Settings that only mean something for a real provider (the simulator has its own catalogue). */
const REAL_PROVIDER_ONLY = [
  'PROVIDER_MODEL',
  'PROVIDER_MODELS',
  'PROVIDER_TIMEOUT_MS',
  'PROVIDER_MAX_RETRIES',
  'PROVIDER_AUTH_HEADER',
] as const;

/**
 * A real provider for the local stack, from the shell that runs it: PROVIDER_BASE_URL and
 * PROVIDER_API_KEY (plus optional PROVIDER_MODEL, PROVIDER_MODELS, PROVIDER_TIMEOUT_MS,
 * PROVIDER_AUTH_HEADER). The key goes into the emulated Secrets Manager only; it is removed from
 * this process's environment so no handler can read it from there, and it is never written to
 * disk. Neither set: the simulator runs.
 *
 * The settings are checked as a whole, with the schema the functions use, before anything
 * starts: a `provider-settings` LocalStackError lists every problem, one line each (nothing is
 * silently ignored, e.g. a PROVIDER_MODEL set without a base URL).
 */
export function providerFromShell(env: NodeJS.ProcessEnv = process.env): RealProvider | undefined {
  const baseUrl = env.PROVIDER_BASE_URL?.trim();
  const apiKey = env.PROVIDER_API_KEY?.trim();
  delete env.PROVIDER_API_KEY;
  const problems: string[] = [];
  if (!baseUrl && !apiKey) {
    for (const name of REAL_PROVIDER_ONLY) {
      if (env[name]?.trim()) {
        problems.push(
          `${name} is set, but it only applies to a real provider: set PROVIDER_BASE_URL and PROVIDER_API_KEY too, or unset ${name} to use the simulator`,
        );
      }
    }
    if (problems.length > 0) throw providerSettingsError(problems);
    return undefined;
  }
  if (!baseUrl || !apiKey) {
    const missing = baseUrl ? 'PROVIDER_API_KEY' : 'PROVIDER_BASE_URL';
    problems.push(
      `a real provider needs both PROVIDER_BASE_URL and PROVIDER_API_KEY; ${missing} is not set`,
    );
  }
  try {
    // The key is only checked for presence here; a placeholder stands in when it is missing.
    providerConfigFromEnv(
      { ...env, PROVIDER_BASE_URL: baseUrl || 'http://base-url.invalid/v1' },
      apiKey || 'missing',
    );
  } catch (error) {
    if (!(error instanceof ProviderConfigError)) throw error;
    problems.push(...error.problems);
  }
  if (problems.length > 0 || !baseUrl || !apiKey) throw providerSettingsError(problems);
  const provider: RealProvider = { baseUrl, apiKey };
  if (env.PROVIDER_MODEL) provider.model = env.PROVIDER_MODEL;
  if (env.PROVIDER_MODELS) provider.models = env.PROVIDER_MODELS;
  if (env.PROVIDER_TIMEOUT_MS) provider.timeoutMs = env.PROVIDER_TIMEOUT_MS;
  if (env.PROVIDER_AUTH_HEADER) provider.authHeader = env.PROVIDER_AUTH_HEADER;
  return provider;
}

function providerSettingsError(problems: string[]): LocalStackError {
  return new LocalStackError('provider-settings', problems.join('\n'), { lines: problems });
}
