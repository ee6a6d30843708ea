import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { describe, expect, it } from 'vitest';
import { signPost } from '../../../functions/shared/aws/sigv4.ts';

/** The SDK's checksum interface over node:crypto (HMAC when given a secret). */
class Sha256 {
  readonly #hash: Hash | Hmac;

  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.#hash =
      secret === undefined
        ? createHash('sha256')
        : createHmac(
            'sha256',
            typeof secret === 'string' ? secret : Buffer.from(secret as ArrayBuffer),
          );
  }

  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.#hash.update(typeof data === 'string' ? data : Buffer.from(data as ArrayBuffer));
  }

  async digest(): Promise<Uint8Array> {
    return this.#hash.digest();
  }
}

describe('signPost', () => {
  it('signs exactly as the AWS SDK signs the same request', async () => {
    const credentials = {
      accessKeyId: 'AKIDEXAMPLE',
      secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
      sessionToken: 'session-token',
    };
    const now = new Date('2026-11-30T12:34:56.000Z');
    const url = new URL('https://secretsmanager.eu-west-1.amazonaws.com/');
    const body = JSON.stringify({ SecretId: 'provider-key' });
    const headers = {
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': 'secretsmanager.GetSecretValue',
    };
    const sdk = new SignatureV4({
      credentials,
      region: 'eu-west-1',
      service: 'secretsmanager',
      sha256: Sha256,
      // As the SDK's Secrets Manager client signs: no x-amz-content-sha256 header.
      applyChecksum: false,
    });
    const expected = await sdk.sign(
      {
        method: 'POST',
        protocol: 'https:',
        hostname: url.hostname,
        path: '/',
        query: {},
        headers: { ...headers, host: url.host },
        body,
      },
      { signingDate: now },
    );

    const signed = signPost({
      url,
      region: 'eu-west-1',
      service: 'secretsmanager',
      headers,
      body,
      credentials,
      now,
    });

    expect(signed.authorization).toBe(expected.headers.authorization);
    expect(signed['x-amz-security-token']).toBe('session-token');
  });
});
