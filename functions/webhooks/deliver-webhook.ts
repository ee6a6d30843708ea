/**
 * The webhook state machine's one task: POSTs one event to the job's webhook URL, signed with its
 * client's secret (Standard Webhooks), and records how it went on the job.
 *
 * Input `WebhookDeliveryInput` (notify-webhook.ts), plus `exhausted: true` from the machine's
 * Catch when every attempt failed. A 2xx answer is delivered; any other answer, a timeout or a
 * connection error throws WebhookDeliveryError, which the machine retries with exponential
 * backoff (the same `webhook-id`, a fresh `webhook-timestamp` and signature each attempt). A URL
 * that resolves to an address webhooks may not reach throws WebhookTargetError, not retried.
 * Redirects are not followed.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import * as z from 'zod/mini';
import '../shared/schema-messages.ts';
import { readConfig } from '../shared/config/function-config.ts';
import { DEFAULT_CLIENT } from '../shared/jobs/job.ts';
import { JobNotFoundError } from '../shared/jobs/job-errors.ts';
import type { JobStore } from '../shared/jobs/job-store.ts';
import { lazyHandler } from '../shared/lazy-handler.ts';
import { logger } from '../shared/observability/observability.ts';
import { recordMetric } from '../shared/observability/pipeline-metrics.ts';
import { withObservability } from '../shared/observability/with-observability.ts';
import { readSecretString } from '../shared/secrets/read-secret.ts';
import { WEBHOOK_EVENTS, type WebhookDelivery } from '../shared/webhooks/webhook-events.ts';
import { clientWebhookSecret, signedHeaders } from '../shared/webhooks/webhook-signing.ts';
import {
  guardedLookup,
  refuseLiteralTarget,
  WebhookTargetError,
  type WebhookTargetPolicy,
} from '../shared/webhooks/webhook-target.ts';
import {
  type Clock,
  parseTaskInput,
  productionJobStore,
  systemClock,
} from '../tasks/task-runtime.ts';

/** The receiver did not answer 2xx (or at all): the machine retries. */
export class WebhookDeliveryError extends Error {
  override name = 'WebhookDeliveryError';
}

export const WEBHOOK_TIMEOUT_MS = 10_000;

const text = () => z.string().check(z.minLength(1));

const inputSchema = z.object({
  jobId: text(),
  client: text(),
  webhookId: text(),
  url: text(),
  payload: z.object({
    type: z.enum(WEBHOOK_EVENTS),
    timestamp: z.string(),
    data: z.unknown(),
  }),
  exhausted: z.optional(z.boolean()),
  error: z.optional(z.object({ Error: z.optional(z.string()), Cause: z.optional(z.unknown()) })),
});

/** What one attempt got back from the receiver. */
export interface PostResult {
  status: number;
}

/** Sends one POST; throws on a connection error or timeout. */
export type PostWebhook = (
  url: string,
  headers: Record<string, string>,
  body: string,
) => Promise<PostResult>;

export interface DeliverWebhookDeps {
  store: Pick<JobStore, 'get' | 'recordWebhookDelivery'>;
  /** The deployment's signing secret (each client's is derived from it). */
  signingSecret: () => Promise<string>;
  post: PostWebhook;
  clock: Clock;
  /** Unix seconds for `webhook-timestamp`: the wall clock, which receivers compare with theirs. */
  wallSeconds?: () => number;
}

export function createDeliverWebhookHandler(deps: DeliverWebhookDeps) {
  const wallSeconds = deps.wallSeconds ?? (() => Math.floor(Date.now() / 1000));
  return async (event: unknown): Promise<{ webhookId: string; status: number }> => {
    const input = parseTaskInput(inputSchema, event);
    logger.appendKeys({ jobId: input.jobId, webhookId: input.webhookId });
    try {
      const job = await deps.store.get(input.jobId);
      if (job === undefined) throw new JobNotFoundError(`Job ${input.jobId} not found`);
      const previous = job.lastWebhookDelivery;
      const attempts =
        (previous?.webhookId === input.webhookId ? previous.attempts : 0) +
        (input.exhausted ? 0 : 1);
      const record = (delivery: Omit<WebhookDelivery, 'webhookId' | 'event' | 'attempts' | 'at'>) =>
        deps.store.recordWebhookDelivery(input.jobId, {
          webhookId: input.webhookId,
          event: input.payload.type,
          attempts,
          at: deps.clock().toISOString(),
          ...delivery,
        });

      if (input.exhausted) {
        await record({ status: 'failed', error: input.error?.Error ?? 'attempts exhausted' });
        logger.warn('Webhook given up', { attempts, error: input.error?.Error });
        recordMetric('WebhookAttempts', 0, { outcome: 'failed' });
        return { webhookId: input.webhookId, status: 0 };
      }

      const body = JSON.stringify(input.payload);
      const secret = clientWebhookSecret(
        await deps.signingSecret(),
        input.client || DEFAULT_CLIENT,
      );
      const headers = {
        'content-type': 'application/json',
        'user-agent': 'sora-pipeline-webhooks',
        ...signedHeaders(secret, input.webhookId, wallSeconds(), body),
      };
      let result: PostResult;
      try {
        result = await deps.post(input.url, headers, body);
      } catch (error) {
        const refused = error instanceof WebhookTargetError;
        const message = refused ? error.message : describeNetworkError(error);
        await record({ status: refused ? 'failed' : 'retrying', error: message });
        recordMetric('WebhookAttempts', 1, { outcome: refused ? 'failed' : 'retrying' });
        if (refused) throw error;
        throw new WebhookDeliveryError(`Webhook not delivered: ${message}`, { cause: error });
      }
      if (result.status >= 200 && result.status < 300) {
        await record({ status: 'delivered', httpStatus: result.status });
        recordMetric('WebhookAttempts', 1, { outcome: 'delivered' });
        logger.info('Webhook delivered', { attempts, httpStatus: result.status });
        return { webhookId: input.webhookId, status: result.status };
      }
      await record({
        status: 'retrying',
        httpStatus: result.status,
        error: `HTTP ${result.status}`,
      });
      recordMetric('WebhookAttempts', 1, { outcome: 'retrying' });
      throw new WebhookDeliveryError(`Webhook answered HTTP ${result.status}`);
    } finally {
      logger.resetKeys();
    }
  };
}

function describeNetworkError(error: unknown): string {
  if (!(error instanceof Error)) return 'request failed';
  const code = (error as NodeJS.ErrnoException).code;
  return code ? `${code}` : error.name;
}

/**
 * POSTs with node:http(s), connecting only to addresses the policy allows (a name's through the
 * guarded lookup, a literal's checked first: node does not look literals up); no redirects.
 */
export function createWebhookPost(policy: WebhookTargetPolicy): PostWebhook {
  const lookup = guardedLookup(policy);
  return (url, headers, body) =>
    new Promise<PostResult>((resolve, reject) => {
      const target = new URL(url);
      refuseLiteralTarget(target.hostname, policy);
      const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
      const request = send(
        target,
        {
          method: 'POST',
          headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
          lookup,
          timeout: WEBHOOK_TIMEOUT_MS,
        },
        (response) => {
          // The receiver's body is never read into memory or logged: only its status counts.
          response.resume();
          response.on('end', () => resolve({ status: response.statusCode ?? 0 }));
          response.on('error', reject);
        },
      );
      request.on('timeout', () => request.destroy(new Error('timeout')));
      request.on('error', (error) => {
        // The guarded lookup's refusal arrives as a connection error: keep its type.
        const cause = (error as NodeJS.ErrnoException).code === 'EWEBHOOKTARGET';
        reject(cause ? new WebhookTargetError(error.message, { cause: error }) : error);
      });
      request.end(body);
    });
}

export const handler = withObservability(
  'deliver-webhook',
  lazyHandler(() => {
    const config = readConfig([
      'jobsTableName',
      'jobEventsBusName',
      'webhookSecretId',
      'webhookPolicy',
    ]);
    return createDeliverWebhookHandler({
      store: productionJobStore(config.jobsTableName, config.jobEventsBusName),
      signingSecret: () => readSecretString(config.webhookSecretId),
      post: createWebhookPost(config.webhookPolicy),
      clock: systemClock,
    });
  }),
);
