import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  isAllowedAddress,
  validateWebhookUrl,
  WebhookTargetError,
} from '../../../functions/shared/webhooks/webhook-target.ts';
import { createWebhookPost } from '../../../functions/webhooks/deliver-webhook.ts';

const AWS = { allowLoopback: false };
const LOCAL = { allowLoopback: true };

describe('isAllowedAddress', () => {
  it.each([
    '10.1.2.3',
    '172.16.0.1',
    '192.168.1.1',
    '127.0.0.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
    '::1',
    '::',
    'fe80::1',
    'fd00::1',
    '::ffff:10.0.0.1',
  ])('refuses %s on AWS', (address) => {
    expect(isAllowedAddress(address, AWS)).toBe(false);
  });

  it.each(['8.8.8.8', '52.94.236.248', '2606:4700:4700::1111'])('allows public %s', (address) => {
    expect(isAllowedAddress(address, AWS)).toBe(true);
  });

  it('allows the loopback interface on the local stack only, and nothing else private', () => {
    expect(isAllowedAddress('127.0.0.1', LOCAL)).toBe(true);
    expect(isAllowedAddress('::1', LOCAL)).toBe(true);
    expect(isAllowedAddress('10.0.0.1', LOCAL)).toBe(false);
    expect(isAllowedAddress('169.254.169.254', LOCAL)).toBe(false);
  });
});

describe('validateWebhookUrl', () => {
  it('accepts an https URL of a public host', () => {
    expect(validateWebhookUrl('https://hooks.example.com/sora', AWS)).toBe(
      'https://hooks.example.com/sora',
    );
  });

  it.each([
    ['plain http', 'http://hooks.example.com/sora', /must be https/],
    ['credentials', 'https://user:pass@hooks.example.com/', /credentials/],
    ['a private literal address', 'https://10.0.0.5/hook', /private/],
    ['the metadata service', 'https://169.254.169.254/latest', /private/],
    ['localhost', 'https://localhost/hook', /localhost/],
    ['not a URL', 'hooks.example.com', /absolute URL/],
    ['another scheme', 'ftp://hooks.example.com/', /https/],
  ])('refuses %s on AWS, naming webhook.url', (_what, url, message) => {
    expect(() => validateWebhookUrl(url, AWS)).toThrow(message);
    expect(() => validateWebhookUrl(url, AWS)).toThrow(/^webhook\.url: /);
  });

  it('accepts http://127.0.0.1 on the local stack, but no other plain http', () => {
    expect(validateWebhookUrl('http://127.0.0.1:8080/hook', LOCAL)).toBe(
      'http://127.0.0.1:8080/hook',
    );
    expect(() => validateWebhookUrl('http://hooks.example.com/', LOCAL)).toThrow(/https/);
  });
});

describe('createWebhookPost', () => {
  it('checks the addresses a name resolves to: localhost is refused on AWS before any connection', async () => {
    let connections = 0;
    const server = createServer((_request, response) => {
      connections += 1;
      response.writeHead(204).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      const post = createWebhookPost(AWS);

      await expect(post(`http://localhost:${port}/`, {}, '{}')).rejects.toBeInstanceOf(
        WebhookTargetError,
      );
      expect(connections).toBe(0);
      await expect(
        createWebhookPost(LOCAL)(`http://localhost:${port}/`, {}, '{}'),
      ).resolves.toEqual({
        status: 204,
      });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
