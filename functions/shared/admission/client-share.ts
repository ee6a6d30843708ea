/**
 * A client's share of one deployment: its weight in the fair share of slots, an optional cap on
 * the slots it holds at once, and an optional daily budget of its own (enforced together with the
 * deployment's). On AWS each named client's settings sit with it in the API tokens secret; on the
 * local stack `npm start -- --client-settings '{"bob":{"maxConcurrent":2}}'`. A job carries its
 * client's share as it was when the job was submitted (`Job.share`), so admission never needs the
 * tokens secret.
 */
import * as z from 'zod/mini';
import '../schema-messages.ts';

export interface ClientShare {
  /** Relative share of the slots when clients compete (default 1). */
  weight: number;
  /** At most this many of the client's jobs hold a slot at once (absent: the global limit). */
  maxConcurrent?: number;
  /** The client's own daily budget in USD (absent: only the deployment's budget applies). */
  dailyBudgetUsd?: number;
}

export const DEFAULT_WEIGHT = 1;
export const DEFAULT_SHARE: ClientShare = { weight: DEFAULT_WEIGHT };

/** The settings of one client as written in the tokens secret or `--client-settings`. */
export const clientShareSchema = z.strictObject({
  weight: z.optional(
    z
      .number({ error: 'must be a number' })
      .check(z.positive('must be more than 0'), z.lte(1000, 'must be at most 1000')),
  ),
  maxConcurrent: z.optional(
    z.int({ error: 'must be a whole number' }).check(z.positive('must be at least 1')),
  ),
  dailyBudgetUsd: z.optional(
    z.number({ error: 'must be a number' }).check(z.nonnegative('must not be negative')),
  ),
});

export type ClientShareSettings = z.output<typeof clientShareSchema>;

/** The share a client's settings give (defaults filled in). */
export function shareOf(settings: ClientShareSettings | undefined): ClientShare {
  const share: ClientShare = { weight: settings?.weight ?? DEFAULT_WEIGHT };
  if (settings?.maxConcurrent !== undefined) share.maxConcurrent = settings.maxConcurrent;
  if (settings?.dailyBudgetUsd !== undefined) share.dailyBudgetUsd = settings.dailyBudgetUsd;
  return share;
}
