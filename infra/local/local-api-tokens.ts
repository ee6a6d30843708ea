import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CLIENT_NAME_PATTERN } from '../../functions/api/caller.ts';
import { tokenSha256 } from '../../functions/api/token-authorizer.ts';
import type { ClientShareSettings } from '../../functions/shared/admission/client-share.ts';
import { DEFAULT_CLIENT } from '../../functions/shared/jobs/job.ts';
import { LocalStackError } from './local-errors.ts';

/** The local stack's admin client: sees, cancels and downloads every client's jobs. */
export const LOCAL_ADMIN_CLIENT = 'admin';

/** The bearer tokens of the local stack: the default client's, the admin's and each named one's. */
export interface LocalApiTokens {
  /** The default client's token (`headers` of stack.json, `api-token` in the data dir). */
  token: string;
  /** Named clients (the admin among them) and their tokens. */
  clients: Record<string, string>;
  /** The API tokens secret as the authorizer reads it (only hashes for named clients). */
  secret: string;
}

/**
 * Checks `--clients` names: the authorizer's name rule, not `default` (the token in `headers`)
 * nor `admin` (always created), no repeats.
 */
export function parseClientNames(value: string | undefined): string[] {
  if (value === undefined || value.trim() === '') return [];
  const names = value.split(',').map((name) => name.trim());
  for (const name of names) {
    if (!CLIENT_NAME_PATTERN.test(name)) {
      throw new LocalStackError(
        'invalid-option',
        `--clients: "${name}" is not a client name (lowercase letters, digits, _ and -, up to 63)`,
      );
    }
    if (name === DEFAULT_CLIENT || name === LOCAL_ADMIN_CLIENT) {
      throw new LocalStackError(
        'invalid-option',
        `--clients: "${name}" is reserved (the stack always has the ${DEFAULT_CLIENT} and ${LOCAL_ADMIN_CLIENT} clients)`,
      );
    }
  }
  const repeated = names.find((name, i) => names.indexOf(name) !== i);
  if (repeated !== undefined) {
    throw new LocalStackError('invalid-option', `--clients: "${repeated}" is named twice`);
  }
  return names;
}

const freshToken = () => `local-${randomBytes(18).toString('base64url')}`;

/**
 * The tokens for this start: kept in the data directory (`api-token` for the default client,
 * `api-tokens.json` for the named ones), so a restart keeps them; a client named for the first
 * time gets a new one. Without a data directory every token is new. The secret carries each
 * client's share settings (`--client-settings`, checked by the caller) beside its hash, as on
 * AWS; they are not kept: each start says its own.
 */
export async function localApiTokens(
  dataDir: string | null,
  clientNames: readonly string[],
  clientSettings: Readonly<Record<string, ClientShareSettings>> = {},
): Promise<LocalApiTokens> {
  const saved = dataDir ? await readSaved(dataDir) : { token: undefined, clients: {} };
  const token = saved.token ?? freshToken();
  const clients: Record<string, string> = {};
  for (const name of [LOCAL_ADMIN_CLIENT, ...clientNames]) {
    clients[name] = saved.clients[name] ?? freshToken();
  }
  if (dataDir) {
    await mkdir(dataDir, { recursive: true });
    await writeFile(join(dataDir, 'api-token'), `${token}\n`, { mode: 0o600 });
    const kept = { ...saved.clients, ...clients };
    await writeFile(join(dataDir, 'api-tokens.json'), `${JSON.stringify(kept, null, 2)}\n`, {
      mode: 0o600,
    });
  }
  const secretClients = Object.fromEntries(
    Object.entries(clients).map(([name, clientToken]) => [
      name,
      {
        tokenSha256: tokenSha256(clientToken),
        admin: name === LOCAL_ADMIN_CLIENT,
        ...clientSettings[name],
      },
    ]),
  );
  return { token, clients, secret: JSON.stringify({ tokens: [token], clients: secretClients }) };
}

async function readSaved(
  dataDir: string,
): Promise<{ token: string | undefined; clients: Record<string, string> }> {
  let token: string | undefined;
  try {
    token = (await readFile(join(dataDir, 'api-token'), 'utf8')).trim() || undefined;
  } catch {
    // first start
  }
  let clients: Record<string, string> = {};
  try {
    const parsed: unknown = JSON.parse(await readFile(join(dataDir, 'api-tokens.json'), 'utf8'));
    if (typeof parsed === 'object' && parsed !== null) {
      clients = Object.fromEntries(
        Object.entries(parsed).filter((entry): entry is [string, string] => {
          return typeof entry[1] === 'string' && entry[1] !== '';
        }),
      );
    }
  } catch {
    // first start with named clients
  }
  return { token, clients };
}

/**
 * The root of the webhook signing secrets (AWS: the WebhookSigningSecret), kept in the data
 * directory so clients' `whsec_` secrets survive a restart.
 */
export async function localWebhookSigningSecret(dataDir: string | null): Promise<string> {
  const fresh = randomBytes(32).toString('base64url');
  if (!dataDir) return fresh;
  const path = join(dataDir, 'webhook-signing-secret');
  try {
    const saved = (await readFile(path, 'utf8')).trim();
    if (saved) return saved;
  } catch {
    // first start
  }
  await mkdir(dataDir, { recursive: true });
  await writeFile(path, `${fresh}\n`, { mode: 0o600 });
  return fresh;
}
