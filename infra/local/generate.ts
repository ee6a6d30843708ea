// `npm run generate -- "A cat playing piano" [--model ..] [--seconds ..] [--size ..]`: one video
// through the local pipeline, as any HTTP client would make it. See infra/local/README.md.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { jobKey, KEY_ATTRIBUTES } from '../../functions/shared/jobs/jobs-table.ts';
import { exitWithError, positiveNumber } from './cli-output.ts';
import { assertSpeedForProvider } from './local-clock.ts';
import { LocalStackError } from './local-errors.ts';
import { LOCAL_REGION } from './local-ids.ts';
import type { LocalStack, LocalStackInfo } from './local-stack.ts';
import { ProgressBar } from './progress-bar.ts';
import { providerFromShell } from './provider-from-shell.ts';
import { LOCAL_DATA_DIR, runningStackInfo } from './stack-info.ts';

const COMMAND = 'generate';
/** With the simulator, a 4 s sora-2 clip (about a minute of simulated rendering) takes ~3 s. */
const EMBEDDED_SIMULATOR_SPEED = 20;

const USAGE = `Usage: npm run generate -- "<prompt>" [options]

Generates one video through the local pipeline: uses the stack of a running \`npm start\`, or
starts one for the duration (with the provider simulator unless PROVIDER_BASE_URL and
PROVIDER_API_KEY are set). Saves the MP4 to ./videos/<job id>.mp4.

Options:
  --model <id>       e.g. sora-2, sora-2-pro, luma.ray-v2:0 (Bedrock; default: the provider's default model)
  --seconds <n>      clip length, e.g. 4, 8, 12
  --size <WxH>       e.g. 720x1280, 1280x720
  --speed <factor>   an embedded stack's clock runs this many times faster than the wall
                     clock (default ${EMBEDDED_SIMULATOR_SPEED} with the simulator; 1, the only
                     choice, with a real provider)
  --out <dir>        where to save the video (default ./videos)
  --data-dir <dir>   the local stack's data directory (default .local)
  -h, --help         show this help`;

interface PublicJob {
  id: string;
  status: 'QUEUED' | 'IN_PROGRESS' | 'COMPLETED' | 'FAILED';
  progress: number;
  video?: { bytes: number; sha256: string };
  error?: { code: string; message: string };
}

async function main(): Promise<void> {
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
  if (!prompt)
    exitWithError(COMMAND, new LocalStackError('invalid-option', `a prompt is required\n${USAGE}`));
  const speedFlag = positiveNumber(COMMAND, '--speed', values.speed);
  const outDir = resolve(values.out ?? 'videos');
  const dataDir = values['data-dir'] ? resolve(values['data-dir']) : LOCAL_DATA_DIR;

  let embedded: LocalStack | undefined;
  // From the start: an interrupted start-up exits through the hook that kills the java child.
  const interrupt = () => {
    void (embedded?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  let info = await runningStackInfo(dataDir);
  if (info) {
    process.stdout.write(`Using the running local stack at ${info.apiUrl}\n`);
  } else {
    const provider = providerFromShell();
    const speed = speedFlag ?? (provider ? 1 : EMBEDDED_SIMULATOR_SPEED);
    assertSpeedForProvider(speed, provider !== undefined);
    process.stdout.write(
      `No running stack (npm start): starting one for this video (speed x${speed})...\n`,
    );
    const { startLocalStack } = await import('./local-stack.ts');
    embedded = await startLocalStack({
      dataDir,
      speed,
      ...(provider ? { provider } : {}),
      logLevel: 'ERROR',
      onStep: (message) => process.stdout.write(`  · ${message}\n`),
    });
    info = embedded.info();
  }
  try {
    await generate(info, prompt, values, outDir);
  } finally {
    await embedded?.stop();
  }
}

async function generate(
  info: LocalStackInfo,
  prompt: string,
  options: { model?: string | undefined; seconds?: string | undefined; size?: string | undefined },
  outDir: string,
): Promise<void> {
  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${info.apiUrl}${path}`, { ...init, headers: { ...info.headers, ...init.headers } });

  const request: Record<string, string> = { prompt };
  if (options.model) request.model = options.model;
  if (options.seconds) request.seconds = options.seconds;
  if (options.size) request.size = options.size;
  const submitted = await api('/videos', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(request),
  });
  const created = (await submitted.json()) as PublicJob & {
    error?: { message: string; field?: string };
  };
  if (!submitted.ok)
    throw new LocalStackError('invalid-option', apiErrorMessage(submitted.status, created));
  process.stdout.write(`Job ${created.id} submitted\n`);

  const bar = new ProgressBar();
  let job: PublicJob = created;
  while (job.status !== 'COMPLETED' && job.status !== 'FAILED') {
    bar.update(job.progress, job.status.toLowerCase().replace('_', ' '));
    await new Promise((done) => setTimeout(done, 250));
    const response = await api(`/videos/${encodeURIComponent(job.id)}`);
    if (!response.ok) throw new Error(`GET /videos/${job.id} answered ${response.status}`);
    job = (await response.json()) as PublicJob;
  }
  bar.update(job.progress, job.status.toLowerCase());
  bar.done();

  const record = await jobRecord(info, job.id);
  if (job.status === 'FAILED') {
    process.stdout.write(
      `\nDynamoDB record (${info.table}):\n${JSON.stringify(readable(record), null, 2)}\n`,
    );
    throw new Error(
      `job ${job.id} FAILED: ${job.error?.code ?? 'unknown'}: ${job.error?.message ?? ''}`,
    );
  }

  const file = await download(api, job, outDir);
  const result = (record?.result ?? {}) as { bucket?: string; key?: string };
  process.stdout.write(`
Saved      ${relative(process.cwd(), file) || file} (${job.video?.bytes ?? '?'} bytes, sha256 verified)
S3         s3://${result.bucket ?? info.bucket}/${result.key ?? '?'}  (endpoint ${info.s3Endpoint})
DynamoDB   ${info.table} at ${info.dynamodbEndpoint}:
${JSON.stringify(readable(record), null, 2)}
`);
}

/** The job's own fields first, the table's key attributes last. */
function readable(
  record: Record<string, unknown> | undefined,
): Record<string, unknown> | undefined {
  if (!record) return record;
  const first = [
    'jobId',
    'status',
    'prompt',
    'model',
    'size',
    'seconds',
    'progress',
    'result',
    'error',
  ];
  const keys: readonly string[] = KEY_ATTRIBUTES;
  const rest = Object.keys(record)
    .filter((key) => !first.includes(key) && !keys.includes(key))
    .sort();
  return Object.fromEntries(
    [...first, ...rest, ...keys].filter((key) => key in record).map((key) => [key, record[key]]),
  );
}

/** Follows the API's redirect to the presigned S3 URL without sending our token there. */
async function download(
  api: (path: string, init?: RequestInit) => Promise<Response>,
  job: PublicJob,
  outDir: string,
): Promise<string> {
  let response = await api(`/videos/${encodeURIComponent(job.id)}/content`, { redirect: 'manual' });
  const location = response.headers.get('location');
  if (response.status >= 300 && response.status < 400 && location) {
    await response.arrayBuffer();
    response = await fetch(location);
  }
  if (!response.ok || !response.body)
    throw new Error(`downloading the video answered ${response.status}`);
  await mkdir(outDir, { recursive: true });
  const file = join(outDir, `${job.id}.mp4`);
  const partial = `${file}.part`;
  const hash = createHash('sha256');
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      callback(null, chunk);
    },
  });
  await pipeline(
    Readable.fromWeb(response.body as WebReadableStream),
    hashing,
    createWriteStream(partial),
  );
  const sha256 = hash.digest('hex');
  if (job.video?.sha256 && sha256 !== job.video.sha256) {
    await rm(partial, { force: true });
    throw new Error(
      `the downloaded video's sha256 ${sha256} differs from the job's ${job.video.sha256}`,
    );
  }
  await rename(partial, file);
  return file;
}

async function jobRecord(
  info: LocalStackInfo,
  jobId: string,
): Promise<Record<string, unknown> | undefined> {
  const client = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      endpoint: info.dynamodbEndpoint,
      region: LOCAL_REGION,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    }),
  );
  try {
    const { Item } = await client.send(
      new GetCommand({ TableName: info.table, Key: jobKey(jobId) }),
    );
    return Item;
  } finally {
    client.destroy();
  }
}

function apiErrorMessage(
  status: number,
  body: { error?: { message?: string; field?: string } },
): string {
  const message = body.error?.message ?? `the API answered ${status}`;
  const field = body.error?.field;
  return field && !message.includes(field) ? `${message} (field: ${field})` : message;
}

function parse() {
  return parseArgs({
    options: {
      model: { type: 'string' },
      seconds: { type: 'string' },
      size: { type: 'string' },
      speed: { type: 'string' },
      out: { type: 'string' },
      'data-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
    strict: true,
  });
}

main().catch((error: unknown) => exitWithError(COMMAND, error));
