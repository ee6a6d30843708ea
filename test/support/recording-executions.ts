import type {
  ExecutionState,
  WorkflowExecutions,
} from '../../functions/shared/scheduler/workflow-executions.ts';

/**
 * Workflow executions in memory: `start` records `{ jobId, executionName }` and makes the name
 * RUNNING; `states` can be set by a test (a missing name is NOT_FOUND).
 */
export function recordingExecutions(): WorkflowExecutions & {
  started: { jobId: string; executionName: string }[];
  states: Map<string, ExecutionState>;
} {
  const started: { jobId: string; executionName: string }[] = [];
  const states = new Map<string, ExecutionState>();
  return {
    started,
    states,
    async state(executionName) {
      return states.get(executionName) ?? 'NOT_FOUND';
    },
    async start(jobId, executionName) {
      if (states.has(executionName)) return 'already-exists';
      started.push({ jobId, executionName });
      states.set(executionName, 'RUNNING');
      return 'started';
    },
  };
}
