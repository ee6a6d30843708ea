/**
 * The layout of the limits items, in one place: every key and attribute name the slot pool, the
 * request allowances, the budget and the deployment breakers use. They live in the jobs table,
 * apart from the jobs and in no index (they carry no index attributes, so the byStatus and
 * byCreatedAt GSIs never list them). docs/architecture.md ("Data model") shows the same table;
 * test/unit/docs/limits-layout.test.ts holds the two together.
 *
 * | item                                | pk                                              | sk                | attributes |
 * | ----------------------------------- | ----------------------------------------------- | ----------------- | ---------- |
 * | slot pool                           | `LIMIT#concurrency`                             | `LIMIT`           | SLOT_POOL: `holders`, `waitingClients`; per client `holders#<c>`, `weight#<c>`, `cap#<c>`, `vclock#<c>`, `served#<c>`, `marked#<c>`; per deployment `holders@<d>` |
 * | requests in a minute                | `LIMIT#requests#<minute>`                       | `LIMIT`           | WINDOW_COUNT (`count`), EXPIRES_AT |
 * | a deployment's requests in a minute | `LIMIT#requests#<minute>@<deployment>`          | `LIMIT`           | as above |
 * | a client's API requests in a window | `LIMIT#client-requests#<client>#<window start>` | `LIMIT`           | as above |
 * | budget of a UTC day                 | `BUDGET#DAY#<day>`                              | `BUDGET`          | BUDGET_TOTALS |
 * | a client's part of a UTC day        | `BUDGET#CLIENTS#<day>`                          | `CLIENT#<client>` | BUDGET_TOTALS but the orphans', CLIENT_BUDGET_LIMIT |
 * | a job's budget record               | `BUDGET#JOB#<jobId>`                            | `BUDGET`          | `day`, `state`, `reservedMicroUsd`, `spentMicroUsd`, `client`, EXPIRES_AT (JobBudgetRecord, dynamo-spending-budget.ts) |
 * | a provider deployment's breaker     | `DEPLOYMENT#<id>`                               | `HEALTH`          | DEPLOYMENT_HEALTH |
 *
 * The provider-job ledger (`PROVIDERJOB#<id>` / `LEDGER`), which the budget writes an orphan
 * into, is the job store's (functions/shared/jobs/jobs-table.ts). Amounts are integers in
 * micro-dollars: DynamoDB adds them exactly, where float dollars drift. `expiresAt` (epoch
 * seconds) is for a table TTL on that attribute. Client names hold no `#`, deployment ids no `@`.
 */
import { PARTITION_KEY, SORT_KEY } from '../jobs/jobs-table.ts';

export const concurrencyKey = () => ({
  [PARTITION_KEY]: 'LIMIT#concurrency',
  [SORT_KEY]: 'LIMIT',
});

/**
 * `minute` is the UTC minute, `YYYY-MM-DDTHH:MM`; with a deployment, that deployment's own
 * allowance of the minute.
 */
export const requestRateKey = (minute: string, deployment?: string) => ({
  [PARTITION_KEY]: `LIMIT#requests#${deployment === undefined ? minute : `${minute}@${deployment}`}`,
  [SORT_KEY]: 'LIMIT',
});

/**
 * One client's API requests in one window (client-rate.ts); `windowStart` is the window's first
 * second, `YYYY-MM-DDTHH:MM:SS` (UTC). Client names hold no `#`.
 */
export const clientRequestsKey = (client: string, windowStart: string) => ({
  [PARTITION_KEY]: `LIMIT#client-requests#${client}#${windowStart}`,
  [SORT_KEY]: 'LIMIT',
});

export const budgetDayKey = (day: string) => ({
  [PARTITION_KEY]: `BUDGET#DAY#${day}`,
  [SORT_KEY]: 'BUDGET',
});

/**
 * One client's part of a day's budget. Every client of a day shares one partition, so one query
 * lists them; apart from the day item, whose `BUDGET#DAY#` readers (the pipeline audit) never
 * meet these. Client names hold no `#`.
 */
export const budgetClientDayKey = (day: string, client: string) => ({
  [PARTITION_KEY]: `BUDGET#CLIENTS#${day}`,
  [SORT_KEY]: `CLIENT#${client}`,
});

export const budgetJobKey = (jobId: string) => ({
  [PARTITION_KEY]: `BUDGET#JOB#${jobId}`,
  [SORT_KEY]: 'BUDGET',
});

/** A provider deployment's circuit breaker (functions/shared/admission/deployment-health.ts). */
export const deploymentHealthKey = (id: string) => ({
  [PARTITION_KEY]: `DEPLOYMENT#${id}`,
  [SORT_KEY]: 'HEALTH',
});

/** The TTL attribute (epoch seconds) of items that may go once they are old. */
export const EXPIRES_AT = 'expiresAt';

/** The uses of a fixed window's allowance (requests in a minute, a client's requests). */
export const WINDOW_COUNT = 'count';

/**
 * The slot pool item's attributes: string sets of job ids (`holders`, and per client and per
 * deployment `<prefix><name>`), the clients with jobs waiting, and per client what the fair
 * share reads (weight, cap, virtual clock, when it was last served, when its waiting was marked).
 */
export const SLOT_POOL = {
  holders: 'holders',
  waitingClients: 'waitingClients',
  clientHolders: 'holders#',
  clientWeight: 'weight#',
  clientCap: 'cap#',
  clientClock: 'vclock#',
  clientServed: 'served#',
  clientMarked: 'marked#',
  deploymentHolders: 'holders@',
} as const;

/** A budget day's totals (a client's part of the day keeps them all but the orphans'). */
export const BUDGET_TOTALS = {
  committed: 'committedMicroUsd',
  reserved: 'reservedMicroUsd',
  spent: 'spentMicroUsd',
  started: 'startedJobs',
  completed: 'completedJobs',
  orphaned: 'orphanedMicroUsd',
  orphanedJobs: 'orphanedJobs',
} as const;

/** The client's own limit on its part of a day, as its latest reservation ran under it. */
export const CLIENT_BUDGET_LIMIT = 'limitMicroUsd';

/** A deployment breaker's attributes. */
export const DEPLOYMENT_HEALTH = {
  failures: 'failures',
  state: 'state',
  openedAt: 'openedAt',
  openUntil: 'openUntil',
  probeTakenAt: 'probeTakenAt',
  lastReason: 'lastReason',
} as const;

const MICROS_PER_USD = 1_000_000;

export const toMicroUsd = (usd: number) => Math.round(usd * MICROS_PER_USD);
export const fromMicroUsd = (micros: number) => micros / MICROS_PER_USD;

/** The UTC day of a time, `YYYY-MM-DD`: the unit of the daily budget. */
export const utcDay = (at: Date) => at.toISOString().slice(0, 10);

/** The UTC minute of a time, `YYYY-MM-DDTHH:MM`: the unit of the request rate limit. */
export const utcMinute = (at: Date) => at.toISOString().slice(0, 16);

/** Whether `value` is a real calendar day written `YYYY-MM-DD`. */
export function isUtcDay(value: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return false;
  const parsed = new Date(`${value}T00:00:00.000Z`);
  return !Number.isNaN(parsed.getTime()) && utcDay(parsed) === value;
}
