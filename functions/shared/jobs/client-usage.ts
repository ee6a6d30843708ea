/**
 * One client's spending on a UTC day, from its jobs (the byClient index): the shared budget and
 * slots are counted per deployment, this is the client's share. Costs follow the ledger's rules
 * (admission.ts `settleAbandoned`): a rendered or abandoned-alive video is spent, a running one
 * reserved, one the provider never rendered costs nothing. Jobs count on the day they were
 * submitted.
 */
import type { Job } from './job.ts';
import type { JobStore } from './job-store.ts';

export interface ClientUsage {
  client: string;
  spentUsd: number;
  reservedUsd: number;
  jobs: { submitted: number; completed: number; failed: number; cancelled: number };
  /** More jobs than one report reads: the figures cover the newest `MAX_JOBS_READ`. */
  truncated: boolean;
}

const PAGE_SIZE = 100;
export const MAX_JOBS_READ = 2_000;

export async function readClientUsage(
  store: Pick<JobStore, 'list'>,
  client: string,
  day: string,
): Promise<ClientUsage> {
  const usage: ClientUsage = {
    client,
    spentUsd: 0,
    reservedUsd: 0,
    jobs: { submitted: 0, completed: 0, failed: 0, cancelled: 0 },
    truncated: false,
  };
  let cursor: string | undefined;
  do {
    const page = await store.list({
      client,
      createdOn: day,
      limit: PAGE_SIZE,
      ...(cursor === undefined ? {} : { cursor }),
    });
    for (const job of page.jobs) add(usage, job);
    cursor = page.nextCursor;
    if (cursor !== undefined && usage.jobs.submitted >= MAX_JOBS_READ) {
      usage.truncated = true;
      break;
    }
  } while (cursor !== undefined);
  usage.spentUsd = roundUsd(usage.spentUsd);
  usage.reservedUsd = roundUsd(usage.reservedUsd);
  return usage;
}

function add(usage: ClientUsage, job: Job): void {
  usage.jobs.submitted += 1;
  const cost = job.actualCostUsd ?? job.estimatedCostUsd;
  const alive = job.providerJobId !== undefined && job.providerStatus !== 'failed';
  switch (job.status) {
    case 'COMPLETED':
      usage.jobs.completed += 1;
      usage.spentUsd += cost;
      break;
    case 'FAILED':
    case 'CANCELLED':
      usage.jobs[job.status === 'FAILED' ? 'failed' : 'cancelled'] += 1;
      if (alive) usage.spentUsd += cost;
      break;
    case 'IN_PROGRESS':
      usage.reservedUsd += cost;
      break;
    case 'QUEUED':
      break;
  }
}

const roundUsd = (usd: number) => Math.round(usd * 10_000) / 10_000;
