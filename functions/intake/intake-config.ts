import { z } from 'zod';
import { type ProviderConfig, providerConfigFromEnv } from '../shared/provider/provider-config.ts';

/** The intake function's configuration is missing or invalid. */
export class IntakeConfigError extends Error {
  override name = 'IntakeConfigError';
}

// Entries are validated against the model catalogue; the provider itself is never called here.
const NO_API_KEY = 'not-used-by-the-intake';

const envSchema = z.object({
  JOBS_TABLE_NAME: z.string().min(1),
  STATE_MACHINE_ARN: z.string().min(1),
});

export interface IntakeConfig {
  jobsTableName: string;
  stateMachineArn: string;
  providerConfig: ProviderConfig;
}

/** Reads the configuration once at cold start, naming every missing variable. */
export function readIntakeConfig(env: Readonly<Record<string, string | undefined>>): IntakeConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const names = [...new Set(parsed.error.issues.map((issue) => issue.path.join('.')))];
    throw new IntakeConfigError(`Missing or empty environment variable(s): ${names.join(', ')}`);
  }
  try {
    return {
      jobsTableName: parsed.data.JOBS_TABLE_NAME,
      stateMachineArn: parsed.data.STATE_MACHINE_ARN,
      providerConfig: providerConfigFromEnv(env, NO_API_KEY),
    };
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new IntakeConfigError(detail, { cause: error });
  }
}
