import { ExecutionAlreadyExists, type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';

/** Starts the generation workflow of a job. Safe to call again for the same job. */
export type StartExecution = (jobId: string) => Promise<void>;

/**
 * The workflow starter on Step Functions: the execution is named by the job id, so a second start
 * of the same job is refused by the service (or answered with the running execution) rather than
 * starting a second paid generation. Both outcomes count as started.
 */
export function createExecutionStarter(client: SFNClient, stateMachineArn: string): StartExecution {
  return async (jobId) => {
    await startJobExecution(client, stateMachineArn, jobId, jobId);
  };
}

/**
 * Starts `executionName` for a job (input `{ jobId }`); an execution of that name that exists
 * already is reported, not thrown.
 */
export async function startJobExecution(
  client: SFNClient,
  stateMachineArn: string,
  jobId: string,
  executionName: string,
): Promise<'started' | 'already-exists'> {
  try {
    await client.send(
      new StartExecutionCommand({
        stateMachineArn,
        name: executionName,
        input: JSON.stringify({ jobId }),
      }),
    );
    return 'started';
  } catch (error) {
    if (error instanceof ExecutionAlreadyExists) return 'already-exists';
    throw error;
  }
}
