import { LocalStackError } from './local-errors.ts';
import type { RealProvider } from './local-stack.ts';

const CHECK_TIMEOUT_MS = 5_000;

/**
 * Checks a real provider before the stack starts, with the cheapest call of the protocol
 * (`GET /videos?limit=1`, which starts nothing and costs nothing): a wrong host, a base URL
 * without its `/v1`, or a refused key is then one line at start, not a retried "list" error
 * after a minute. Throws a `provider-unreachable` LocalStackError with a hint; any answer that
 * proves the endpoint exists and takes the key passes.
 */
export async function checkProvider(
  provider: Pick<RealProvider, 'baseUrl' | 'apiKey' | 'authHeader'>,
  timeoutMs = CHECK_TIMEOUT_MS,
): Promise<void> {
  const baseUrl = provider.baseUrl.replace(/\/+$/, '');
  const url = `${baseUrl}/videos?limit=1`;
  // The key the way the functions will send it: Azure OpenAI takes it as `api-key`.
  const auth =
    provider.authHeader === 'api-key'
      ? { 'api-key': provider.apiKey }
      : { authorization: `Bearer ${provider.apiKey}` };
  let response: Response;
  try {
    response = await fetch(url, {
      headers: { ...auth, accept: 'application/json' },
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'manual',
    });
    await response.arrayBuffer();
  } catch (error) {
    throw new LocalStackError(
      'provider-unreachable',
      `PROVIDER_BASE_URL ${baseUrl} cannot be reached (${networkReason(error)}); check its host and port`,
      { cause: error },
    );
  }
  const status = response.status;
  if (status === 404 || status === 405) {
    const hint = /\/v\d+$/.test(baseUrl)
      ? 'is it a /v1/videos provider?'
      : `it usually ends in its version, e.g. ${baseUrl}/v1`;
    throw new LocalStackError(
      'provider-unreachable',
      `PROVIDER_BASE_URL ${baseUrl} has no /videos endpoint (GET ${status}); ${hint}`,
    );
  }
  if (status === 401 || status === 403) {
    throw new LocalStackError(
      'provider-unreachable',
      `the provider at ${baseUrl} refused PROVIDER_API_KEY (${status}); check the key`,
    );
  }
  if (status >= 300 && status < 400) {
    throw new LocalStackError(
      'provider-unreachable',
      `PROVIDER_BASE_URL ${baseUrl} redirects (${status} to ${response.headers.get('location') ?? '?'}); use the URL it redirects to`,
    );
  }
}

function networkReason(error: unknown): string {
  if (error instanceof Error && error.name === 'TimeoutError') {
    return `no answer within ${CHECK_TIMEOUT_MS / 1000} s`;
  }
  let link: unknown = error;
  for (let depth = 0; link instanceof Error && depth < 5; depth += 1) {
    const code = (link as NodeJS.ErrnoException).code;
    if (typeof code === 'string') return code;
    link = link.cause;
  }
  return error instanceof Error ? error.message : String(error);
}
