import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Runs the CDK app as `cdk synth` does (context in CDK_CONTEXT_JSON, cdk.json's included). */
async function synthWith(context: Record<string, string>) {
  const cdkJson = JSON.parse(await readFile(join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as {
    context?: Record<string, unknown>;
  };
  const outdir = await mkdtemp(join(tmpdir(), 'sora-context-errors-'));
  const child = spawn(process.execPath, ['infra/app.ts'], {
    cwd: PROJECT_ROOT,
    env: {
      ...process.env,
      CDK_OUTDIR: outdir,
      CDK_CONTEXT_JSON: JSON.stringify({ ...cdkJson.context, bundle: 'false', ...context }),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdout.resume();
  const [code] = (await once(child, 'exit')) as [number | null];
  await rm(outdir, { recursive: true, force: true });
  return { code, lines: stderr.trim().split('\n') };
}

describe('cdk synth with a bad context value', () => {
  it.each([
    ['limits:maxConcurrentJobs', 'many'],
    ['provider:timeoutMs', 'soon'],
    ['provider:models', '{oops'],
    ['schedule:expression', 'every minute'],
  ])('fails in one line naming %s', async (key, value) => {
    const { code, lines } = await synthWith({ [key]: value });

    expect(code).toBe(1);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`context ${key}`);
    expect(lines[0]).not.toMatch(/ZodError|at \S+ \(|MAX_CONCURRENT_JOBS/);
  });
});
