/**
 * The generation workflow's executions as the pipeline sees them: states, names, and the
 * Step Functions implementation (sfn-workflow-executions.ts), which functions that start or
 * inspect an execution only now and then import on first use.
 */
import type { Job } from '../jobs/job.ts';

/** An execution's status as Step Functions reports it, or NOT_FOUND when there is none. */
export type ExecutionState =
  | 'RUNNING'
  | 'PENDING_REDRIVE'
  | 'SUCCEEDED'
  | 'FAILED'
  | 'TIMED_OUT'
  | 'ABORTED'
  | 'NOT_FOUND';

/** The generation workflow's executions, by name (the scheduler's view of Step Functions). */
export interface WorkflowExecutions {
  state(executionName: string): Promise<ExecutionState>;
  /** Starts `{ jobId }` under `executionName`; an existing execution of that name counts as started. */
  start(jobId: string, executionName: string): Promise<'started' | 'already-exists'>;
}

/** Whether an execution in this state may still record the job's outcome. */
export function isLive(state: ExecutionState): boolean {
  return state === 'RUNNING' || state === 'PENDING_REDRIVE';
}

/** The execution a job is (or was last) driven by: its recorded name, else its id. */
export function currentExecutionName(job: Job): string {
  return job.executionName ?? job.jobId;
}

/**
 * The name for the next start of a job: its id the first time (duplicate starts are then refused
 * by Step Functions), `<jobId>-<n+1>` after an execution named `<jobId>` or `<jobId>-<n>`. Job ids
 * are 30 characters, so the name stays far below the 80 allowed.
 */
export function nextExecutionName(job: Job): string {
  if (job.executionName === undefined) return job.jobId;
  if (job.executionName === job.jobId) return `${job.jobId}-1`;
  const suffix = job.executionName.slice(job.jobId.length + 1);
  const previous = job.executionName.startsWith(`${job.jobId}-`) ? Number(suffix) : Number.NaN;
  return `${job.jobId}-${Number.isInteger(previous) && previous > 0 ? previous + 1 : 1}`;
}

/** The ARN of a state machine's execution (the state machine ARN with `:execution:` and the name). */
export function executionArnFor(stateMachineArn: string, executionName: string): string {
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${executionName}`;
}
