/**
 * Compares polling policies on simulated generations: provider status calls per job and the
 * delay between the moment a video completes and the poll that sees it (p50, p95, max; and as a
 * share of the job's duration, from create to completion).
 *
 *   node bench/poll-policy.ts [jobsPerScenario]
 *
 * Two sets: the simulator's catalogue mix (every model, size and duration of the default
 * catalogue, on the simulator's timeline; the target of issue 10 is measured here: adaptive
 * calls <= 0.33x those of fixed 10 s polling, p95 delay <= 5 % of the job's duration), and
 * stress shapes a real provider may show.
 *
 * Jobs follow the simulator's timeline (1-6 s in the queue, then a render of
 * (20 + 8.5 * seconds) * modelFactor * sizeFactor * U(0.85, 1.15) seconds with linear progress,
 * capped at 99 until done), plus two shapes a real provider may show: front-loaded progress and
 * a stall of 5-40 s at 99 %. Waits are whole seconds, as Step Functions' Wait state needs.
 */
import {
  expectedGenerationSeconds,
  nextWaitSeconds,
} from '../functions/shared/polling/wait-policy.ts';
import { printTable } from './support.ts';

interface Scenario {
  name: string;
  model: string;
  size: string;
  seconds: string;
  renderFactor: number;
  /** Actual render time relative to what the policy expects for this model (unknown to it). */
  surprise?: number;
  shape: 'linear' | 'front-loaded' | 'stall-at-99';
}

interface SimJob {
  queueSeconds: number;
  renderSeconds: number;
  /** Extra time parked at 99 % before completing (stall-at-99 only). */
  stallSeconds: number;
  shape: Scenario['shape'];
}

interface Policy {
  name: string;
  wait(observation: Observation): number;
}

interface Observation {
  progress: number;
  elapsedSeconds: number;
  pollCount: number;
  expectedSeconds: number;
  previous?: { progress: number; elapsedSeconds: number } | undefined;
}

const SORA_SIZES = ['720x1280', '1280x720', '1024x1792', '1792x1024'];
const SECONDS = ['4', '8', '12'];

/** The default catalogue (functions/shared/provider/provider-config.ts) on the simulator's timeline. */
const catalogueMix: Scenario[] = [
  ...SORA_SIZES.map((size) => ({ model: 'sora-2', size })),
  ...[...SORA_SIZES, '1920x1080', '1080x1920'].map((size) => ({ model: 'sora-2-pro', size })),
].flatMap(({ model, size }) =>
  SECONDS.map((seconds) => ({
    name: `${model} ${seconds}s ${size}`,
    model,
    size,
    seconds,
    // The simulator renders every model alike (its renderFactor knob, default 1).
    renderFactor: 1,
    shape: 'linear' as const,
  })),
);

const stressShapes: Scenario[] = [
  {
    name: 'sora-2 4s 720x1280',
    model: 'sora-2',
    size: '720x1280',
    seconds: '4',
    renderFactor: 1,
    shape: 'linear',
  },
  {
    name: 'sora-2 12s 720x1280',
    model: 'sora-2',
    size: '720x1280',
    seconds: '12',
    renderFactor: 1,
    shape: 'linear',
  },
  {
    name: 'sora-2-pro 8s 1792x1024',
    model: 'sora-2-pro',
    size: '1792x1024',
    seconds: '8',
    renderFactor: 2.5,
    shape: 'linear',
  },
  {
    name: 'sora-2 8s front-loaded',
    model: 'sora-2',
    size: '720x1280',
    seconds: '8',
    renderFactor: 1,
    shape: 'front-loaded',
  },
  {
    name: 'sora-2 8s 5-40 s stall at 99%',
    model: 'sora-2',
    size: '720x1280',
    seconds: '8',
    renderFactor: 1,
    shape: 'stall-at-99',
  },
  {
    name: 'sora-2 8s, provider 4x faster',
    model: 'sora-2',
    size: '720x1280',
    seconds: '8',
    renderFactor: 1,
    surprise: 0.25,
    shape: 'linear',
  },
  {
    name: 'sora-2 8s, provider 3x slower',
    model: 'sora-2',
    size: '720x1280',
    seconds: '8',
    renderFactor: 1,
    surprise: 3,
    shape: 'linear',
  },
];

const policies: Policy[] = [
  { name: 'fixed 5 s', wait: () => 5 },
  { name: 'fixed 10 s', wait: () => 10 },
  { name: 'adaptive', wait: (observation) => nextWaitSeconds(observation) },
];

interface JobResult {
  calls: number;
  delay: number;
  duration: number;
}

function main(): void {
  const jobsPerScenario = Number(process.argv[2] ?? 500);
  console.log(`${jobsPerScenario} jobs per scenario\n`);
  console.log("The simulator's catalogue mix");
  const mix = runSet(catalogueMix, jobsPerScenario, false);
  console.log('\nStress shapes');
  runSet(stressShapes, jobsPerScenario, true);

  const adaptive = mix.get('adaptive');
  const fixed10 = mix.get('fixed 10 s');
  if (!adaptive || !fixed10) return;
  const calls = (results: JobResult[]) => results.reduce((sum, run) => sum + run.calls, 0);
  const share = adaptive.map((run) => run.delay / run.duration);
  console.log(
    `\ncatalogue mix, adaptive vs fixed 10 s: calls ${(calls(adaptive) / calls(fixed10)).toFixed(2)}x (target <= 0.33x); delay as a share of the job's duration p50 ${(100 * percentile(share, 0.5)).toFixed(1)} %, p95 ${(100 * percentile(share, 0.95)).toFixed(1)} % (target <= 5 %)`,
  );
}

/** Runs every policy on every scenario; prints one row each and one per policy for the set. */
function runSet(
  scenarios: Scenario[],
  jobsPerScenario: number,
  rowPerScenario: boolean,
): Map<string, JobResult[]> {
  const rows: string[][] = [];
  const all = new Map<string, JobResult[]>();
  for (const scenario of scenarios) {
    const random = mulberry32(42);
    const jobs = Array.from({ length: jobsPerScenario }, () => drawJob(scenario, random));
    for (const policy of policies) {
      const runs = jobs.map((job) => runJob(job, scenario, policy));
      if (rowPerScenario) rows.push([scenario.name, policy.name, ...figures(runs)]);
      all.set(policy.name, [...(all.get(policy.name) ?? []), ...runs]);
    }
  }
  for (const [name, runs] of all) rows.push(['all', name, ...figures(runs)]);
  printTable(
    [
      'scenario',
      'policy',
      'polls/job',
      'p50 delay s',
      'p95 delay s',
      'max delay s',
      'p95 delay % of duration',
    ],
    rows,
  );
  return all;
}

function figures(runs: JobResult[]): string[] {
  const delays = runs.map((run) => run.delay);
  return [
    mean(runs.map((run) => run.calls)).toFixed(1),
    percentile(delays, 0.5).toFixed(1),
    percentile(delays, 0.95).toFixed(1),
    Math.max(...delays).toFixed(1),
    (
      100 *
      percentile(
        runs.map((run) => run.delay / run.duration),
        0.95,
      )
    ).toFixed(1),
  ];
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
}

function drawJob(scenario: Scenario, random: () => number): SimJob {
  const [width = 720, height = 1280] = scenario.size.split('x').map(Number);
  const sizeFactor = Math.sqrt((width * height) / (720 * 1280));
  const render = (20 + 8.5 * Number(scenario.seconds)) * scenario.renderFactor * sizeFactor;
  return {
    queueSeconds: 1 + 5 * random(),
    renderSeconds: render * (scenario.surprise ?? 1) * (0.85 + 0.3 * random()),
    stallSeconds: scenario.shape === 'stall-at-99' ? 5 + 35 * random() : 0,
    shape: scenario.shape,
  };
}

function doneAt(job: SimJob): number {
  return job.queueSeconds + job.renderSeconds + job.stallSeconds;
}

function progressAt(job: SimJob, t: number): number {
  if (t >= doneAt(job)) return 100;
  if (t < job.queueSeconds) return 0;
  const share = Math.min(1, (t - job.queueSeconds) / job.renderSeconds);
  const shaped = job.shape === 'front-loaded' ? Math.sqrt(share) : share;
  return Math.min(99, Math.floor(shaped * 100));
}

function runJob(job: SimJob, scenario: Scenario, policy: Policy): JobResult {
  const expectedSeconds = expectedGenerationSeconds(scenario);
  let t = 0;
  let pollCount = 0;
  let previous: Observation['previous'];
  // The create call answers with status queued, progress 0.
  let observation: Observation = { progress: 0, elapsedSeconds: 0, pollCount, expectedSeconds };
  for (;;) {
    t += policy.wait(observation);
    pollCount += 1;
    const progress = progressAt(job, t);
    if (progress >= 100) return { calls: pollCount, delay: t - doneAt(job), duration: doneAt(job) };
    previous = { progress: observation.progress, elapsedSeconds: observation.elapsedSeconds };
    observation = { progress, elapsedSeconds: t, pollCount, expectedSeconds, previous };
  }
}

function mean(values: number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / Math.max(values.length, 1);
}

function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

main();
