import type * as z from 'zod/mini';
import type { JobPriority } from '../../functions/shared/jobs/job.ts';
import { videoRequestSchema } from '../../functions/shared/jobs/job-request.ts';
import { FlagError } from './cli-flags.ts';

/**
 * `--priority` and `--start-timeout`: the request fields of fair admission, for the commands that
 * submit a video (`npm run generate`, the CLI's generate and remix). parseArgs options to spread
 * into a command's own.
 */
export const REQUEST_FLAG_OPTIONS = {
  priority: { type: 'string' },
  'start-timeout': { type: 'string' },
} as const;

export interface RequestFlagValues {
  priority?: string | undefined;
  'start-timeout'?: string | undefined;
}

export interface RequestFlagFields {
  priority?: JobPriority;
  startTimeoutSeconds?: number;
}

/**
 * The request fields the flags ask for, checked by the API's own schema before anything is
 * submitted. Throws FlagError naming the flag, in the API's words.
 */
export function requestFlagFields(values: RequestFlagValues): RequestFlagFields {
  const { shape } = videoRequestSchema;
  const fields: RequestFlagFields = {};
  const { priority, 'start-timeout': startTimeout } = values;
  if (priority !== undefined) {
    fields.priority = checked(shape.priority.def.innerType, priority, '--priority');
  }
  if (startTimeout !== undefined) {
    // Digits become a number; anything else stays text, for the schema to refuse in its words.
    const value = /^[0-9]{1,15}$/.test(startTimeout) ? Number(startTimeout) : startTimeout;
    fields.startTimeoutSeconds = checked(
      shape.startTimeoutSeconds.def.innerType,
      value,
      '--start-timeout',
    );
  }
  return fields;
}

/** `value` by one field's schema (the optional wrapper removed), or a FlagError naming `flag`. */
function checked<T>(schema: z.ZodMiniType<T>, value: unknown, flag: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new FlagError(`${flag}: ${result.error.issues[0]?.message ?? 'is invalid'}`);
}
