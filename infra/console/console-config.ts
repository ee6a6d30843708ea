import { providerConfigFromEnv } from '../../functions/shared/provider/provider-config.ts';

/** What `config.json` tells the console (the shape console/src/console-config.ts reads). */
export interface ConsoleConfigDocument {
  apiUrl: string;
  defaultModel: string;
  models: Record<string, unknown>;
  routes: string[];
}

/**
 * The console's `config.json` from the API's own settings: its URL, the provider catalogue the
 * API validates requests against (the PROVIDER_* environment of the functions) and its route
 * keys, so the console offers only what the API can do.
 */
export function consoleConfigDocument(
  apiUrl: string,
  providerEnvironment: Readonly<Record<string, string | undefined>>,
  routes: string[],
): ConsoleConfigDocument {
  // The key is not needed to read the catalogue; the schema only wants a value.
  const provider = providerConfigFromEnv(providerEnvironment, 'unused');
  return {
    apiUrl: apiUrl.replace(/\/+$/, ''),
    defaultModel: provider.defaultModel,
    models: provider.models,
    routes: [...routes].sort(),
  };
}
