/**
 * Webhook events: what a job announces to the URL its submitter gave, and the ids that make a
 * delivery recognisable on every attempt (Standard Webhooks: the receiver deduplicates by
 * `webhook-id`).
 */

export const WEBHOOK_EVENTS = [
  'video.started',
  'video.completed',
  'video.failed',
  'video.cancelled',
] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/** Without `events`, a webhook hears how the job ended. */
export const DEFAULT_WEBHOOK_EVENTS: readonly WebhookEvent[] = [
  'video.completed',
  'video.failed',
  'video.cancelled',
];

/** The webhook a request asks for, as the job records it. */
export interface WebhookRequest {
  url: string;
  events: WebhookEvent[];
}

/**
 * The id of one event of one job: the same on every attempt, and the name of the delivery's
 * execution, so an event announced twice (a retried task) is delivered once.
 */
export function webhookId(jobId: string, event: WebhookEvent): string {
  return `msg_${jobId}_${event.replace('.', '_')}`;
}

/** What the receiver gets: the event type, when it happened, and the job as the API shows it. */
export interface WebhookPayload {
  type: WebhookEvent;
  timestamp: string;
  data: unknown;
}

/** How the last delivery of a job's webhook went, as `GET /videos/{id}` shows it. */
export interface WebhookDelivery {
  webhookId: string;
  event: WebhookEvent;
  /** `delivered`: a 2xx answer; `retrying`: a failed attempt, another follows; `failed`: given up. */
  status: 'delivered' | 'retrying' | 'failed';
  /** Attempts so far for this event. */
  attempts: number;
  /** The receiver's HTTP status of the last attempt, if it answered. */
  httpStatus?: number;
  /** Why the last attempt failed, if it did (never the receiver's body). */
  error?: string;
  at: string;
}
