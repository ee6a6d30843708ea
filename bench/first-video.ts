/**
 * First video: `npm run generate -- "A cat playing piano"` from a cold state (no stack running, a
 * fresh data directory each run), timed from the command's start to its exit with the MP4 saved,
 * N runs (default 3), min and median. Says whether the synthesized-template cache was warm (the
 * command prints it); `--cold-cache` empties the caches before every run (the templates, DynamoDB
 * Local's class-data archive, Node's compile cache: a fresh clone's first run). `--baseline <dir>` runs
 * another checkout's generate (e.g. main's) the same way, interleaved with this one's, so a busy
 * machine slows both alike.
 *
 *   node bench/first-video.ts [runs] [--cold-cache] [--baseline /path/to/other/checkout]
 *
 * Target (issue 26): median <= 5 s on the project's 2-core machine.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { PROJECT_ROOT, projectCacheDir } from '../infra/project-root.ts';

const PROMPT = 'A cat playing piano';
const TARGET_SECONDS = 5;

interface Run {
  seconds: number;
  /** The template cache was read (the command said so); undefined: a checkout without one. */
  cacheWarm: boolean | undefined;
  /** What the job itself took, from the command's summary (`(x s of wall time)`). */
  jobSeconds: number | undefined;
}

const USAGE =
  'usage: node bench/first-video.ts [runs] [--cold-cache] [--baseline /path/to/other/checkout]';

/** A usage problem: one line naming it, the usage, exit code 2. */
function refuse(message: string): never {
  process.stderr.write(`first-video: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function parseOptions() {
  try {
    return parseArgs({
      options: {
        'cold-cache': { type: 'boolean' },
        baseline: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
    });
  } catch (error) {
    refuse((error as Error).message);
  }
}
const { values, positionals } = parseOptions();
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const runs = Number(positionals[0] ?? 3);
if (!Number.isInteger(runs) || runs < 1)
  refuse(`runs must be a positive integer, got "${positionals[0]}"`);
const checkouts: { name: string; root: string }[] = [{ name: 'this checkout', root: PROJECT_ROOT }];
if (values.baseline) checkouts.push({ name: 'baseline', root: resolve(values.baseline) });

/** Runs generate once in `root` on a fresh data directory; fails unless it saved an MP4. */
async function firstVideo(root: string): Promise<Run> {
  const scratch = await mkdtemp(join(tmpdir(), 'sora-first-video-'));
  // Only this checkout's cache: a baseline checkout is only read.
  if (values['cold-cache'] && root === PROJECT_ROOT) {
    await rm(projectCacheDir(root), {
      recursive: true,
      force: true,
    });
  }
  try {
    const started = performance.now();
    const child = spawn(
      process.execPath,
      [
        'infra/local/generate.ts',
        PROMPT,
        '--data-dir',
        join(scratch, 'data'),
        '--out',
        join(scratch, 'videos'),
      ],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const code = await new Promise<number | null>((done) => child.once('exit', done));
    const seconds = (performance.now() - started) / 1000;
    const saved = await readdir(join(scratch, 'videos')).catch((): string[] => []);
    if (code !== 0 || !saved.some((name) => name.endsWith('.mp4'))) {
      throw new Error(`generate in ${root} exited ${code} without a video:\n${output}`);
    }
    const job = /\(([\d.]+) s of wall time\)/.exec(output)?.[1];
    const hasCache = await hasTemplateCache(root);
    return {
      seconds,
      cacheWarm: hasCache ? output.includes('templates from the cache') : undefined,
      jobSeconds: job === undefined ? undefined : Number(job),
    };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Whether a checkout has the template cache at all (a baseline may predate it). */
async function hasTemplateCache(root: string): Promise<boolean> {
  const files = await readdir(join(root, 'infra', 'local')).catch((): string[] => []);
  return files.includes('template-cache.ts');
}

const median = (sorted: number[]) => {
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? 0)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
};

const loadBefore = loadavg()[0] ?? 0;
console.log(
  `first video: ${runs} run(s) each, fresh data directory per run, caches ${values['cold-cache'] ? 'emptied before each run' : 'as found'}; load average ${loadBefore.toFixed(2)}`,
);
const results = new Map<string, Run[]>(checkouts.map(({ name }) => [name, []]));
for (let index = 0; index < runs; index += 1) {
  for (const { name, root } of checkouts) {
    const run = await firstVideo(root);
    results.get(name)?.push(run);
    const cache =
      run.cacheWarm === undefined
        ? 'no template cache'
        : run.cacheWarm
          ? 'cache warm'
          : 'cache cold';
    const job = run.jobSeconds === undefined ? '' : `, job ${run.jobSeconds.toFixed(1)} s`;
    console.log(`  ${name} run ${index + 1}: ${run.seconds.toFixed(2)} s (${cache}${job})`);
  }
}
for (const { name } of checkouts) {
  const seconds = (results.get(name) ?? []).map((run) => run.seconds).sort((a, b) => a - b);
  const verdict = name === 'this checkout' ? ` (target <= ${TARGET_SECONDS} s)` : '';
  console.log(
    `${name}: min ${(seconds[0] ?? 0).toFixed(2)} s, median ${median(seconds).toFixed(2)} s${verdict}`,
  );
}
console.log(`load average after: ${(loadavg()[0] ?? 0).toFixed(2)}`);
