/**
 * Where the limits live in the jobs table: items apart from the jobs, never indexed (they carry
 * no index attributes, so the byStatus and byCreatedAt GSIs never list them).
 *
 * | item                     | pk                           | sk            | attributes                                               |
 * | ------------------------ | ---------------------------- | ------------- | -------------------------------------------------------- |
 * | slot pool                | `LIMIT#concurrency`          | `LIMIT`       | `holders` (string set of job ids), per client `holders#<c>`, `vclock#<c>`, `weight#<c>`, `cap#<c>`, `served#<c>`, `marked#<c>`; `waitingClients` (string set) |
 * | requests in one minute   | `LIMIT#requests#<minute>`    | `LIMIT`       | `count`, `expiresAt`                                     |
 * | a client's API requests  | `LIMIT#client-requests#<client>#<window>` | `LIMIT` | `count`, `expiresAt`                            |
 * | budget of one UTC day    | `BUDGET#DAY#<YYYY-MM-DD>`    | `BUDGET`      | `committedMicroUsd`, `reservedMicroUsd`, `spentMicroUsd`, `startedJobs`, `completedJobs` |
 * | a client's part of a day | `BUDGET#CLIENTS#<YYYY-MM-DD>` | `CLIENT#<client>` | the day's totals but orphans, `limitMicroUsd` (the client's own budget, absent: none) |
 * | a job's budget record    | `BUDGET#JOB#<jobId>`         | `BUDGET`      | `day`, `state`, `reservedMicroUsd`, `spentMicroUsd`, `client` (absent: reserved for none), `expiresAt` |
 *
 * Amounts are integers in micro-dollars: DynamoDB adds them exactly, where float dollars drift.
 * `expiresAt` (epoch seconds) is for a table TTL on that attribute.
 */
import { PARTITION_KEY, SORT_KEY } from '../jobs/jobs-table.ts';

export const concurrencyKey = () => ({
  [PARTITION_KEY]: 'LIMIT#concurrency',
  [SORT_KEY]: 'LIMIT',
});

/** `minute` is the UTC minute, `YYYY-MM-DDTHH:MM`. */
export const requestRateKey = (minute: string) => ({
  [PARTITION_KEY]: `LIMIT#requests#${minute}`,
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

/** The TTL attribute (epoch seconds) of items that may go once they are old. */
export const EXPIRES_AT = 'expiresAt';

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
