import { ExecutionAlreadyExists, type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { toPublicJob } from '../jobs/public-job.ts';
import { logger } from '../observability/observability.ts';
import { recordMetric } from '../observability/pipeline-metrics.ts';
import type { NotifyWebhook, WebhookDeliveryInput } from './notify-webhook.ts';
import { webhookId } from './webhook-events.ts';

/**
 * The durable queue of webhook deliveries is the webhook state machine (webhook-delivery.ts in
 * infra): one execution per event, named by the webhook id, whose Retry delivers at least once
 * with exponential backoff and the same id on every attempt. Starting it twice for one event (a
 * retried task) is refused by name, so an event is delivered once.
 *
 * Enqueueing is best effort after the job's own write (the write is what matters to the job): a
 * failed start is logged and counted (WebhookEnqueueFailures), not thrown.
 */
export function createWebhookNotifier(
  client: SFNClient,
  stateMachineArn: string | undefined,
): NotifyWebhook {
  return async (job, event, at) => {
    if (job.webhook === undefined || !job.webhook.events.includes(event)) return;
    if (stateMachineArn === undefined) {
      logger.warn('Webhook not sent: WEBHOOK_STATE_MACHINE_ARN is not set', { event });
      return;
    }
    const input: WebhookDeliveryInput = {
      jobId: job.jobId,
      client: job.client ?? 'default',
      webhookId: webhookId(job.jobId, event),
      url: job.webhook.url,
      payload: { type: event, timestamp: at.toISOString(), data: toPublicJob(job) },
    };
    try {
      await client.send(
        new StartExecutionCommand({
          stateMachineArn,
          name: input.webhookId,
          input: JSON.stringify(input),
        }),
      );
    } catch (error) {
      if (error instanceof ExecutionAlreadyExists) return;
      logger.error('Webhook delivery could not be queued', { event, error });
      recordMetric('WebhookEnqueueFailures');
    }
  };
}
