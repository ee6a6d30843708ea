import type { IncomingMessage } from 'node:http';
import { ApiError } from './api-error.ts';

/**
 * Bearer auth, or Azure OpenAI's `api-key` header: any non-empty key, or only `apiKey` when one
 * is configured.
 */
export function authorize(req: IncomingMessage, apiKey: string | null): void {
  const azureKey = req.headers['api-key'];
  const match = /^Bearer\s+(\S.*)$/i.exec(req.headers.authorization ?? '');
  const token =
    typeof azureKey === 'string' && azureKey.trim() ? azureKey.trim() : match?.[1]?.trim();
  if (!token) {
    throw invalidApiKey(
      "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
    );
  }
  if (apiKey !== null && token !== apiKey) {
    throw invalidApiKey(`Incorrect API key provided: ${redact(token)}.`);
  }
}

const invalidApiKey = (message: string): ApiError =>
  new ApiError(401, { message, type: 'invalid_request_error', code: 'invalid_api_key' });

const redact = (token: string): string =>
  token.length <= 8 ? '****' : `${token.slice(0, 3)}****${token.slice(-4)}`;
