import type { Job } from '../jobs/job.ts';
import type { JobStore } from '../jobs/job-store.ts';
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
