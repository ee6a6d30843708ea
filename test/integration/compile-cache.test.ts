import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../infra/project-root.ts';

/** The compile cache directory a fresh node reports after `useCompileCache()`, given its env. */
async function cacheDirWith(env: Record<string, string>): Promise<string> {
  const script = `
    const { useCompileCache } = await import('./infra/local/compile-cache.ts');
    const { getCompileCacheDir } = await import('node:module');
    useCompileCache();
    console.log(getCompileCacheDir() ?? 'none');
  `;
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const name of ['NODE_COMPILE_CACHE', 'NODE_DISABLE_COMPILE_CACHE']) {
    if (!(name in env)) delete childEnv[name];
  }
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--input-type=module', '-e', script],
    { cwd: PROJECT_ROOT, env: childEnv },
  );
  return stdout.trim();
}

describe('useCompileCache (npm run generate, npm start)', () => {
  it("caches compiled modules beside the project's dependencies", async () => {
    expect(await cacheDirWith({})).toMatch(
      new RegExp(
        `^${join(PROJECT_ROOT, 'node_modules', '.cache', 'sora-pipeline', 'node-compile')}`,
      ),
    );
  });

  it("leaves the user's NODE_COMPILE_CACHE and NODE_DISABLE_COMPILE_CACHE in charge", async () => {
    const own = await mkdtemp(join(tmpdir(), 'compile-cache-'));
    try {
      expect(await cacheDirWith({ NODE_COMPILE_CACHE: own })).toMatch(new RegExp(`^${own}`));
      expect(await cacheDirWith({ NODE_DISABLE_COMPILE_CACHE: '1' })).toBe('none');
    } finally {
      await rm(own, { recursive: true, force: true });
    }
  });
});
