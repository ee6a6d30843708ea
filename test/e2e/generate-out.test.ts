import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// `npm run generate -- --out /proc/nope`: the directory looks writable (root may write
// anywhere) but nothing can be created under /proc. It is refused before the job is submitted
// (and paid for), not after the render, where saving used to spin forever in a mkdir loop.
const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sora-generate-out-'));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('npm run generate --out', () => {
  it.skipIf(!existsSync('/proc/self'))(
    'refuses a directory that cannot be created before submitting anything, naming --out',
    async () => {
      const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
      for (const name of ['PROVIDER_BASE_URL', 'PROVIDER_API_KEY', 'POWERTOOLS_LOG_LEVEL']) {
        delete env[name];
      }
      const child = spawn(
        process.execPath,
        ['infra/local/generate.ts', 'A cat', '--data-dir', dir, '--out', '/proc/nope'],
        { cwd: PROJECT_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
      });
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      const [code] = (await once(child, 'exit')) as [number | null];

      expect(code).toBe(1);
      // As root the stack starts and the directory is refused when created; otherwise /proc
      // is refused as not writable before any stack starts.
      expect(stderr.trim().split('\n')).toEqual([
        expect.stringMatching(/^generate: --out \/proc\/nope: /),
      ]);
      expect(stdout).not.toMatch(/submitted/);
      // No job ever changed state on the stack it started.
      const events = await readFile(join(dir, 'events.jsonl'), 'utf8').catch(() => '');
      expect(events).toBe('');
    },
    // One stack start (20 s or more on a loaded machine); before the fix this never ended.
    180_000,
  );
});
