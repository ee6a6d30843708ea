// `npm start [-- --port 4000] [--speed 10] [--fresh] [--log-level INFO] [--clients alice,bob]
// [--client-settings '{"bob":{"maxConcurrent":2}}'] [--client-rate 20/2]`: the whole pipeline on
// this machine until Ctrl-C. See infra/local/README.md. Its entry is start.ts, which turns Node's
// compile cache on before it loads this module.

import { resolve } from 'node:path';
import {
  CLIENT_RATE_ENV_NAMES,
  clientRateConfigFromEnv,
} from '../../functions/shared/limits/client-rate-config.ts';
import { parseFlags } from './cli-flags.ts';
import { exitWithError, positiveNumber } from './cli-output.ts';
import { parseClientNames } from './local-api-tokens.ts';
import { parseClientSettings } from './local-client-settings.ts';
import { assertSpeedForProvider } from './local-clock.ts';
import { LocalStackError } from './local-errors.ts';
import { describeBusEvent } from './local-event-bus.ts';
import type { LocalStack, LocalStackInfo } from './local-stack.ts';
import { checkProvider } from './provider-check.ts';
import { providerFromShell } from './provider-from-shell.ts';
import { LOCAL_DATA_DIR, removeStackInfo, stackInfoPath, writeStackInfo } from './stack-info.ts';
import { clockCatchUpNote, startBanner } from './start-banner.ts';
import {
  compactHandlerLogs,
  type EndedJob,
  executionEndLine,
  webhookDeliveryLine,
} from './terminal-log.ts';
import { printable } from './terminal-text.ts';

export const COMMAND = 'npm start';
const DEFAULT_PORT = 4000;
/**
 * A second SIGINT or SIGTERM this soon after the first is the same one delivered twice (the
 * terminal's to us and npm's forwarded copy); a later one means "stop anyway, now".
 */
const SAME_KEYPRESS_MS = 1_000;

const USAGE = `Usage: npm start -- [options]

Runs the pipeline on 127.0.0.1: HTTP API, state machine, DynamoDB Local, S3 emulator and the
provider simulator (or a real provider: set PROVIDER_BASE_URL and PROVIDER_API_KEY).

Options:
  --port <n>         HTTP API port (default ${DEFAULT_PORT}; 0 picks a free one); the web
                     console listens on the next port
  --speed <factor>   run the stack's one clock this many times faster than the wall clock:
                     timestamps, the simulator, waits, retries, limits and the schedule
                     (default 1; 1 with a real provider)
  --fresh            start with empty DynamoDB and S3 data, the clock at the wall clock
  --log-level <lvl>  handler log level: DEBUG, INFO, WARN, ERROR (default WARN)
  --data-dir <dir>   where data, the API tokens, the clock and stack.json live (default .local)
  --clients <names>  named API clients, comma-separated (e.g. alice,bob): each gets its own
                     token and sees only its own jobs; an admin client is always created
  --client-settings <json>
                     named clients' shares, e.g. '{"bob":{"weight":1,"maxConcurrent":2,
                     "dailyBudgetUsd":2}}': weight in the fair share of slots (default 1),
                     a cap on its jobs at once, a daily budget in USD of its own
  --client-rate <requests>[/<seconds>]
                     requests each client may send per window of <seconds> (default 20/2,
                     on the stack's clock; 0 turns the limit off); over it: 429
  --skip-provider-check
                     with a real provider, do not check it answers GET /videos at start
  -h, --help         show this help`;

export async function main(): Promise<void> {
  let values: ReturnType<typeof parse>['values'];
  try {
    ({ values } = parse());
  } catch (error) {
    exitWithError(COMMAND, new LocalStackError('invalid-option', (error as Error).message));
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const port = values.port === undefined ? DEFAULT_PORT : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    exitWithError(
      COMMAND,
      new LocalStackError('invalid-option', `--port must be 0-65535, got "${values.port}"`),
    );
  }
  const speed = positiveNumber(COMMAND, '--speed', values.speed) ?? 1;
  const provider = providerFromShell();
  assertSpeedForProvider(speed, provider !== undefined);
  if (provider && !values['skip-provider-check']) await checkProvider(provider);
  const dataDir = values['data-dir'] ? resolve(values['data-dir']) : LOCAL_DATA_DIR;
  let clients: string[] = [];
  let clientSettings: ReturnType<typeof parseClientSettings> = {};
  let clientRate: ReturnType<typeof parseClientRate>;
  try {
    clients = parseClientNames(values.clients);
    clientSettings = parseClientSettings(values['client-settings'], clients);
    clientRate = parseClientRate(values['client-rate']);
  } catch (error) {
    exitWithError(COMMAND, error);
  }

  // Signals are handled from the start: during start-up, exiting runs the exit hook that kills
  // the java child (a default SIGTERM/SIGINT death would orphan it).
  let stack: LocalStack | undefined;
  let stopping = false;
  let stoppingSince = 0;
  const stop = async (signal: string) => {
    if (stopping) {
      // Ctrl-C in a terminal signals the whole foreground process group: npm and us. npm then
      // passes its copy on, so one keypress arrives twice, a moment apart: not a second Ctrl-C.
      if (Date.now() - stoppingSince < SAME_KEYPRESS_MS) return;
      process.stderr.write('Stopping anyway.\n');
      process.exit(1);
    }
    if (!stack) process.exit(130);
    stopping = true;
    stoppingSince = Date.now();
    process.stdout.write(`\n${signal}: stopping the local stack...\n`);
    await removeStackInfo(dataDir, stack.apiUrl);
    await stack.stop();
    // Stopping is what Ctrl-C is for here: a clean stop exits 0, whichever signal asked for it.
    process.stdout.write('Stopped; nothing left running.\n');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  // npm passes SIGINT and SIGTERM on to its script, which `exec`s us (package.json). If npm dies
  // without doing so (SIGKILL), we are re-parented: noticing that stops the stack instead of
  // leaving it running (java itself dies with us in any case: see dynamodb-local.ts).
  const parentPid = process.ppid;
  setInterval(() => {
    if (process.ppid !== parentPid) void stop('parent process exited');
  }, 500).unref();

  // The handlers' JSON log lines (for CloudWatch) become one short line each in the terminal.
  const logLevel = values['log-level'] ?? 'WARN';
  if (logLevel.toUpperCase() !== 'DEBUG') {
    compactHandlerLogs(process.stdout);
    compactHandlerLogs(process.stderr);
  }

  const started = Date.now();
  // Loaded only now: the CDK app and the handlers' modules take a moment to import.
  const { startLocalStack } = await import('./local-stack.ts');
  stack = await startLocalStack({
    dataDir,
    command: COMMAND,
    fresh: values.fresh ?? false,
    speed,
    apiPort: port,
    // The console next to the API: 4001 by default.
    consolePort: port === 0 || port === 65_535 ? 0 : port + 1,
    clients,
    clientSettings,
    ...(clientRate ? { clientRate } : {}),
    ...(provider ? { provider } : {}),
    logLevel,
    onStep: (message) => process.stdout.write(`  · ${message}\n`),
    // Handler errors and events can quote a provider's message or a prompt file's name.
    onFunctionError: (source, error) =>
      process.stderr.write(
        `  ! ${printable(`${source}: ${error.errorType}: ${error.errorMessage}`)}\n`,
      ),
    onEvent: (event) => process.stdout.write(`  ${printable(describeBusEvent(event))}\n`),
  });
  const info = stack.info();
  await writeStackInfo(dataDir, info);

  // Execution dates are on the stack's clock: at --speed 50 a minute of it is 1.2 s of yours.
  // The job's own record says why it failed (its error code), which the execution's error name
  // (e.g. ProviderRejectedError) does not.
  const running = stack;
  running.stepFunctions.onExecutionEnd((execution) => {
    // A webhook delivery is not the job: its line says whether the event was delivered.
    if (execution.stateMachineArn !== info.stateMachineArn) {
      const line = webhookDeliveryLine(execution, speed);
      if (line && !stopping) process.stdout.write(line);
      return;
    }
    void endedJob(info, execution.input).then((job) => {
      if (!stopping) process.stdout.write(executionEndLine(execution, job, speed));
    });
  });
  process.stdout.write(
    startBanner({
      info,
      limits: running.limits,
      speed,
      readySeconds: (Date.now() - started) / 1000,
      dataDir,
      stackInfoFile: stackInfoPath(dataDir),
      realProvider: provider !== undefined,
      clientSettings,
      notes: running.clock.catchUp ? [clockCatchUpNote(running.clock.catchUp, Date.now())] : [],
    }),
  );
}

/** The job an execution ran, through the API as any client sees it (undefined if it fails). */
async function endedJob(info: LocalStackInfo, input: string): Promise<EndedJob | undefined> {
  try {
    const { jobId } = JSON.parse(input) as { jobId?: unknown };
    if (typeof jobId !== 'string') return undefined;
    const response = await fetch(`${info.apiUrl}/videos/${encodeURIComponent(jobId)}`, {
      headers: info.headers,
      signal: AbortSignal.timeout(5_000),
    });
    return response.ok ? ((await response.json()) as EndedJob) : undefined;
  } catch {
    return undefined;
  }
}

/** `--client-rate 20/2` (20 requests per 2 s), `--client-rate 5` (per default window), `0`. */
function parseClientRate(
  value: string | undefined,
): { requestsPerWindow: number; windowSeconds?: number } | undefined {
  if (value === undefined) return undefined;
  const invalid = new LocalStackError(
    'invalid-option',
    `--client-rate must be <requests>[/<seconds>] (requests 0-100000, seconds 1-3600), e.g. 20/2; got "${value}"`,
  );
  const [, requests, seconds] = /^(\d+)(?:\/(\d+))?$/.exec(value.trim()) ?? [];
  if (requests === undefined) throw invalid;
  try {
    // The range checks of the API function's own configuration.
    const rate = clientRateConfigFromEnv({
      [CLIENT_RATE_ENV_NAMES.requestsPerWindow]: requests,
      [CLIENT_RATE_ENV_NAMES.windowSeconds]: seconds,
    });
    return seconds === undefined ? { requestsPerWindow: rate.requestsPerWindow } : rate;
  } catch (error) {
    throw new LocalStackError('invalid-option', invalid.message, { cause: error });
  }
}

function parse() {
  return parseFlags({
    options: {
      port: { type: 'string' },
      speed: { type: 'string' },
      fresh: { type: 'boolean' },
      'log-level': { type: 'string' },
      'data-dir': { type: 'string' },
      clients: { type: 'string' },
      'client-settings': { type: 'string' },
      'client-rate': { type: 'string' },
      'skip-provider-check': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
}
