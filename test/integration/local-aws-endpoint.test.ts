import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  DescribeExecutionCommand,
  ListExecutionsCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type RunningLocalAwsEndpoint,
  startLocalAwsEndpoint,
} from '../../infra/local/local-aws-endpoint.ts';
import { LocalSecrets } from '../../infra/local/local-secrets.ts';
import {
  ExecutionFailedError,
  type ExecutionRecord,
  LocalStepFunctions,
} from '../../infra/local/local-step-functions.ts';

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };

/** A runner the test finishes by hand, recording what it was given. */
function manualRunner() {
  const calls: { input: unknown; signal: AbortSignal }[] = [];
  const pending: { resolve: (output: unknown) => void; reject: (error: unknown) => void }[] = [];
  const run = (input: unknown, _execution: unknown, signal: AbortSignal) =>
    new Promise<unknown>((resolve, reject) => {
      calls.push({ input, signal });
      pending.push({ resolve, reject });
      signal.addEventListener('abort', () => resolve(null));
    });
  const started = async (count: number) => {
    while (calls.length < count) await new Promise((resolve) => setImmediate(resolve));
  };
  return { run, calls, pending, started };
}

function nextEnd(sfn: LocalStepFunctions): Promise<ExecutionRecord> {
  return new Promise((resolve) => {
    const off = sfn.onExecutionEnd((record) => {
      off();
      resolve(record);
    });
  });
}

let stepFunctions: LocalStepFunctions;
let secrets: LocalSecrets;
let endpoint: RunningLocalAwsEndpoint;
let sfnClient: SFNClient;
let secretsClient: SecretsManagerClient;

beforeEach(async () => {
  stepFunctions = new LocalStepFunctions();
  secrets = new LocalSecrets();
  endpoint = await startLocalAwsEndpoint({ stepFunctions, secrets });
  const config = { endpoint: endpoint.url, region: 'us-east-1', credentials, maxAttempts: 1 };
  sfnClient = new SFNClient(config);
  secretsClient = new SecretsManagerClient(config);
});

afterEach(async () => {
  await stepFunctions.close();
  await endpoint.close();
});

describe('local Step Functions API', () => {
  it('runs a started execution with its input and reports SUCCEEDED with the output', async () => {
    const runner = manualRunner();
    const arn = stepFunctions.addStateMachine('Generate', runner.run);

    const started = await sfnClient.send(
      new StartExecutionCommand({
        stateMachineArn: arn,
        name: 'job-1',
        input: '{"jobId":"job-1"}',
      }),
    );
    await runner.started(1);
    const ended = nextEnd(stepFunctions);
    runner.pending[0]?.resolve({ done: true });
    await ended;
    const described = await sfnClient.send(
      new DescribeExecutionCommand({ executionArn: started.executionArn }),
    );

    expect(runner.calls[0]?.input).toEqual({ jobId: 'job-1' });
    expect(started.executionArn).toBe(
      'arn:aws:states:us-east-1:000000000000:execution:Generate:job-1',
    );
    expect(started.startDate).toBeInstanceOf(Date);
    expect(described).toMatchObject({
      name: 'job-1',
      status: 'SUCCEEDED',
      input: '{"jobId":"job-1"}',
      output: '{"done":true}',
    });
    expect(described.stopDate).toBeInstanceOf(Date);
  });

  it('returns the running execution when the same name is started again with the same input', async () => {
    const runner = manualRunner();
    const arn = stepFunctions.addStateMachine('Generate', runner.run);
    const start = () =>
      sfnClient.send(
        new StartExecutionCommand({ stateMachineArn: arn, name: 'job-2', input: '{"a":1}' }),
      );

    const first = await start();
    const second = await start();

    expect(second.executionArn).toBe(first.executionArn);
    expect(second.startDate).toEqual(first.startDate);
    await runner.started(1);
    expect(runner.calls).toHaveLength(1);
  });

  it('refuses the same name with a different input as ExecutionAlreadyExists', async () => {
    const runner = manualRunner();
    const arn = stepFunctions.addStateMachine('Generate', runner.run);
    await sfnClient.send(
      new StartExecutionCommand({ stateMachineArn: arn, name: 'job-3', input: '{"a":1}' }),
    );

    const again = sfnClient.send(
      new StartExecutionCommand({ stateMachineArn: arn, name: 'job-3', input: '{"a":2}' }),
    );

    await expect(again).rejects.toMatchObject({ name: 'ExecutionAlreadyExists' });
  });

  it('refuses the name of a finished execution even with the same input', async () => {
    const runner = manualRunner();
    const arn = stepFunctions.addStateMachine('Generate', runner.run);
    const start = () =>
      sfnClient.send(
        new StartExecutionCommand({ stateMachineArn: arn, name: 'job-4', input: '{}' }),
      );
    await start();
    await runner.started(1);
    const ended = nextEnd(stepFunctions);
    runner.pending[0]?.resolve({});
    await ended;

    await expect(start()).rejects.toMatchObject({ name: 'ExecutionAlreadyExists' });
  });

  it('reports a failed run as FAILED with the error and cause the runner gave', async () => {
    const runner = manualRunner();
    const arn = stepFunctions.addStateMachine('Generate', runner.run);
    const started = await sfnClient.send(
      new StartExecutionCommand({ stateMachineArn: arn, name: 'job-5' }),
    );
    await runner.started(1);
    const ended = nextEnd(stepFunctions);

    runner.pending[0]?.reject(new ExecutionFailedError('ProviderRejectedError', 'blocked'));
    await ended;
    const described = await sfnClient.send(
      new DescribeExecutionCommand({ executionArn: started.executionArn }),
    );

    expect(described).toMatchObject({
      status: 'FAILED',
      error: 'ProviderRejectedError',
      cause: 'blocked',
    });
  });

  it('aborts a running execution on StopExecution', async () => {
    const runner = manualRunner();
    const arn = stepFunctions.addStateMachine('Generate', runner.run);
    const started = await sfnClient.send(
      new StartExecutionCommand({ stateMachineArn: arn, name: 'job-6' }),
    );
    await runner.started(1);

    await sfnClient.send(
      new StopExecutionCommand({ executionArn: started.executionArn, error: 'Cancelled' }),
    );
    const described = await sfnClient.send(
      new DescribeExecutionCommand({ executionArn: started.executionArn }),
    );

    expect(described).toMatchObject({ status: 'ABORTED', error: 'Cancelled' });
    expect(runner.calls[0]?.signal.aborted).toBe(true);
  });

  it('lists executions newest first, filtered by status', async () => {
    const runner = manualRunner();
    const arn = stepFunctions.addStateMachine('Generate', runner.run);
    for (const name of ['a', 'b', 'c']) {
      await sfnClient.send(new StartExecutionCommand({ stateMachineArn: arn, name }));
    }
    await runner.started(3);
    const ended = nextEnd(stepFunctions);
    runner.pending[0]?.resolve({});
    await ended;

    const running = await sfnClient.send(
      new ListExecutionsCommand({ stateMachineArn: arn, statusFilter: 'RUNNING' }),
    );
    const firstPage = await sfnClient.send(
      new ListExecutionsCommand({ stateMachineArn: arn, maxResults: 2 }),
    );
    const secondPage = await sfnClient.send(
      new ListExecutionsCommand({
        stateMachineArn: arn,
        maxResults: 2,
        nextToken: firstPage.nextToken,
      }),
    );

    expect(running.executions?.map((execution) => execution.name)).toEqual(['c', 'b']);
    expect(firstPage.executions?.map((execution) => execution.name)).toEqual(['c', 'b']);
    expect(secondPage.executions?.map((execution) => execution.name)).toEqual(['a']);
    expect(secondPage.nextToken).toBeUndefined();
  });

  it('answers StateMachineDoesNotExist for an unknown state machine', async () => {
    const start = sfnClient.send(
      new StartExecutionCommand({
        stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:Nope',
      }),
    );

    await expect(start).rejects.toMatchObject({ name: 'StateMachineDoesNotExist' });
  });

  it('refuses an execution name AWS would refuse', async () => {
    const arn = stepFunctions.addStateMachine('Generate', manualRunner().run);

    const start = sfnClient.send(new StartExecutionCommand({ stateMachineArn: arn, name: 'a b' }));

    await expect(start).rejects.toMatchObject({ name: 'InvalidName' });
  });
});

describe('local Secrets Manager API', () => {
  it('returns a secret by name and by ARN', async () => {
    const arn = secrets.put('sora/provider-key', 'sk-local');

    const byName = await secretsClient.send(
      new GetSecretValueCommand({ SecretId: 'sora/provider-key' }),
    );
    const byArn = await secretsClient.send(new GetSecretValueCommand({ SecretId: arn }));

    expect(byName).toMatchObject({ SecretString: 'sk-local', ARN: arn, Name: 'sora/provider-key' });
    expect(byArn.SecretString).toBe('sk-local');
  });

  it('answers ResourceNotFoundException for an unknown secret', async () => {
    const read = secretsClient.send(new GetSecretValueCommand({ SecretId: 'missing' }));

    await expect(read).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });
});
