import { createHash, timingSafeEqual } from 'node:crypto';
import type {
  APIGatewayRequestAuthorizerEventV2,
  APIGatewaySimpleAuthorizerWithContextResult,
} from 'aws-lambda';
import * as z from 'zod/mini';
import '../shared/schema-messages.ts';
import { clientShareSchema, shareOf } from '../shared/admission/client-share.ts';
import { DEFAULT_CLIENT } from '../shared/jobs/job.ts';
import { type Caller, type CallerContext, CLIENT_NAME_PATTERN, callerContext } from './caller.ts';

/**
 * How long API Gateway keeps an authorizer decision per token (infra/constructs/video-api.ts;
 * the local gateway reads it from the template).
 */
export const AUTHORIZER_CACHE_TTL_SECONDS = 60;

/** How long the authorizer keeps the tokens secret it read (authorizer.ts). */
export const API_TOKENS_MAX_AGE_SECONDS = 30;

/**
 * How long a token removed from the secret may keep working, at worst: the authorizer read the
 * secret just before the change, and API Gateway cached an allow decision made at the end of
 * that read's life (docs/guide.md, "Authentication" and "Clients").
 */
export const REVOKED_TOKEN_WORST_CASE_SECONDS =
  API_TOKENS_MAX_AGE_SECONDS + AUTHORIZER_CACHE_TTL_SECONDS;

/** The API tokens secret is not of the documented shape. */
export class ApiTokensSecretError extends Error {
  override name = 'ApiTokensSecretError';
}

const sha256Hex = z.string().check(z.regex(/^[0-9a-f]{64}$/, 'must be a sha256 in hex'));

const tokensSecretSchema = z
  .object({
    /** Tokens of the default client, in the clear (the format from before named clients). */
    tokens: z.optional(z.array(z.string().check(z.minLength(1)))),
    /**
     * Named clients, each with the sha256 (hex) of its token(s); an admin sees every job. Each
     * may carry its share settings (client-share.ts). Other keys are ignored, as they always were.
     */
    clients: z.optional(
      z.record(
        z.string().check(z.regex(CLIENT_NAME_PATTERN)),
        z.object({
          tokenSha256: z.union([sha256Hex, z.array(sha256Hex).check(z.minLength(1))]),
          admin: z.optional(z.boolean()),
          ...clientShareSchema.shape,
        }),
      ),
    ),
  })
  .check(z.refine((secret) => secret.tokens !== undefined || secret.clients !== undefined));

/** One accepted token: the digest it must hash to, and who presents it. */
export interface ApiCredential extends Caller {
  sha256: Buffer;
}

const SECRET_SHAPE =
  'API tokens secret must be {"clients":{"<name>":{"tokenSha256":"<hex>","admin":false}}} and/or {"tokens":["..."]}';

const SHARE_FIELDS: ReadonlySet<string> = new Set(Object.keys(clientShareSchema.shape));

/**
 * Parses the API tokens secret; the error never quotes the secret's content. A share setting out
 * of range is named with what is wrong (`clients.bob.maxConcurrent must be at least 1`): those
 * messages are the share schema's own and hold no value.
 */
export function parseApiTokens(secretString: string): ApiCredential[] {
  let json: unknown;
  try {
    json = JSON.parse(secretString);
  } catch {
    throw new ApiTokensSecretError('API tokens secret is not JSON');
  }
  const result = tokensSecretSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    const path = issue?.path.map(String) ?? [];
    const at = path.join('.');
    if (issue && path.length === 3 && path[0] === 'clients' && SHARE_FIELDS.has(path[2] ?? '')) {
      throw new ApiTokensSecretError(`API tokens secret: ${at} ${issue.message}`);
    }
    throw new ApiTokensSecretError(at ? `${SECRET_SHAPE} (at ${at})` : SECRET_SHAPE);
  }
  // The default client (tokens in the clear) has the default share.
  const credentials: ApiCredential[] = (result.data.tokens ?? []).map((token) => ({
    client: DEFAULT_CLIENT,
    admin: false,
    share: shareOf(undefined),
    sha256: digest(token),
  }));
  for (const [client, entry] of Object.entries(result.data.clients ?? {})) {
    const { tokenSha256, admin, ...settings } = entry;
    const hashes = Array.isArray(tokenSha256) ? tokenSha256 : [tokenSha256];
    for (const hash of hashes) {
      credentials.push({
        client,
        admin: admin ?? false,
        share: shareOf(settings),
        sha256: Buffer.from(hash, 'hex'),
      });
    }
  }
  return credentials;
}

/** The sha256 (hex) of a token, as the secret's `clients` entries hold it. */
export function tokenSha256(token: string): string {
  return digest(token).toString('hex');
}

export interface AuthorizerDeps {
  /** The accepted tokens (cached by the caller: this runs on every uncached request). */
  readTokens: () => Promise<readonly ApiCredential[]>;
}

export type AuthorizerResult = APIGatewaySimpleAuthorizerWithContextResult<CallerContext>;

export type AuthorizerHandler = (
  event: APIGatewayRequestAuthorizerEventV2,
) => Promise<AuthorizerResult>;

/**
 * HTTP API REQUEST authorizer with simple responses: `Authorization: Bearer <token>` must hash to
 * one of the credentials, whose client, admin flag and share go to the API function in the
 * context (callerContext: API Gateway caches it with the decision, as it does the client). A
 * missing or malformed header is denied without reading the secret; a secret that cannot be read
 * throws (API Gateway answers 500), which fails closed.
 */
export function createAuthorizerHandler(deps: AuthorizerDeps): AuthorizerHandler {
  const denied: AuthorizerResult = { isAuthorized: false, context: { client: '', admin: false } };
  return async (event) => {
    const presented = bearerToken(authorizationHeader(event));
    if (presented === undefined) return denied;
    const caller = match(presented, await deps.readTokens());
    return caller === undefined ? denied : { isAuthorized: true, context: callerContext(caller) };
  };
}

function authorizationHeader(event: APIGatewayRequestAuthorizerEventV2): string | undefined {
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (name.toLowerCase() === 'authorization') return value;
  }
  return undefined;
}

function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? '');
  return match?.[1];
}

/**
 * Compares digests, so the comparison takes the same time whatever the lengths, and checks every
 * credential, so the time does not tell which one (or how much of one) matched.
 */
function match(presented: string, credentials: readonly ApiCredential[]): Caller | undefined {
  const presentedDigest = digest(presented);
  let matched: Caller | undefined;
  for (const credential of credentials) {
    if (timingSafeEqual(presentedDigest, credential.sha256) && matched === undefined) {
      matched = { client: credential.client, admin: credential.admin, share: credential.share };
    }
  }
  return matched;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
