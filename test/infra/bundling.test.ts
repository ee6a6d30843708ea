import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PipelineFunction } from '../../infra/constructs/pipeline-function.ts';
import { HANDLER_MODULES } from '../../infra/stacks/pipeline-stack.ts';
import { PROJECT_ROOT } from '../../infra/synth-pipeline.ts';

// One function bundled for real with the local esbuild (no Docker): proves the deployable
// artifact is an ESM bundle; the other suites synthesize without bundling.
let outdir: string;
let template: Template;
let assetDir: string;

beforeAll(() => {
  outdir = mkdtempSync(path.join(tmpdir(), 'sora-cdk-bundle-'));
  // Asset metadata (as the CLI enables it) tells where the bundle was staged.
  const app = new App({ outdir, context: { 'aws:cdk:enable-asset-metadata': true } });
  const stack = new Stack(app, 'BundleProbe');
  const fn = new PipelineFunction(stack, 'RecordFailure', {
    handlerModule: HANDLER_MODULES.recordFailure,
    description: 'bundling probe',
    timeout: Duration.seconds(30),
    memorySize: 256,
    bundle: true,
    projectRoot: PROJECT_ROOT,
    serviceName: 'sora-pipeline',
    logLevel: 'INFO',
  });
  template = Template.fromStack(stack);
  const metadata = template.findResources('AWS::Lambda::Function');
  const assetPath = Object.values(metadata)[0]?.Metadata?.['aws:asset:path'];
  if (typeof assetPath !== 'string') throw new Error(`no asset path for ${fn.node.path}`);
  assetDir = path.join(outdir, assetPath);
}, 60_000);

afterAll(() => {
  rmSync(outdir, { recursive: true, force: true });
});

describe('a bundled pipeline function', () => {
  it('ships an ESM bundle that can still require() CommonJS dependencies', () => {
    const bundle = readFileSync(path.join(assetDir, 'index.mjs'), 'utf8');

    expect(bundle.startsWith("import { createRequire } from 'module';")).toBe(true);
    expect(bundle).toContain('createRequire(import.meta.url)');
  });

  it('ships a source map without the sources themselves', () => {
    const map = JSON.parse(readFileSync(path.join(assetDir, 'index.mjs.map'), 'utf8'));

    expect(map.mappings.length).toBeGreaterThan(0);
    expect(map.sourcesContent).toBeUndefined();
  });

  it('runs the bundle as index.handler from S3 code, with source maps enabled', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      Runtime: 'nodejs24.x',
      Code: { S3Bucket: Match.anyValue(), S3Key: Match.stringLikeRegexp('\\.zip$') },
      Environment: { Variables: { NODE_OPTIONS: '--enable-source-maps' } },
    });
  });
});
