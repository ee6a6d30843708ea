/**
 * JobsSubmitted, counted where a job is actually written: the store's `create` with
 * `created: true`. Idempotent replays (the same key again, a redelivered S3 event) are not
 * counted, whichever entry point submitted them.
 */
import type { JobStore } from '../jobs/job-store.ts';
import { recordMetric } from './pipeline-metrics.ts';

/** The store, recording JobsSubmitted (dimension `source`) for each job it creates. */
export function countingSubmittedJobs(store: JobStore): JobStore {
  return {
    create: async (job, idempotencyKey) => {
      const result = await store.create(job, idempotencyKey);
      if (result.created) recordMetric('JobsSubmitted', 1, { source: result.job.source });
      return result;
    },
    get: (jobId) => store.get(jobId),
    list: (query) => store.list(query),
    markCreateAttempt: (jobId, at) => store.markCreateAttempt(jobId, at),
    recordProviderJob: (jobId, update) => store.recordProviderJob(jobId, update),
    recordProgress: (jobId, update) => store.recordProgress(jobId, update),
    recordCompleted: (jobId, result, completedAt, actualCostUsd) =>
      store.recordCompleted(jobId, result, completedAt, actualCostUsd),
    recordFailed: (jobId, error, at) => store.recordFailed(jobId, error, at),
    deferJob: (jobId, reason, at) => store.deferJob(jobId, reason, at),
    claimDeferred: (jobId, executionName, at) => store.claimDeferred(jobId, executionName, at),
  };
}
