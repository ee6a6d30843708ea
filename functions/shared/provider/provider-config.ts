import * as z from 'zod/mini';
import '../schema-messages.ts';
import { RAY2_MODEL_ID, RAY2_SECONDS, RAY2_SIZES, ray2ModelInput } from './bedrock/ray2-request.ts';
import { VideoParamsError } from './video-params-error.ts';

/**
 * Provider configuration: where the /v1/videos endpoint lives, how to authenticate, and which
 * models, sizes and durations it accepts. The catalogue is configuration, not a frozen enum:
 * /v1/videos-compatible services (LiteLLM, Veo, Runway, ...) use their own model ids and sizes.
 */

const SIZE_PATTERN = /^[1-9]\d*x[1-9]\d*$/;
const SECONDS_PATTERN = /^[1-9]\d*$/;

const SORA_SIZES = ['720x1280', '1280x720', '1024x1792', '1792x1024'];

/**
 * The published OpenAI catalogue (before the 2026-09-24 shutdown).
 *
 * Prices: sora-2 was $0.10/s at every size. sora-2-pro was $0.30/s at 720x1280/1280x720 and
 * $0.50/s at 1024x1792/1792x1024, hence the per-size override. No price was published to us for
 * the 1080p pro sizes; they fall back to the model's base price, so budgets that include them
 * should override the catalogue (PROVIDER_MODELS).
 */
export function defaultModelCatalogue(): Record<string, ModelSpec> {
  return {
    'sora-2': {
      provider: 'openai-videos',
      sizes: [...SORA_SIZES],
      seconds: ['4', '8', '12'],
      defaultSize: '720x1280',
      defaultSeconds: '4',
      pricePerSecondUsd: 0.1,
    },
    'sora-2-pro': {
      provider: 'openai-videos',
      sizes: [...SORA_SIZES, '1920x1080', '1080x1920'],
      seconds: ['4', '8', '12'],
      defaultSize: '720x1280',
      defaultSeconds: '4',
      pricePerSecondUsd: 0.3,
      pricePerSecondUsdBySize: { '1024x1792': 0.5, '1792x1024': 0.5 },
    },
  };
}

/**
 * Luma AI Ray2 on Amazon Bedrock (`"provider": "bedrock"`), for catalogues that offer it.
 *
 * Price: $1.50 per second of video at 720p and $0.75 at 540p, as AWS announced it when Ray2
 * launched on Bedrock (2025-01-23). Looked up on 2026-11-30: the Bedrock pricing page renders its
 * prices client-side and showed none, so check https://aws.amazon.com/bedrock/pricing/ (Luma AI)
 * before relying on a budget; override with PROVIDER_MODELS (`provider:models`).
 */
export function bedrockModelCatalogue(): Record<string, ModelSpec> {
  const sizes = Object.keys(RAY2_SIZES);
  const sizes540p = sizes.filter((size) => RAY2_SIZES[size]?.resolution === '540p');
  return {
    [RAY2_MODEL_ID]: {
      provider: 'bedrock',
      sizes,
      seconds: [...RAY2_SECONDS],
      defaultSize: '1280x720',
      defaultSeconds: '5',
      pricePerSecondUsd: 1.5,
      pricePerSecondUsdBySize: Object.fromEntries(sizes540p.map((size) => [size, 0.75])),
    },
  };
}

/** Who serves a model: a /v1/videos endpoint (OpenAI, Azure OpenAI, a gateway) or Amazon Bedrock. */
export const MODEL_PROVIDERS = ['openai-videos', 'bedrock'] as const;
export type ModelProvider = (typeof MODEL_PROVIDERS)[number];

/** Bedrock models the pipeline has a request model for (see bedrock/ray2-request.ts). */
const BEDROCK_MODELS: ReadonlySet<string> = new Set([RAY2_MODEL_ID]);

/** How the API key is sent: `Authorization: Bearer` (OpenAI, gateways) or `api-key` (Azure OpenAI). */
export const AUTH_HEADERS = ['authorization', 'api-key'] as const;

export const DEFAULT_MODEL = 'sora-2';
export const DEFAULT_TIMEOUT_MS = 60_000;
export const DEFAULT_MAX_RETRIES = 2;

/**
 * The deployment of a model that lists none, and of every provider call that names none: the
 * provider's base URL (PROVIDER_BASE_URL), where the jobs recorded before deployments existed
 * were created. deployments.ts reads the catalogue's deployments.
 */
export const DEFAULT_DEPLOYMENT = 'default';

const DEPLOYMENT_ID_PATTERN = /^[a-z0-9-]{1,40}$/;

/** Base URL including the version prefix, e.g. https://api.openai.com/v1, without a trailing slash. */
const baseUrlSchema = () =>
  z.pipe(
    z.pipe(
      z.string({ error: 'is required' }).check(z.minLength(1, 'is required')),
      z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
    ),
    z.transform((url) => url.replace(/\/+$/, '')),
  );

const positiveWholeNumber = () =>
  z
    .int({ error: 'must be a positive whole number' })
    .check(z.positive('must be a positive whole number'));

const deploymentFields = {
  id: z
    .string({ error: 'is required' })
    .check(z.regex(DEPLOYMENT_ID_PATTERN, 'must be 1 to 40 lowercase letters, digits or hyphens')),
  baseUrl: baseUrlSchema(),
  weight: z._default(
    z.number({ error: 'must be a number above 0' }).check(z.positive('must be a number above 0')),
    1,
  ),
  maxConcurrent: z.optional(positiveWholeNumber()),
  requestsPerMinute: z.optional(positiveWholeNumber()),
  /** Local stack only: synth refuses it (keys live in the provider key secret on AWS). */
  apiKey: z.optional(z.string().check(z.minLength(1, 'must not be empty'))),
};

// Strict: a misspelt limit (`maxConcurent`) would otherwise silently mean "no limit".
const deploymentSpecSchema = z.strictObject(deploymentFields, {
  error: (issue) =>
    issue.code === 'unrecognized_keys'
      ? `has ${issue.keys.map((key) => `"${key}"`).join(', ')}, not a deployment setting (${Object.keys(deploymentFields).join(', ')})`
      : undefined,
});

const modelSpecSchema = z
  .object({
    provider: z._default(z.enum(MODEL_PROVIDERS), 'openai-videos'),
    sizes: z
      .array(
        z.string().check(z.regex(SIZE_PATTERN, 'must look like WIDTHxHEIGHT, e.g. "1280x720"')),
      )
      .check(z.minLength(1, 'must list at least one size')),
    seconds: z
      .array(
        z.string().check(z.regex(SECONDS_PATTERN, 'must be whole seconds as a string, e.g. "8"')),
      )
      .check(z.minLength(1, 'must list at least one duration')),
    defaultSize: z.string(),
    defaultSeconds: z.string(),
    pricePerSecondUsd: z.number().check(z.nonnegative()),
    pricePerSecondUsdBySize: z.optional(z.record(z.string(), z.number().check(z.nonnegative()))),
    /** Endpoints serving this model (absent: the provider's base URL, as `default`). */
    deployments: z.optional(
      z.array(deploymentSpecSchema, {
        error: 'must be a list of deployments, e.g. [{"id": "eastus", "baseUrl": "https://..."}]',
      }),
    ),
  })
  .check(
    z.superRefine((spec, ctx) => {
      if (!spec.sizes.includes(spec.defaultSize)) {
        ctx.addIssue({
          code: 'custom',
          path: ['defaultSize'],
          message: `must be one of ${spec.sizes.join(', ')}`,
        });
      }
      if (!spec.seconds.includes(spec.defaultSeconds)) {
        ctx.addIssue({
          code: 'custom',
          path: ['defaultSeconds'],
          message: `must be one of ${spec.seconds.join(', ')}`,
        });
      }
      if (spec.provider === 'bedrock') {
        for (const size of spec.sizes) {
          if (!Object.hasOwn(RAY2_SIZES, size)) {
            ctx.addIssue({
              code: 'custom',
              path: ['sizes'],
              message: `"${size}" is not a Ray2 frame size (${Object.keys(RAY2_SIZES).join(', ')})`,
            });
          }
        }
        for (const seconds of spec.seconds) {
          if (!(RAY2_SECONDS as readonly string[]).includes(seconds)) {
            ctx.addIssue({
              code: 'custom',
              path: ['seconds'],
              message: `"${seconds}" is not a Ray2 duration (${RAY2_SECONDS.join(', ')})`,
            });
          }
        }
      }
      if (spec.deployments !== undefined) {
        if (spec.provider === 'bedrock') {
          ctx.addIssue({
            code: 'custom',
            path: ['deployments'],
            message: 'a Bedrock model has no deployments (its region and IAM serve it)',
          });
        } else if (spec.deployments.length === 0) {
          ctx.addIssue({
            code: 'custom',
            path: ['deployments'],
            message: 'must list at least one deployment, or be left out',
          });
        }
        const seen = new Set<string>();
        spec.deployments.forEach((deployment, index) => {
          if (seen.has(deployment.id)) {
            ctx.addIssue({
              code: 'custom',
              path: ['deployments', index, 'id'],
              message: `"${deployment.id}" is listed twice for this model`,
            });
          }
          seen.add(deployment.id);
        });
      }
      for (const size of Object.keys(spec.pricePerSecondUsdBySize ?? {})) {
        if (!spec.sizes.includes(size)) {
          ctx.addIssue({
            code: 'custom',
            path: ['pricePerSecondUsdBySize', size],
            message: `prices a size the model does not list (${spec.sizes.join(', ')})`,
          });
        }
      }
    }),
  );

const providerConfigSchema = z
  .object({
    /** Base URL including the version prefix, e.g. https://api.openai.com/v1. */
    baseUrl: baseUrlSchema(),
    apiKey: z.string({ error: 'is required' }).check(z.minLength(1, 'is required')),
    /** `api-key` for Azure OpenAI's v1 API; `authorization` (Bearer) everywhere else. */
    authHeader: z._default(z.enum(AUTH_HEADERS), 'authorization'),
    defaultModel: z._default(z.string().check(z.minLength(1)), DEFAULT_MODEL),
    models: z._default(
      z.record(z.string().check(z.minLength(1)), modelSpecSchema),
      defaultModelCatalogue,
    ),
    timeoutMs: z._default(
      z
        .int({ error: 'must be a whole number of milliseconds' })
        .check(z.positive('must be positive')),
      DEFAULT_TIMEOUT_MS,
    ),
    /** SDK retries for safe calls; create and remix never retry (a retry can start a paid job). */
    maxRetries: z._default(
      z
        .int({ error: 'must be a whole number from 0 to 10' })
        .check(
          z.gte(0, 'must be a whole number from 0 to 10'),
          z.lte(10, 'must be a whole number from 0 to 10'),
        ),
      DEFAULT_MAX_RETRIES,
    ),
  })
  .check(
    z.superRefine((config, ctx) => {
      for (const [model, spec] of Object.entries(config.models)) {
        if (spec.provider === 'bedrock' && !BEDROCK_MODELS.has(model)) {
          ctx.addIssue({
            code: 'custom',
            path: ['models', model, 'provider'],
            message: `no Bedrock request model for "${model}" (supported: ${[...BEDROCK_MODELS].join(', ')})`,
          });
        }
      }
      for (const issue of deploymentIdConflicts(config)) ctx.addIssue({ code: 'custom', ...issue });
      if (Object.keys(config.models).length === 0) {
        ctx.addIssue({ code: 'custom', path: ['models'], message: 'must list at least one model' });
      } else if (!Object.hasOwn(config.models, config.defaultModel)) {
        ctx.addIssue({
          code: 'custom',
          path: ['defaultModel'],
          message: `"${config.defaultModel}" is not in models (${Object.keys(config.models).join(', ')})`,
        });
      }
    }),
  );

/**
 * A deployment id names one endpoint: its key (the secret maps keys by id), its health and the
 * provider client built for it are per id, and a poll knows only its job's deployment id, not
 * the model. So every model listing an id must give it the same baseUrl and key, and `default`
 * (where calls naming no deployment go) is the provider's baseUrl.
 */
function deploymentIdConflicts(config: {
  baseUrl: string;
  models: Record<string, ModelSpec>;
}): { path: PropertyKey[]; message: string }[] {
  const conflicts: { path: PropertyKey[]; message: string }[] = [];
  const first = new Map<string, { where: string; baseUrl: string; apiKey: string | undefined }>([
    [DEFAULT_DEPLOYMENT, { where: 'baseUrl', baseUrl: config.baseUrl, apiKey: undefined }],
  ]);
  for (const [model, spec] of Object.entries(config.models)) {
    const inThisModel = new Set<string>();
    spec.deployments?.forEach((deployment, index) => {
      // Listed twice in one model: reported by the model's own check.
      if (inThisModel.has(deployment.id)) return;
      inThisModel.add(deployment.id);
      const path = ['models', model, 'deployments', index];
      const earlier = first.get(deployment.id);
      if (earlier === undefined) {
        first.set(deployment.id, {
          where: formatPath(path),
          baseUrl: deployment.baseUrl,
          apiKey: deployment.apiKey,
        });
        return;
      }
      if (earlier.baseUrl !== deployment.baseUrl) {
        conflicts.push({
          path: [...path, 'baseUrl'],
          message:
            deployment.id === DEFAULT_DEPLOYMENT
              ? `deployment "${DEFAULT_DEPLOYMENT}" is the provider's baseUrl, where calls naming no deployment go: use that baseUrl or another id`
              : `deployment "${deployment.id}" has another baseUrl in ${earlier.where}: one id names one endpoint`,
        });
      } else if (earlier.where !== 'baseUrl' && earlier.apiKey !== deployment.apiKey) {
        // The keys themselves are never quoted.
        conflicts.push({
          path: [...path, 'apiKey'],
          message: `deployment "${deployment.id}" has another apiKey in ${earlier.where}: one id has one key`,
        });
      }
    });
  }
  return conflicts;
}

/**
 * What a model accepts and costs. `pricePerSecondUsdBySize` overrides `pricePerSecondUsd` for
 * the sizes it lists.
 */
export type ModelSpec = z.output<typeof modelSpecSchema>;
export type ModelSpecInput = z.input<typeof modelSpecSchema>;

export type ProviderConfig = z.output<typeof providerConfigSchema>;
/** The provider configuration without its key: what the environment holds (the key is a secret). */
export type ProviderSettings = Omit<ProviderConfig, 'apiKey'>;
export type ProviderConfigInput = z.input<typeof providerConfigSchema>;

/**
 * Raised when the provider configuration is invalid; `field` is the dotted path of the first bad
 * value, `problems` one line per problem found (every one, not only the first).
 */
export class ProviderConfigError extends Error {
  override readonly name = 'ProviderConfigError';
  readonly field: string;
  readonly problems: readonly string[];

  constructor(
    message: string,
    field: string,
    options?: ErrorOptions & { problems?: readonly string[] },
  ) {
    super(message, options);
    this.field = field;
    this.problems = options?.problems ?? [message];
  }
}

/** Parses and validates a provider configuration, throwing ProviderConfigError naming the bad field. */
export function parseProviderConfig(input: unknown): ProviderConfig {
  return parseWithLabels(input, (path) => path);
}

const ENV_NAMES: Record<string, string> = {
  baseUrl: 'PROVIDER_BASE_URL',
  authHeader: 'PROVIDER_AUTH_HEADER',
  defaultModel: 'PROVIDER_MODEL',
  models: 'PROVIDER_MODELS',
  timeoutMs: 'PROVIDER_TIMEOUT_MS',
  maxRetries: 'PROVIDER_MAX_RETRIES',
};

/**
 * Reads the provider configuration from environment variables. The API key is passed in by the
 * caller (Secrets Manager in AWS) and never read from the environment here.
 */
export function providerConfigFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  apiKey: string,
): ProviderConfig {
  const input: Record<string, unknown> = { baseUrl: env.PROVIDER_BASE_URL, apiKey };
  if (env.PROVIDER_AUTH_HEADER) input.authHeader = env.PROVIDER_AUTH_HEADER;
  if (env.PROVIDER_MODEL) input.defaultModel = env.PROVIDER_MODEL;
  if (env.PROVIDER_TIMEOUT_MS) input.timeoutMs = Number(env.PROVIDER_TIMEOUT_MS);
  if (env.PROVIDER_MAX_RETRIES) input.maxRetries = Number(env.PROVIDER_MAX_RETRIES);
  const label = (path: string) => {
    const top = path.split('.')[0] ?? path;
    const envName = ENV_NAMES[top];
    return envName ? `${path} (${envName})` : path;
  };
  if (env.PROVIDER_MODELS) {
    const models = parseJsonEnv(env.PROVIDER_MODELS);
    if (models === INVALID_JSON) {
      // Checked as a whole: the other settings' problems are reported along with this one.
      const jsonProblem = `${label('models')} is not valid JSON`;
      let others: readonly string[] = [];
      try {
        parseWithLabels(input, label);
      } catch (error) {
        if (!(error instanceof ProviderConfigError)) throw error;
        others = error.problems;
      }
      const problems = [jsonProblem, ...others];
      throw new ProviderConfigError(
        `Invalid provider configuration: ${problems.join('; ')}`,
        'models',
        { problems },
      );
    }
    input.models = models;
  }
  return parseWithLabels(input, label);
}

// Stands in for the key while the rest of the environment is checked; never sent anywhere.
const KEY_READ_ON_USE = 'read-from-secrets-manager-on-use';

/** The provider settings in the environment (PROVIDER_*), checked as providerConfigFromEnv does. */
export function providerSettingsFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): ProviderSettings {
  const { apiKey: _placeholder, ...settings } = providerConfigFromEnv(env, KEY_READ_ON_USE);
  return settings;
}

export interface VideoParamsInput {
  model?: string | undefined;
  size?: string | undefined;
  /** Whole seconds; numbers are accepted and converted to the protocol's string form. */
  seconds?: string | number | undefined;
  /** Checked against the model's own request model when it has one (Bedrock Ray2: 1-5,000). */
  prompt?: string | undefined;
}

export interface VideoParams {
  model: string;
  size: string;
  seconds: string;
}

/** Applies catalogue defaults and checks model, size and seconds, throwing VideoParamsError. */
export function resolveVideoParams(config: ProviderSettings, input: VideoParamsInput): VideoParams {
  const model = input.model ?? config.defaultModel;
  const spec = modelSpec(config, model);
  const size = input.size ?? spec.defaultSize;
  if (!spec.sizes.includes(size)) {
    throw new VideoParamsError(
      'size',
      `size "${size}" is not supported by model "${model}"; allowed: ${spec.sizes.join(', ')}`,
    );
  }
  const seconds = input.seconds === undefined ? spec.defaultSeconds : String(input.seconds);
  if (!spec.seconds.includes(seconds)) {
    throw new VideoParamsError(
      'seconds',
      `seconds "${seconds}" is not supported by model "${model}"; allowed: ${spec.seconds.join(', ')}`,
    );
  }
  if (spec.provider === 'bedrock' && input.prompt !== undefined) {
    ray2ModelInput({ prompt: input.prompt, size, seconds });
  }
  return { model, size, seconds };
}

/** Who serves `model` (the catalogue's `provider`); throws VideoParamsError for an unknown model. */
export function modelProvider(config: ProviderSettings, model: string): ModelProvider {
  return modelSpec(config, model).provider;
}

/**
 * Estimated price of one generation in USD (rounded to 1/10000 of a dollar). Uses the per-size
 * price when a size is given and the model prices it, else the model's base price.
 */
export function estimateCostUsd(
  config: ProviderSettings,
  params: { model: string; seconds: string | number; size?: string | undefined },
): number {
  const spec = modelSpec(config, params.model);
  const seconds = Number(params.seconds);
  if (!Number.isFinite(seconds) || seconds < 0) {
    throw new VideoParamsError('seconds', `seconds "${params.seconds}" is not a duration`);
  }
  const bySize =
    params.size === undefined ? undefined : spec.pricePerSecondUsdBySize?.[params.size];
  const price = bySize ?? spec.pricePerSecondUsd;
  return Math.round(price * seconds * 10_000) / 10_000;
}

/** What `model` accepts and costs; throws VideoParamsError for a model not in the catalogue. */
export function modelSpec(config: ProviderSettings, model: string): ModelSpec {
  const spec = Object.hasOwn(config.models, model) ? config.models[model] : undefined;
  if (!spec) {
    throw new VideoParamsError(
      'model',
      `model "${model}" is not supported; allowed: ${Object.keys(config.models).join(', ')}`,
    );
  }
  return spec;
}

const INVALID_JSON = Symbol('invalid JSON');

function parseJsonEnv(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return INVALID_JSON;
  }
}

function parseWithLabels(input: unknown, label: (path: string) => string): ProviderConfig {
  const result = providerConfigSchema.safeParse(input);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => ({
    path: formatPath(issue.path),
    message: issue.message,
  }));
  const first = issues[0]?.path ?? '(root)';
  const problems = issues.map((issue) => `${label(issue.path)} ${issue.message}`);
  throw new ProviderConfigError(`Invalid provider configuration: ${problems.join('; ')}`, first, {
    cause: result.error,
    problems,
  });
}

/** `models.sora-2.deployments[1].baseUrl`: keys dotted, list positions in brackets. */
function formatPath(path: readonly PropertyKey[]): string {
  let formatted = '';
  for (const part of path) {
    formatted +=
      typeof part === 'number' ? `[${part}]` : `${formatted === '' ? '' : '.'}${String(part)}`;
  }
  return formatted || '(root)';
}
