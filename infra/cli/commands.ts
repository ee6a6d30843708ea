// The commands of `npm run cli -- <command>` (the `sora-pipeline` bin, infra/cli/cli.ts): the
// HTTP API from a terminal, against the running local stack or a deployed API (SORA_API_URL +
// SORA_API_TOKEN). Importing this module runs the command line of the process.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { relative, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { isTerminal } from '../../functions/shared/jobs/job-status.ts';
import { parseFlags } from '../local/cli-flags.ts';
import {
  REQUEST_FLAG_OPTIONS,
  type RequestFlagFields,
  requestFlagFields,
} from '../local/request-flags.ts';
import { printable, printableJson } from '../local/terminal-text.ts';
import { ApiClient, ApiError, type Video } from './api-client.ts';
import { type ApiTarget, CliUsageError, resolveApiTarget } from './api-target.ts';
import {
  cliCommand,
  type ModelCatalogue,
  modelLines,
  nextPageLine,
  type UsageReport,
  usageLines,
  videoLines,
  videoTable,
} from './cli-text.ts';
import { WaitProgress } from './wait-progress.ts';

const USAGE = `Usage: npm run cli -- <command> [options]   (or: sora-pipeline <command>)

Commands:
  generate "<prompt>" [--model m] [--seconds n] [--size WxH] [--out dir]
                          submit, wait, and save the MP4 (local stack: npm run generate);
                          models lists the choices
  list [--status S] [--batch id] [--limit n] [--cursor c] [--json]
                          your videos, newest first, a page at a time (--limit up to
                          100; a longer list prints the command for its next page)
  get <id> [--json]       one video
  download <id> [--out dir]
                          save a completed video's MP4 (sha256 checked)
  cancel <id>             cancel a waiting or running video
  cancel --batch <id>     cancel the waiting videos of a batch
  remix <id> "<prompt>" [--wait] [--out dir]
                          a new video remixing a completed one (--wait: follow it)
  follow <id> [--out dir]
                          show a video's progress until it ends, then save it
  models [--json]         the models you can ask for: sizes, seconds, defaults, prices
  usage [--day YYYY-MM-DD] [--json]
                          today's spending: the deployment's and yours

generate and remix also take:
  --priority high|normal|low
                    its order among your own waiting videos (default normal)
  --start-timeout <seconds>
                    cancel it, at no cost, if it has not started this long after
                    submission (1 to 604800; default: wait as long as it takes)

The API: SORA_API_URL and SORA_API_TOKEN when set, else the running local stack (npm start).
Options for every command:
  --client <name>   the local stack's named client (npm start -- --clients <name>)
  --data-dir <dir>  the local stack's data directory (default .local)
  -h, --help        show this help

While a command waits for a video, its progress shows on stderr; Ctrl-C stops the wait, not
the video, and prints the follow command that picks it up again.

Exit codes: 0 done, 1 the API or the job failed, 2 a usage error, 130 stopped following.`;

const OPTIONS = {
  model: { type: 'string' },
  seconds: { type: 'string' },
  size: { type: 'string' },
  ...REQUEST_FLAG_OPTIONS,
  out: { type: 'string' },
  status: { type: 'string' },
  batch: { type: 'string' },
  limit: { type: 'string' },
  cursor: { type: 'string' },
  day: { type: 'string' },
  json: { type: 'boolean' },
  wait: { type: 'boolean' },
  client: { type: 'string' },
  'data-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parse>['values'];

function parse(args: string[]) {
  return parseFlags({ args, options: OPTIONS, allowPositionals: true, strict: true });
}

/**
 * Everything a command needs: its arguments, the API, and where to print. Every line passes
 * through printable(): prompts, messages and names come from other clients and providers.
 */
interface CommandContext {
  args: string[];
  values: Values;
  /** What `--priority` and `--start-timeout` ask for, checked before the API is looked for. */
  requestFields: RequestFlagFields;
  target: ApiTarget;
  api: ApiClient;
  /** Prints one line, its control characters escaped. */
  out: (line: string) => void;
  /** Prints a value as JSON (--json), its control characters escaped. */
  json: (value: unknown) => void;
  /** The flags that chose the API and client, for the commands a hint prints. */
  connection: { client: string | undefined; 'data-dir': string | undefined };
}

type Command = (context: CommandContext) => Promise<number>;

/** Ctrl-C ended a wait; the job goes on. Its message says how to follow it again. */
class DetachedError extends Error {
  override name = 'DetachedError';
}

const POLL_MS = 1000;

const commands: Record<string, Command> = {
  async generate(context) {
    const prompt = context.args.join(' ').trim();
    if (!prompt) throw new CliUsageError('generate: a prompt is required');
    if (context.target.dataDir !== undefined && context.values.client === undefined) {
      // The local stack's own command: it starts a stack when none runs, shows progress, saves.
      return runLocalGenerate(prompt, context.values, context.target.dataDir);
    }
    const request: Record<string, unknown> = { prompt, ...context.requestFields };
    for (const field of ['model', 'seconds', 'size'] as const) {
      const value = context.values[field];
      if (value !== undefined) request[field] = value;
    }
    const video = await context.api.request<Video>('POST', '/videos', request);
    context.out(`Submitted ${video.id}`);
    return finish(context, await waitFor(context, video));
  },

  async list(context) {
    const query = new URLSearchParams();
    if (context.values.status) query.set('status', context.values.status);
    if (context.values.batch) query.set('batch', context.values.batch);
    query.set('limit', context.values.limit ?? '20');
    if (context.values.cursor) query.set('cursor', context.values.cursor);
    const page = await context.api.request<{ videos: Video[]; nextCursor: string | null }>(
      'GET',
      `/videos?${query}`,
    );
    if (context.values.json) {
      context.json(page);
      return 0;
    }
    if (page.videos.length === 0) {
      context.out('No videos.');
      return 0;
    }
    for (const row of videoTable(page.videos)) context.out(row);
    if (page.nextCursor) {
      const { status, batch, limit } = context.values;
      context.out(nextPageLine({ status, batch, limit, ...context.connection }, page.nextCursor));
    }
    return 0;
  },

  async get(context) {
    const video = await context.api.request<Video>('GET', videoPath(idArgument(context)));
    if (context.values.json) context.json(video);
    else for (const line of videoLines(video)) context.out(line);
    return 0;
  },

  async download(context) {
    const video = await context.api.request<Video>('GET', videoPath(idArgument(context)));
    if (video.status !== 'COMPLETED') {
      throw new ApiError(
        409,
        'video_not_completed',
        `${video.id} is ${video.status}, not COMPLETED`,
      );
    }
    const file = await context.api.download(video, resolve(context.values.out ?? 'videos'));
    context.out(
      `Saved ${relative(process.cwd(), file) || file} (${video.video?.bytes ?? '?'} bytes, sha256 verified)`,
    );
    return 0;
  },

  async cancel(context) {
    if (context.values.batch !== undefined) {
      let cancelled = 0;
      for (;;) {
        const result = await context.api.request<{ cancelled: string[]; more: boolean }>(
          'POST',
          `/batches/${encodeURIComponent(context.values.batch)}/cancel`,
        );
        cancelled += result.cancelled.length;
        if (!result.more || result.cancelled.length === 0) break;
      }
      context.out(`Cancelled ${cancelled} waiting video(s) of ${context.values.batch}`);
      return 0;
    }
    const video = await context.api.request<Video>(
      'POST',
      `${videoPath(idArgument(context))}/cancel`,
    );
    context.out(`${video.id} ${video.status}`);
    return 0;
  },

  async remix(context) {
    const [id, ...words] = context.args;
    const prompt = words.join(' ').trim();
    if (!id || !prompt) throw new CliUsageError('remix: an id and a prompt are required');
    const video = await context.api.request<Video>('POST', `${videoPath(id)}/remix`, {
      prompt,
      ...context.requestFields,
    });
    context.out(`Submitted ${video.id} (remix of ${id})`);
    if (!context.values.wait) return 0;
    return finish(context, await waitFor(context, video));
  },

  async models(context) {
    const catalogue = await context.api.request<ModelCatalogue>('GET', '/models');
    if (context.values.json) context.json(catalogue);
    else for (const line of modelLines(catalogue)) context.out(line);
    return 0;
  },

  async follow(context) {
    const video = await context.api.request<Video>('GET', videoPath(idArgument(context)));
    context.out(`Following ${video.id} (Ctrl-C stops following; the job goes on)`);
    return finish(context, await waitFor(context, video));
  },

  async usage(context) {
    const query = context.values.day ? `?day=${encodeURIComponent(context.values.day)}` : '';
    const usage = await context.api.request<UsageReport>('GET', `/usage${query}`);
    if (context.values.json) {
      context.json(usage);
      return 0;
    }
    for (const line of usageLines(usage)) context.out(line);
    return 0;
  },
};

const videoPath = (id: string) => `/videos/${encodeURIComponent(id)}`;

function idArgument(context: CommandContext): string {
  const [id] = context.args;
  if (!id) throw new CliUsageError('a video id is required');
  return id;
}

/**
 * Polls the video until it ends, showing its progress on stderr. Ctrl-C stops the wait, not the
 * job: it throws DetachedError, whose message says how to follow the job again.
 */
async function waitFor(context: CommandContext, video: Video): Promise<Video> {
  const progress = new WaitProgress(process.stderr);
  const detach = new AbortController();
  const onInterrupt = () => detach.abort();
  process.on('SIGINT', onInterrupt);
  let current = video;
  try {
    while (!isTerminal(current.status)) {
      progress.update(current);
      await delay(POLL_MS, undefined, { signal: detach.signal });
      current = await context.api.request<Video>('GET', videoPath(current.id));
      // A Ctrl-C during the request: the answer is not shown, the wait ends as it would asleep.
      if (detach.signal.aborted) throw detach.signal.reason;
    }
    progress.update(current);
  } catch (error) {
    if (!detach.signal.aborted) throw error;
    throw new DetachedError(
      `Stopped following ${current.id}; it keeps running (Ctrl-C does not cancel it). Follow it again with:\n  ${cliCommand(['follow', current.id], context.connection)}`,
    );
  } finally {
    progress.done();
    process.off('SIGINT', onInterrupt);
  }
  return current;
}

/** Saves a completed video; a failed or cancelled one exits 1 with its reason. */
async function finish(context: CommandContext, video: Video): Promise<number> {
  if (video.status !== 'COMPLETED') {
    const reason = video.error ? `: ${video.error.code}: ${video.error.message}` : '';
    process.stderr.write(`sora-pipeline: ${printable(`${video.id} ${video.status}${reason}`)}\n`);
    return 1;
  }
  const file = await context.api.download(video, resolve(context.values.out ?? 'videos'));
  context.out(`Saved ${relative(process.cwd(), file) || file} (sha256 verified)`);
  return 0;
}

/** `npm run generate` (infra/local/generate.ts) for the local stack, as a child. */
async function runLocalGenerate(prompt: string, values: Values, dataDir: string): Promise<number> {
  const script = fileURLToPath(new URL('../local/generate.ts', import.meta.url));
  const args = [script, prompt, '--data-dir', dataDir];
  for (const flag of ['model', 'seconds', 'size', 'priority', 'start-timeout', 'out'] as const) {
    const value = values[flag];
    if (value !== undefined) args.push(`--${flag}`, value);
  }
  const child = spawn(process.execPath, args, { stdio: 'inherit' });
  const [code] = (await once(child, 'exit')) as [number | null];
  return code ?? 1;
}

async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  let requestFields: RequestFlagFields;
  try {
    parsed = parse(argv);
    requestFields = requestFlagFields(parsed.values);
  } catch (error) {
    throw new CliUsageError((error as Error).message, { cause: error });
  }
  const [name, ...args] = parsed.positionals;
  if (parsed.values.help || name === undefined || name === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return name === undefined && !parsed.values.help ? 2 : 0;
  }
  const command = commands[name];
  if (!command) throw new CliUsageError(`unknown command "${name}" (see --help)`);
  const target = await resolveApiTarget(process.env, {
    client: parsed.values.client,
    dataDir: parsed.values['data-dir'] ? resolve(parsed.values['data-dir']) : undefined,
  });
  return command({
    args,
    values: parsed.values,
    requestFields,
    target,
    api: new ApiClient(target),
    out: (line) => process.stdout.write(`${printable(line)}\n`),
    json: (value) => process.stdout.write(`${printableJson(value)}\n`),
    connection: { client: parsed.values.client, 'data-dir': parsed.values['data-dir'] },
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof DetachedError) {
      for (const line of error.message.split('\n')) process.stderr.write(`${printable(line)}\n`);
      process.exit(130);
    }
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`sora-pipeline: ${printable(message.split('\n')[0] ?? '')}\n`);
    if (process.env.DEBUG && error instanceof Error && !(error instanceof CliUsageError)) {
      process.stderr.write(`${error.stack ?? ''}\n`);
    }
    process.exit(error instanceof CliUsageError ? 2 : 1);
  },
);
