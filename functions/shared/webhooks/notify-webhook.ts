import { loadedOnFirstUse } from '../aws/aws-client.ts';
import type { Job } from '../jobs/job.ts';
import type { JobStore } from '../jobs/job-store.ts';
import { logger } from '../observability/observability.ts';
import { recordMetric } from '../observability/pipeline-metrics.ts';
import type { WebhookEvent, WebhookPayload } from './webhook-events.ts';

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

/**
 * The production notifier (sfn-webhook-notifier.ts), its Step Functions client imported with
 * the first job that asked for a webhook (a chunk of its own in the bundle): a cold start does
 * not load it for jobs without one. Never throws, as NotifyWebhook promises.
 */
export function webhookNotifierOnFirstUse(stateMachineArn: string | undefined): NotifyWebhook {
  const notifier = loadedOnFirstUse(async () => {
    const [{ sfn }, { createWebhookNotifier }] = await Promise.all([
      import('../aws/sfn-client.ts'),
      import('./sfn-webhook-notifier.ts'),
    ]);
    return createWebhookNotifier(sfn(), stateMachineArn);
  });
  return async (job, event, at) => {
    if (job.webhook === undefined || !job.webhook.events.includes(event)) return;
    let notify: NotifyWebhook;
    try {
      notify = await notifier();
    } catch (error) {
      logger.error('Webhook delivery could not be queued', { event, error });
      recordMetric('WebhookEnqueueFailures');
      return;
    }
    await notify(job, event, at);
  };
}
