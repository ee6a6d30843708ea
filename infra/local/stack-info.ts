import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LocalStackInfo } from './local-stack.ts';

/** `.local/` at the project root: the local stack's data, token and stack.json. */
export const LOCAL_DATA_DIR = fileURLToPath(new URL('../../.local', import.meta.url));

export const stackInfoPath = (dataDir: string) => join(dataDir, 'stack.json');

export async function writeStackInfo(dataDir: string, info: LocalStackInfo): Promise<void> {
  await mkdir(dataDir, { recursive: true });
  await writeFile(stackInfoPath(dataDir), `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
}

/** Removes stack.json if it still describes the stack at `apiUrl` (never another stack's). */
export async function removeStackInfo(dataDir: string, apiUrl: string): Promise<void> {
  const written = await readFile(stackInfoPath(dataDir), 'utf8').catch(() => '');
  let writtenUrl: unknown;
  try {
    writtenUrl = (JSON.parse(written) as { apiUrl?: unknown }).apiUrl;
  } catch {
    return;
  }
  if (writtenUrl === apiUrl) await rm(stackInfoPath(dataDir), { force: true });
}

/** The stack.json of a running `npm start`, or undefined when there is none or it does not answer. */
export async function runningStackInfo(dataDir: string): Promise<LocalStackInfo | undefined> {
  let info: LocalStackInfo;
  try {
    info = JSON.parse(await readFile(stackInfoPath(dataDir), 'utf8')) as LocalStackInfo;
  } catch {
    return undefined;
  }
  if (typeof info.apiUrl !== 'string' || typeof info.headers !== 'object') return undefined;
  try {
    const response = await fetch(`${info.apiUrl}/videos?limit=1`, {
      headers: info.headers,
      signal: AbortSignal.timeout(2_000),
    });
    await response.arrayBuffer();
    return response.ok ? info : undefined;
  } catch {
    return undefined;
  }
}
