/**
 * Errors of the shared limits. What each name means (retried, resumed, its failure code) is in
 * the error catalogue, functions/shared/errors/error-policy.ts, keyed by name.
 */

/** This minute's provider request allowance is spent; retried by the state machine. */
export class RequestRateLimitedError extends Error {
  override name = 'RequestRateLimitedError';
}

/**
 * The job would take today's spending over the daily budget and OVER_BUDGET_ACTION is
 * `reject`: never retried, recorded as FAILED with code `budget_exceeded`.
 */
export class BudgetExceededError extends Error {
  override name = 'BudgetExceededError';
}

/**
 * A limits item stayed contended (DynamoDB transaction conflicts) through every attempt; retried
 * by the state machine, so a busy minute never fails a job.
 */
export class LimitContentionError extends Error {
  override name = 'LimitContentionError';
}
