/**
 * Where a webhook may be sent. On AWS only `https` URLs whose host resolves to public addresses
 * are called: no loopback, private, link-local (the instance metadata service), multicast or
 * otherwise reserved target, in any IPv6 spelling of one, checked on every address DNS answers
 * and again at connect time (the connection goes to the address that was checked, so a DNS answer
 * that changes between the check and the request cannot redirect it; a literal address, which
 * node connects to without a lookup, is checked before connecting). The local stack also allows
 * `http://127.0.0.1` (and `[::1]`, `localhost`), its receivers' address.
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

// IPv4 addresses no webhook may reach: the RFC 6890 special-purpose ranges that are not globally
// reachable, multicast and the old 6to4 relay anycast.
const FORBIDDEN_IPV4 = new BlockList();
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
  FORBIDDEN_IPV4.addSubnet(network, prefix, 'ipv4');
}
const LOOPBACK_IPV4 = new BlockList();
LOOPBACK_IPV4.addSubnet('127.0.0.0', 8, 'ipv4');

/** An IPv6 address as its 16 bytes, or undefined when it is not one (a zone id included). */
function ipv6Bytes(address: string): Uint8Array | undefined {
  if (isIP(address) !== 6 || address.includes('%')) return undefined;
  const halves = address.split('::');
  if (halves.length > 2) return undefined;
  const groups = (half: string | undefined): number[] | undefined => {
    if (half === undefined || half === '') return [];
    const words: number[] = [];
    const parts = half.split(':');
    for (const [index, part] of parts.entries()) {
      if (index === parts.length - 1 && isIP(part) === 4) {
        const [a = 0, b = 0, c = 0, d = 0] = part.split('.').map(Number);
        words.push((a << 8) | b, (c << 8) | d);
      } else if (/^[0-9a-f]{1,4}$/i.test(part)) {
        words.push(Number.parseInt(part, 16));
      } else {
        return undefined;
      }
    }
    return words;
  };
  const head = groups(halves[0]);
  const tail = groups(halves[1]);
  if (head === undefined || tail === undefined) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const words = [...head, ...new Array<number>(missing).fill(0), ...tail];
  return Uint8Array.from(words.flatMap((word) => [word >> 8, word & 255]));
}

/** A prefix of the IPv6 space, e.g. `ipv6Prefix('2002::', 16)`. */
function ipv6Prefix(network: string, bits: number) {
  const bytes = ipv6Bytes(network);
  if (bytes === undefined) throw new Error(`not an IPv6 network: ${network}`);
  return (address: Uint8Array): boolean => {
    for (let bit = 0; bit < bits; bit += 8) {
      const mask = (0xff << (8 - Math.min(8, bits - bit))) & 0xff;
      if (((address[bit / 8] ?? 0) & mask) !== ((bytes[bit / 8] ?? 0) & mask)) return false;
    }
    return true;
  };
}

const dottedQuad = (bytes: Uint8Array, at: number) =>
  Array.from(bytes.subarray(at, at + 4)).join('.');

const IPV4_MAPPED = ipv6Prefix('::ffff:0:0', 96);

// IPv6 forms that carry an IPv4 address and reach it (or the network that owns it): the IPv4
// address decides. Teredo (2001::/32) also carries one but is refused whole below.
const EMBEDDING_IPV4: readonly { within: (address: Uint8Array) => boolean; at: number }[] = [
  { within: IPV4_MAPPED, at: 12 }, // IPv4-mapped: the socket connects over IPv4
  { within: ipv6Prefix('::ffff:0:0:0', 96), at: 12 }, // SIIT IPv4-translated (RFC 2765)
  { within: ipv6Prefix('64:ff9b::', 96), at: 12 }, // NAT64 well-known prefix (RFC 6052)
  { within: ipv6Prefix('2002::', 16), at: 2 }, // 6to4: the IPv4 address sits in bits 16-48
];

// Unicast is allocated from 2000::/3 only: everything else is refused by default, which takes
// in ::/96 (unspecified, loopback and the deprecated IPv4-compatible `::a.b.c.d`), 64:ff9b:1::/48
// (local-use NAT64, whose translator is anyone's), discard-only 100::/64, segment-routing SIDs
// 5f00::/16, unique-local fc00::/7, site-local fec0::/10, link-local fe80::/10 and multicast
// ff00::/8. Inside 2000::/3, the IANA special-purpose registry's ranges that are not globally
// reachable (or are only meant for documentation) are refused.
const GLOBAL_UNICAST = ipv6Prefix('2000::', 3);
const FORBIDDEN_IPV6 = [
  ipv6Prefix('2001::', 23), // IETF protocol assignments: Teredo, benchmarking, ORCHIDv2, ...
  ipv6Prefix('2001:db8::', 32), // documentation
  ipv6Prefix('3fff::', 20), // documentation (RFC 9637)
];
const LOOPBACK_IPV6 = ipv6Prefix('::1', 128);

/** 127.0.0.0/8, `::1`, or an IPv4-mapped spelling of the first: the local stack's receivers. */
function isLoopbackAddress(address: string): boolean {
  if (isIP(address) === 4) return LOOPBACK_IPV4.check(address, 'ipv4');
  const bytes = ipv6Bytes(address);
  if (bytes === undefined) return false;
  if (IPV4_MAPPED(bytes)) return LOOPBACK_IPV4.check(dottedQuad(bytes, 12), 'ipv4');
  return LOOPBACK_IPV6(bytes);
}

/** Whether a webhook may connect to this IP address under the policy; anything else is refused. */
export function isAllowedAddress(address: string, policy: WebhookTargetPolicy): boolean {
  if (policy.allowLoopback && isLoopbackAddress(address)) return true;
  if (isIP(address) === 4) return !FORBIDDEN_IPV4.check(address, 'ipv4');
  const bytes = ipv6Bytes(address);
  if (bytes === undefined) return false;
  const embedding = EMBEDDING_IPV4.find((form) => form.within(bytes));
  if (embedding !== undefined) {
    return !FORBIDDEN_IPV4.check(dottedQuad(bytes, embedding.at), 'ipv4');
  }
  return GLOBAL_UNICAST(bytes) && !FORBIDDEN_IPV6.some((within) => within(bytes));
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
  const loopbackHost = host === 'localhost' || isLoopbackAddress(host);
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

/** A refused connection, as node:http(s) reports a lookup's error: code EWEBHOOKTARGET. */
function targetRefusal(message: string): WebhookTargetError & NodeJS.ErrnoException {
  const refusal: WebhookTargetError & NodeJS.ErrnoException = new WebhookTargetError(message);
  refusal.code = 'EWEBHOOKTARGET';
  return refusal;
}

/**
 * Throws the guarded lookup's refusal when a URL's hostname (`127.0.0.1`, `[::1]`) is an IP
 * literal the policy refuses: node connects to a literal without calling `lookup`, so without
 * this a literal that got past submission (or a policy that changed since) would go unchecked.
 */
export function refuseLiteralTarget(hostname: string, policy: WebhookTargetPolicy): void {
  const address = hostname.replace(/^\[|\]$/g, '');
  if (isIP(address) !== 0 && !isAllowedAddress(address, policy)) {
    throw targetRefusal(`${address} is an address webhooks may not reach`);
  }
}

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
        callback(
          targetRefusal(
            `${hostname} resolves to ${refused?.address ?? 'nothing'}, which webhooks may not reach`,
          ),
          [],
        );
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
