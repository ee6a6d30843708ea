/**
 * The environment a user's shell gives `npm start`, `npm run generate` and the CLI: the test
 * runner's own settings removed (no real provider, none of its quiet logging), colours off.
 */
export function cliEnv(overrides: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...overrides };
  for (const name of [
    'PROVIDER_BASE_URL',
    'PROVIDER_API_KEY',
    'PROVIDER_MODEL',
    'PROVIDER_MODELS',
    'POWERTOOLS_LOG_LEVEL',
    'POWERTOOLS_METRICS_DISABLED',
    'POWERTOOLS_TRACE_ENABLED',
  ]) {
    delete env[name];
  }
  return env;
}
