/**
 * Cold start of every Lambda function: synthesizes the pipeline with bundling (the real CDK
 * path: PipelineFunction + infra/constructs/function-bundle.ts), lists each function's bundle
 * size (all its JavaScript: the entry and every chunk), the part a cold start loads (the entry
 * and the chunks it imports statically) with its largest packages, then measures module init, from process start to the handler
 * module imported, as the median (and min) of N runs, against a reference bundle of only
 * `@aws-sdk/client-s3` + `openai` built in the same run with the same settings, and started
 * the same way: as deployed (no NODE_OPTIONS), then with `--enable-source-maps` for comparison.
 * Runs are interleaved so a busy machine slows every bundle alike.
 *
 *   node bench/cold-start.ts [runs]      (default 5)
 *
 * Also measured, with no target: `dynamodb-floor`, the DynamoDB document client and one command
 * alone, the least any function that reads a job loads at init.
 *
 * Targets (issue 10): every bundle <= 800 KB, the authorizer <= 150 KB; init p50 <= 1.0x the
 * reference for the task functions, <= 0.6x for the authorizer and the API.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Metafile } from 'esbuild';
import {
  BUNDLE_ENTRY_FILE,
  bundleBytes,
  bundleFunction,
} from '../infra/constructs/function-bundle.ts';
import { HANDLER_MODULE_METADATA_KEY } from '../infra/constructs/pipeline-function.ts';
import { createPipelineApp, PIPELINE_STACK_ID, PROJECT_ROOT } from '../infra/synth-pipeline.ts';

const runs = Number(process.argv[2] ?? 5);
if (!Number.isInteger(runs) || runs < 1) {
  console.error('usage: node bench/cold-start.ts [runs] (a positive whole number)');
  process.exit(2);
}

const KB = 1024;
const BUNDLE_LIMIT_KB = 800;
const AUTHORIZER_LIMIT_KB = 150;
const TASK_INIT_LIMIT = 1.0;
const EDGE_INIT_LIMIT = 0.6;

interface Bundle {
  name: string;
  file: string;
  /** All the JavaScript it ships. */
  bytes: number;
  /** What a cold start loads: the entry and the chunks it imports statically. */
  initBytes: number;
  /** Packages in that part, largest first. */
  packages: [string, number][];
  kind: 'task' | 'edge' | 'other' | 'reference';
}

const workDir = mkdtempSync(path.join(tmpdir(), 'sora-cold-start-'));
try {
  const bundles = await synthesizedBundles();
  bundles.push(dynamoDbFloorBundle(), referenceBundle());

  console.log('function            bundle KB  at init KB  largest packages loaded at init (KB)');
  for (const bundle of bundles) {
    const top = bundle.packages
      .slice(0, 5)
      .map(([name, bytes]) => `${name} ${(bytes / KB).toFixed(0)}`)
      .join(', ');
    console.log(
      `${bundle.name.padEnd(19)} ${(bundle.bytes / KB).toFixed(0).padStart(9)}  ${(bundle.initBytes / KB).toFixed(0).padStart(10)}  ${top}`,
    );
  }

  // As deployed: no NODE_OPTIONS (stacks are mapped on error, source-mapped-stack.ts). With
  // --enable-source-maps, Node parses each loaded file's map at init: printed for comparison.
  const asDeployed = measureInit(bundles, runs, []);
  const nodeMaps = measureInit(bundles, runs, ['--enable-source-maps']);
  const reference = asDeployed.get('reference');
  if (!reference) throw new Error('the reference bundle was not measured');

  console.log(
    `\ninit = process start -> handler imported, ms over ${runs} runs (as deployed: no NODE_OPTIONS)`,
  );
  console.log(
    'function            median     min  x ref (median)  x ref (min)  --enable-source-maps (median)  size target  init target',
  );
  let failed = 0;
  for (const bundle of bundles) {
    const timing = asDeployed.get(bundle.name);
    const withNodeMaps = nodeMaps.get(bundle.name);
    if (!timing || !withNodeMaps) continue;
    const ratio = timing.median / reference.median;
    const sizeLimit = bundle.name === 'authorizer' ? AUTHORIZER_LIMIT_KB : BUNDLE_LIMIT_KB;
    const initLimit =
      bundle.kind === 'task' ? TASK_INIT_LIMIT : bundle.kind === 'edge' ? EDGE_INIT_LIMIT : null;
    const sizeOk = bundle.kind === 'reference' || bundle.bytes / KB <= sizeLimit;
    const initOk = initLimit === null || ratio <= initLimit;
    if (!sizeOk || !initOk) failed += 1;
    console.log(
      [
        bundle.name.padEnd(19),
        timing.median.toFixed(0).padStart(6),
        timing.min.toFixed(0).padStart(7),
        `${ratio.toFixed(2)}x`.padStart(15),
        `${(timing.min / reference.min).toFixed(2)}x`.padStart(12),
        withNodeMaps.median.toFixed(0).padStart(30),
        (bundle.kind === 'reference' ? '-' : `${sizeOk ? 'ok' : 'MISS'} <=${sizeLimit}`).padStart(
          12,
        ),
        (initLimit === null ? '-' : `${initOk ? 'ok' : 'MISS'} <=${initLimit}x`).padStart(12),
      ].join(' '),
    );
  }
  console.log(failed === 0 ? '\nall targets met' : `\n${failed} function(s) miss a target`);
} finally {
  rmSync(workDir, { recursive: true, force: true });
}

/** Synthesizes the pipeline with bundling and reads each function's asset. */
async function synthesizedBundles(): Promise<Bundle[]> {
  const outdir = path.join(workDir, 'cdk.out');
  const started = performance.now();
  const { app } = createPipelineApp({
    bundle: true,
    outdir,
    // A provider URL only to keep the synth quiet; it changes no bundle.
    context: {
      'aws:cdk:enable-asset-metadata': true,
      'provider:baseUrl': 'https://provider.example.com/v1',
    },
  });
  const assembly = app.synth();
  console.log(
    `synthesized with bundling in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  const template = assembly.getStackByName(PIPELINE_STACK_ID).template as {
    Resources: Record<string, { Type: string; Metadata?: Record<string, unknown> }>;
  };
  const bundles: Bundle[] = [];
  for (const resource of Object.values(template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const handlerModule = resource.Metadata?.[HANDLER_MODULE_METADATA_KEY];
    const assetPath = resource.Metadata?.['aws:asset:path'];
    if (typeof handlerModule !== 'string' || typeof assetPath !== 'string') continue;
    const assetDir = path.join(outdir, assetPath);
    const name = nameOf(handlerModule);
    // The same bundle again, for its metafile (the synthesized asset has none).
    const metafile = bundleFunction(
      path.join(PROJECT_ROOT, handlerModule),
      path.join(workDir, 'metafile', name),
    );
    bundles.push({
      name,
      file: path.join(assetDir, BUNDLE_ENTRY_FILE),
      bytes: bundleBytes(assetDir),
      ...loadedAtInit(metafile),
      kind: kindOf(handlerModule),
    });
  }
  return bundles.sort((a, b) => a.name.localeCompare(b.name));
}

/** `@aws-sdk/client-s3` + `openai`, nothing else, bundled the same way as the functions. */
function referenceBundle(): Bundle {
  return probeBundle(
    'reference',
    "export { S3Client } from '@aws-sdk/client-s3';\nexport { default as OpenAI } from 'openai';\nexport const handler = async () => 'ok';\n",
  );
}

/**
 * The DynamoDB document client and one command, nothing else: the least a function that
 * reads a job loads (every API route does). Printed beside the reference, no target.
 */
function dynamoDbFloorBundle(): Bundle {
  return probeBundle(
    'dynamodb-floor',
    "export { DynamoDBClient } from '@aws-sdk/client-dynamodb';\nexport { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';\nexport const handler = async () => 'ok';\n",
  );
}

function probeBundle(name: string, source: string): Bundle {
  const entry = path.join(PROJECT_ROOT, 'bench', `.cold-start-${name}.ts`);
  writeFileSync(entry, source);
  try {
    const outdir = path.join(workDir, name);
    const metafile = bundleFunction(entry, outdir);
    return {
      name,
      file: path.join(outdir, BUNDLE_ENTRY_FILE),
      bytes: bundleBytes(outdir),
      ...loadedAtInit(metafile),
      kind: 'reference',
    };
  } finally {
    rmSync(entry, { force: true });
  }
}

/** The entry and the chunks it imports statically, with their packages by size. */
function loadedAtInit(metafile: Metafile): { initBytes: number; packages: [string, number][] } {
  const outputs = metafile.outputs;
  const entry = Object.keys(outputs).find((file) => file.endsWith(`/${BUNDLE_ENTRY_FILE}`));
  if (!entry) throw new Error(`no ${BUNDLE_ENTRY_FILE} in the bundle`);
  const loaded = new Set([entry]);
  const pending = [entry];
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    for (const imported of outputs[file]?.imports ?? []) {
      if (imported.kind !== 'import-statement' || imported.external) continue;
      if (!loaded.has(imported.path)) {
        loaded.add(imported.path);
        pending.push(imported.path);
      }
    }
  }
  let initBytes = 0;
  const sizes = new Map<string, number>();
  for (const file of loaded) {
    const output = outputs[file];
    if (!output) continue;
    initBytes += output.bytes;
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const name = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1] ?? '(project)';
      sizes.set(name, (sizes.get(name) ?? 0) + bytesInOutput);
    }
  }
  return { initBytes, packages: [...sizes].sort((a, b) => b[1] - a[1]) };
}

/** Median and min of `runs` fresh processes per bundle, interleaved. */
function measureInit(
  bundles: readonly Bundle[],
  count: number,
  nodeOptions: string[],
): Map<string, { median: number; min: number }> {
  const samples = new Map<string, number[]>(bundles.map((bundle) => [bundle.name, []]));
  for (let run = 0; run < count; run += 1) {
    for (const bundle of bundles) {
      // performance.now() counts from the process's time origin, i.e. its start.
      const script = `await import(${JSON.stringify(pathToFileURL(bundle.file).href)}); process.stdout.write(String(performance.now()));`;
      const output = execFileSync(
        process.execPath,
        [...nodeOptions, '--input-type=module', '-e', script],
        { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } },
      );
      samples.get(bundle.name)?.push(Number(output));
    }
  }
  return new Map(
    [...samples].map(([name, values]) => {
      const sorted = [...values].sort((a, b) => a - b);
      return [
        name,
        { median: sorted[Math.floor(sorted.length / 2)] ?? NaN, min: sorted[0] ?? NaN },
      ];
    }),
  );
}

function nameOf(handlerModule: string): string {
  const base = path.basename(handlerModule, '.ts');
  return base === 'handler' ? path.basename(path.dirname(handlerModule)) : base;
}

function kindOf(handlerModule: string): Bundle['kind'] {
  if (handlerModule.startsWith('functions/tasks/')) return 'task';
  if (handlerModule.startsWith('functions/api/')) return 'edge';
  return 'other';
}
