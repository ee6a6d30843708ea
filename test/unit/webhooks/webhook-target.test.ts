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

  // Every IPv6 spelling that reaches a refused IPv4 address, and the reserved IPv6 ranges.
  it.each([
    ['IPv4-compatible loopback', '::127.0.0.1'],
    ['IPv4-compatible metadata service', '::169.254.169.254'],
    ['IPv4-compatible public address (::/96 is deprecated)', '::93.184.216.34'],
    ['IPv4-mapped loopback in hex', '::ffff:7f00:1'],
    ['IPv4-mapped metadata service', '::ffff:169.254.169.254'],
    ['IPv4-mapped, upper case', '::FFFF:A9FE:A9FE'],
    ['IPv4-mapped, fully expanded', '0:0:0:0:0:ffff:127.0.0.1'],
    ['IPv4-mapped, zero-padded', '0000:0000:0000:0000:0000:FFFF:7F00:0001'],
    ['SIIT IPv4-translated loopback', '::ffff:0:127.0.0.1'],
    ['SIIT IPv4-translated private, in hex', '::ffff:0:a00:1'],
    ['6to4 of loopback', '2002:7f00:1::1'],
    ['6to4 of the metadata service', '2002:a9fe:a9fe::1'],
    ['6to4 of a private address', '2002:c0a8:101::'],
    ['NAT64 of the metadata service', '64:ff9b::a9fe:a9fe'],
    ['NAT64 of loopback, dotted', '64:ff9b::127.0.0.1'],
    ['local-use NAT64, whatever it embeds', '64:ff9b:1::a9fe:a9fe'],
    ['local-use NAT64 of a public address', '64:ff9b:1::5db8:d822'],
    ['site-local', 'fec0::1'],
    ['Teredo', '2001:0:4136:e378:8000:63bf:3fff:fdd2'],
    ['discard-only', '100::1'],
    ['ORCHIDv2', '2001:20::1'],
    ['benchmarking', '2001:2::1'],
    ['documentation', '2001:db8::1'],
    ['documentation (3fff::/20)', '3fff::1'],
    ['segment-routing SIDs', '5f00::1'],
    ['unique-local', 'fc00::1'],
    ['link-local with a zone', 'fe80::1%eth0'],
    ['multicast', 'ff02::1'],
    ['unallocated (outside 2000::/3)', '4000::1'],
    ['not an address', 'example.com'],
  ])('refuses %s (%s) on AWS', (_form, address) => {
    expect(isAllowedAddress(address, AWS)).toBe(false);
  });

  it.each([
    '8.8.8.8',
    '52.94.236.248',
    '93.184.216.34',
    '2606:4700:4700::1111',
    '2606:2800:220:1:248:1893:25c8:1946',
    '::ffff:93.184.216.34',
    '2002:5db8:d822::1',
    '64:ff9b::5db8:d822',
  ])('allows public %s', (address) => {
    expect(isAllowedAddress(address, AWS)).toBe(true);
  });

  it('allows the loopback interface on the local stack only, and nothing else private', () => {
    expect(isAllowedAddress('127.0.0.1', LOCAL)).toBe(true);
    expect(isAllowedAddress('::1', LOCAL)).toBe(true);
    expect(isAllowedAddress('::ffff:127.0.0.1', LOCAL)).toBe(true);
    expect(isAllowedAddress('10.0.0.1', LOCAL)).toBe(false);
    expect(isAllowedAddress('169.254.169.254', LOCAL)).toBe(false);
    // Only the loopback interface itself: a 6to4 or NAT64 address carrying 127.0.0.1 is a router's.
    expect(isAllowedAddress('2002:7f00:1::1', LOCAL)).toBe(false);
    expect(isAllowedAddress('64:ff9b::127.0.0.1', LOCAL)).toBe(false);
  });
});

describe('validateWebhookUrl', () => {
  it.each([
    'https://hooks.example.com/sora',
    'https://93.184.216.34/sora',
    'https://[2606:2800:220:1:248:1893:25c8:1946]/sora',
  ])('accepts %s, a public host', (url) => {
    expect(validateWebhookUrl(url, AWS)).toBe(url);
  });

  it.each([
    ['plain http', 'http://hooks.example.com/sora', /must be https/],
    ['credentials', 'https://user:pass@hooks.example.com/', /credentials/],
    ['a private literal address', 'https://10.0.0.5/hook', /private/],
    ['the metadata service', 'https://169.254.169.254/latest', /private/],
    ['IPv4-compatible loopback', 'https://[::127.0.0.1]/', /private/],
    ['SIIT loopback', 'https://[::ffff:0:127.0.0.1]/', /private/],
    ['IPv4-mapped loopback, expanded', 'https://[0:0:0:0:0:FFFF:7F00:1]/', /private/],
    ['6to4 of the metadata service', 'https://[2002:a9fe:a9fe::1]/', /private/],
    ['NAT64 of the metadata service', 'https://[64:ff9b::a9fe:a9fe]/', /private/],
    ['local-use NAT64', 'https://[64:ff9b:1::a9fe:a9fe]/', /private/],
    ['site-local', 'https://[fec0::1]/', /private/],
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

  it.each(['http://127.0.0.1', 'http://[::ffff:127.0.0.1]', 'http://[::ffff:7f00:1]'])(
    'refuses the IP literal %s on AWS before connecting, as the lookup refuses a name',
    async (origin) => {
      let connections = 0;
      const server = createServer((_request, response) => response.writeHead(204).end());
      server.on('connection', () => {
        connections += 1;
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const port = (server.address() as AddressInfo).port;
      try {
        // Not through validateWebhookUrl: a literal that got past submission is still refused.
        await expect(createWebhookPost(AWS)(`${origin}:${port}/`, {}, '{}')).rejects.toMatchObject({
          name: 'WebhookTargetError',
          code: 'EWEBHOOKTARGET',
        });
        expect(connections).toBe(0);
        // The same literal reaches the server where the policy allows it.
        await expect(createWebhookPost(LOCAL)(`${origin}:${port}/`, {}, '{}')).resolves.toEqual({
          status: 204,
        });
        expect(connections).toBe(1);
      } finally {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    },
  );
});
