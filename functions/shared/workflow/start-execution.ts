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
    try {
      await client.send(
        new StartExecutionCommand({
          stateMachineArn,
          name: jobId,
          input: JSON.stringify({ jobId }),
        }),
      );
    } catch (error) {
      if (error instanceof ExecutionAlreadyExists) return;
      throw error;
    }
  };
}
