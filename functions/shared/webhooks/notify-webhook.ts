import { ExecutionAlreadyExists, type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { toPublicJob } from '../../api/public-job.ts';
import type { Job } from '../jobs/job.ts';
import type { JobStore } from '../jobs/job-store.ts';
import { logger } from '../observability/observability.ts';
import { recordMetric } from '../observability/pipeline-metrics.ts';
import { type WebhookEvent, type WebhookPayload, webhookId } from './webhook-events.ts';

/** Announces a job's event to its webhook, if it asked for that event. Never throws. */
export type NotifyWebhook = (job: Job, event: WebhookEvent, at: Date) => Promise<void>;

/** What the delivery state machine gets: everything one delivery needs, fixed at the event. */
export interface WebhookDeliveryInput {
  jobId: string;
  client: string;
  webhookId: string;
  url: string;
  payload: WebhookPayload;
}

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

/**
 * Announces `event` of a job just written: the record is read back (the payload is the job as it
 * now is) only when the job asked for that event.
 */
export async function announce(
  notify: NotifyWebhook,
  store: Pick<JobStore, 'get'>,
  job: Job,
  event: WebhookEvent,
  at: Date,
): Promise<void> {
  if (job.webhook === undefined || !job.webhook.events.includes(event)) return;
  const written = await store.get(job.jobId);
  if (written !== undefined) await notify(written, event, at);
}

/** A notifier that sends nothing (entry points and tests without webhooks). */
export const noWebhooks: NotifyWebhook = async () => {};
