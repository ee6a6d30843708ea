import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CfnTemplate } from '../../../infra/local/cfn-template.ts';
import { cachedTemplates, type LocalTemplates } from '../../../infra/local/template-cache.ts';

let root: string;
let cacheDir: string;
const synthesized: Record<string, string>[] = [];

/** A stand-in synthesis: the provider URL from the context lands in a function's environment. */
async function synthesize(context: Record<string, string>): Promise<LocalTemplates> {
  synthesized.push(context);
  const pipeline: CfnTemplate = {
    Resources: {
      Fn: {
        Type: 'AWS::Lambda::Function',
        Properties: { Environment: { Variables: { PROVIDER_BASE_URL: context.url } } },
      },
    },
  };
  return { templates: { stateful: { Resources: {} }, pipeline }, stacks: { Pipeline: pipeline } };
}

function providerUrl(result: LocalTemplates): unknown {
  const properties = result.templates.pipeline.Resources.Fn?.Properties as {
    Environment: { Variables: Record<string, string> };
  };
  return properties.Environment.Variables.PROVIDER_BASE_URL;
}

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'sora-template-cache-'));
  cacheDir = join(root, 'cache');
  await mkdir(join(root, 'infra'), { recursive: true });
  await mkdir(join(root, 'functions', 'api'), { recursive: true });
  await writeFile(join(root, 'infra', 'stack.ts'), 'export const a = 1;');
  await writeFile(join(root, 'functions', 'api', 'handler.ts'), 'export const b = 1;');
  await writeFile(join(root, 'cdk.json'), '{"context":{}}');
  synthesized.length = 0;
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('cachedTemplates', () => {
  const read = (url: string) =>
    cachedTemplates({
      projectRoot: root,
      cacheDir,
      context: { url: `${url}/v1`, other: 'x' },
      volatile: [url],
      synthesize,
    });

  it('synthesizes once, then reads the cache for another port of the same simulator', async () => {
    const first = await read('http://127.0.0.1:4001');
    const second = await read('http://127.0.0.1:4999');

    expect(first.cached).toBe(false);
    expect(second.cached).toBe(true);
    expect(synthesized).toHaveLength(1);
    // The synthesis saw a placeholder, never a port; each start gets its own address back.
    expect(synthesized[0]?.url).toBe('http://local-address-0.invalid/v1');
    expect(providerUrl(first)).toBe('http://127.0.0.1:4001/v1');
    expect(providerUrl(second)).toBe('http://127.0.0.1:4999/v1');
  });

  it('synthesizes again when a source under infra/ or functions/ or cdk.json changes', async () => {
    await read('http://127.0.0.1:4001');
    await writeFile(join(root, 'functions', 'api', 'handler.ts'), 'export const b = 2;');
    expect((await read('http://127.0.0.1:4001')).cached).toBe(false);
    await writeFile(join(root, 'infra', 'new-construct.ts'), 'export const c = 1;');
    expect((await read('http://127.0.0.1:4001')).cached).toBe(false);
    await writeFile(join(root, 'cdk.json'), '{"context":{"limits:maxConcurrentJobs":"2"}}');
    expect((await read('http://127.0.0.1:4001')).cached).toBe(false);
    expect(await read('http://127.0.0.1:4001')).toMatchObject({ cached: true });
    expect(synthesized).toHaveLength(4);
  });

  it('synthesizes again for another context', async () => {
    await read('http://127.0.0.1:4001');
    const other = await cachedTemplates({
      projectRoot: root,
      cacheDir,
      context: { url: 'http://127.0.0.1:4001/v1', other: 'y' },
      volatile: ['http://127.0.0.1:4001'],
      synthesize,
    });

    expect(other.cached).toBe(false);
  });

  it('synthesizes every time without a cache directory, and leaves no file', async () => {
    const options = { projectRoot: root, cacheDir: null, context: { url: 'u' }, synthesize };
    await cachedTemplates(options);
    await cachedTemplates(options);

    expect(synthesized).toHaveLength(2);
    expect(await readdir(root)).not.toContain('cache');
  });

  it('synthesizes again over a cache entry that is not a template', async () => {
    await read('http://127.0.0.1:4001');
    const [entry] = await readdir(cacheDir);
    await writeFile(join(cacheDir, entry ?? ''), '{"half":');

    expect((await read('http://127.0.0.1:4001')).cached).toBe(false);
  });
});
