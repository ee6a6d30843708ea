/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): `webhook-signature: v1,<base64
 * HMAC-SHA256 of "<id>.<timestamp>.<body>">` with the secret `whsec_<base64 key>`.
 *
 * Each client has its own secret, derived from the deployment's signing secret and the client's
 * name, so no per-client secret needs storing and one client's secret verifies nothing of
 * another's.
 */
import { createHmac } from 'node:crypto';

export const SECRET_PREFIX = 'whsec_';

/** A client's webhook secret, `whsec_` + base64 of 32 bytes. */
export function clientWebhookSecret(signingSecret: string, client: string): string {
  const key = createHmac('sha256', signingSecret).update(`webhook-signing:${client}`).digest();
  return `${SECRET_PREFIX}${key.toString('base64')}`;
}

/** The three headers of one delivery attempt. */
export function signedHeaders(
  secret: string,
  id: string,
  timestampSeconds: number,
  body: string,
): Record<'webhook-id' | 'webhook-timestamp' | 'webhook-signature', string> {
  const key = Buffer.from(secret.slice(SECRET_PREFIX.length), 'base64');
  const signature = createHmac('sha256', key)
    .update(`${id}.${timestampSeconds}.${body}`)
    .digest('base64');
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': `v1,${signature}`,
  };
}
