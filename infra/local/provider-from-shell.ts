import { LocalStackError } from './local-errors.ts';
import type { RealProvider } from './local-stack.ts';

/**
 * A real provider for the local stack, from the shell that runs it: PROVIDER_BASE_URL and
 * PROVIDER_API_KEY (plus optional PROVIDER_MODEL, PROVIDER_MODELS, PROVIDER_AUTH_HEADER). The
 * key goes into the emulated Secrets Manager only; it is removed from this process's environment
 * so no handler can read it from there, and it is never written to disk. Neither set: the simulator runs.
 */
export function providerFromShell(env: NodeJS.ProcessEnv = process.env): RealProvider | undefined {
  const baseUrl = env.PROVIDER_BASE_URL?.trim();
  const apiKey = env.PROVIDER_API_KEY?.trim();
  delete env.PROVIDER_API_KEY;
  if (!baseUrl && !apiKey) return undefined;
  if (!baseUrl || !apiKey) {
    throw new LocalStackError(
      'invalid-option',
      `a real provider needs both PROVIDER_BASE_URL and PROVIDER_API_KEY (only ${baseUrl ? 'PROVIDER_BASE_URL' : 'PROVIDER_API_KEY'} is set)`,
    );
  }
  const provider: RealProvider = { baseUrl, apiKey };
  if (env.PROVIDER_MODEL) provider.model = env.PROVIDER_MODEL;
  if (env.PROVIDER_MODELS) provider.models = env.PROVIDER_MODELS;
  if (env.PROVIDER_AUTH_HEADER) provider.authHeader = env.PROVIDER_AUTH_HEADER;
  return provider;
}
