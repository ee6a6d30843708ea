// `npm run generate -- "A cat playing piano" [--model ..] [--seconds ..] [--size ..] [--priority ..]`: one video
// through the local pipeline, as any HTTP client would make it. See infra/local/README.md.
// A thin command over the CLI's API client (infra/cli/api-client.ts): it finds or starts a
// stack, then submits, follows and downloads as `npm run cli -- generate` does. Ctrl-C offers to
// cancel the job (`offerToCancel`).
// Its entry is generate.ts, which turns Node's compile cache on before it loads this module.
import { access, constants, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { ValidationError } from '../../functions/shared/jobs/job-errors.ts';
import { parseVideoRequest } from '../../functions/shared/jobs/job-request.ts';
import { isTerminal } from '../../functions/shared/jobs/job-status.ts';
import type { PublicJob } from '../../functions/shared/jobs/public-job.ts';
import {
  providerConfigFromEnv,
  resolveVideoParams,
  type VideoParamsInput,
} from '../../functions/shared/provider/provider-config.ts';
import { VideoParamsError } from '../../functions/shared/provider/video-params-error.ts';
import { ApiClient, ApiError } from '../cli/api-client.ts';
import type { ApiTarget } from '../cli/api-target.ts';
import { FlagError, parseFlags } from './cli-flags.ts';
import { exitWithError, positiveNumber } from './cli-output.ts';
import { dataDirHolder, stackRunning } from './data-dir-lock.ts';
import { assertSpeedForProvider } from './local-clock.ts';
import { LocalStackError } from './local-errors.ts';
import type { LocalStack, LocalStackInfo, RealProvider } from './local-stack.ts';
import { ProgressBar } from './progress-bar.ts';
import { checkProvider } from './provider-check.ts';
import { providerFromShell } from './provider-from-shell.ts';
import {
  REQUEST_FLAG_OPTIONS,
  type RequestFlagFields,
  type RequestFlagValues,
  requestFlagFields,
} from './request-flags.ts';
import { simulatorCatalogue } from './simulator-catalogue.ts';
import { LOCAL_DATA_DIR, runningStackInfo } from './stack-info.ts';
import { progressLabel } from './standing-text.ts';
import { printable } from './terminal-text.ts';

export const COMMAND = 'generate';
/**
 * With the simulator, a 4 s sora-2 clip (about 100 s of simulated rendering) takes about 1.5 s of
 * wall time (2-2.5 s at x60). Much faster gains little: the handlers' own milliseconds, scaled
 * too, then dominate the job. The price is a clock further ahead of the wall clock after the run
 * (about 10 minutes), which an `npm start` at x1 on the same data catches up (local-clock.ts).
 */
const EMBEDDED_SIMULATOR_SPEED = 150;
/** How long to wait for an `npm start` that is still starting on the same data directory. */
const STARTING_STACK_WAIT_MS = 180_000;
/** The job's state, asked of the local API (a few ms each): a finished job is seen within 0.1 s. */
const POLL_INTERVAL_MS = 100;
/**
 * A second SIGINT this soon after the first is the same Ctrl-C delivered twice: the terminal
 * signals npm and this process, and npm passes its copy on. A later one exits at once.
 */
const SAME_KEYPRESS_MS = 1_000;

const USAGE = `Usage: npm run generate -- "<prompt>" [options]

Generates one video through the local pipeline: uses the stack of a running \`npm start\`, or
starts one for the duration (with the provider simulator unless PROVIDER_BASE_URL and
PROVIDER_API_KEY are set). Saves the MP4 to ./videos/<job id>.mp4.

Options:
  --model <id>       e.g. sora-2, sora-2-pro, luma.ray-v2:0 (Bedrock; default: the provider's default model)
  --seconds <n>      clip length, e.g. 4, 8, 12
  --size <WxH>       e.g. 720x1280, 1280x720
  --priority <p>     high, normal or low: its order among your own waiting videos (default normal)
  --start-timeout <seconds>
                     cancel it, at no cost, if it has not started this long after submission
                     (1 to 604800; default: wait as long as it takes)
  --speed <factor>   an embedded stack's clock runs this many times faster than the wall
                     clock (default ${EMBEDDED_SIMULATOR_SPEED} with the simulator; 1, the only
                     choice, with a real provider)
  --out <dir>        where to save the video (default ./videos)
  --data-dir <dir>   the local stack's data directory (default .local)
  --skip-provider-check
                     with a real provider, do not check it answers GET /videos first
  -h, --help         show this help

Ctrl-C stops following the job and, in a terminal, asks whether to cancel it; otherwise the job
keeps running and the command says how to follow or cancel it.`;

export interface VideoRequestOptions extends RequestFlagValues {
  prompt: string;
  model?: string | undefined;
  seconds?: string | undefined;
  size?: string | undefined;
}

/** A POST /videos body as this command sends it. */
export interface VideoRequestBody extends RequestFlagFields {
  prompt: string;
  model?: string;
  seconds?: string;
  size?: string;
}

/** The stack a command talks to: a running `npm start`, or one started for this command. */
export interface StackConnection {
  info: LocalStackInfo;
  /** Set when this command started the stack; it stops with `close()`. */
  embedded?: LocalStack;
  close(): Promise<void>;
}

/** Raised by `followJob` and `downloadVideo` when their signal aborts. */
export class InterruptedError extends Error {
  override readonly name = 'InterruptedError';
}

/**
 * The request as the API would validate its shape (prompt rule, field formats), checked before
 * any stack starts or anything is submitted. Model, size and seconds against the provider's
 * catalogue are the API's call.
 */
export function checkVideoRequest(options: VideoRequestOptions): VideoRequestBody {
  const request: VideoRequestBody = { prompt: options.prompt };
  if (options.model !== undefined) request.model = options.model;
  if (options.seconds !== undefined) request.seconds = options.seconds;
  if (options.size !== undefined) request.size = options.size;
  try {
    parseVideoRequest(request);
    return { ...request, ...requestFlagFields(options) };
  } catch (error) {
    if (error instanceof FlagError) {
      throw new LocalStackError('invalid-option', error.message, { cause: error });
    }
    if (error instanceof ValidationError) {
      const flag = error.field === 'prompt' ? 'the prompt' : `--${error.field}`;
      throw new LocalStackError(
        'invalid-option',
        `${flag}: ${error.message.replace(/^[^:]+: /, '')}`,
      );
    }
    throw error;
  }
}

/** A path as a user reads it best: relative to the working directory when inside it. */
function shown(path: string): string {
  const inside = relative(process.cwd(), path);
  return inside && !inside.startsWith('..') && !isAbsolute(inside) ? inside : path;
}

/**
 * A first look at `outDir`, before any stack starts, creating nothing: the directory (or the
 * nearest existing one above it, where it will be created) must be a writable directory. Throws
 * a LocalStackError naming `--out` otherwise. `prepareOutDir` makes sure before the submit.
 */
export async function checkOutDir(outDir: string): Promise<void> {
  for (let probe = outDir; ; probe = dirname(probe)) {
    const found = await stat(probe).catch(() => undefined);
    if (found) {
      if (!found.isDirectory()) {
        const what = probe === outDir ? '' : `: ${shown(probe)}`;
        throw new LocalStackError(
          'invalid-option',
          `--out ${shown(outDir)}${what} is a file, not a directory`,
        );
      }
      try {
        await access(probe, constants.W_OK);
      } catch (error) {
        throw new LocalStackError(
          'invalid-option',
          `--out ${shown(outDir)}: ${shown(probe)} cannot be written (${(error as NodeJS.ErrnoException).code ?? 'no access'})`,
          { cause: error },
        );
      }
      return;
    }
    if (dirname(probe) === probe) return;
  }
}

/**
 * Makes sure the video can be saved in `outDir` before a paid job is submitted: creates the
 * directory and writes and removes a file in it. Permissions alone do not tell (root may write
 * anywhere, yet nothing can be created under /proc). Throws a LocalStackError naming `--out`.
 */
export async function prepareOutDir(outDir: string): Promise<void> {
  await makeOutDir(outDir);
  const probe = join(outDir, `.generate-${process.pid}.probe`);
  try {
    await writeFile(probe, '');
    await rm(probe, { force: true });
  } catch (error) {
    throw outDirError(outDir, `a file cannot be written in it`, error);
  }
}

/**
 * Creates `outDir` and its missing parents one level at a time. Not `mkdir(..., { recursive })`:
 * under /proc a missing directory answers ENOENT however often it is created, and Node's
 * recursive mkdir retries that forever, at full CPU, ignoring Ctrl-C.
 */
async function makeOutDir(outDir: string): Promise<void> {
  const missing: string[] = [];
  for (let path = outDir; ; path = dirname(path)) {
    const found = await stat(path).catch((error: NodeJS.ErrnoException) => {
      // ENOTDIR: a file above it, found further up.
      if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined;
      throw outDirError(outDir, `${shown(path)} cannot be read`, error);
    });
    if (found) {
      if (!found.isDirectory()) {
        throw outDirError(outDir, `${shown(path)} is a file, not a directory`);
      }
      break;
    }
    missing.unshift(path);
    if (dirname(path) === path) break;
  }
  for (const path of missing) {
    try {
      await mkdir(path);
    } catch (error) {
      // Created meanwhile (another generate saving there too): fine.
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw outDirError(outDir, `${shown(path)} cannot be created`, error);
    }
  }
}

function outDirError(outDir: string, what: string, cause?: unknown): LocalStackError {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  return new LocalStackError(
    'invalid-option',
    `--out ${shown(outDir)}: ${what}${code ? ` (${code})` : ''}`,
    cause === undefined ? undefined : { cause },
  );
}

/**
 * Finds the stack of a running `npm start` on `dataDir`, waits for one that is starting, or
 * starts one for this command. Another command's stack on the same directory is refused with a
 * `stack-running` LocalStackError naming it.
 */
export async function connectToStack(
  dataDir: string,
  options: StackOptions,
): Promise<StackConnection> {
  const deadline = Date.now() + STARTING_STACK_WAIT_MS;
  let waitingFor: number | undefined;
  for (;;) {
    const info = await runningStackInfo(dataDir);
    if (info) {
      options.say(`Using the running local stack at ${info.apiUrl}`);
      return { info, close: async () => {} };
    }
    const holder = await dataDirHolder(dataDir);
    if (holder && holder.owner !== 'npm start') throw stackRunning(dataDir, holder);
    if (holder) {
      if (waitingFor !== holder.pid) {
        options.say(
          `A local stack is starting on ${dataDir} (npm start, pid ${holder.pid}); waiting for it...`,
        );
        waitingFor = holder.pid;
      }
      if (Date.now() > deadline) {
        throw new LocalStackError(
          'stack-running',
          `the local stack starting on ${dataDir} (pid ${holder.pid}) did not answer within ${STARTING_STACK_WAIT_MS / 1000} s`,
        );
      }
      await new Promise((done) => setTimeout(done, POLL_INTERVAL_MS));
      continue;
    }
    try {
      return await startEmbeddedStack(dataDir, options);
    } catch (error) {
      // Another stack took the directory between our look and our start: look again.
      if (error instanceof LocalStackError && error.code === 'stack-running') continue;
      throw error;
    }
  }
}

interface StackOptions {
  /** The clock speed of a stack started for this command. */
  speed?: number | undefined;
  /** The request, checked against the provider's catalogue before a stack is started for it. */
  request?: VideoParamsInput;
  /** Start without checking that a real provider answers (`--skip-provider-check`). */
  skipProviderCheck?: boolean;
  say: (line: string) => void;
}

async function startEmbeddedStack(
  dataDir: string,
  options: StackOptions,
): Promise<StackConnection> {
  const provider = providerFromShell();
  const speed = options.speed ?? (provider ? 1 : EMBEDDED_SIMULATOR_SPEED);
  assertSpeedForProvider(speed, provider !== undefined);
  if (options.request) checkAgainstCatalogue(options.request, provider);
  if (provider && !options.skipProviderCheck) await checkProvider(provider);
  options.say(`No running stack (npm start): starting one for this video (speed x${speed})...`);
  const { startLocalStack } = await import('./local-stack.ts');
  const stack = await startLocalStack({
    dataDir,
    command: 'npm run generate',
    speed,
    ...(provider ? { provider } : {}),
    logLevel: 'ERROR',
    onStep: (message) => options.say(`  · ${message}`),
  });
  return { info: stack.info(), embedded: stack, close: () => stack.stop() };
}

/**
 * Model, size and seconds against the catalogue the stack about to start will use (the
 * simulator's, Luma Ray2 included; PROVIDER_MODEL / PROVIDER_MODELS with a real provider): a refusal the
 * API would give, given before the stack takes seconds to start.
 */
function checkAgainstCatalogue(request: VideoParamsInput, provider: RealProvider | undefined) {
  const config = providerConfigFromEnv(
    {
      PROVIDER_BASE_URL: provider?.baseUrl ?? 'http://127.0.0.1/v1',
      PROVIDER_MODEL: provider?.model,
      PROVIDER_MODELS: provider ? provider.models : simulatorCatalogue(),
    },
    'catalogue-check-only',
  );
  try {
    resolveVideoParams(config, request);
  } catch (error) {
    if (!(error instanceof VideoParamsError)) throw error;
    throw new LocalStackError('invalid-option', `--${error.field}: ${error.message}`);
  }
}

/** The CLI's view of a stack: where its API is and the default client's token. */
export function stackApiTarget(info: LocalStackInfo, dataDir?: string): ApiTarget {
  return {
    apiUrl: info.apiUrl,
    headers: info.headers,
    description: `the local stack at ${info.apiUrl}`,
    tokenSource: 'the token of the local stack (stack.json)',
    ...(dataDir ? { dataDir } : {}),
  };
}

/** POST /videos; throws a LocalStackError with the API's message when it refuses the request. */
export async function submitVideo(api: ApiClient, request: VideoRequestBody): Promise<PublicJob> {
  try {
    return await api.request<PublicJob>('POST', '/videos', request);
  } catch (error) {
    if (error instanceof ApiError && error.status !== 0) {
      throw new LocalStackError('invalid-option', error.message, { cause: error });
    }
    throw error;
  }
}

/** Polls GET /videos/{id} until the job ends; throws InterruptedError when `signal` aborts. */
export async function followJob(
  api: ApiClient,
  job: PublicJob,
  options: { signal: AbortSignal; onProgress: (job: PublicJob) => void },
): Promise<PublicJob> {
  let current = job;
  try {
    // CANCELLED too: a job cancelled from elsewhere (npm run cli -- cancel) ends the wait.
    while (!isTerminal(current.status)) {
      options.onProgress(current);
      await sleep(POLL_INTERVAL_MS, options.signal);
      current = await api.request<PublicJob>('GET', `/videos/${encodeURIComponent(current.id)}`);
      options.signal.throwIfAborted();
    }
  } catch (error) {
    if (options.signal.aborted) throw new InterruptedError('interrupted', { cause: error });
    throw error;
  }
  options.onProgress(current);
  return current;
}

/**
 * Downloads a completed job's video to `outDir/<id>.mp4` with the CLI's client (the redirect
 * followed without our token, the sha256 checked, a partial file removed on any failure or
 * interruption), after making sure of `outDir` (an error names --out).
 */
export async function downloadVideo(
  info: LocalStackInfo,
  job: PublicJob,
  outDir: string,
  signal?: AbortSignal,
): Promise<string> {
  await makeOutDir(outDir);
  try {
    return await new ApiClient(stackApiTarget(info)).download(
      job,
      outDir,
      signal ? { signal } : {},
    );
  } catch (error) {
    if (signal?.aborted) throw new InterruptedError('interrupted', { cause: error });
    throw error;
  }
}

/**
 * Where the pipeline stored a job's video: the stack's bucket and the key every stored video has
 * (video-storage.ts). Not in the API's view of a job, which shows no S3 key.
 */
async function storedLocation(info: LocalStackInfo, jobId: string): Promise<string> {
  const { mediaKeys } = await import('../../functions/shared/storage/video-storage.ts');
  return `s3://${info.bucket}/${mediaKeys(jobId).video}`;
}

/** The terminal Ctrl-C came from, when there is one: where `offerToCancel` asks. */
export interface PromptStreams {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  /** Whether a person can answer (stdin and stdout are a terminal). */
  interactive: boolean;
}

/**
 * What Ctrl-C does to a job still running: in a terminal, asks "cancel job X? [y/N]" and cancels
 * it on yes (POST /videos/{id}/cancel); without one (a script, a pipe) it asks nothing and the
 * job keeps running. Returns what it did, for the user (undefined: nothing).
 */
export async function offerToCancel(
  jobId: string,
  cancel: () => Promise<unknown>,
  streams: PromptStreams,
): Promise<string | undefined> {
  if (!streams.interactive) return undefined;
  const prompt = createInterface({ input: streams.input, output: streams.output, terminal: false });
  // The input ending without an answer (stdin closed) is a no, not a wait forever.
  const ended = new Promise<undefined>((resolve) => prompt.once('close', () => resolve(undefined)));
  let answer: string | undefined;
  try {
    answer = await Promise.race([
      prompt.question(`\nCancel job ${printable(jobId)}? [y/N] `),
      ended,
    ]);
  } finally {
    prompt.close();
  }
  if (answer === undefined) return undefined;
  if (!/^\s*y(es)?\s*$/i.test(answer)) return undefined;
  try {
    await cancel();
    return `job ${jobId} cancelled`;
  } catch (error) {
    return `job ${jobId} could not be cancelled: ${error instanceof Error ? error.message : String(error)}`;
  }
}

/**
 * A few lines a person reads: what was made, where it is, what it cost. How long the job took is
 * on the stack's clock (its own timestamps); `wallSeconds`, what the command waited for it, is
 * shown too when the two differ (an accelerated stack, or a clock catching up with the wall
 * clock). A job that waited a second or more for a slot says how long, and a priority other than
 * normal is named.
 */
export function jobSummary(
  job: PublicJob,
  facts: { file?: string; stored?: string; wallSeconds?: number } = {},
): string {
  let took = '';
  if (job.completedAt !== undefined) {
    const seconds = (Date.parse(job.completedAt) - Date.parse(job.createdAt)) / 1000;
    const wall = facts.wallSeconds;
    took =
      wall === undefined || Math.abs(seconds - wall) <= Math.max(1, wall * 0.1)
        ? ` in ${seconds.toFixed(1)} s`
        : ` in ${seconds.toFixed(1)} s on the stack's clock (${wall.toFixed(1)} s of wall time)`;
  }
  const waited =
    job.startedAt === undefined
      ? Number.NaN
      : (Date.parse(job.startedAt) - Date.parse(job.createdAt)) / 1000;
  // Short of a second (of wall time, when the command knows it), or of a twentieth of the whole,
  // is the pipeline's own pace (the stack's clock runs its handlers' milliseconds fast too), not
  // a wait for a slot.
  const total =
    job.completedAt === undefined
      ? Number.NaN
      : (Date.parse(job.completedAt) - Date.parse(job.createdAt)) / 1000;
  const wallPerStackSecond =
    facts.wallSeconds !== undefined && total > 0 ? Math.min(1, facts.wallSeconds / total) : 1;
  const queued =
    waited * wallPerStackSecond >= 1 && waited >= total / 20
      ? `, ${waited.toFixed(1)} s of it waiting for a slot`
      : '';
  const priority = job.priority && job.priority !== 'normal' ? `, priority ${job.priority}` : '';
  const lines = [
    `Job        ${job.id} ${job.status}${took}${took ? queued : ''}`,
    `Video      ${job.model}, ${job.size}, ${job.seconds} s, estimated $${job.estimatedCostUsd.toFixed(2)}${priority}`,
  ];
  if (job.error) lines.push(`Error      ${job.error.code}: ${job.error.message}`);
  if (facts.file) {
    lines.push(`Saved      ${facts.file} (${job.video?.bytes ?? '?'} bytes, sha256 verified)`);
  }
  if (facts.stored) lines.push(`Stored     ${facts.stored}`);
  // The error message is the provider's and the model the API's: escaped like a prompt.
  return `${lines.map(printable).join('\n')}\n`;
}

/** What to tell the user when Ctrl-C stopped this command after the job was submitted. */
export function interruptedMessage(
  connection: StackConnection,
  job: PublicJob,
  dataDir: string,
  done: string | undefined,
): string {
  if (done) return `Interrupted: ${printable(done)}\n`;
  // The stack's facts come from stack.json and the id from the API: escaped before printing.
  const apiUrl = printable(connection.info.apiUrl);
  const jobId = printable(job.id);
  // The CLI reads the token from stack.json itself: a hint never prints it.
  const dataDirFlag = dataDir === LOCAL_DATA_DIR ? '' : ` --data-dir ${printable(dataDir)}`;
  if (job.status === 'COMPLETED') {
    return connection.embedded
      ? `Interrupted: job ${jobId} completed; its video was not saved. \`npm start\` serves it at /videos/${jobId}/content.\n`
      : `Interrupted: job ${jobId} completed; its video was not saved. Save it with:
  npm run cli -- download ${jobId}${dataDirFlag}
`;
  }
  if (connection.embedded) {
    return `Interrupted: job ${jobId} is not cancelled. The stack this command started stops now; the next \`npm start\`${dataDir === LOCAL_DATA_DIR ? '' : ` --data-dir ${dataDir}`} resumes the job (or closes it, if the provider lost it). Then follow or cancel it with:
  npm run cli -- follow ${jobId}${dataDirFlag}
  npm run cli -- cancel ${jobId}${dataDirFlag}
`;
  }
  return `Interrupted: job ${jobId} keeps running on the stack at ${apiUrl}. Follow or cancel it with:
  npm run cli -- follow ${jobId}${dataDirFlag}
  npm run cli -- cancel ${jobId}${dataDirFlag}
`;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((done, fail) => {
    if (signal.aborted) return fail(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      done();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      fail(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function parse() {
  return parseFlags({
    options: {
      model: { type: 'string' },
      seconds: { type: 'string' },
      size: { type: 'string' },
      ...REQUEST_FLAG_OPTIONS,
      speed: { type: 'string' },
      out: { type: 'string' },
      'data-dir': { type: 'string' },
      'skip-provider-check': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
    strict: true,
  });
}

/**
 * The command: `npm run generate -- "<prompt>"`. `streams` is where Ctrl-C asks whether to
 * cancel the job (default: this process's terminal, if it has one).
 */
export async function main(streams: PromptStreams = terminalStreams()): Promise<void> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse();
  } catch (error) {
    exitWithError(COMMAND, new LocalStackError('invalid-option', (error as Error).message));
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const prompt = positionals.join(' ').trim();
  if (!prompt) {
    exitWithError(COMMAND, new LocalStackError('invalid-option', `a prompt is required\n${USAGE}`));
  }
  // What the stack, the API and stack.json say reaches the terminal only through printable().
  const say = (line: string) => process.stdout.write(`${printable(line)}\n`);
  // Everything that can be checked is, before a stack starts or a paid job is submitted.
  const speed = positiveNumber(COMMAND, '--speed', values.speed);
  const request = checkVideoRequest({ ...values, prompt });
  const outDir = resolve(values.out ?? 'videos');
  await checkOutDir(outDir);
  const dataDir = values['data-dir'] ? resolve(values['data-dir']) : LOCAL_DATA_DIR;

  // First Ctrl-C: stop following, say what happens to the job, stop an embedded stack. A second
  // one exits at once (the exit hooks and DynamoDB Local's watchdog still clean up).
  const interrupt = new AbortController();
  let connection: StackConnection | undefined;
  // Until the request is sent there is nothing to report: Ctrl-C stops what we started and
  // leaves. A request in flight is not aborted: it may have started a job we must then report.
  let submitting = false;
  let interruptedAt = 0;
  const onSignal = () => {
    if (interrupt.signal.aborted) {
      // One Ctrl-C in a terminal arrives twice (the terminal's and npm's forwarded copy).
      if (Date.now() - interruptedAt < SAME_KEYPRESS_MS) return;
      process.exit(130);
    }
    interruptedAt = Date.now();
    interrupt.abort();
    if (!submitting) {
      process.stdout.write('\nInterrupted; nothing was submitted.\n');
      void (connection?.close() ?? Promise.resolve()).finally(() => process.exit(130));
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  connection = await connectToStack(dataDir, {
    speed,
    request,
    say,
    skipProviderCheck: values['skip-provider-check'] ?? false,
  });
  if (interrupt.signal.aborted) return;
  const api = new ApiClient(stackApiTarget(connection.info, dataDir));
  const bar = new ProgressBar();
  let job: PublicJob | undefined;
  try {
    // Where the video goes is made sure of before the job is paid for, not after it rendered.
    await prepareOutDir(outDir);
    submitting = true;
    const submittedAt = Date.now();
    job = await submitVideo(api, request);
    say(`Job ${job.id} submitted`);
    job = await followJob(api, job, {
      signal: interrupt.signal,
      onProgress: (current) => bar.update(current.progress, progressLabel(current)),
    });
    bar.done();
    const wallSeconds = (Date.now() - submittedAt) / 1000;
    if (job.status === 'FAILED') {
      process.stdout.write(`\n${jobSummary(job, { wallSeconds })}`);
      throw new LocalStackError(
        'job-failed',
        `job ${job.id} FAILED: ${job.error?.code ?? 'unknown'}: ${job.error?.message ?? ''}`,
      );
    }
    if (job.status === 'CANCELLED') {
      throw new LocalStackError('job-failed', `job ${job.id} was CANCELLED`);
    }
    const file = await downloadVideo(connection.info, job, outDir, interrupt.signal);
    const stored = await storedLocation(connection.info, job.id);
    const where = connection.embedded
      ? `${stored} (kept in ${join(dataDir, 's3')}; npm start serves it)`
      : `${stored} (S3 endpoint ${connection.info.s3Endpoint})`;
    process.stdout.write(`\n${jobSummary(job, { file: shown(file), stored: where, wallSeconds })}`);
  } catch (error) {
    bar.done();
    if (!(error instanceof InterruptedError) || !job) throw error;
    const interrupted = job;
    const done =
      interrupted.status === 'COMPLETED'
        ? undefined
        : await offerToCancel(
            interrupted.id,
            () => api.request('POST', `/videos/${encodeURIComponent(interrupted.id)}/cancel`),
            streams,
          );
    process.stdout.write(`\n${interruptedMessage(connection, interrupted, dataDir, done)}`);
    process.exitCode = 130;
  } finally {
    await connection.close();
  }
}

/** This process's terminal: a prompt only when a person sees it and can answer. */
function terminalStreams(): PromptStreams {
  return {
    input: process.stdin,
    output: process.stdout,
    interactive: Boolean(process.stdin.isTTY && process.stdout.isTTY),
  };
}
