import { join, relative } from 'node:path';
import { LOCAL_DATA_DIR, runningStackInfo } from '../local/stack-info.ts';

/** Where the CLI sends its requests, and as whom. */
export interface ApiTarget {
  /** The API root, without a trailing slash. */
  apiUrl: string;
  headers: Record<string, string>;
  /** Where it came from, for messages: `SORA_API_URL` or the local stack. */
  description: string;
  /** Where the token came from, for a refusal: `SORA_API_TOKEN` or the local stack's stack.json. */
  tokenSource: string;
  /** Set for the local stack: `npm run generate` can drive it. */
  dataDir?: string;
}

/** A problem the user can fix (a flag, the environment, a missing stack): exit code 2. */
export class CliUsageError extends Error {
  override name = 'CliUsageError';
}

/**
 * A deployed API (`SORA_API_URL` and `SORA_API_TOKEN`) when set, else the running local stack
 * (`.local/stack.json` of `npm start`), as its default client or the named `client`.
 */
export async function resolveApiTarget(
  env: Readonly<Record<string, string | undefined>>,
  options: { client?: string | undefined; dataDir?: string | undefined },
): Promise<ApiTarget> {
  const url = env.SORA_API_URL?.trim();
  if (url) {
    const token = env.SORA_API_TOKEN?.trim();
    if (!token) throw new CliUsageError('SORA_API_URL is set but SORA_API_TOKEN is not');
    if (options.client !== undefined) {
      throw new CliUsageError(
        '--client is for the local stack; with SORA_API_URL the token decides',
      );
    }
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new CliUsageError(`SORA_API_URL is not a URL: "${url}"`);
    }
    return {
      apiUrl: parsed.toString().replace(/\/+$/, ''),
      headers: { Authorization: `Bearer ${token}` },
      description: `SORA_API_URL (${parsed.host})`,
      tokenSource: "SORA_API_TOKEN (it must be one of the deployment's API tokens)",
    };
  }
  const dataDir = options.dataDir ?? LOCAL_DATA_DIR;
  const info = await runningStackInfo(dataDir);
  if (!info) {
    throw new CliUsageError(
      'no API to talk to: start the local stack (npm start) or set SORA_API_URL and SORA_API_TOKEN',
    );
  }
  let headers = info.headers;
  if (options.client !== undefined) {
    const client = info.clients?.[options.client];
    if (!client) {
      const known = Object.keys(info.clients ?? {}).join(', ') || 'none';
      throw new CliUsageError(
        `the local stack has no client "${options.client}" (it has: ${known}; npm start -- --clients ${options.client})`,
      );
    }
    headers = client.headers;
  }
  const stackFile = relative(process.cwd(), join(dataDir, 'stack.json')) || 'stack.json';
  return {
    apiUrl: info.apiUrl,
    headers,
    description: `the local stack at ${info.apiUrl}`,
    tokenSource: `${options.client === undefined ? 'the token' : `client ${options.client}'s token`} in ${stackFile} (npm start writes it; --data-dir names another stack's)`,
    dataDir,
  };
}
