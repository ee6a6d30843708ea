import { readFileSync, unlinkSync } from 'node:fs';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LocalStackError } from './local-errors.ts';

/**
 * One local stack per data directory: two on the same DynamoDB files and S3 folder corrupt each
 * other's data (and one's stop deleted the other's stack.json). The lock is a file holding the
 * owner's pid, created exclusively; a lock whose pid is gone (a stack killed with SIGKILL) is
 * stale and taken over.
 */

export const LOCK_FILE = 'stack.lock';

export interface DataDirLockHolder {
  pid: number;
  /** Which command holds it, e.g. `npm start`, `npm run generate`. */
  owner: string;
  /** The stack's API once it serves (absent while it starts). */
  apiUrl?: string;
}

export interface DataDirLock {
  /** Records the API URL in the lock once the stack serves, for the next one's message. */
  ready(apiUrl: string): Promise<void>;
  release(): Promise<void>;
}

/** A lock file younger than this with no readable pid is being written, not stale. */
const WRITING_GRACE_MS = 2_000;

/**
 * Takes the data directory for this process, or throws a `stack-running` LocalStackError in one
 * line naming the directory and the running stack (its pid and API URL, or that it is starting).
 */
export async function lockDataDir(dataDir: string, owner: string): Promise<DataDirLock> {
  await mkdir(dataDir, { recursive: true });
  const path = join(dataDir, LOCK_FILE);
  const mine: DataDirLockHolder = { pid: process.pid, owner };
  while (!(await createExclusively(path, JSON.stringify(mine)))) {
    const holder = await dataDirHolder(dataDir);
    if (holder) throw stackRunning(dataDir, holder);
    // Stale (its process is gone): take it over.
    await rm(path, { force: true });
  }
  // Released on any exit, a crash included; SIGKILL leaves a stale lock the next start takes.
  const releaseOnExit = () => {
    if (ownsLock(readFileSync(path, { encoding: 'utf8', flag: 'r' }))) unlinkSync(path);
  };
  const safely = (action: () => void) => {
    try {
      action();
    } catch {
      // already gone
    }
  };
  const onExit = () => safely(releaseOnExit);
  process.once('exit', onExit);
  return {
    async ready(apiUrl) {
      await writeFile(path, JSON.stringify({ ...mine, apiUrl }), { mode: 0o600 });
    },
    async release() {
      process.removeListener('exit', onExit);
      safely(releaseOnExit);
    },
  };
}

/** The live process holding the data directory, if any (this process excluded). */
export async function dataDirHolder(dataDir: string): Promise<DataDirLockHolder | undefined> {
  const path = join(dataDir, LOCK_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  const holder = parseHolder(text);
  if (!holder) {
    // Created but not yet written by a stack starting right now, or garbage left behind.
    const age = await stat(path).then(
      (stats) => Date.now() - stats.mtimeMs,
      () => Number.POSITIVE_INFINITY,
    );
    return age < WRITING_GRACE_MS ? { pid: 0, owner: 'another local stack' } : undefined;
  }
  if (holder.pid === process.pid || !isAlive(holder.pid)) return undefined;
  return holder;
}

/** The one line a second stack on the same directory ends with. */
export function stackRunning(dataDir: string, holder: DataDirLockHolder): LocalStackError {
  const pid = holder.pid ? `pid ${holder.pid}, ` : '';
  const where = holder.apiUrl ? `API ${holder.apiUrl}` : 'still starting';
  return new LocalStackError(
    'stack-running',
    `a local stack (${holder.owner}, ${pid}${where}) already uses ${dataDir}; stop it first, or pass another --data-dir`,
  );
}

async function createExclusively(path: string, text: string): Promise<boolean> {
  try {
    await writeFile(path, text, { flag: 'wx', mode: 0o600 });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

function ownsLock(text: string): boolean {
  return parseHolder(text)?.pid === process.pid;
}

function parseHolder(text: string): DataDirLockHolder | undefined {
  try {
    const value = JSON.parse(text) as Partial<DataDirLockHolder>;
    if (typeof value.pid !== 'number' || !Number.isInteger(value.pid) || value.pid <= 0) {
      return undefined;
    }
    return {
      pid: value.pid,
      owner: typeof value.owner === 'string' ? value.owner : 'another local stack',
      ...(typeof value.apiUrl === 'string' ? { apiUrl: value.apiUrl } : {}),
    };
  } catch {
    return undefined;
  }
}

/** Whether a process with this pid exists (a lock's holder, a claim's). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
