/**
 * Cold start of every Lambda function: synthesizes the pipeline with bundling (the real CDK
 * path: PipelineFunction + infra/constructs/function-bundle.ts), lists each function's bundle
 * size (all its JavaScript: the entry and every chunk), the part a cold start loads (the entry
 * and the chunks it imports statically) with its largest packages, then measures module init,
 * from process start to the handler module imported, as the median (and min) of N runs, against
 * a reference bundle of only `@aws-sdk/client-s3` + `openai` built in the same run with the same
 * settings, and started the same way: as deployed (no NODE_OPTIONS), then with
 * `--enable-source-maps` for comparison. Runs are interleaved so a busy machine slows every
 * bundle alike; the CPU time over the same span (all threads) is printed too, steadier than the
 * wall clock where other processes share the machine (the targets are on the wall clock).
 *
 *   node bench/cold-start.ts [runs] [--probe name=file.ts ...]     (runs: default 5)
 *
 * Beside each function, its floor: a bundle of nothing but the official AWS clients that function
 * loads at init (read from its own bundle), i.e. the least any code calling those clients could
 * load. A function's init minus its floor is what its own code costs. `--probe` measures another
 * module the same way, without a target (e.g. an alternative client: its source is bundled from
 * bench/, so it imports the project's packages).
 *
 * Targets (issue 22): every bundle <= 1.2 MB (all its chunks counted); init median <= 1.0x the
 * reference for every function, <= 0.9x for the API and <= 0.7x for the authorizer.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { Metafile } from 'esbuild';
import {
  BUNDLE_ENTRY_FILE,
  bundleBytes,
  bundleFunction,
} from '../infra/constructs/function-bundle.ts';
import { HANDLER_MODULE_METADATA_KEY } from '../infra/constructs/pipeline-function.ts';
import { createPipelineApp, PIPELINE_STACK_ID, PROJECT_ROOT } from '../infra/synth-pipeline.ts';

const usage = 'usage: node bench/cold-start.ts [runs] [--probe name=file.ts ...]';
const args = parseArgs({
  allowPositionals: true,
  options: { probe: { type: 'string', multiple: true, default: [] } },
});
const runs = Number(args.positionals[0] ?? 5);
if (!Number.isInteger(runs) || runs < 1) {
  console.error(`${usage} (runs: a positive whole number)`);
  process.exit(2);
}

const KB = 1024;
const BUNDLE_LIMIT_BYTES = 1_200_000;
/** Init median against the reference's, by function; every other function: 1.0x. */
const INIT_LIMITS: Readonly<Record<string, number>> = { api: 0.9, authorizer: 0.7 };
const DEFAULT_INIT_LIMIT = 1.0;

/**
 * What a floor bundle exports of each official client package a function can load: the client
 * (and for DynamoDB the document client with one command, as the stores use it).
 */
const CLIENT_EXPORTS: Readonly<Record<string, string>> = {
  '@aws-sdk/client-bedrock-runtime': 'BedrockRuntimeClient',
  '@aws-sdk/client-dynamodb': 'DynamoDBClient',
  '@aws-sdk/client-eventbridge': 'EventBridgeClient',
  '@aws-sdk/client-s3': 'S3Client',
  '@aws-sdk/client-secrets-manager': 'SecretsManagerClient',
  '@aws-sdk/client-sfn': 'SFNClient',
  '@aws-sdk/lib-dynamodb': 'DynamoDBDocumentClient, GetCommand',
};

interface Bundle {
  name: string;
  file: string;
  /** All the JavaScript it ships. */
  bytes: number;
  /** What a cold start loads: the entry and the chunks it imports statically. */
  initBytes: number;
  /** Packages in that part, largest first. */
  packages: [string, number][];
  kind: 'function' | 'floor' | 'probe' | 'reference';
  /** A function's floor bundle (by name). */
  floor?: string;
}

const workDir = mkdtempSync(path.join(tmpdir(), 'sora-cold-start-'));
try {
  const functions = await synthesizedBundles();
  const floors = floorBundles(functions);
  const probes = args.values.probe.map(probeFromArgument);
  const bundles = [...functions, ...floors, ...probes, referenceBundle()];

  // Names as wide as the longest (a floor names every client it holds).
  const width = Math.max(...bundles.map((bundle) => bundle.name.length)) + 1;
  console.log(
    `${'function'.padEnd(width)} bundle KB  at init KB  largest packages loaded at init (KB)`,
  );
  for (const bundle of bundles) {
    const top = bundle.packages
      .slice(0, 5)
      .map(([name, bytes]) => `${name} ${(bytes / KB).toFixed(0)}`)
      .join(', ');
    console.log(
      `${bundle.name.padEnd(width)} ${(bundle.bytes / KB).toFixed(0).padStart(9)}  ${(bundle.initBytes / KB).toFixed(0).padStart(10)}  ${top}`,
    );
  }

  // As deployed: no NODE_OPTIONS (stacks are mapped on error, source-mapped-stack.ts). With
  // --enable-source-maps, Node parses each loaded file's map at init: printed for comparison.
  const asDeployed = measureInit(bundles, runs, []);
  const nodeMaps = measureInit(bundles, runs, ['--enable-source-maps']);
  const reference = asDeployed.get('reference');
  if (!reference) throw new Error('the reference bundle was not measured');

  console.log('\nfloors: the official AWS clients each function loads at init, and nothing else');
  for (const floor of floors) {
    const users = functions.filter((bundle) => bundle.floor === floor.name).map((f) => f.name);
    console.log(`${floor.name.padEnd(width)} ${users.join(', ')}`);
  }

  console.log(
    `\ninit = process start -> handler imported, ms over ${runs} runs (as deployed: no NODE_OPTIONS)`,
  );
  console.log(
    `${'function'.padEnd(width)} median     min  x ref (median)  x ref (min)  cpu x ref (median)  floor x ref (median)  own ms  --enable-source-maps (median)  size target  init target`,
  );
  let failed = 0;
  for (const bundle of bundles) {
    const timing = asDeployed.get(bundle.name);
    const withNodeMaps = nodeMaps.get(bundle.name);
    if (!timing || !withNodeMaps) continue;
    const ratio = timing.median / reference.median;
    const floor = bundle.floor === undefined ? undefined : asDeployed.get(bundle.floor);
    const isFunction = bundle.kind === 'function';
    const initLimit = isFunction ? (INIT_LIMITS[bundle.name] ?? DEFAULT_INIT_LIMIT) : null;
    const sizeOk = !isFunction || bundle.bytes <= BUNDLE_LIMIT_BYTES;
    const initOk = initLimit === null || ratio <= initLimit;
    if (!sizeOk || !initOk) failed += 1;
    console.log(
      [
        bundle.name.padEnd(width),
        timing.median.toFixed(0).padStart(6),
        timing.min.toFixed(0).padStart(7),
        `${ratio.toFixed(2)}x`.padStart(15),
        `${(timing.min / reference.min).toFixed(2)}x`.padStart(12),
        `${(timing.cpuMedian / reference.cpuMedian).toFixed(2)}x`.padStart(19),
        (floor ? `${(floor.median / reference.median).toFixed(2)}x` : '-').padStart(21),
        (floor ? (timing.median - floor.median).toFixed(0) : '-').padStart(7),
        withNodeMaps.median.toFixed(0).padStart(30),
        (isFunction ? `${sizeOk ? 'ok' : 'MISS'} <=1.2 MB` : '-').padStart(12),
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
      kind: 'function',
    });
  }
  return bundles.sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * One floor bundle per set of official clients the functions load at init (functions that load
 * the same clients share one), each function's `floor` set to its own.
 */
function floorBundles(functions: Bundle[]): Bundle[] {
  const floors = new Map<string, Bundle>();
  for (const bundle of functions) {
    const clients = bundle.packages
      .map(([name]) => name)
      .filter((name) => /^@aws-sdk\/(client|lib)-/.test(name))
      .sort();
    if (clients.length === 0) continue;
    // floor dynamodb+eventbridge: lib-dynamodb is named with the client it sits on.
    const services = new Set(clients.map((client) => client.replace(/^@aws-sdk\/\w+-/, '')));
    const name = `floor ${[...services].join('+')}`;
    bundle.floor = name;
    if (floors.has(name)) continue;
    const source = clients.map((client) => {
      const exported = CLIENT_EXPORTS[client];
      if (!exported) throw new Error(`${bundle.name} loads ${client}: add it to CLIENT_EXPORTS`);
      return `export { ${exported} } from '${client}';\n`;
    });
    floors.set(name, {
      ...probeBundle(name, `${source.join('')}export const handler = async () => 'ok';\n`),
      kind: 'floor',
    });
  }
  return [...floors.values()];
}

/** `--probe name=file.ts`: that module, bundled from bench/ like the reference. */
function probeFromArgument(argument: string): Bundle {
  const [name, file] = argument.split('=');
  if (!name || !file) {
    console.error(`${usage} (--probe takes name=file.ts, got ${argument})`);
    process.exit(2);
  }
  return { ...probeBundle(name, readFileSync(file, 'utf8')), kind: 'probe' };
}

/** `@aws-sdk/client-s3` + `openai`, nothing else, bundled the same way as the functions. */
function referenceBundle(): Bundle {
  return probeBundle(
    'reference',
    "export { S3Client } from '@aws-sdk/client-s3';\nexport { default as OpenAI } from 'openai';\nexport const handler = async () => 'ok';\n",
  );
}

function probeBundle(name: string, source: string): Bundle {
  const entry = path.join(PROJECT_ROOT, 'bench', `.cold-start-${name.replace(/\W+/g, '-')}.ts`);
  writeFileSync(entry, source);
  try {
    const outdir = path.join(workDir, name.replace(/\W+/g, '-'));
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

interface InitTiming {
  /** Wall clock, process start to handler imported (ms): what a cold start waits. */
  median: number;
  min: number;
  /** CPU time over the same span (ms, all threads): steadier than the wall clock on a busy machine. */
  cpuMedian: number;
}

/** Median and min of `runs` fresh processes per bundle, interleaved. */
function measureInit(
  bundles: readonly Bundle[],
  count: number,
  nodeOptions: string[],
): Map<string, InitTiming> {
  const samples = new Map<string, { wall: number; cpu: number }[]>(
    bundles.map((bundle) => [bundle.name, []]),
  );
  for (let run = 0; run < count; run += 1) {
    for (const bundle of bundles) {
      // performance.now() counts from the process's time origin, i.e. its start.
      const script = `await import(${JSON.stringify(pathToFileURL(bundle.file).href)}); const { user, system } = process.cpuUsage(); process.stdout.write(JSON.stringify({ wall: performance.now(), cpu: (user + system) / 1000 }));`;
      const output = execFileSync(
        process.execPath,
        [...nodeOptions, '--input-type=module', '-e', script],
        { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } },
      );
      samples.get(bundle.name)?.push(JSON.parse(output) as { wall: number; cpu: number });
    }
  }
  const median = (values: number[]) =>
    [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
  return new Map(
    [...samples].map(([name, values]) => {
      const walls = values.map((value) => value.wall);
      return [
        name,
        {
          median: median(walls),
          min: Math.min(...walls),
          cpuMedian: median(values.map((value) => value.cpu)),
        },
      ];
    }),
  );
}

function nameOf(handlerModule: string): string {
  const base = path.basename(handlerModule, '.ts');
  return base === 'handler' ? path.basename(path.dirname(handlerModule)) : base;
}
