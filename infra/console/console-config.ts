import {
  LIMITS_ENV_NAMES,
  limitsConfigFromEnv,
  type OverBudgetAction,
} from '../../functions/shared/limits/limits-config.ts';
import { providerConfigFromEnv } from '../../functions/shared/provider/provider-config.ts';

/** What `config.json` tells the console (the shape console/src/console-config.ts reads). */
export interface ConsoleConfigDocument {
  apiUrl: string;
  defaultModel: string;
  models: Record<string, unknown>;
  routes: string[];
  /** What a job the day's budget cannot cover does, so the submit form can say it. */
  overBudgetAction: OverBudgetAction;
}

/**
 * The console's `config.json` from the API's own settings: its URL, the provider catalogue the
 * API validates requests against (the PROVIDER_* environment of the functions), the over-budget
 * action (their OVER_BUDGET_ACTION) and its route keys, so the console offers only what the API
 * can do and says what it will do.
 */
export function consoleConfigDocument(
  apiUrl: string,
  functionEnvironment: Readonly<Record<string, string | undefined>>,
  routes: string[],
): ConsoleConfigDocument {
  // Required, not defaulted: a caller that forgot the limits would make the console say `queue`
  // to a deployment that rejects.
  if (functionEnvironment[LIMITS_ENV_NAMES.overBudgetAction] === undefined) {
    throw new Error(
      `consoleConfigDocument: the environment has no ${LIMITS_ENV_NAMES.overBudgetAction}; pass the limits' environment with the provider's`,
    );
  }
  // The key is not needed to read the catalogue; the schema only wants a value.
  const provider = providerConfigFromEnv(functionEnvironment, 'unused');
  return {
    apiUrl: apiUrl.replace(/\/+$/, ''),
    defaultModel: provider.defaultModel,
    models: provider.models,
    routes: [...routes].sort(),
    overBudgetAction: limitsConfigFromEnv(functionEnvironment).overBudgetAction,
  };
}
