// Generates one video through the sora-pipeline HTTP API: submits the prompt, watches the job's
// progress and saves the MP4. Node.js 22.18+ (it runs this TypeScript as is), no dependencies.
//
//   node docs/examples/generate-video.ts "A cat playing piano in a jazz club" cat.mp4
//
// The API: SORA_API_URL with SORA_API_TOKEN (sent as "Authorization: Bearer <token>") or
// SORA_AUTH_HEADER (a whole header line, "Name: value"); without SORA_API_URL, the apiUrl and
// headers of .local/stack.json, which `npm start` writes.
// Optional: SORA_MODEL, SORA_SIZE, SORA_SECONDS (the request's fields), SORA_POLL_SECONDS
// (default 3), SORA_TIMEOUT_SECONDS (default 1800).
// Exit status: 0 when the MP4 is saved, 1 when anything fails (the reason is printed), 2 for
// wrong usage.
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { setTimeout as sleep } from 'node:timers/promises';

/** A job as GET /videos/{id} returns it (the fields this example reads). */
interface Video {
  id: string;
  status: 'QUEUED' | 'IN_PROGRESS' | 'COMPLETED' | 'FAILED';
  model: string;
  size: string;
  seconds: string;
  progress: number;
  estimatedCostUsd: number;
  video?: { bytes: number; sha256: string };
  error?: { code: string; message: string; retryable: boolean };
}

/** Anything that stops the example; its message is the reason shown to the user. */
class Failure extends Error {
  override name = 'Failure';
}

interface Api {
  url: string;
  headers: Record<string, string>;
}

function apiConfig(env = process.env): Api {
  const url = env.SORA_API_URL?.trim();
  if (url) {
    const headers: Record<string, string> = {};
    if (env.SORA_AUTH_HEADER) {
      const separator = env.SORA_AUTH_HEADER.indexOf(':');
      headers[env.SORA_AUTH_HEADER.slice(0, separator).trim()] = env.SORA_AUTH_HEADER.slice(
        separator + 1,
      ).trim();
    } else if (env.SORA_API_TOKEN) {
      headers.Authorization = `Bearer ${env.SORA_API_TOKEN}`;
    }
    return { url: url.replace(/\/+$/, ''), headers };
  }
  const candidates = ['.local/stack.json', new URL('../../.local/stack.json', import.meta.url)];
  for (const path of candidates) {
    if (!existsSync(path)) continue;
    const stack = JSON.parse(readFileSync(path, 'utf8')) as {
      apiUrl?: string;
      headers?: Record<string, string>;
    };
    if (!stack.apiUrl) throw new Failure(`${String(path)} has no apiUrl`);
    return { url: stack.apiUrl.replace(/\/+$/, ''), headers: stack.headers ?? {} };
  }
  throw new Failure(
    "no API configured: set SORA_API_URL and SORA_API_TOKEN, or run 'npm start' (it writes .local/stack.json)",
  );
}

interface Answer {
  status: number;
  headers: Headers;
  body: unknown;
}

/** One API call; never throws for an HTTP status. Redirects are not followed. */
async function call(
  api: Api,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  let response: Response;
  try {
    response = await fetch(`${api.url}${path}`, {
      method,
      redirect: 'manual',
      headers: {
        ...api.headers,
        ...headers,
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    throw new Failure(`${method} ${path}: cannot reach ${api.url} (${String(error)})`, {
      cause: error,
    });
  }
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = { message: text.slice(0, 500) };
  }
  return { status: response.status, headers: response.headers, body: parsed };
}

/** A Failure naming the status and the reason: ours ({"error":{...}}) or API Gateway's. */
function httpFailure(what: string, answer: Answer): Failure {
  const body = answer.body as { error?: { code?: string; message?: string }; message?: string };
  const reason = body?.error
    ? `${body.error.code}: ${body.error.message}`
    : (body?.message ?? JSON.stringify(body));
  const hint =
    answer.status === 401
      ? ' (no credentials sent: set SORA_API_TOKEN or SORA_AUTH_HEADER)'
      : answer.status === 403
        ? ' (the API does not accept this token)'
        : '';
  return new Failure(`${what}: HTTP ${answer.status}: ${reason}${hint}`);
}

async function submit(api: Api, prompt: string): Promise<Video> {
  const request: Record<string, string> = { prompt };
  for (const field of ['model', 'size', 'seconds']) {
    const value = process.env[`SORA_${field.toUpperCase()}`];
    if (value) request[field] = value;
  }
  // Retrying with the same Idempotency-Key can never start a second (paid) generation.
  const key = `generate-video-${randomUUID()}`;
  for (let attempt = 1; ; attempt += 1) {
    const answer = await call(api, 'POST', '/videos', request, { 'Idempotency-Key': key });
    if (answer.status === 200 || answer.status === 202) return answer.body as Video;
    if (![429, 503].includes(answer.status) || attempt === 3) {
      throw httpFailure('POST /videos', answer);
    }
    await sleep(Number(answer.headers.get('Retry-After') ?? 5) * 1000);
  }
}

async function waitUntilDone(api: Api, id: string): Promise<Video> {
  const pollMs = Number(process.env.SORA_POLL_SECONDS || 3) * 1000;
  const deadline = Date.now() + Number(process.env.SORA_TIMEOUT_SECONDS || 1800) * 1000;
  let last = '';
  for (;;) {
    const answer = await call(api, 'GET', `/videos/${id}`);
    if (answer.status !== 200) throw httpFailure(`GET /videos/${id}`, answer);
    const job = answer.body as Video;
    const line = `${job.status} ${job.progress}%`;
    if (line !== last) console.log(`  ${line}`);
    last = line;
    if (job.status === 'COMPLETED') return job;
    if (job.status === 'FAILED') {
      throw new Failure(`video ${id} FAILED: ${job.error?.code}: ${job.error?.message}`);
    }
    if (Date.now() > deadline) throw new Failure(`video ${id} is still ${job.status}`);
    await sleep(pollMs);
  }
}

async function download(api: Api, job: Video, output: string): Promise<number> {
  const answer = await call(api, 'GET', `/videos/${job.id}/content`);
  const location = answer.headers.get('Location');
  if (answer.status !== 302 || !location) {
    throw httpFailure(`GET /videos/${job.id}/content`, answer);
  }
  const partial = `${output}.part`;
  const digest = createHash('sha256');
  try {
    // The link carries its own signature: no Authorization header goes to S3.
    const response = await fetch(location);
    if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
    await pipeline(
      Readable.fromWeb(response.body as NodeReadableStream<Uint8Array>),
      new Transform({
        transform(chunk: Buffer, _encoding, done) {
          digest.update(chunk);
          done(null, chunk);
        },
      }),
      createWriteStream(partial),
    );
  } catch (error) {
    await rm(partial, { force: true });
    throw new Failure(`downloading the MP4 of ${job.id} failed: ${String(error)}`, {
      cause: error,
    });
  }
  // Check the file against what the pipeline recorded, then move it into place.
  const { size } = await stat(partial);
  if (size !== job.video?.bytes || digest.digest('hex') !== job.video.sha256) {
    await rm(partial, { force: true });
    throw new Failure(
      `the downloaded file (${size} bytes) does not match the job's size and sha256`,
    );
  }
  await rename(partial, output);
  return size;
}

async function main(argv: string[]): Promise<number> {
  const [prompt, output] = argv;
  if (argv.length !== 2 || !prompt?.trim() || !output) {
    console.error('Usage: node generate-video.ts "<prompt>" <output.mp4>');
    return 2;
  }
  try {
    const api = apiConfig();
    const submitted = await submit(api, prompt);
    console.log(
      `Submitted ${submitted.id} (${submitted.model}, ${submitted.size}, ${submitted.seconds} s, about $${submitted.estimatedCostUsd})`,
    );
    const completed = await waitUntilDone(api, submitted.id);
    const size = await download(api, completed, output);
    console.log(`Saved ${output} (${size} bytes)`);
    return 0;
  } catch (error) {
    if (!(error instanceof Failure)) throw error;
    console.error(`generate-video: ${error.message}`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
