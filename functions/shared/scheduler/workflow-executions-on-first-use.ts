import { loadedOnFirstUse } from '../aws/aws-client.ts';
import type { WorkflowExecutions } from './workflow-executions.ts';

/**
 * The executions of `stateMachineArn` through Step Functions, its SDK imported on the first call
 * (a chunk of its own in the bundle): a task hands a freed slot to a waiting job only when one
 * waits, so a cold start does not load the Step Functions client for it.
 */
export function workflowExecutionsOnFirstUse(stateMachineArn: string): WorkflowExecutions {
  const executions = loadedOnFirstUse(async () => {
    const [{ sfn }, { createSfnWorkflowExecutions }] = await Promise.all([
      import('../aws/sfn-client.ts'),
      import('./sfn-workflow-executions.ts'),
    ]);
    return createSfnWorkflowExecutions(sfn(), stateMachineArn);
  });
  return {
    state: async (executionName) => (await executions()).state(executionName),
    start: async (jobId, executionName) => (await executions()).start(jobId, executionName),
  };
}
