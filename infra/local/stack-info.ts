import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LocalStackInfo } from './local-stack.ts';

/** `.local/` at the project root: the local stack's data, token and stack.json. */
export const LOCAL_DATA_DIR = fileURLToPath(new URL('../../.local', import.meta.url));
export const STACK_INFO_PATH = join(LOCAL_DATA_DIR, 'stack.json');

export async function writeStackInfo(info: LocalStackInfo, path = STACK_INFO_PATH): Promise<void> {
  await writeFile(path, `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
}

export async function removeStackInfo(path = STACK_INFO_PATH): Promise<void> {
  await rm(path, { force: true });
}

/** The stack.json of a running `npm start`, or undefined when there is none or it does not answer. */
export async function runningStackInfo(
  path = STACK_INFO_PATH,
): Promise<LocalStackInfo | undefined> {
  let info: LocalStackInfo;
  try {
    info = JSON.parse(await readFile(path, 'utf8')) as LocalStackInfo;
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
    return response.status < 500 ? info : undefined;
  } catch {
    return undefined;
  }
}
