/**
 * The settings each read straight from its environment variable (names, ids, switches), and the
 * reader every handler's configuration goes through: one ConfigurationError naming every missing
 * variable and every invalid value. The settings parsed with a schema (the provider catalogue,
 * limits, client rate) are in function-config.ts, whose `readConfig` reads both kinds; a handler
 * that needs none of them (the authorizer) calls `readPlainConfig`, and its cold start loads no
 * parser it does not run. The variables are set by CDK (infra/constructs/pipeline-function.ts)
 * and, for the local stack, by infra/local/local-stack.ts; docs/architecture.md lists them.
 */
import type { WebhookTargetPolicy } from '../webhooks/webhook-target.ts';

export type Env = Readonly<Record<string, string | undefined>>;

/** A handler's configuration is missing or invalid; the message names each variable. */
export class ConfigurationError extends Error {
  override name = 'ConfigurationError';
}

export interface PlainConfig {
  jobsTableName: string;
  videosBucketName: string;
  stateMachineArn: string;
  /** The secret whose SecretString is the provider API key (the key itself is read on use). */
  providerSecretId: string;
  /** The secret whose SecretString is `{"tokens":[...]}`. */
  apiTokensSecretId: string;
  /** The state machine that delivers webhooks. */
  webhookStateMachineArn: string;
  /** The secret whose SecretString signs webhooks. */
  webhookSecretId: string;
  /**
   * Where a function that changes a job's status starts webhook deliveries
   * (WEBHOOK_STATE_MACHINE_ARN); unset: it sends no webhooks.
   */
  webhookDelivery: string | undefined;
  /** Which webhook URLs may be called: WEBHOOK_ALLOW_LOOPBACK=true (the local stack only). */
  webhookPolicy: WebhookTargetPolicy;
  /** The EventBridge bus job state changes are put on; unset: no job events. */
  jobEventsBusName: string | undefined;
  /** BEDROCK_OUTPUT_BUCKET and BEDROCK_REGION; unset: the catalogue has no Bedrock model. */
  bedrock: BedrockSettings | undefined;
}

/** Where Bedrock writes the videos it renders, and the region it is called in (default: AWS_REGION). */
export type BedrockSettings = { bucket: string; region: string | undefined };

/**
 * The environment variable behind each plain setting, by the setting's name (bedrock reads two).
 * CDK (infra/constructs/pipeline-function.ts) and the local stack set them by these names.
 */
export const SETTING_VARIABLES = {
  jobsTableName: 'JOBS_TABLE_NAME',
  videosBucketName: 'VIDEOS_BUCKET_NAME',
  stateMachineArn: 'STATE_MACHINE_ARN',
  providerSecretId: 'PROVIDER_SECRET_ID',
  apiTokensSecretId: 'API_TOKENS_SECRET_ID',
  webhookStateMachineArn: 'WEBHOOK_STATE_MACHINE_ARN',
  webhookSecretId: 'WEBHOOK_SECRET_ID',
  jobEventsBusName: 'JOB_EVENTS_BUS_NAME',
  webhookAllowLoopback: 'WEBHOOK_ALLOW_LOOPBACK',
  bedrockOutputBucket: 'BEDROCK_OUTPUT_BUCKET',
  bedrockRegion: 'BEDROCK_REGION',
} as const;

/** How each setting of a configuration is read; a missing variable throws MissingVariableError. */
export type SettingReaders<Config> = { [K in keyof Config]: (env: Env) => Config[K] };

export const plainReaders: SettingReaders<PlainConfig> = {
  jobsTableName: variable(SETTING_VARIABLES.jobsTableName),
  videosBucketName: variable(SETTING_VARIABLES.videosBucketName),
  stateMachineArn: variable(SETTING_VARIABLES.stateMachineArn),
  providerSecretId: variable(SETTING_VARIABLES.providerSecretId),
  apiTokensSecretId: variable(SETTING_VARIABLES.apiTokensSecretId),
  webhookStateMachineArn: variable(SETTING_VARIABLES.webhookStateMachineArn),
  webhookSecretId: variable(SETTING_VARIABLES.webhookSecretId),
  jobEventsBusName: (env) => env[SETTING_VARIABLES.jobEventsBusName]?.trim() || undefined,
  webhookDelivery: (env) => env[SETTING_VARIABLES.webhookStateMachineArn]?.trim() || undefined,
  webhookPolicy: (env) => {
    const value = env[SETTING_VARIABLES.webhookAllowLoopback]?.trim();
    if (value === undefined || value === '' || value === 'false') return { allowLoopback: false };
    if (value === 'true') return { allowLoopback: true };
    throw new Error(
      `${SETTING_VARIABLES.webhookAllowLoopback} must be true or false, not ${JSON.stringify(value)}`,
    );
  },
  bedrock: (env) => {
    const bucket = env[SETTING_VARIABLES.bedrockOutputBucket]?.trim();
    if (!bucket) return undefined;
    return { bucket, region: env[SETTING_VARIABLES.bedrockRegion]?.trim() || undefined };
  },
};

/** Reads plain `settings` from `env` (readSettings over plainReaders). */
export function readPlainConfig<K extends keyof PlainConfig>(
  settings: readonly K[],
  env: Env = process.env,
): Pick<PlainConfig, K> {
  return readSettings(plainReaders, settings, env);
}

/**
 * Reads `settings` from `env` with `readers`, throwing one ConfigurationError that names every
 * missing variable and every invalid value.
 */
export function readSettings<Config, K extends keyof Config>(
  readers: SettingReaders<Config>,
  settings: readonly K[],
  env: Env,
): Pick<Config, K> {
  const missing: string[] = [];
  const invalid: string[] = [];
  const config: Partial<Pick<Config, K>> = {};
  for (const setting of settings) {
    try {
      config[setting] = readers[setting](env);
    } catch (error) {
      if (error instanceof MissingVariableError) missing.push(error.variable);
      else invalid.push(error instanceof Error ? error.message : String(error));
    }
  }
  if (missing.length > 0 || invalid.length > 0) {
    const problems = [
      ...(missing.length > 0
        ? [`Missing or empty environment variable(s): ${missing.join(', ')}`]
        : []),
      ...invalid,
    ];
    throw new ConfigurationError(problems.join('; '));
  }
  return config as Pick<Config, K>;
}

class MissingVariableError extends Error {
  override name = 'MissingVariableError';
  readonly variable: string;

  constructor(variable: string) {
    super(`${variable} is required`);
    this.variable = variable;
  }
}

function variable(name: string): (env: Env) => string {
  return (env) => {
    const value = env[name]?.trim();
    if (!value) throw new MissingVariableError(name);
    return value;
  };
}
