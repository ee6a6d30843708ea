// npm run simulator -- --port 4010 --speed 10 --api-key k   (--help lists every flag)
// npm run simulator -- --deployments eastus:8101,westus:8102 --knobs 'westus={"unavailable":true}'
import { parseArgs } from 'node:util';
import { DeploymentStartError, type SimulatorDeployment, startSimulatorPool } from './pool.ts';
import {
  InvalidKnobError,
  type RunningSimulator,
  type SimulatorOptions,
  startSimulator,
} from './simulator.ts';

const numberFlags = {
  port: 'port',
  speed: 'speed',
  seed: 'seed',
  'requests-per-minute': 'requestsPerMinute',
  'max-concurrent-jobs': 'maxConcurrentJobs',
  'server-error-rate': 'serverErrorRate',
  'fail-next-requests': 'failNextRequests',
  'latency-ms': 'latencyMs',
  'drop-next-create-responses': 'dropNextCreateResponses',
  'drop-connection-after-bytes': 'dropConnectionAfterBytes',
  'truncate-content-bytes': 'truncateContentBytes',
  'content-size-bytes': 'contentSizeBytes',
  'content-ttl-seconds': 'contentTtlSeconds',
} as const;

const stringFlags = {
  host: 'host',
  'api-key': 'apiKey',
  'rate-limit-scope': 'rateLimitScope',
  'moderation-marker': 'moderationMarker',
  'render-failure-marker': 'renderFailureMarker',
  's3-endpoint': 's3Endpoint',
  journal: 'journalFile',
} as const;

const usage = `Usage: npm run simulator -- [flags]

Serves the /v1/videos protocol (create, retrieve, list, delete, remix, content), and Amazon
Bedrock's async-invoke API (Luma Ray2) on a second, HTTP/2 port.

  --port N                         listen port (default 4010; 0 picks a free one)
  --host ADDR                      listen address (default 127.0.0.1)
  --api-key KEY                    accept only this bearer token (default: any non-empty one)
  --speed X                        divide every simulated duration by X (default 1)
  --seed N                         seed ids, durations and injected faults
  --requests-per-minute N          429 beyond N requests per (speed-scaled) minute
  --rate-limit-scope create|all    what the per-minute limit counts (default create)
  --max-concurrent-jobs N          429 on creates beyond N queued/in-progress jobs
  --server-error-rate R            answer this fraction (0..1) of requests with 500/503
  --fail-next-requests N           answer the next N requests with 503
  --unavailable                    answer every request with 503 (a deployment that is down)
  --latency-ms N                   delay every response
  --drop-next-create-responses N   start the next N jobs but reset the create connection
  --drop-connection-after-bytes N  reset content downloads after N bytes
  --truncate-content-bytes N       close content downloads after N bytes
  --content-size-bytes N           pad the MP4 to exactly N bytes
  --content-ttl-seconds N          content expires N seconds after completion (default 3600)
  --moderation-marker TEXT         prompts containing TEXT are refused (moderation_blocked)
  --render-failure-marker TEXT     prompts containing TEXT fail while rendering
  --s3-endpoint URL                where Bedrock invocations write their MP4 (e.g. a local S3)
  --models JSON                    model catalogue, e.g. '{"veo-3":{"sizes":["1280x720"],"seconds":["8"]}}'
  --journal FILE                   keep the jobs in FILE across restarts (one JSON line per change)
  --help                           show this help

Several deployments (a provider pool), each an independent simulator with its own port, jobs,
stats and journal (FILE-<id>.jsonl); the flags above apply to all of them:

  --deployments ID[:PORT],...      e.g. eastus:8101,westus:8102; a deployment without a port
                                   takes --port plus its position (all free ports with --port 0)
  --knobs ID=JSON                  knobs of one deployment over the shared ones, by their names in
                                   knobs.ts, e.g. --knobs 'westus={"unavailable":true}'
                                   (repeat the flag for each deployment)
`;

class UsageError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'UsageError';
  }
}

interface CliOptions {
  options: SimulatorOptions;
  /** Absent: one simulator, as before pools. */
  deployments?: SimulatorDeployment[];
}

function parseOptions(argv: string[]): CliOptions | null {
  const parsed = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      ...Object.fromEntries(
        [...Object.keys(numberFlags), ...Object.keys(stringFlags), 'models', 'deployments'].map(
          (flag) => [flag, { type: 'string' as const }],
        ),
      ),
      knobs: { type: 'string', multiple: true },
      unavailable: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  // The option table is built from the flag maps, so parseArgs cannot type the values by name.
  const values: Record<string, string | string[] | boolean | undefined> = parsed.values;
  if (values.help === true) return null;
  const options: Record<string, unknown> = { port: 4010 };
  for (const [flag, key] of Object.entries(numberFlags)) {
    const raw = values[flag];
    if (typeof raw !== 'string') continue;
    const value = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(value)) {
      throw new UsageError(`--${flag} expects a number, got '${raw}'`);
    }
    options[key] = value;
  }
  for (const [flag, key] of Object.entries(stringFlags)) {
    const raw = values[flag];
    if (typeof raw === 'string') options[key] = raw;
  }
  if (values.unavailable === true) options.unavailable = true;
  if (typeof values.models === 'string') {
    try {
      options.models = JSON.parse(values.models);
    } catch (error) {
      throw new UsageError('--models expects a JSON object', { cause: error });
    }
  }
  const knobs = Array.isArray(values.knobs) ? values.knobs : [];
  if (typeof values.deployments !== 'string') {
    if (knobs.length > 0) throw new UsageError('--knobs needs --deployments');
    return { options: options as SimulatorOptions };
  }
  const deployments = parseDeployments(values.deployments);
  for (const [id, deploymentKnobs] of parseDeploymentKnobs(knobs)) {
    const deployment = deployments.find((candidate) => candidate.id === id);
    if (!deployment) {
      throw new UsageError(
        `--knobs names '${id}', which is not in --deployments (${deployments.map((d) => d.id).join(', ')})`,
      );
    }
    deployment.knobs = { ...deployment.knobs, ...deploymentKnobs };
  }
  return { options: options as SimulatorOptions, deployments };
}

/** `eastus:8101,westus` -> the deployments, ports where given (ids are checked by the pool). */
function parseDeployments(raw: string): SimulatorDeployment[] {
  return raw.split(',').map((entry) => {
    const [id = '', port, ...rest] = entry.trim().split(':');
    if (id === '' || rest.length > 0) {
      throw new UsageError(`--deployments expects ID[:PORT],..., got '${entry}'`);
    }
    if (port === undefined) return { id };
    const value = Number(port);
    if (port.trim() === '' || !Number.isInteger(value) || value < 0 || value > 65535) {
      throw new UsageError(`--deployments: the port of '${id}' must be 0 to 65535, got '${port}'`);
    }
    return { id, port: value };
  });
}

/** `--knobs 'eastus={"unavailable":true}'`, repeated: the knobs by deployment id. */
function parseDeploymentKnobs(entries: string[]): Map<string, Record<string, unknown>> {
  const byId = new Map<string, Record<string, unknown>>();
  for (const entry of entries) {
    const at = entry.indexOf('=');
    if (at <= 0) throw new UsageError(`--knobs expects ID=JSON, got '${entry}'`);
    const id = entry.slice(0, at).trim();
    let knobs: unknown;
    try {
      knobs = JSON.parse(entry.slice(at + 1));
    } catch (error) {
      throw new UsageError(`--knobs ${id}: expects a JSON object of knobs`, { cause: error });
    }
    if (typeof knobs !== 'object' || knobs === null || Array.isArray(knobs)) {
      throw new UsageError(`--knobs ${id}: expects a JSON object of knobs`);
    }
    byId.set(id, { ...byId.get(id), ...(knobs as Record<string, unknown>) });
  }
  return byId;
}

async function main(): Promise<number> {
  let cli: CliOptions | null;
  try {
    cli = parseOptions(process.argv.slice(2));
  } catch (error) {
    // parseArgs throws TypeErrors with a readable message for unknown or malformed flags.
    console.error(`simulator: ${error instanceof Error ? error.message : String(error)}`);
    console.error('Run with --help to list the flags.');
    return 2;
  }
  if (cli === null) {
    console.log(usage);
    return 0;
  }
  const { options, deployments } = cli;
  const logError = (error: unknown) => console.error('simulator: unexpected error', error);
  if (deployments) return runPool(options, deployments, logError);
  try {
    const sim = await startSimulator({ ...options, logError });
    console.log(`Provider simulator listening on ${sim.baseURL} (speed ${sim.knobs.speed}x)`);
    console.log(
      `Bedrock async-invoke API (HTTP/2) on ${sim.bedrockEndpoint}: AWS_ENDPOINT_URL_BEDROCK_RUNTIME=${sim.bedrockEndpoint}`,
    );
    printTry(sim);
    await stopSignal();
    await sim.close();
    console.log('Provider simulator stopped.');
    return 0;
  } catch (error) {
    console.error(`simulator: ${describeStartError(error, options)}`);
    return 1;
  }
}

/** One simulator per deployment; prints each one's URL and the catalogue's `deployments`. */
async function runPool(
  options: SimulatorOptions,
  deployments: SimulatorDeployment[],
  logError: (error: unknown) => void,
): Promise<number> {
  try {
    const pool = await startSimulatorPool({ ...options, deployments, logError });
    for (const id of pool.ids) {
      const sim = pool.get(id);
      const faults = sim.knobs.unavailable ? ', answering 503 to everything' : '';
      console.log(
        `Deployment ${id}: provider simulator listening on ${sim.baseURL} (speed ${sim.knobs.speed}x${faults})`,
      );
    }
    console.log('In the catalogue (PROVIDER_MODELS), a model served by these deployments lists:');
    console.log(`  "deployments": ${JSON.stringify(pool.deployments())}`);
    const [first] = pool.ids;
    if (first !== undefined) printTry(pool.get(first));
    await stopSignal();
    await pool.close();
    console.log('Provider simulators stopped.');
    return 0;
  } catch (error) {
    if (error instanceof DeploymentStartError) {
      const reason = describeStartError(
        error.cause,
        { ...options, port: error.port },
        'in --deployments',
      );
      console.error(`simulator: deployment ${error.deployment}: ${reason}`);
    } else {
      console.error(`simulator: ${describeStartError(error, options)}`);
    }
    return 1;
  }
}

function stopSignal(): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

function printTry(sim: RunningSimulator): void {
  const key = sim.knobs.apiKey ?? 'any-key';
  console.log('Try:');
  console.log(
    `  curl -s ${sim.baseURL}/videos -H 'Authorization: Bearer ${key}' -H 'Content-Type: application/json' -d '{"prompt":"A calm lake at dawn"}'`,
  );
  console.log(`  curl -s ${sim.baseURL}/videos/VIDEO_ID -H 'Authorization: Bearer ${key}'`);
  console.log(
    `  curl -s -o video.mp4 ${sim.baseURL}/videos/VIDEO_ID/content -H 'Authorization: Bearer ${key}'`,
  );
}

function describeStartError(
  error: unknown,
  options: SimulatorOptions,
  portFlag = 'with --port',
): string {
  if (error instanceof InvalidKnobError) return error.message;
  const code = typeof error === 'object' && error !== null && 'code' in error ? error.code : null;
  const where = `${options.host ?? '127.0.0.1'}:${options.port}`;
  if (code === 'EADDRINUSE') return `port ${where} is already in use; pick another ${portFlag}`;
  if (code === 'EACCES') return `not allowed to listen on ${where}`;
  if (code === 'EADDRNOTAVAIL') return `cannot listen on ${where}: no such local address`;
  return error instanceof Error ? error.message : String(error);
}

process.exitCode = await main();
