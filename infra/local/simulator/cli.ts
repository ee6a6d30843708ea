// npm run simulator -- --port 4010 --speed 10 --api-key k   (--help lists every flag)
import { parseArgs } from 'node:util';
import { InvalidKnobError, type SimulatorOptions, startSimulator } from './simulator.ts';

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
  --help                           show this help
`;

class UsageError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'UsageError';
  }
}

function parseOptions(argv: string[]): SimulatorOptions | null {
  const parsed = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      ...Object.fromEntries(
        [...Object.keys(numberFlags), ...Object.keys(stringFlags), 'models'].map((flag) => [
          flag,
          { type: 'string' as const },
        ]),
      ),
      help: { type: 'boolean' },
    },
  });
  // The option table is built from the flag maps, so parseArgs cannot type the values by name.
  const values: Record<string, string | boolean | undefined> = parsed.values;
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
  if (typeof values.models === 'string') {
    try {
      options.models = JSON.parse(values.models);
    } catch (error) {
      throw new UsageError('--models expects a JSON object', { cause: error });
    }
  }
  return options as SimulatorOptions;
}

async function main(): Promise<number> {
  let options: SimulatorOptions | null;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    // parseArgs throws TypeErrors with a readable message for unknown or malformed flags.
    console.error(`simulator: ${error instanceof Error ? error.message : String(error)}`);
    console.error('Run with --help to list the flags.');
    return 2;
  }
  if (options === null) {
    console.log(usage);
    return 0;
  }
  try {
    const sim = await startSimulator({
      ...options,
      logError: (error) => console.error('simulator: unexpected error', error),
    });
    const key = sim.knobs.apiKey ?? 'any-key';
    console.log(`Provider simulator listening on ${sim.baseURL} (speed ${sim.knobs.speed}x)`);
    console.log(
      `Bedrock async-invoke API (HTTP/2) on ${sim.bedrockEndpoint}: AWS_ENDPOINT_URL_BEDROCK_RUNTIME=${sim.bedrockEndpoint}`,
    );
    console.log('Try:');
    console.log(
      `  curl -s ${sim.baseURL}/videos -H 'Authorization: Bearer ${key}' -H 'Content-Type: application/json' -d '{"prompt":"A calm lake at dawn"}'`,
    );
    console.log(`  curl -s ${sim.baseURL}/videos/VIDEO_ID -H 'Authorization: Bearer ${key}'`);
    console.log(
      `  curl -s -o video.mp4 ${sim.baseURL}/videos/VIDEO_ID/content -H 'Authorization: Bearer ${key}'`,
    );
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    await sim.close();
    console.log('Provider simulator stopped.');
    return 0;
  } catch (error) {
    console.error(`simulator: ${describeStartError(error, options)}`);
    return 1;
  }
}

function describeStartError(error: unknown, options: SimulatorOptions): string {
  if (error instanceof InvalidKnobError) return error.message;
  const code = typeof error === 'object' && error !== null && 'code' in error ? error.code : null;
  const where = `${options.host ?? '127.0.0.1'}:${options.port}`;
  if (code === 'EADDRINUSE') return `port ${where} is already in use; pick another with --port`;
  if (code === 'EACCES') return `not allowed to listen on ${where}`;
  if (code === 'EADDRNOTAVAIL') return `cannot listen on ${where}: no such local address`;
  return error instanceof Error ? error.message : String(error);
}

process.exitCode = await main();
