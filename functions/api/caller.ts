import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import {
  type ClientShare,
  clientShareSchema,
  DEFAULT_SHARE,
  shareOf,
} from '../shared/admission/client-share.ts';
import { DEFAULT_CLIENT } from '../shared/jobs/job.ts';

/**
 * Who sent a request, as the authorizer decided (token-authorizer.ts puts it in the context of
 * its simple response; API Gateway hands it to the function at
 * `requestContext.authorizer.lambda`).
 */
export interface Caller {
  /** The named client the token belongs to. */
  client: string;
  /** An admin token sees, cancels and downloads every client's jobs. */
  admin: boolean;
  /** The client's share of the deployment, from its entry in the tokens secret. */
  share: ClientShare;
}

/**
 * The authorizer's context as API Gateway carries it: flat string, number and boolean values
 * only, so the share travels as its own fields (absent ones unset).
 */
export interface CallerContext {
  client: string;
  admin: boolean;
  weight?: number;
  maxConcurrent?: number;
  dailyBudgetUsd?: number;
}

/** Client names: short, lowercase, and free of the `:` and `@` that idempotency records use. */
export const CLIENT_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** What the authorizer puts in its context for a caller (`callerOf` reads it back). */
export function callerContext(caller: Caller): CallerContext {
  return { client: caller.client, admin: caller.admin, ...caller.share };
}

/**
 * The caller of a request. A context without a valid client name (an authorizer from before
 * clients existed) is the default client, never an admin: the safe reading. A context without a
 * share (an authorizer from before shares) has the default share; so has one whose share does
 * not read back, which `onMalformedShare` is told about (naming the field, never its value)
 * rather than failing the request.
 */
export function callerOf(
  event: APIGatewayProxyEventV2,
  onMalformedShare?: (field: string) => void,
): Caller {
  const { authorizer } = event.requestContext as { authorizer?: { lambda?: unknown } };
  const context = authorizer?.lambda;
  if (typeof context !== 'object' || context === null) {
    return { client: DEFAULT_CLIENT, admin: false, share: { ...DEFAULT_SHARE } };
  }
  const { client, admin } = context as { client?: unknown; admin?: unknown };
  return {
    client:
      typeof client === 'string' && CLIENT_NAME_PATTERN.test(client) ? client : DEFAULT_CLIENT,
    // The context travels as JSON values; API Gateway may hand booleans back as strings.
    admin: admin === true || admin === 'true',
    share: shareFromContext(context as Record<string, unknown>, onMalformedShare),
  };
}

function shareFromContext(
  context: Record<string, unknown>,
  onMalformedShare: ((field: string) => void) | undefined,
): ClientShare {
  const settings: Record<string, unknown> = {};
  for (const field of Object.keys(clientShareSchema.shape)) {
    const value = context[field];
    // Numbers may come back as strings, as booleans do.
    if (value !== undefined) settings[field] = numeric(value);
  }
  const result = clientShareSchema.safeParse(settings);
  if (result.success) return shareOf(result.data);
  onMalformedShare?.(result.error.issues[0]?.path.map(String).join('.') ?? 'share');
  return { ...DEFAULT_SHARE };
}

function numeric(value: unknown): unknown {
  if (typeof value !== 'string' || value.trim() === '') return value;
  const number = Number(value);
  return Number.isFinite(number) ? number : value;
}
