import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { App, type CfnElement, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BUNDLE_CHUNK_DIR,
  BUNDLE_ENTRY_FILE,
  bundleBytes,
} from '../../infra/constructs/function-bundle.ts';
import { PipelineFunction } from '../../infra/constructs/pipeline-function.ts';
import { HANDLER_MODULES } from '../../infra/stacks/pipeline-stack.ts';
import { PROJECT_ROOT } from '../../infra/synth-pipeline.ts';

const execFileAsync = promisify(execFile);

// One function bundled for real with the local esbuild (no Docker): proves the deployable
// artifact is an ESM bundle; the other suites synthesize without bundling.
let outdir: string;
let template: Template;
let assetDir: string;

let authorizerAssetDir: string;

beforeAll(() => {
  outdir = mkdtempSync(path.join(tmpdir(), 'sora-cdk-bundle-'));
  // Asset metadata (as the CLI enables it) tells where the bundle was staged.
  const app = new App({ outdir, context: { 'aws:cdk:enable-asset-metadata': true } });
  const stack = new Stack(app, 'BundleProbe');
  const probe = (id: string, handlerModule: string) =>
    new PipelineFunction(stack, id, {
      handlerModule,
      description: 'bundling probe',
      timeout: Duration.seconds(30),
      memorySize: 256,
      bundle: true,
      projectRoot: PROJECT_ROOT,
      serviceName: 'sora-pipeline',
      logLevel: 'INFO',
    });
  const recordFailure = probe('RecordFailure', HANDLER_MODULES.recordFailure);
  const authorizer = probe('Authorizer', HANDLER_MODULES.authorizer);
  template = Template.fromStack(stack);
  assetDir = path.join(outdir, assetPathOf(recordFailure));
  authorizerAssetDir = path.join(outdir, assetPathOf(authorizer));
}, 60_000);

function assetPathOf(fn: PipelineFunction): string {
  const logicalId = stackLogicalId(fn);
  const assetPath = template.toJSON().Resources?.[logicalId]?.Metadata?.['aws:asset:path'];
  if (typeof assetPath !== 'string') throw new Error(`no asset path for ${fn.node.path}`);
  return assetPath;
}

function stackLogicalId(fn: PipelineFunction): string {
  return Stack.of(fn).getLogicalId(fn.function.node.defaultChild as CfnElement);
}

afterAll(() => {
  rmSync(outdir, { recursive: true, force: true });
});

describe('a bundled pipeline function', () => {
  it('ships an ESM bundle that can still require() CommonJS dependencies', () => {
    const bundle = readFileSync(path.join(assetDir, 'index.mjs'), 'utf8');

    expect(bundle.startsWith("import { createRequire } from 'module';")).toBe(true);
    expect(bundle).toContain('createRequire(import.meta.url)');
  });

  it('keeps what the handler imports on first use out of index.mjs, in chunks of their own', () => {
    const chunks = readdirSync(path.join(assetDir, BUNDLE_CHUNK_DIR)).filter((file) =>
      file.endsWith('.mjs'),
    );
    const entry = readFileSync(path.join(assetDir, BUNDLE_ENTRY_FILE), 'utf8');

    // The credential providers Lambda never uses (SSO, STS web identity, ini files, ...) are
    // imported dynamically by the SDK: each is a chunk, named in the entry only by import().
    expect(chunks.length).toBeGreaterThan(3);
    expect(entry).toMatch(/import\("\.\/chunks\/[^"]+\.mjs"\)/);
    for (const chunk of chunks) {
      expect(readFileSync(path.join(assetDir, BUNDLE_CHUNK_DIR, chunk), 'utf8')).toContain(
        'createRequire(import.meta.url)',
      );
    }
  });

  it('runs from its asset directory as far as its first DynamoDB call', async () => {
    // The handler reads its configuration, builds the DynamoDB client and sends (credentials
    // from the environment) to a port nothing listens on.
    const port = await closedPort();
    const script = `const { handler } = await import(${JSON.stringify(pathToFileURL(path.join(assetDir, BUNDLE_ENTRY_FILE)).href)});
      await handler({ jobId: 'job_01JABCDEFGHJKMNPQRSTVWXYZ0', error: { Error: 'X', Cause: 'y' } })
        .then(() => console.log('answered'), (error) => console.log('failed:', error.code ?? error.name));`;
    const { stdout } = await execFileAsync(
      process.execPath,
      ['--input-type=module', '-e', script],
      {
        cwd: tmpdir(),
        env: {
          PATH: process.env.PATH ?? '',
          JOBS_TABLE_NAME: 'jobs',
          // The catalogue (its deployments), as the stack sets it.
          PROVIDER_BASE_URL: 'https://videos.example.com/v1',
          AWS_REGION: 'us-east-1',
          AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
          AWS_SECRET_ACCESS_KEY: 'not-a-secret',
          AWS_ENDPOINT_URL_DYNAMODB: `http://127.0.0.1:${port}`,
          POWERTOOLS_LOG_LEVEL: 'SILENT',
          POWERTOOLS_METRICS_DISABLED: 'true',
        },
      },
    );

    expect(stdout.trim()).toBe('failed: ECONNREFUSED');
  });

  it('loads every chunk from the shipped layout: the imports of each one resolve', async () => {
    const chunks = readdirSync(path.join(assetDir, BUNDLE_CHUNK_DIR))
      .filter((file) => file.endsWith('.mjs'))
      .map((file) => pathToFileURL(path.join(assetDir, BUNDLE_CHUNK_DIR, file)).href);
    const script = `for (const chunk of ${JSON.stringify(chunks)}) await import(chunk);
      console.log('loaded', ${chunks.length});`;

    const { stdout } = await execFileAsync(
      process.execPath,
      ['--input-type=module', '-e', script],
      {
        cwd: tmpdir(),
        env: { PATH: process.env.PATH ?? '' },
      },
    );

    expect(chunks.length).toBeGreaterThan(0);
    expect(stdout.trim()).toBe(`loaded ${chunks.length}`);
  });

  it('reports a failed invocation with its stack in source positions, maps read on the error', async () => {
    // No JOBS_TABLE_NAME: the first invocation fails in readConfig. Node runs without
    // --enable-source-maps, as deployed; the handler's wrapper maps the stack.
    const script = `const { handler } = await import(${JSON.stringify(pathToFileURL(path.join(assetDir, BUNDLE_ENTRY_FILE)).href)});
      await handler({}).catch((error) => console.log(error.stack));`;
    const { stdout } = await execFileAsync(
      process.execPath,
      ['--input-type=module', '-e', script],
      {
        cwd: tmpdir(),
        env: { PATH: process.env.PATH ?? '', POWERTOOLS_LOG_LEVEL: 'SILENT' },
      },
    );

    expect(stdout).toMatch(/^ConfigurationError: .*JOBS_TABLE_NAME/);
    expect(stdout).toMatch(/at .*functions\/shared\/config\/plain-config\.ts:\d+:\d+/);
    expect(stdout).not.toMatch(/\.mjs:\d+:\d+/);
  });

  it('gives each function the bundle of its own handler', () => {
    // DynamoDB's wire name: in record-failure's bundle (it writes jobs), not in the authorizer's.
    const holdsDynamoDb = (dir: string) =>
      readFileSync(path.join(dir, 'index.mjs'), 'utf8').includes('DynamoDB_20120810');

    expect(authorizerAssetDir).not.toBe(assetDir);
    expect(holdsDynamoDb(assetDir)).toBe(true);
    expect(holdsDynamoDb(authorizerAssetDir)).toBe(false);
    expect(bundleBytes(authorizerAssetDir)).toBeLessThan(bundleBytes(assetDir));
  });

  it('leaves the parsed settings out of the authorizer, which reads one secret id', () => {
    // A variable the limits' parser reads: record-failure reads the limits, the authorizer none.
    const holdsLimitsParser = (dir: string) =>
      readdirSync(dir, { recursive: true, encoding: 'utf8' })
        .filter((file) => file.endsWith('.mjs'))
        .some((file) => readFileSync(path.join(dir, file), 'utf8').includes('MAX_CONCURRENT_JOBS'));

    expect(holdsLimitsParser(assetDir)).toBe(true);
    expect(holdsLimitsParser(authorizerAssetDir)).toBe(false);
  });

  it('ships a source map without the sources themselves', () => {
    const map = JSON.parse(readFileSync(path.join(assetDir, 'index.mjs.map'), 'utf8'));

    expect(map.mappings.length).toBeGreaterThan(0);
    expect(map.sourcesContent).toBeUndefined();
  });

  it('runs the bundle as index.handler from S3 code, without Node parsing maps at init', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      Runtime: 'nodejs24.x',
      Code: { S3Bucket: Match.anyValue(), S3Key: Match.stringLikeRegexp('\\.zip$') },
      Environment: { Variables: Match.objectLike({ NODE_OPTIONS: Match.absent() }) },
    });
  });
});

/** A TCP port on 127.0.0.1 that nothing listens on (fetch refuses the "bad" ones, such as 9). */
async function closedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}
