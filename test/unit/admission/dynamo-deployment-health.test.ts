import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  COOL_DOWN_SECONDS,
  DynamoDeploymentHealth,
  FAILURES_TO_OPEN,
} from '../../../functions/shared/admission/deployment-health.ts';

const TABLE = 'jobs-table';
const KEY = { pk: 'DEPLOYMENT#eastus', sk: 'HEALTH' };
const NOW = new Date('2026-03-01T10:00:00.000Z');
const COOLED = '2026-03-01T10:01:00.000Z';

const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const dynamo = mockClient(client);
const health = new DynamoDeploymentHealth({ client, tableName: TABLE });

const conditionFailed = () =>
  new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });

beforeEach(() => {
  dynamo.reset();
});

describe('the breaker constants', () => {
  it('open after 3 refusals for a 60 s cool-down', () => {
    expect([FAILURES_TO_OPEN, COOL_DOWN_SECONDS]).toEqual([3, 60]);
  });
});

describe('DynamoDeploymentHealth.recordFailure', () => {
  it('counts the refusal by ADD on the deployment item, keeping its reason, and stops below the threshold', async () => {
    dynamo.on(UpdateCommand).resolves({ Attributes: { ...KEY, state: 'closed', failures: 2 } });

    const outcome = await health.recordFailure('eastus', NOW, 'ProviderTransientError 503');

    expect(outcome).toBe('counted');
    expect(dynamo).toHaveReceivedCommandTimes(UpdateCommand, 1);
    expect(dynamo).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: TABLE,
      Key: KEY,
      UpdateExpression:
        'ADD #failures :one SET #state = if_not_exists(#state, :closed), #reason = :reason',
      ExpressionAttributeNames: {
        '#failures': 'failures',
        '#state': 'state',
        '#reason': 'lastReason',
      },
      ExpressionAttributeValues: {
        ':one': 1,
        ':closed': 'closed',
        ':reason': 'ProviderTransientError 503',
      },
      ReturnValues: 'ALL_NEW',
    });
  });

  it('opens a closed deployment at the threshold under a condition on its state and count', async () => {
    dynamo
      .on(UpdateCommand)
      .resolvesOnce({ Attributes: { ...KEY, state: 'closed', failures: 3 } })
      .resolvesOnce({});

    const outcome = await health.recordFailure('eastus', NOW, 'ProviderTransientError 503');

    expect(outcome).toBe('opened');
    expect(dynamo.commandCalls(UpdateCommand)[1]?.args[0].input).toEqual({
      TableName: TABLE,
      Key: KEY,
      UpdateExpression: 'SET #state = :open, #openedAt = :now, #openUntil = :until REMOVE #probe',
      ConditionExpression:
        '(attribute_not_exists(#state) OR #state = :closed) AND #failures >= :threshold',
      ExpressionAttributeNames: {
        '#state': 'state',
        '#openedAt': 'openedAt',
        '#openUntil': 'openUntil',
        '#probe': 'probeTakenAt',
        '#failures': 'failures',
      },
      ExpressionAttributeValues: {
        ':open': 'open',
        ':closed': 'closed',
        ':now': NOW.toISOString(),
        ':until': COOLED,
        ':threshold': 3,
      },
    });
  });

  it('answers counted when the opening condition fails (another caller opened it, or a success reset the count)', async () => {
    dynamo
      .on(UpdateCommand)
      .resolvesOnce({ Attributes: { ...KEY, state: 'closed', failures: 4 } })
      .rejectsOnce(conditionFailed());

    await expect(health.recordFailure('eastus', NOW, 'ProviderTransientError 503')).resolves.toBe(
      'counted',
    );
  });

  it('re-opens for another cool-down when the probe it saw out failed, under a condition on that probe', async () => {
    const probe = '2026-03-01T09:59:30.000Z';
    dynamo
      .on(UpdateCommand)
      .resolvesOnce({ Attributes: { ...KEY, state: 'open', failures: 4, probeTakenAt: probe } })
      .resolvesOnce({});

    const outcome = await health.recordFailure('eastus', NOW, 'ProviderAuthError 401');

    expect(outcome).toBe('counted');
    expect(dynamo.commandCalls(UpdateCommand)[1]?.args[0].input).toEqual({
      TableName: TABLE,
      Key: KEY,
      UpdateExpression: 'SET #openUntil = :until REMOVE #probe',
      ConditionExpression: '#state = :open AND #probe = :probe',
      ExpressionAttributeNames: {
        '#state': 'state',
        '#openUntil': 'openUntil',
        '#probe': 'probeTakenAt',
      },
      ExpressionAttributeValues: { ':open': 'open', ':until': COOLED, ':probe': probe },
    });
  });

  it('leaves an open deployment without a probe out as it is (a create sent before it opened)', async () => {
    dynamo.on(UpdateCommand).resolves({ Attributes: { ...KEY, state: 'open', failures: 5 } });

    await expect(health.recordFailure('eastus', NOW, 'ProviderTransientError 503')).resolves.toBe(
      'counted',
    );
    expect(dynamo).toHaveReceivedCommandTimes(UpdateCommand, 1);
  });

  it('stores a short reason, never a long message', async () => {
    dynamo.on(UpdateCommand).resolves({ Attributes: { ...KEY, state: 'closed', failures: 1 } });

    await health.recordFailure('eastus', NOW, 'x'.repeat(500));

    const values = dynamo.commandCalls(UpdateCommand)[0]?.args[0].input.ExpressionAttributeValues;
    expect(String(values?.[':reason']).length).toBe(120);
  });

  it('lets other DynamoDB errors through', async () => {
    dynamo
      .on(UpdateCommand)
      .resolvesOnce({ Attributes: { ...KEY, state: 'closed', failures: 3 } })
      .rejectsOnce(new Error('ProvisionedThroughputExceeded'));

    await expect(health.recordFailure('eastus', NOW, 'ProviderTransientError 503')).rejects.toThrow(
      'ProvisionedThroughputExceeded',
    );
  });
});

describe('DynamoDeploymentHealth.recordSuccess', () => {
  it("closes and resets only a deployment that is open or has failures, answering 'closed' when it was open", async () => {
    dynamo.on(UpdateCommand).resolves({ Attributes: { ...KEY, state: 'open', failures: 3 } });

    const outcome = await health.recordSuccess('eastus', NOW);

    expect(outcome).toBe('closed');
    expect(dynamo).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: TABLE,
      Key: KEY,
      UpdateExpression:
        'SET #state = :closed, #failures = :zero REMOVE #openedAt, #openUntil, #probe',
      ConditionExpression: '#state = :open OR #failures > :zero',
      ExpressionAttributeNames: {
        '#state': 'state',
        '#failures': 'failures',
        '#openedAt': 'openedAt',
        '#openUntil': 'openUntil',
        '#probe': 'probeTakenAt',
      },
      ExpressionAttributeValues: { ':closed': 'closed', ':open': 'open', ':zero': 0 },
      ReturnValues: 'ALL_OLD',
    });
  });

  it('answers unchanged when it only reset the count of a closed deployment', async () => {
    dynamo.on(UpdateCommand).resolves({ Attributes: { ...KEY, state: 'closed', failures: 2 } });

    await expect(health.recordSuccess('eastus', NOW)).resolves.toBe('unchanged');
  });

  it('answers unchanged when there was nothing to reset (the condition fails)', async () => {
    dynamo.on(UpdateCommand).rejects(conditionFailed());

    await expect(health.recordSuccess('eastus', NOW)).resolves.toBe('unchanged');
  });

  it('lets other DynamoDB errors through', async () => {
    dynamo.on(UpdateCommand).rejects(new Error('ProvisionedThroughputExceeded'));

    await expect(health.recordSuccess('eastus', NOW)).rejects.toThrow(
      'ProvisionedThroughputExceeded',
    );
  });
});

describe('DynamoDeploymentHealth.takeProbe', () => {
  it('takes the probe of an open deployment past its cool-down and starts another cool-down', async () => {
    dynamo.on(UpdateCommand).resolves({});

    await expect(health.takeProbe('eastus', NOW)).resolves.toBe(true);
    expect(dynamo).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: TABLE,
      Key: KEY,
      UpdateExpression: 'SET #probe = :now, #openUntil = :until',
      ConditionExpression: '#state = :open AND #openUntil <= :now',
      ExpressionAttributeNames: {
        '#state': 'state',
        '#probe': 'probeTakenAt',
        '#openUntil': 'openUntil',
      },
      ExpressionAttributeValues: { ':open': 'open', ':now': NOW.toISOString(), ':until': COOLED },
    });
  });

  it('answers false when the condition fails (closed, cooling, or the probe already taken)', async () => {
    dynamo.on(UpdateCommand).rejects(conditionFailed());

    await expect(health.takeProbe('eastus', NOW)).resolves.toBe(false);
  });
});

describe('DynamoDeploymentHealth.states', () => {
  it('reads each deployment once, consistently, and derives half-open from the cool-down', async () => {
    dynamo
      .on(GetCommand, { Key: KEY })
      .resolves({ Item: { ...KEY, state: 'open', failures: 3, openUntil: NOW.toISOString() } })
      .on(GetCommand, { Key: { pk: 'DEPLOYMENT#westus', sk: 'HEALTH' } })
      .resolves({
        Item: { pk: 'DEPLOYMENT#westus', sk: 'HEALTH', state: 'open', openUntil: COOLED },
      })
      .on(GetCommand, { Key: { pk: 'DEPLOYMENT#north', sk: 'HEALTH' } })
      .resolves({});

    const states = await health.states(['eastus', 'westus', 'north', 'eastus'], NOW);

    expect(states).toEqual({ eastus: 'half_open', westus: 'open', north: 'closed' });
    expect(dynamo).toHaveReceivedCommandTimes(GetCommand, 3);
    expect(dynamo).toHaveReceivedCommandWith(GetCommand, {
      TableName: TABLE,
      Key: KEY,
      ConsistentRead: true,
    });
  });
});
