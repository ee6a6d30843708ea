import type { APIGatewayProxyEventV2 } from 'aws-lambda';
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
}

/** Client names: short, lowercase, and free of the `:` and `@` that idempotency records use. */
export const CLIENT_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/**
 * The caller of a request. A context without a valid client name (an authorizer from before
 * clients existed) is the default client, never an admin: the safe reading.
 */
export function callerOf(event: APIGatewayProxyEventV2): Caller {
  const { authorizer } = event.requestContext as { authorizer?: { lambda?: unknown } };
  const context = authorizer?.lambda;
  if (typeof context !== 'object' || context === null) {
    return { client: DEFAULT_CLIENT, admin: false };
  }
  const { client, admin } = context as { client?: unknown; admin?: unknown };
  return {
    client:
      typeof client === 'string' && CLIENT_NAME_PATTERN.test(client) ? client : DEFAULT_CLIENT,
    // The context travels as JSON values; API Gateway may hand booleans back as strings.
    admin: admin === true || admin === 'true',
  };
}
