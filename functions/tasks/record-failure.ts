/**
 * State-machine task (the Catch target of every Task, and the end of the ProviderJobFailed and
 * PollLimitReached paths): decide what a failure means for the job's money and work.
 *
 * Input `{ jobId, error: { Error, Cause }, stateMachineArn?, executionName? }` (the last two from
 * the Context Object); output `{ jobId, status, code, resumed }`.
 *
 * - Paid work goes on: when the job holds a provider job (or may, after an ambiguous create) and
 *   the failure says nothing about the video (retries spent on a transient error, a Lambda
 *   timeout, the poll loop's bound), a new execution takes over from the job's record
 *   (functions/shared/workflow/resume-job.ts): it polls or downloads, never creates again. The
 *   slot and reservation stay with the job.
 * - Otherwise the job is recorded FAILED with a code, a clean message and whether a resubmission
 *   could succeed. Money follows the provider: a video the provider rendered (or may still render:
 *   its job was alive when abandoned) is spent; one it never rendered releases its reservation.
 *   The slot is released and handed on by the fair share (functions/shared/admission).
 * - A job found COMPLETED is settled (its cost spent); a FAILED one keeps its record.
 */
import * as z from 'zod/mini';
import '../shared/schema-messages.ts';
import { readConfig } from '../shared/config/function-config.ts';
import { errorPolicy } from '../shared/errors/error-policy.ts';
import { isTerminal, type Job, type JobStatus } from '../shared/jobs/job.ts';
import { JobNotFoundError } from '../shared/jobs/job-errors.ts';
import type { JobStore } from '../shared/jobs/job-store.ts';
import { lazyHandler } from '../shared/lazy-handler.ts';
import { logger } from '../shared/observability/observability.ts';
import { recordMetric } from '../shared/observability/pipeline-metrics.ts';
import { withObservability } from '../shared/observability/with-observability.ts';
import {
  currentExecutionName,
  type WorkflowExecutions,
} from '../shared/scheduler/workflow-executions.ts';
import { workflowExecutionsOnFirstUse } from '../shared/scheduler/workflow-executions-on-first-use.ts';
import { type NotifyWebhook, noWebhooks } from '../shared/webhooks/notify-webhook.ts';
import { resumeJob } from '../shared/workflow/resume-job.ts';
import { type CaughtError, describeFailure } from './failure-reason.ts';
import { productionTaskLimits, type TaskLimits } from './task-limits.ts';
import {
  type Clock,
  parseTaskInput,
  productionJobStore,
  productionNotifier,
  systemClock,
  type TaskHandler,
  withJobLogging,
} from './task-runtime.ts';

export interface RecordFailureDeps {
  store: JobStore;
  clock: Clock;
  limits: Pick<TaskLimits, 'admission'>;
  /** The executions of the state machine a resumed job continues on. */
  executionsOf(stateMachineArn: string): WorkflowExecutions;
  /** Announces video.failed to the job's webhook (default: nothing sent). */
  notify?: NotifyWebhook;
}

export interface RecordFailureResult {
  jobId: string;
  status: JobStatus;
  code: string;
  /** A new execution took over the job (its provider work goes on). */
  resumed: boolean;
}

const inputSchema = z.object({
  jobId: z.string().check(z.minLength(1)),
  error: z.optional(z.object({ Error: z.optional(z.string()), Cause: z.optional(z.unknown()) })),
  stateMachineArn: z.optional(z.string().check(z.minLength(1))),
  executionName: z.optional(z.string().check(z.minLength(1))),
});

/** Whether a new execution could continue the job's provider work after `error`. */
export function isResumable(job: Job, error: CaughtError | undefined): boolean {
  const name = error?.Error ?? '';
  // Failures that say nothing about the video (the error catalogue's `resumes`).
  if (errorPolicy(name)?.resumes !== true) return false;
  // A provider job to continue, or one an unanswered create may have started.
  return (
    job.providerJobId !== undefined ||
    (job.createAttemptedAt !== undefined && name === 'ProviderAmbiguousCreateError')
  );
}

export function createRecordFailureHandler(
  deps: RecordFailureDeps,
): TaskHandler<RecordFailureResult> {
  return async (event, context) => {
    const input = parseTaskInput(inputSchema, event);
    const { jobId, error, stateMachineArn } = input;
    return withJobLogging(jobId, context, async () => {
      const job = await deps.store.get(jobId);
      if (!job) throw new JobNotFoundError(`Job ${jobId} not found`);
      const reason = describeFailure(error);
      const result = (status: JobStatus, resumed = false) => ({
        jobId,
        status,
        code: reason.code,
        resumed,
      });
      if (job.status === 'COMPLETED') {
        await deps.limits
          .admission(stateMachineArn)
          .settleRendered(job, job.actualCostUsd ?? job.estimatedCostUsd);
        return result(job.status);
      }
      if (isTerminal(job.status)) {
        logger.info('Job already terminal; failure not recorded', {
          status: job.status,
          code: reason.code,
        });
        return result(job.status);
      }
      // An execution that no longer drives the job (another took over) must not close it.
      if (input.executionName !== undefined && currentExecutionName(job) !== input.executionName) {
        logger.info('The job is driven by another execution; nothing recorded', {
          executionName: input.executionName,
          drivenBy: currentExecutionName(job),
        });
        return result(job.status);
      }
      if (stateMachineArn !== undefined && isResumable(job, error)) {
        const outcome = await resumeJob(
          { store: deps.store, executions: deps.executionsOf(stateMachineArn), clock: deps.clock },
          job,
          input.executionName,
        );
        if (outcome === 'resumed') {
          logger.info('Execution ended early; a new one continues the provider work', {
            code: reason.code,
            providerJobId: job.providerJobId,
          });
          recordMetric('JobsResumed', 1, { code: reason.code });
          return result(job.status, true);
        }
        logger.info('Not resumed (resumed elsewhere, or resumed too often)', {
          resumeCount: job.resumeCount ?? 0,
        });
      }
      // Money as the provider left it (spent if it rendered or may still render); slot freed.
      await deps.limits.admission(stateMachineArn).settleAbandoned(job);
      const failedAt = deps.clock();
      const failed = await deps.store.recordFailed(jobId, reason, failedAt.toISOString());
      // As recorded; nothing when the job ended meanwhile (a cancel, the sweep), which announced
      // its own ending.
      if (failed !== undefined) await (deps.notify ?? noWebhooks)(failed, 'video.failed', failedAt);
      logger.info('Job failed', { code: reason.code, retryable: reason.retryable });
      recordMetric('JobsFailed', 1, { code: reason.code });
      return result('FAILED');
    });
  };
}

export const handler = withObservability(
  'record-failure',
  lazyHandler(() => {
    const config = readConfig([
      'jobsTableName',
      'jobEventsBusName',
      'provider',
      'limits',
      'webhookDelivery',
    ]);
    const store = productionJobStore(config.jobsTableName, config.jobEventsBusName);
    // Its own announcements, and a start-timeout cancel a hand-off of its makes.
    const notify = productionNotifier(config.webhookDelivery);
    return createRecordFailureHandler({
      store,
      clock: systemClock,
      // The catalogue names each model's deployments, where its hand-offs place slots.
      limits: productionTaskLimits(store, config.jobsTableName, config.limits, {
        jobEventsBusName: config.jobEventsBusName,
        provider: config.provider,
        notify,
      }),
      executionsOf: (stateMachineArn) => workflowExecutionsOnFirstUse(stateMachineArn),
      notify,
    });
  }),
);
