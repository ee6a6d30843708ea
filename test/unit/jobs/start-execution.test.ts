import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createExecutionStarter } from '../../../functions/shared/workflow/start-execution.ts';

const ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:generate';
const client = new SFNClient({ region: 'us-east-1' });
const sfn = mockClient(client);
const start = createExecutionStarter(client, ARN);

beforeEach(() => {
  sfn.reset();
});

describe('createExecutionStarter', () => {
  it('starts an execution named by the job id with the job id as input', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: `${ARN}:job_1`, startDate: new Date() });

    await start('job_1');

    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, {
      stateMachineArn: ARN,
      name: 'job_1',
      input: '{"jobId":"job_1"}',
    });
  });

  it('treats an existing execution of the same name as started', async () => {
    sfn
      .on(StartExecutionCommand)
      .rejects(new ExecutionAlreadyExists({ message: 'Execution Already Exists', $metadata: {} }));

    await expect(start('job_1')).resolves.toBeUndefined();
  });

  it('passes other failures on', async () => {
    const throttled = new Error('Rate exceeded');
    sfn.on(StartExecutionCommand).rejects(throttled);

    await expect(start('job_1')).rejects.toBe(throttled);
  });
});
