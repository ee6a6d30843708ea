/**
 * Recovery resumes paid work: a job whose execution died (a crash, the machine timeout, retries
 * spent) while its provider job is alive or rendered gets a new execution that continues from its
 * record. The create step sees the recorded provider job and sends nothing; the poll and download
 * steps pick up from there. Never a second paid create.
 */
import type { Job } from '../jobs/job.ts';
import type { JobStore } from '../jobs/job-store.ts';
import {
  currentExecutionName,
  nextExecutionName,
  type WorkflowExecutions,
} from '../scheduler/workflow-executions.ts';
import { MAX_RESUMES } from './workflow-bounds.ts';

export interface ResumeDeps {
  store: JobStore;
  executions: WorkflowExecutions;
  clock: () => Date;
}

/** Whether the job has paid work a new execution could continue (or reconcile). */
export function hasProviderWork(job: Job): boolean {
  return job.providerJobId !== undefined || job.createAttemptedAt !== undefined;
}

/**
 * Starts the next execution of `job` in place of `fromExecution` (default: the one recorded on
 * the job). `resumed` when this call started it; `not-resumed` when another caller already did,
 * the job ended, or it has resumed MAX_RESUMES times.
 */
export async function resumeJob(
  deps: ResumeDeps,
  job: Job,
  fromExecution: string = currentExecutionName(job),
): Promise<'resumed' | 'not-resumed'> {
  const to = nextExecutionName({ ...job, executionName: fromExecution });
  const claimed = await deps.store.claimResume(
    job.jobId,
    { from: fromExecution, to, maxResumes: MAX_RESUMES },
    deps.clock().toISOString(),
  );
  if (!claimed) return 'not-resumed';
  await deps.executions.start(job.jobId, to);
  return 'resumed';
}
