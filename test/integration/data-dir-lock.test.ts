import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LOCK_FILE, lockDataDir } from '../../infra/local/data-dir-lock.ts';
import { connectToStack } from '../../infra/local/generate-command.ts';
import { LocalStackError } from '../../infra/local/local-errors.ts';
import { removeStackInfo, stackInfoPath } from '../../infra/local/stack-info.ts';

// The data-directory lock between processes: another live process is faked by a `sleep` whose
// pid the lock file names (as a running `npm start` would have written it).

let dir: string;
let other: ChildProcess | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sora-lock-'));
});

afterEach(async () => {
  if (other && other.exitCode === null && other.signalCode === null) {
    other.kill('SIGKILL');
    await once(other, 'exit');
  }
  other = undefined;
  await rm(dir, { recursive: true, force: true });
});

async function heldByAnotherProcess(holder: { owner: string; apiUrl?: string }): Promise<number> {
  other = spawn('sleep', ['60'], { stdio: 'ignore' });
  const pid = other.pid ?? 0;
  await writeFile(join(dir, LOCK_FILE), JSON.stringify({ pid, ...holder }));
  return pid;
}

describe('the data-directory lock', () => {
  it("refuses a second stack in one line naming the directory, the holder's pid and its API", async () => {
    const pid = await heldByAnotherProcess({ owner: 'npm start', apiUrl: 'http://127.0.0.1:4000' });

    const attempt = lockDataDir(dir, 'npm start');

    await expect(attempt).rejects.toBeInstanceOf(LocalStackError);
    await expect(attempt).rejects.toThrow(
      `a local stack (npm start, pid ${pid}, API http://127.0.0.1:4000) already uses ${dir}; stop it first, or pass another --data-dir`,
    );
  });

  it('says a holder without an API yet is still starting', async () => {
    await heldByAnotherProcess({ owner: 'npm run generate' });

    await expect(lockDataDir(dir, 'npm start')).rejects.toThrow(
      /npm run generate, pid \d+, still starting/,
    );
  });

  it('takes over the lock of a process that is gone, and releases only its own', async () => {
    await heldByAnotherProcess({ owner: 'npm start' });
    other?.kill('SIGKILL');
    if (other) await once(other, 'exit');

    const lock = await lockDataDir(dir, 'npm start');
    const held = JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8')) as { pid: number };
    await lock.release();

    expect(held.pid).toBe(process.pid);
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  });

  it("never removes another stack's stack.json", async () => {
    await writeFile(stackInfoPath(dir), JSON.stringify({ apiUrl: 'http://127.0.0.1:4001' }));

    await removeStackInfo(dir, 'http://127.0.0.1:4000');
    const kept = existsSync(stackInfoPath(dir));
    await removeStackInfo(dir, 'http://127.0.0.1:4001');

    expect(kept).toBe(true);
    expect(existsSync(stackInfoPath(dir))).toBe(false);
  });
});

describe('npm run generate and a stack that is starting', () => {
  let api: Server;
  let apiUrl: string;

  beforeEach(async () => {
    // Answers what `generate` asks to know a stack serves: GET /videos?limit=1.
    api = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"videos":[]}');
    });
    api.listen(0, '127.0.0.1');
    await once(api, 'listening');
    apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    await new Promise((resolve) => api.close(resolve));
  });

  it('says it waits for the starting npm start, then uses it once it serves', async () => {
    await heldByAnotherProcess({ owner: 'npm start' });
    const said: string[] = [];
    let resolveWaiting = () => {};
    const waiting = new Promise<void>((resolve) => {
      resolveWaiting = resolve;
    });

    const connecting = connectToStack(dir, {
      say: (line) => {
        said.push(line);
        if (line.includes('waiting for it')) resolveWaiting();
      },
    });
    await waiting;
    const info = { apiUrl, headers: { Authorization: 'Bearer t' } };
    await writeFile(stackInfoPath(dir), JSON.stringify(info));
    const connection = await connecting;

    expect(said[0]).toMatch(
      /^A local stack is starting on .* \(npm start, pid \d+\); waiting for it/,
    );
    expect(said.at(-1)).toBe(`Using the running local stack at ${apiUrl}`);
    expect(connection.info.apiUrl).toBe(apiUrl);
    expect(connection.embedded).toBeUndefined();
  });

  it("refuses another command's stack on the directory in one line", async () => {
    await heldByAnotherProcess({ owner: 'npm run generate', apiUrl: 'http://127.0.0.1:9' });

    const attempt = connectToStack(dir, { say: () => {} });

    await expect(attempt).rejects.toMatchObject({ code: 'stack-running' });
  });
});
