import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createSfnWorkflowExecutions } from '../../../functions/shared/scheduler/sfn-workflow-executions.ts';
import {
  executionArnFor,
  nextExecutionName,
} from '../../../functions/shared/scheduler/workflow-executions.ts';
import { aJob } from '../../support/job-fixtures.ts';

const STATE_MACHINE = 'arn:aws:states:us-east-1:123456789012:stateMachine:Generation';
const sfn = new SFNClient({ region: 'us-east-1' });
const mock = mockClient(sfn);
const executions = createSfnWorkflowExecutions(sfn, STATE_MACHINE);

beforeEach(() => {
  mock.reset();
});

describe('nextExecutionName', () => {
  const jobId = aJob().jobId;

  it('is the job id for a job that never had an execution, then counts up', () => {
    expect(nextExecutionName(aJob())).toBe(jobId);
    expect(nextExecutionName(aJob({ executionName: jobId }))).toBe(`${jobId}-1`);
    expect(nextExecutionName(aJob({ executionName: `${jobId}-1` }))).toBe(`${jobId}-2`);
    expect(nextExecutionName(aJob({ executionName: `${jobId}-41` }))).toBe(`${jobId}-42`);
  });

  it('stays a valid execution name (at most 80 characters)', () => {
    expect(nextExecutionName(aJob({ executionName: `${jobId}-99999` })).length).toBeLessThan(80);
  });
});

describe('executionArnFor', () => {
  it('builds the execution ARN from the state machine ARN and the name', () => {
    expect(executionArnFor(STATE_MACHINE, 'job_1-2')).toBe(
      'arn:aws:states:us-east-1:123456789012:execution:Generation:job_1-2',
    );
  });
});

describe('Step Functions executions', () => {
  it('describes an execution by name', async () => {
    mock.on(DescribeExecutionCommand).resolves({ status: 'ABORTED' });

    await expect(executions.state('job_1')).resolves.toBe('ABORTED');
    expect(mock).toHaveReceivedCommandWith(DescribeExecutionCommand, {
      executionArn: 'arn:aws:states:us-east-1:123456789012:execution:Generation:job_1',
    });
  });

  it('answers NOT_FOUND for an execution that does not exist', async () => {
    mock
      .on(DescribeExecutionCommand)
      .rejects(new ExecutionDoesNotExist({ message: 'no', $metadata: {} }));

    await expect(executions.state('job_1')).resolves.toBe('NOT_FOUND');
  });

  it('starts { jobId } under the given name; an existing one counts as started', async () => {
    mock
      .on(StartExecutionCommand)
      .resolvesOnce({})
      .rejects(new ExecutionAlreadyExists({ message: 'exists', $metadata: {} }));

    const first = await executions.start('job_1', 'job_1-1');
    const second = await executions.start('job_1', 'job_1-1');

    expect([first, second]).toEqual(['started', 'already-exists']);
    expect(mock).toHaveReceivedCommandWith(StartExecutionCommand, {
      stateMachineArn: STATE_MACHINE,
      name: 'job_1-1',
      input: '{"jobId":"job_1"}',
    });
  });

  it('passes other errors through', async () => {
    const throttled = new Error('Rate exceeded');
    mock.on(StartExecutionCommand).rejects(throttled);

    await expect(executions.start('job_1', 'job_1')).rejects.toBe(throttled);
  });
});
