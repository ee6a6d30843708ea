/**
 * State-machine task (the Catch target of every Task, and the end of the ProviderJobFailed and
 * PollLimitReached paths): record the job FAILED with a code, a clean message and whether a
 * resubmission could succeed.
 *
 * Input `{ jobId, error: { Error, Cause } }`; output `{ jobId, status, code }`. A job that is
 * already terminal keeps its record (the store's recordFailed is a no-op then) and its status is
 * returned as it is.
 *
 * Every path gives the job's concurrency slot and budget reservation back (both no-ops when
 * nothing is held): a failed job costs nothing. A job found COMPLETED (its download step failed
 * after recording it) is settled instead: its cost is recorded as spent.
 */
import { z } from 'zod';
import { dynamoDb } from '../shared/aws/clients.ts';
import { isTerminal, type JobStatus } from '../shared/jobs/job.ts';
import { JobNotFoundError } from '../shared/jobs/job-errors.ts';
import type { JobStore } from '../shared/jobs/job-store.ts';
import { limitsFromEnv } from '../shared/limits/limits-from-env.ts';
import { logger } from '../shared/observability/observability.ts';
import { recordMetric } from '../shared/observability/pipeline-metrics.ts';
import { withObservability } from '../shared/observability/with-observability.ts';
import { describeFailure } from './failure-reason.ts';
import { releaseJobLimits, settleJobLimits, type TaskLimits } from './task-limits.ts';
import {
  type Clock,
  jobsEnvSchema,
  lazyHandler,
  parseTaskEnv,
  parseTaskInput,
  productionJobStore,
  systemClock,
  type TaskHandler,
  withJobLogging,
} from './task-runtime.ts';

export interface RecordFailureDeps {
  store: JobStore;
  clock: Clock;
  limits: Pick<TaskLimits, 'semaphore' | 'budget'>;
}

export interface RecordFailureResult {
  jobId: string;
  status: JobStatus;
  code: string;
}

const inputSchema = z.object({
  jobId: z.string().min(1),
  error: z.object({ Error: z.string().optional(), Cause: z.unknown().optional() }).optional(),
});

export function createRecordFailureHandler(
  deps: RecordFailureDeps,
): TaskHandler<RecordFailureResult> {
  return async (event, context) => {
    const { jobId, error } = parseTaskInput(inputSchema, event);
    return withJobLogging(jobId, context, async () => {
      const job = await deps.store.get(jobId);
      if (!job) throw new JobNotFoundError(`Job ${jobId} not found`);
      const reason = describeFailure(error);
      if (job.status === 'COMPLETED') {
        await settleJobLimits(
          deps.limits,
          job,
          job.actualCostUsd ?? job.estimatedCostUsd,
          deps.clock(),
        );
      } else {
        await releaseJobLimits(deps.limits, jobId, deps.clock());
      }
      if (isTerminal(job.status)) {
        logger.info('Job already terminal; failure not recorded', {
          status: job.status,
          code: reason.code,
        });
        return { jobId, status: job.status, code: reason.code };
      }
      await deps.store.recordFailed(jobId, reason, deps.clock().toISOString());
      logger.info('Job failed', { code: reason.code, retryable: reason.retryable });
      recordMetric('JobsFailed', 1, { code: reason.code });
      return { jobId, status: 'FAILED', code: reason.code };
    });
  };
}

export const handler = withObservability(
  'record-failure',
  lazyHandler(() => {
    const env = parseTaskEnv(jobsEnvSchema);
    const { semaphore, budget } = limitsFromEnv(dynamoDb, env.JOBS_TABLE_NAME);
    return createRecordFailureHandler({
      store: productionJobStore(env.JOBS_TABLE_NAME),
      clock: systemClock,
      limits: { semaphore, budget },
    });
  }),
);
