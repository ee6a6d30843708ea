import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { webhookId } from '../../../functions/shared/webhooks/webhook-events.ts';
import { webhookNotifierOnFirstUse } from '../../../functions/shared/webhooks/webhook-notifier-on-first-use.ts';
import { aJob } from '../../support/job-fixtures.ts';

// Every SFNClient, the one the notifier imports and creates on first use included.
const sfn = mockClient(SFNClient);
const WEBHOOKS = 'arn:aws:states:us-east-1:123456789012:stateMachine:Webhooks';
const AT = new Date('2026-11-30T12:00:00Z');
const withWebhook = aJob({
  jobId: 'job_01JWEBHOOK0000000000000000',
  status: 'COMPLETED',
  webhook: { url: 'https://hooks.example.com/sora', events: ['video.completed'] },
});

beforeEach(() => {
  sfn.reset();
  sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn', startDate: AT });
});

describe('webhookNotifierOnFirstUse', () => {
  it('queues one delivery, named by its webhook-id, for an event the job asked for', async () => {
    await webhookNotifierOnFirstUse(WEBHOOKS)(withWebhook, 'video.completed', AT);

    const calls = sfn.commandCalls(StartExecutionCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input).toMatchObject({
      stateMachineArn: WEBHOOKS,
      name: webhookId(withWebhook.jobId, 'video.completed'),
    });
    expect(JSON.parse(calls[0]?.args[0].input.input ?? '{}')).toMatchObject({
      jobId: withWebhook.jobId,
      url: 'https://hooks.example.com/sora',
      payload: { type: 'video.completed', timestamp: AT.toISOString() },
    });
  });

  it('sends nothing for a job without a webhook, or for an event it did not ask for', async () => {
    const notify = webhookNotifierOnFirstUse(WEBHOOKS);

    await notify(aJob({ status: 'COMPLETED' }), 'video.completed', AT);
    await notify(withWebhook, 'video.failed', AT);

    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('never throws: a delivery queued already, or one that cannot be queued, is not an error of the job', async () => {
    const notify = webhookNotifierOnFirstUse(WEBHOOKS);
    sfn
      .on(StartExecutionCommand)
      .rejectsOnce(new ExecutionAlreadyExists({ message: 'exists', $metadata: {} }))
      .rejectsOnce(new Error('throttled'));

    await expect(notify(withWebhook, 'video.completed', AT)).resolves.toBeUndefined();
    await expect(notify(withWebhook, 'video.completed', AT)).resolves.toBeUndefined();
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(2);
  });
});
