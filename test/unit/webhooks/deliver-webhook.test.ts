import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { clientWebhookSecret } from '../../../functions/shared/webhooks/webhook-signing.ts';
import { WebhookTargetError } from '../../../functions/shared/webhooks/webhook-target.ts';
import {
  createDeliverWebhookHandler,
  createWebhookPost,
  type PostWebhook,
} from '../../../functions/webhooks/deliver-webhook.ts';
import { InMemoryJobStore } from '../../support/in-memory-job-store.ts';
import { aJob } from '../../support/job-fixtures.ts';

const NOW = new Date('2026-03-04T05:06:07.000Z');
const SIGNING = 'root-signing-secret';

function setup(answers: number[], post?: PostWebhook) {
  const store = new InMemoryJobStore({ now: () => NOW });
  const job = aJob({
    client: 'alice',
    webhook: { url: 'https://hooks.example.com/', events: ['video.completed'] },
  });
  store.seed(job);
  const posts: { headers: Record<string, string>; body: string }[] = [];
  const deliver = createDeliverWebhookHandler({
    store,
    signingSecret: async () => SIGNING,
    post:
      post ??
      (async (_url, headers, body) => {
        posts.push({ headers, body });
        return { status: answers.shift() ?? 200 };
      }),
    clock: () => NOW,
    wallSeconds: () => Math.floor(Date.now() / 1000),
  });
  const input = {
    jobId: job.jobId,
    client: 'alice',
    webhookId: `msg_${job.jobId}_video_completed`,
    url: 'https://hooks.example.com/',
    payload: { type: 'video.completed', timestamp: NOW.toISOString(), data: { id: job.jobId } },
  };
  return { store, job, deliver, input, posts };
}

describe('deliver-webhook', () => {
  it("signs with the client's secret so that standardwebhooks verifies it, and records delivered", async () => {
    const { store, job, deliver, input, posts } = setup([204]);

    await deliver(input);

    const [post] = posts;
    const verified = new Webhook(clientWebhookSecret(SIGNING, 'alice')).verify(post?.body ?? '', {
      'webhook-id': post?.headers['webhook-id'] ?? '',
      'webhook-timestamp': post?.headers['webhook-timestamp'] ?? '',
      'webhook-signature': post?.headers['webhook-signature'] ?? '',
    });
    expect(verified).toEqual(input.payload);
    expect((await store.get(job.jobId))?.lastWebhookDelivery).toMatchObject({
      webhookId: input.webhookId,
      status: 'delivered',
      attempts: 1,
      httpStatus: 204,
    });
  });

  it('throws WebhookDeliveryError on a non-2xx (the machine retries), counting attempts', async () => {
    const { store, job, deliver, input } = setup([500, 503]);

    await expect(deliver(input)).rejects.toMatchObject({ name: 'WebhookDeliveryError' });
    await expect(deliver(input)).rejects.toMatchObject({ name: 'WebhookDeliveryError' });
    await deliver({ ...input, exhausted: true, error: { Error: 'WebhookDeliveryError' } });

    expect((await store.get(job.jobId))?.lastWebhookDelivery).toMatchObject({
      status: 'failed',
      attempts: 2,
      error: 'WebhookDeliveryError',
    });
  });

  it('records an IP literal refused at connect time as failed, not retried', async () => {
    const { store, job, deliver, input } = setup([], createWebhookPost({ allowLoopback: false }));

    // The metadata service behind 6to4: the URL skipped submission's check (an older policy).
    const refused = deliver({ ...input, url: 'https://[2002:a9fe:a9fe::1]/' });

    await expect(refused).rejects.toBeInstanceOf(WebhookTargetError);
    expect((await store.get(job.jobId))?.lastWebhookDelivery).toMatchObject({
      status: 'failed',
      attempts: 1,
      error: '2002:a9fe:a9fe::1 is an address webhooks may not reach',
    });
  });
});
