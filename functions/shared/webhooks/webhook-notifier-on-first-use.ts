import { loadedOnFirstUse } from '../aws/aws-client.ts';
import { logger } from '../observability/observability.ts';
import { recordMetric } from '../observability/pipeline-metrics.ts';
import type { NotifyWebhook } from './notify-webhook.ts';

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
