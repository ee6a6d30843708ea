/**
 * Where a webhook may be sent. On AWS only `https` URLs whose host resolves to public addresses
 * are called: no loopback, private, link-local (the instance metadata service), multicast or
 * otherwise reserved target, checked on every address DNS answers and again at connect time (the
 * connection goes to the address that was checked, so a DNS answer that changes between the
 * check and the request cannot redirect it). The local stack also allows `http://127.0.0.1` (and
 * `[::1]`, `localhost`), its receivers' address.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { ValidationError } from '../jobs/job-errors.ts';

/** Read by readConfig's `webhookPolicy` (WEBHOOK_ALLOW_LOOPBACK=true: the local stack; AWS never sets it). */
export interface WebhookTargetPolicy {
  /** Local stack only: plain http to the loopback interface. */
  allowLoopback: boolean;
}

/** The webhook URL may not be called (a URL or address the policy refuses). */
export class WebhookTargetError extends Error {
  override name = 'WebhookTargetError';
}

const MAX_URL_LENGTH = 2048;

// Addresses no webhook may reach: RFC 6890 special-purpose ranges and friends.
const FORBIDDEN = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  FORBIDDEN.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['100::', 64],
  ['2001::', 23],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  FORBIDDEN.addSubnet(network, prefix, 'ipv6');
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

const family = (address: string) => (isIP(address) === 6 ? 'ipv6' : 'ipv4');

/** The IPv4 address inside an IPv4-mapped IPv6 one (`::ffff:10.0.0.1`, `::ffff:a00:1`). */
function mappedIpv4(address: string): string | undefined {
  const match = /^::ffff:(?:(\d+\.\d+\.\d+\.\d+)|([0-9a-f]{1,4}):([0-9a-f]{1,4}))$/i.exec(address);
  if (!match) return undefined;
  if (match[1] !== undefined) return match[1];
  const high = Number.parseInt(match[2] ?? '0', 16);
  const low = Number.parseInt(match[3] ?? '0', 16);
  return [high >> 8, high & 255, low >> 8, low & 255].join('.');
}

/** Whether a webhook may connect to this IP address under the policy. */
export function isAllowedAddress(address: string, policy: WebhookTargetPolicy): boolean {
  if (isIP(address) === 0) return false;
  // BlockList checks an IPv4 address against IPv4 rules only: unwrap the mapped form first.
  const v4 = mappedIpv4(address);
  if (v4 !== undefined) return isAllowedAddress(v4, policy);
  if (policy.allowLoopback && LOOPBACK.check(address, family(address))) return true;
  return !FORBIDDEN.check(address, family(address));
}

/**
 * Checks a webhook URL when a job is submitted (what can be known without DNS): scheme, no
 * credentials, and a literal address that is allowed. Throws ValidationError on `field`.
 */
export function validateWebhookUrl(
  raw: string,
  policy: WebhookTargetPolicy,
  field = 'webhook.url',
): string {
  const fail = (why: string): never => {
    throw new ValidationError(field, `${field}: ${why}`);
  };
  if (raw.length > MAX_URL_LENGTH) fail(`must be at most ${MAX_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return fail('must be an absolute URL, e.g. "https://hooks.example.com/sora"');
  }
  if (url.username !== '' || url.password !== '') fail('must not contain credentials');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const loopbackHost =
    host === 'localhost' || (isIP(host) !== 0 && LOOPBACK.check(host, family(host)));
  if (url.protocol === 'http:' && !(policy.allowLoopback && loopbackHost)) {
    fail(
      policy.allowLoopback
        ? 'must be https (plain http only to 127.0.0.1 on the local stack)'
        : 'must be https',
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') fail('must be https');
  if (isIP(host) !== 0 && !isAllowedAddress(host, policy)) {
    fail('must not point at a private, loopback, link-local or reserved address');
  }
  if (host === 'localhost' && !policy.allowLoopback) fail('must not point at localhost');
  return url.toString();
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * A `lookup` for node:http(s) requests that resolves every address of the host and refuses the
 * connection when any of them is not allowed; the connection then goes to the checked address.
 */
export function guardedLookup(policy: WebhookTargetPolicy) {
  return (hostname: string, options: { all?: boolean }, callback: LookupCallback): void => {
    dnsLookup(hostname, { all: true, verbatim: true }, (error, addresses) => {
      if (error) {
        callback(error, []);
        return;
      }
      const refused = addresses.find((entry) => !isAllowedAddress(entry.address, policy));
      if (refused !== undefined || addresses.length === 0) {
        const target = new WebhookTargetError(
          `${hostname} resolves to ${refused?.address ?? 'nothing'}, which webhooks may not reach`,
        ) as NodeJS.ErrnoException;
        target.code = 'EWEBHOOKTARGET';
        callback(target, []);
        return;
      }
      if (options.all) {
        callback(null, addresses);
        return;
      }
      const [first] = addresses;
      callback(null, first?.address ?? '', first?.family);
    });
  };
}
