import {
  DescribeExecutionCommand,
  ExecutionDoesNotExist,
  type SFNClient,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { startJobExecution } from '../workflow/start-execution.ts';
import { executionArnFor, type WorkflowExecutions } from './workflow-executions.ts';

/** The workflow's executions through Step Functions (see workflow-executions.ts). */
export function createSfnWorkflowExecutions(
  client: SFNClient,
  stateMachineArn: string,
): WorkflowExecutions {
  return {
    async state(executionName) {
      try {
        const output = await client.send(
          new DescribeExecutionCommand({
            executionArn: executionArnFor(stateMachineArn, executionName),
          }),
        );
        return output.status ?? 'NOT_FOUND';
      } catch (error) {
        if (error instanceof ExecutionDoesNotExist) return 'NOT_FOUND';
        throw error;
      }
    },
    start: (jobId, executionName) =>
      startJobExecution(client, stateMachineArn, jobId, executionName),
  };
}

/** Stops an execution of the state machine; one that never existed is left as it is. */
export async function stopExecution(
  client: SFNClient,
  stateMachineArn: string,
  executionName: string,
): Promise<void> {
  try {
    await client.send(
      new StopExecutionCommand({
        executionArn: executionArnFor(stateMachineArn, executionName),
        error: 'JobCancelled',
        cause: 'The job was cancelled through the API',
      }),
    );
  } catch (error) {
    if (!(error instanceof ExecutionDoesNotExist)) throw error;
  }
}
