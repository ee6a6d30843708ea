/**
 * The console's security headers, one definition for both places that serve it: CloudFront's
 * response headers policy on AWS and the local stack's console server. The console loads its
 * own script and style only (no inline code), talks to the API only, and shows images and
 * videos from the presigned links of the videos bucket only.
 */
export interface ConsoleOrigins {
  /** Where the API answers (`connect-src`), e.g. `https://abc.execute-api.eu-west-1.amazonaws.com`. */
  api: string;
  /** Where presigned content links point (`img-src`, `media-src`): the videos bucket's origin. */
  content: string;
}

export function contentSecurityPolicy(origins: ConsoleOrigins): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    `img-src 'self' ${origins.content}`,
    `media-src ${origins.content}`,
    `connect-src 'self' ${origins.api}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
    "object-src 'none'",
  ].join('; ');
}

/** Headers besides the CSP (CloudFront sets each through its own policy field). */
export const SECURITY_HEADERS = {
  'strict-transport-security': 'max-age=63072000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=()',
  'cross-origin-opener-policy': 'same-origin',
} as const;
