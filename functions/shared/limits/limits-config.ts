import * as z from 'zod/mini';
import '../schema-messages.ts';

/**
 * Configuration of the shared limits, read from the environment (set by CDK from context, see
 * infra/stacks/limits-settings.ts) with one zod schema: the functions parse it at cold start and
 * `cdk synth` parses the same values, so a bad value fails the synth, not the first job.
 */

export const OVER_BUDGET_ACTIONS = ['queue', 'reject'] as const;
/** What happens to a job the daily budget cannot cover: QUEUED for a later day, or FAILED. */
export type OverBudgetAction = (typeof OVER_BUDGET_ACTIONS)[number];

export const DEFAULT_MAX_CONCURRENT_JOBS = 4;
/** sora-2's lowest published tier allowed 25 RPM; 20 leaves room for retries and the SDK. */
export const DEFAULT_REQUESTS_PER_MINUTE = 20;
export const DEFAULT_OVER_BUDGET_ACTION: OverBudgetAction = 'queue';

/** The environment variables, by config field (for error messages and for CDK). */
export const LIMITS_ENV_NAMES = {
  maxConcurrentJobs: 'MAX_CONCURRENT_JOBS',
  requestsPerMinute: 'PROVIDER_REQUESTS_PER_MINUTE',
  dailyBudgetUsd: 'DAILY_BUDGET_USD',
  overBudgetAction: 'OVER_BUDGET_ACTION',
} as const;

export interface LimitsConfig {
  /** At most this many provider jobs in flight, across every entry point. */
  maxConcurrentJobs: number;
  /** Provider requests per minute across every function instance; 0 turns the limiter off. */
  requestsPerMinute: number;
  /** Daily spending budget in USD (UTC days); null: no budget (spending is still recorded). */
  dailyBudgetUsd: number | null;
  overBudgetAction: OverBudgetAction;
}

/** The limits configuration is invalid; the message names the variable. */
export class LimitsConfigError extends Error {
  override name = 'LimitsConfigError';
}

const wholeNumber = (name: string, min: number, max: number) =>
  z.optional(
    z.pipe(
      z.string().check(z.trim(), z.regex(/^\d+$/, { error: `${name} must be a whole number` })),
      z.pipe(
        z.transform(Number),
        z
          .number()
          .check(
            z.gte(min, { error: `${name} must be at least ${min}` }),
            z.lte(max, { error: `${name} must be at most ${max}` }),
          ),
      ),
    ),
  );

const envSchema = z.object({
  MAX_CONCURRENT_JOBS: wholeNumber('MAX_CONCURRENT_JOBS', 1, 10_000),
  PROVIDER_REQUESTS_PER_MINUTE: wholeNumber('PROVIDER_REQUESTS_PER_MINUTE', 0, 100_000),
  DAILY_BUDGET_USD: z.optional(
    z.pipe(
      z.string().check(
        z.trim(),
        z.regex(/^\d+(\.\d+)?$/, {
          error: 'DAILY_BUDGET_USD must be an amount in USD, e.g. "25" or "12.50"',
        }),
      ),
      z.transform(Number),
    ),
  ),
  OVER_BUDGET_ACTION: z.optional(
    z.enum(OVER_BUDGET_ACTIONS, {
      error: `OVER_BUDGET_ACTION must be one of ${OVER_BUDGET_ACTIONS.join(', ')}`,
    }),
  ),
});

// Absent and empty mean "not set": CDK omits DAILY_BUDGET_USD when there is no budget.
function withoutEmptyValues(env: Readonly<Record<string, string | undefined>>) {
  return Object.fromEntries(
    Object.values(LIMITS_ENV_NAMES).map((name) => [name, env[name] === '' ? undefined : env[name]]),
  );
}

/**
 * Reads the limits from the environment. Absent values take the documented defaults (no
 * budget, when DAILY_BUDGET_USD is absent); an invalid one throws LimitsConfigError naming it.
 */
export function limitsConfigFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): LimitsConfig {
  const result = envSchema.safeParse(withoutEmptyValues(env));
  if (!result.success) {
    const messages = result.error.issues.map((issue) =>
      issue.code === 'invalid_type'
        ? `${issue.path.map(String).join('.')} must be a string`
        : issue.message,
    );
    throw new LimitsConfigError(`Invalid limits configuration: ${messages.join('; ')}`, {
      cause: result.error,
    });
  }
  const parsed = result.data;
  return {
    maxConcurrentJobs: parsed.MAX_CONCURRENT_JOBS ?? DEFAULT_MAX_CONCURRENT_JOBS,
    requestsPerMinute: parsed.PROVIDER_REQUESTS_PER_MINUTE ?? DEFAULT_REQUESTS_PER_MINUTE,
    dailyBudgetUsd: parsed.DAILY_BUDGET_USD ?? null,
    overBudgetAction: parsed.OVER_BUDGET_ACTION ?? DEFAULT_OVER_BUDGET_ACTION,
  };
}

/** The environment that `limitsConfigFromEnv` reads back as `config` (CDK sets it on functions). */
export function limitsEnvironment(config: LimitsConfig): Record<string, string> {
  const environment: Record<string, string> = {
    [LIMITS_ENV_NAMES.maxConcurrentJobs]: String(config.maxConcurrentJobs),
    [LIMITS_ENV_NAMES.requestsPerMinute]: String(config.requestsPerMinute),
    [LIMITS_ENV_NAMES.overBudgetAction]: config.overBudgetAction,
  };
  if (config.dailyBudgetUsd !== null) {
    environment[LIMITS_ENV_NAMES.dailyBudgetUsd] = String(config.dailyBudgetUsd);
  }
  return environment;
}
