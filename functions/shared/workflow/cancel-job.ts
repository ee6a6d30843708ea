/**
 * Cancelling a job: the client's way to stop a video it no longer wants, accounted by the same
 * ledger as every other ending (docs/architecture.md, "Money and work").
 *
 * - A waiting job (QUEUED: parked for a slot, deferred for the schedule or the budget, or admitted
 *   but not yet created at the provider) becomes CANCELLED at once; it never makes a provider
 *   call, and its budget reservation and slot, if it held them, are given back.
 * - A job at the provider becomes CANCELLED, its execution is stopped, the provider job deleted
 *   where the protocol allows, and its cost settled as for any abandoned job: spent when the
 *   provider job was alive or rendered (the provider may charge for it), released when it failed.
 *   Its slot is freed and handed on by the fair share.
 * - A create call in flight when the job is cancelled finds the job terminal and records the
 *   provider job it got as an orphan (counted, deleted): create-provider-job.ts.
 *
 * Every step after the status write is idempotent, so cancelling a CANCELLED job again repeats
 * them safely (a crash between the write and the clean-up is healed by a retry).
 */

import type { Admission } from '../admission/admission.ts';
import type { Job } from '../jobs/job.ts';
import { JobNotCancellableError } from '../jobs/job-errors.ts';
import type { JobStore } from '../jobs/job-store.ts';
import { currentExecutionName } from '../scheduler/workflow-executions.ts';
import type { NotifyWebhook } from '../webhooks/notify-webhook.ts';

export interface CancelJobDeps {
  store: JobStore;
  clock: () => Date;
  /** Stops an execution by name (a no-op when it ended or never existed). */
  stopExecution: (executionName: string) => Promise<void>;
  /** Settles the job's money and frees its slot (handing it on). */
  admission: Pick<Admission, 'settleAbandoned'>;
  /**
   * Deletes the provider job on the deployment that created it (none: the default deployment);
   * may throw (the protocol or the provider may refuse).
   */
  deleteProviderJob: (providerJobId: string, deployment?: string) => Promise<void>;
  /** Told when the provider job could not be deleted (the job is cancelled all the same). */
  onDeleteFailed?: (providerJobId: string, error: unknown) => void;
  /** Announces video.cancelled to the job's webhook (default: nothing sent). */
  notify?: NotifyWebhook;
}

/** Cancels `job` (as last read) and answers it CANCELLED; JobNotCancellableError if it finished. */
export async function cancelJob(deps: CancelJobDeps, job: Job): Promise<Job> {
  if (job.status === 'COMPLETED' || job.status === 'FAILED') {
    throw new JobNotCancellableError(`Job ${job.jobId} is already ${job.status}`);
  }
  const now = deps.clock();
  const { job: cancelled } = await deps.store.recordCancelled(job.jobId, now.toISOString());
  if (cancelled.status !== 'CANCELLED') {
    // It finished between the read and the write.
    throw new JobNotCancellableError(`Job ${job.jobId} is already ${cancelled.status}`);
  }
  // A deferred job waits with no execution at all.
  if (!cancelled.deferred) await deps.stopExecution(currentExecutionName(cancelled));
  if (cancelled.providerJobId !== undefined && cancelled.providerStatus !== 'completed') {
    try {
      await deps.deleteProviderJob(cancelled.providerJobId, cancelled.deployment);
    } catch (error) {
      deps.onDeleteFailed?.(cancelled.providerJobId, error);
    }
  }
  await deps.admission.settleAbandoned(cancelled);
  // Queued once per event (the delivery is named by it): a repeated cancel announces nothing new.
  await deps.notify?.(cancelled, 'video.cancelled', now);
  return cancelled;
}

/** What cancelling a batch did. */
export interface BatchCancellation {
  batchId: string;
  /** Ids of the jobs this call cancelled. */
  cancelled: string[];
  /** More waiting jobs may be left: call again. */
  more: boolean;
}

/** Waiting jobs of a batch one call cancels at most; the answer says when to call again. */
export const MAX_BATCH_CANCEL = 100;

/**
 * Cancels the waiting (QUEUED) jobs of a batch, `MAX_BATCH_CANCEL` at most per call; jobs
 * already at the provider go on (cancel them one by one). `client` limits it to that client's
 * jobs (undefined: an admin, every job of the batch).
 */
export async function cancelBatch(
  deps: CancelJobDeps,
  batchId: string,
  client: string | undefined,
): Promise<BatchCancellation> {
  const page = await deps.store.list({
    batchId,
    status: 'QUEUED',
    limit: MAX_BATCH_CANCEL,
    order: 'asc',
    ...(client === undefined ? {} : { client }),
  });
  const cancelled: string[] = [];
  for (const job of page.jobs) {
    try {
      await cancelJob(deps, job);
      cancelled.push(job.jobId);
    } catch (error) {
      // Started or finished meanwhile: not a waiting job any more.
      if (!(error instanceof JobNotCancellableError)) throw error;
    }
  }
  return { batchId, cancelled, more: page.nextCursor !== undefined };
}
