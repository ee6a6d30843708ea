import { createHash, timingSafeEqual } from 'node:crypto';
import type {
  APIGatewayRequestAuthorizerEventV2,
  APIGatewaySimpleAuthorizerResult,
} from 'aws-lambda';
import * as z from 'zod/mini';
import '../shared/schema-messages.ts';

/** The API tokens secret is not JSON of the form `{"tokens":["..."]}`. */
export class ApiTokensSecretError extends Error {
  override name = 'ApiTokensSecretError';
}

const tokensSecretSchema = z.object({ tokens: z.array(z.string().check(z.minLength(1))) });

/** Parses the API tokens secret; the error never quotes the secret's content. */
export function parseApiTokens(secretString: string): string[] {
  let json: unknown;
  try {
    json = JSON.parse(secretString);
  } catch {
    throw new ApiTokensSecretError('API tokens secret is not JSON');
  }
  const result = tokensSecretSchema.safeParse(json);
  if (!result.success) {
    throw new ApiTokensSecretError('API tokens secret must be {"tokens":["..."]}');
  }
  return result.data.tokens;
}

export interface AuthorizerDeps {
  /** The accepted tokens (cached by the caller: this runs on every uncached request). */
  readTokens: () => Promise<readonly string[]>;
}

export type AuthorizerHandler = (
  event: APIGatewayRequestAuthorizerEventV2,
) => Promise<APIGatewaySimpleAuthorizerResult>;

/**
 * HTTP API REQUEST authorizer with simple responses: `Authorization: Bearer <token>` must equal
 * one of the tokens. A missing or malformed header is denied without reading the secret; a
 * secret that cannot be read throws (API Gateway answers 500), which fails closed.
 */
export function createAuthorizerHandler(deps: AuthorizerDeps): AuthorizerHandler {
  return async (event) => {
    const presented = bearerToken(authorizationHeader(event));
    if (presented === undefined) return { isAuthorized: false };
    const tokens = await deps.readTokens();
    return { isAuthorized: matchesAny(presented, tokens) };
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
 * token, so the time does not tell which one (or how much of one) matched.
 */
function matchesAny(presented: string, tokens: readonly string[]): boolean {
  const presentedDigest = digest(presented);
  let matched = false;
  for (const token of tokens) {
    if (timingSafeEqual(presentedDigest, digest(token))) matched = true;
  }
  return matched;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
