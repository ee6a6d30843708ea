import type { Node } from 'constructs';
import {
  DEFAULT_DEPLOYMENT,
  DEFAULT_MODEL,
  DEFAULT_TIMEOUT_MS,
  type ProviderConfig,
  ProviderConfigError,
  providerConfigFromEnv,
} from '../../functions/shared/provider/provider-config.ts';
import { ContextError, contextValue } from './context-value.ts';

/**
 * OpenAI's own endpoint: the default of the protocol, but OpenAI shut the Videos API down on
 * 2026-09-24. Deployments point `provider:baseUrl` at a /v1/videos-compatible service instead.
 */
export const DEFAULT_PROVIDER_BASE_URL = 'https://api.openai.com/v1';

/** CDK context keys (`cdk deploy -c provider:baseUrl=https://...`, or cdk.json "context"). */
export const PROVIDER_CONTEXT_KEYS = {
  baseUrl: 'provider:baseUrl',
  model: 'provider:model',
  models: 'provider:models',
  timeoutMs: 'provider:timeoutMs',
  /** `api-key` for Azure OpenAI's v1 API; `authorization` (Bearer, the default) elsewhere. */
  authHeader: 'provider:authHeader',
  /** Where Bedrock models run (default: the stack's region). */
  bedrockRegion: 'bedrock:region',
} as const;

const CONTEXT_KEY_BY_ENV: Record<string, string> = {
  PROVIDER_BASE_URL: PROVIDER_CONTEXT_KEYS.baseUrl,
  PROVIDER_MODEL: PROVIDER_CONTEXT_KEYS.model,
  PROVIDER_MODELS: PROVIDER_CONTEXT_KEYS.models,
  PROVIDER_TIMEOUT_MS: PROVIDER_CONTEXT_KEYS.timeoutMs,
};

export interface ProviderSettings {
  /**
   * True when `provider:baseUrl` was not set and the (shut down) OpenAI default would serve a
   * /v1/videos model of the catalogue (a Bedrock-only catalogue needs no base URL).
   */
  baseUrlIsDefault: boolean;
  /** The PROVIDER_* environment of the functions (no secret: the key stays in Secrets Manager). */
  environment: Record<string, string>;
  /** The catalogue's Bedrock model ids (`"provider": "bedrock"`), for their IAM grants. */
  bedrockModels: string[];
  /** `bedrock:region`, when set. */
  bedrockRegion: string | undefined;
}

/**
 * Reads the provider configuration from CDK context and validates it with the same schema the
 * functions use at cold start, so a bad catalogue fails `cdk synth`, not the first job.
 */
export function providerSettingsFromContext(node: Node): ProviderSettings {
  const baseUrl = contextValue(node, PROVIDER_CONTEXT_KEYS.baseUrl);
  const models = node.tryGetContext(PROVIDER_CONTEXT_KEYS.models);
  const environment: Record<string, string> = {
    PROVIDER_BASE_URL: baseUrl ?? DEFAULT_PROVIDER_BASE_URL,
    PROVIDER_MODEL: contextValue(node, PROVIDER_CONTEXT_KEYS.model) ?? DEFAULT_MODEL,
    PROVIDER_TIMEOUT_MS:
      contextValue(node, PROVIDER_CONTEXT_KEYS.timeoutMs) ?? String(DEFAULT_TIMEOUT_MS),
  };
  const authHeader = contextValue(node, PROVIDER_CONTEXT_KEYS.authHeader);
  if (authHeader !== undefined) environment.PROVIDER_AUTH_HEADER = authHeader;
  if (models !== undefined) {
    // cdk.json may hold the catalogue as an object; -c passes it as a JSON string.
    environment.PROVIDER_MODELS = typeof models === 'string' ? models : JSON.stringify(models);
  }
  let config: ProviderConfig;
  try {
    config = providerConfigFromEnv(environment, 'validation-only');
  } catch (error) {
    if (error instanceof ProviderConfigError) {
      // Name the context keys, not the variables they become (PROVIDER_BASE_URL -> provider:baseUrl).
      const problems = error.problems.map((problem) =>
        problem.replace(/\((PROVIDER_[A-Z_]+)\)/g, (whole, envName: string) => {
          const key = CONTEXT_KEY_BY_ENV[envName];
          return key ? `(context ${key}, ${envName})` : whole;
        }),
      );
      const field =
        error.field.split('.')[0] === 'defaultModel' ? 'model' : error.field.split('.')[0];
      const fieldKey = Object.hasOwn(PROVIDER_CONTEXT_KEYS, field ?? '')
        ? PROVIDER_CONTEXT_KEYS[field as keyof typeof PROVIDER_CONTEXT_KEYS]
        : PROVIDER_CONTEXT_KEYS.baseUrl;
      throw new ContextError(fieldKey, `Invalid provider context: ${problems.join('; ')}`, {
        cause: error,
      });
    }
    throw error;
  }
  refuseCatalogueKeys(config);
  const bedrockModels = Object.entries(config.models)
    .filter(([, spec]) => spec.provider === 'bedrock')
    .map(([model]) => model);
  // A /v1/videos model is served by the base URL unless it lists deployments elsewhere.
  const servedByBaseUrl = Object.values(config.models).some(
    (spec) =>
      spec.provider !== 'bedrock' &&
      (spec.deployments === undefined || spec.deployments.some((d) => d.id === DEFAULT_DEPLOYMENT)),
  );
  return {
    baseUrlIsDefault: baseUrl === undefined && servedByBaseUrl,
    environment,
    bedrockModels,
    bedrockRegion: contextValue(node, PROVIDER_CONTEXT_KEYS.bedrockRegion),
  };
}

/**
 * A deployment's `apiKey` is for the local stack (which moves it into its emulated secret):
 * in `provider:models` it would land in every function's environment and the template. On AWS
 * the provider key secret holds the keys, one for all or a JSON object by deployment id.
 */
function refuseCatalogueKeys(config: ProviderConfig): void {
  const problems: string[] = [];
  for (const [model, spec] of Object.entries(config.models)) {
    spec.deployments?.forEach((deployment, index) => {
      if (deployment.apiKey !== undefined) {
        problems.push(
          `models.${model}.deployments[${index}].apiKey (context ${PROVIDER_CONTEXT_KEYS.models}, PROVIDER_MODELS) is for the local stack only: put the key in the provider key secret, as {"${deployment.id}": "<key>", ...}`,
        );
      }
    });
  }
  if (problems.length > 0) {
    throw new ContextError(
      PROVIDER_CONTEXT_KEYS.models,
      `Invalid provider context: ${problems.join('; ')}`,
    );
  }
}
