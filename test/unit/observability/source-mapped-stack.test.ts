import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  mapErrorStack,
  sourceMappedStack,
} from '../../../functions/shared/observability/source-mapped-stack.ts';
import { bundleFunction } from '../../../infra/constructs/function-bundle.ts';

const execFileAsync = promisify(execFile);

// A handler bundled the way deployments are (minified, maps beside the files), whose error
// stack points into index.mjs until it is mapped.
const SOURCE = `export async function handler(): Promise<never> {
  const reason = 'the provider answered 500';
  throw new Error(reason);
}
`;
const THROW_LINE = 3;

let dir: string;
let bundled: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'sora-mapped-stack-'));
  writeFileSync(path.join(dir, 'failing-task.ts'), SOURCE);
  bundleFunction(path.join(dir, 'failing-task.ts'), path.join(dir, 'out'));
  bundled = path.join(dir, 'out', 'index.mjs');
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/**
 * The error of the bundled handler, as a process without --enable-source-maps (Lambda's, now)
 * reports it: this test process maps stacks itself, so the bundle runs in a child process.
 */
async function errorOfBundle(): Promise<Error> {
  const script = `const { handler } = await import(${JSON.stringify(pathToFileURL(bundled).href)});
    await handler().catch((error) => process.stdout.write(error.stack));`;
  const { stdout } = await execFileAsync(process.execPath, ['--input-type=module', '-e', script], {
    env: { PATH: process.env.PATH ?? '' },
  });
  const error = new Error('the provider answered 500');
  error.stack = stdout;
  return error;
}

describe('sourceMappedStack', () => {
  it('turns the bundle position of a frame into its source position', async () => {
    const error = await errorOfBundle();
    expect(error.stack).toContain('index.mjs:');

    const mapped = sourceMappedStack(error.stack ?? '');

    expect(mapped).toMatch(new RegExp(`failing-task\\.ts:${THROW_LINE}:\\d+`));
    expect(mapped).not.toContain('index.mjs:');
  });

  it('leaves frames without a map, and source frames, as they are', () => {
    const stack = [
      'Error: boom',
      '    at run (file:///var/task/no-map-here.mjs:1:200)',
      '    at main (/work/functions/tasks/create-provider-job.ts:10:3)',
      '    at process.processTicksAndRejections (node:internal/process/task_queues:105:5)',
    ].join('\n');

    expect(sourceMappedStack(stack)).toBe(stack);
  });
});

describe('mapErrorStack', () => {
  it('maps the error and its causes in place', async () => {
    const cause = await errorOfBundle();
    const error = new Error('create failed', { cause });
    error.stack = `Error: create failed\n${cause.stack?.split('\n').slice(1).join('\n')}`;
    expect(error.stack).toContain('index.mjs:');

    mapErrorStack(error, { nodeMapsStacks: false });

    expect(error.stack).toMatch(new RegExp(`failing-task\\.ts:${THROW_LINE}:`));
    expect(cause.stack).toMatch(new RegExp(`failing-task\\.ts:${THROW_LINE}:`));
  });

  it('leaves the stack to Node where Node maps it (--enable-source-maps)', async () => {
    const error = await errorOfBundle();
    const before = error.stack;

    mapErrorStack(error, { nodeMapsStacks: true });

    expect(error.stack).toBe(before);
  });

  it('keeps the stack when the map cannot be read', async () => {
    const error = new Error('boom');
    error.stack = 'Error: boom\n    at run (file:///var/task/broken.mjs:1:5)';

    mapErrorStack(error, {
      nodeMapsStacks: false,
      read: () => {
        throw new Error('unreadable');
      },
    });

    expect(error.stack).toBe('Error: boom\n    at run (file:///var/task/broken.mjs:1:5)');
  });
});
