import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { dataDirHolder } from '../../infra/local/data-dir-lock.ts';
import { cliEnv } from '../support/cli-env.ts';
import { leftoverProcesses } from '../support/stack-processes.ts';

// Ctrl-C in a real terminal: the terminal sends SIGINT to its whole foreground process group,
// npm and the node it runs (which the npm scripts `exec`), and npm passes its own copy on to
// node. So node sees one keypress twice, a moment apart, unless the kernel merges the two
// because the first is still pending when the copy is sent (it depends on scheduling). Here npm
// runs in a process group of its own (`detached`), the group gets the SIGINT as a terminal sends
// it, and then node gets npm's copy for sure, a moment later.
const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));
// A stack start takes 20 s or more on a loaded two-core machine; the bound only turns a hang
// into a failure.
const TIMEOUT = { timeout: 240_000 };

const groups = new Set<ChildProcess>();

afterAll(async () => {
  for (const child of groups) {
    if (child.exitCode === null && child.signalCode === null && child.pid) {
      process.kill(-child.pid, 'SIGTERM');
      await once(child, 'exit');
    }
  }
});

/** `npm <args>` in a process group of its own, its output collected. */
function npmInItsOwnGroup(args: string[]) {
  const npm = spawn('npm', args, {
    cwd: PROJECT_ROOT,
    env: cliEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  groups.add(npm);
  let output = '';
  const exited = once(npm, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
  };
  npm.stdout?.on('data', collect);
  npm.stderr?.on('data', collect);
  return {
    output: () => output,
    exited,
    async until(pattern: RegExp): Promise<void> {
      const failed = exited.then(([code]) => {
        throw new Error(`npm ${args[0]} exited with ${code} before ${pattern}: ${output}`);
      });
      failed.catch(() => {});
      while (!pattern.test(output)) {
        await Promise.race([new Promise((resolve) => setTimeout(resolve, 50)), failed]);
      }
    },
    /** SIGINT to npm's whole process group, as a terminal sends it on Ctrl-C. */
    ctrlC() {
      process.kill(-(npm.pid ?? 0), 'SIGINT');
    },
  };
}

/** The node process running the stack on `dir` (it holds the data directory's lock). */
async function stackPid(dir: string): Promise<number> {
  const holder = await dataDirHolder(dir);
  if (!holder) throw new Error(`no stack holds ${dir}`);
  return holder.pid;
}

/** npm's forwarded copy of a SIGINT, to node (unless it has stopped already). */
function forwardedCopy(pid: number): void {
  try {
    process.kill(pid, 'SIGINT');
  } catch (error) {
    // Stopped already: nothing to forward to.
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

describe('Ctrl-C in a terminal', TIMEOUT, () => {
  it('npm start stops cleanly: exit 0, stack.json removed, nothing left running', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sora-ctrl-c-start-'));
    const npm = npmInItsOwnGroup([
      'start',
      '--',
      '--port',
      '0',
      '--speed',
      '50',
      '--data-dir',
      dir,
    ]);
    await npm.until(/Ctrl-C stops everything/);
    expect(existsSync(join(dir, 'stack.json'))).toBe(true);
    const node = await stackPid(dir);

    npm.ctrlC();
    await npm.until(/SIGINT: stopping the local stack/);
    forwardedCopy(node);
    const [code] = await npm.exited;

    expect(npm.output()).toContain('SIGINT: stopping the local stack...');
    expect(npm.output()).toContain('Stopped; nothing left running.');
    expect(npm.output()).not.toContain('Stopping anyway');
    expect(code).toBe(0);
    expect(existsSync(join(dir, 'stack.json'))).toBe(false);
    expect(await leftoverProcesses(dir)).toEqual([]);
    await rm(dir, { recursive: true, force: true });
  });
});
