import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../infra/local/local-stack.ts';

/**
 * The guide's examples, run as a user runs them, against a local stack with the provider
 * simulator. A missing interpreter or tool fails the suite (CI installs them), never skips it.
 */

const EXAMPLES_DIR = fileURLToPath(new URL('../../docs/examples/', import.meta.url));

interface Example {
  language: string;
  command: string;
  args: string[];
  /** Tools that must be on PATH besides the command. */
  needs: string[];
  /** How this run finds the API (each way is exercised by one language). */
  auth: 'stack.json' | 'token' | 'header';
}

const EXAMPLES: Example[] = [
  {
    language: 'Bash',
    command: 'bash',
    args: [join(EXAMPLES_DIR, 'generate-video.sh')],
    needs: ['curl', 'jq'],
    auth: 'stack.json',
  },
  {
    language: 'Python',
    command: 'python3',
    args: [join(EXAMPLES_DIR, 'generate-video.py')],
    needs: [],
    auth: 'token',
  },
  {
    language: 'TypeScript',
    command: process.execPath,
    args: [join(EXAMPLES_DIR, 'generate-video.ts')],
    needs: [],
    auth: 'header',
  },
];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a child without blocking this process's event loop, which serves the local stack. */
function run(
  command: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv },
): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { ...options, timeout: 25_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
      resolve({ code, stdout, stderr: error && code === null ? `${error}\n${stderr}` : stderr });
    });
  });
}

async function expectTool(name: string): Promise<void> {
  const found = await run('sh', ['-c', `command -v ${name}`], { cwd: tmpdir(), env: process.env });
  expect(found.code, `${name} is missing: CI must install it (apt-get install -y ${name})`).toBe(0);
}

describe('docs/examples against the local stack', () => {
  let stack: LocalStack;
  let workDir: string;

  beforeAll(async () => {
    stack = await startLocalStack({
      dataDir: null,
      dynamoDbEndpoint: inject('dynamoDbEndpoint'),
      speed: 100,
      logLevel: 'ERROR',
    });
    workDir = await mkdtemp(join(tmpdir(), 'sora-examples-'));
    // Where `npm start` leaves it: the Bash run finds the API through it.
    await mkdir(join(workDir, '.local'));
    await writeFile(join(workDir, '.local', 'stack.json'), JSON.stringify(stack.info()));
  });

  afterAll(async () => {
    await stack?.stop();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  /** The environment of a run: nothing inherited that configures the examples, then its own. */
  function environment(example: Example, token: string = stack.token): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env, SORA_POLL_SECONDS: '0.2' };
    for (const name of Object.keys(env)) {
      if (name.startsWith('SORA_') && name !== 'SORA_POLL_SECONDS') delete env[name];
    }
    if (example.auth === 'token') {
      Object.assign(env, { SORA_API_URL: stack.apiUrl, SORA_API_TOKEN: token });
    } else if (example.auth === 'header') {
      Object.assign(env, {
        SORA_API_URL: stack.apiUrl,
        SORA_AUTH_HEADER: `Authorization: Bearer ${token}`,
      });
    }
    return env;
  }

  async function runExample(example: Example, prompt: string, output: string, token?: string) {
    for (const tool of [example.command, ...example.needs]) await expectTool(tool);
    return run(example.command, [...example.args, prompt, output], {
      cwd: workDir,
      env: environment(example, token),
    });
  }

  async function storedVideo(jobId: string): Promise<{ bytes: number; sha256: string }> {
    const response = await fetch(`${stack.apiUrl}/videos/${jobId}`, { headers: stack.headers });
    const job = (await response.json()) as { video?: { bytes: number; sha256: string } };
    if (job.video === undefined) throw new Error(`job ${jobId} has no video`);
    return job.video;
  }

  it.each(EXAMPLES)(
    '$language: generates a video and saves the MP4 the pipeline stored (API from $auth)',
    async (example) => {
      const output = join(workDir, `${example.language}.mp4`);

      const result = await runExample(example, 'A red fox running through fresh snow', output);

      expect(result.code, result.stderr).toBe(0);
      const file = await readFile(output);
      expect(file.length).toBeGreaterThan(8);
      expect(file.subarray(4, 8).toString('latin1')).toBe('ftyp');
      const jobId = /Submitted (job_\w+)/.exec(result.stdout)?.[1];
      expect(jobId, result.stdout).toBeDefined();
      expect(result.stdout).toContain('COMPLETED 100%');
      const stored = await storedVideo(jobId ?? '');
      expect(file.length).toBe(stored.bytes);
      expect(createHash('sha256').update(file).digest('hex')).toBe(stored.sha256);
      expect(existsSync(`${output}.part`)).toBe(false);
    },
  );

  it.each(EXAMPLES)(
    '$language: exits non-zero with the reason when the provider rejects the prompt',
    async (example) => {
      const output = join(workDir, `${example.language}-rejected.mp4`);

      const result = await runExample(example, 'A fight scene [moderation-block]', output);

      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/FAILED: moderation_blocked: .*moderation/);
      expect(existsSync(output)).toBe(false);
    },
  );

  it.each(EXAMPLES)(
    '$language: exits non-zero naming the HTTP error for a bad token',
    async (example) => {
      const output = join(workDir, `${example.language}-forbidden.mp4`);
      const { auth } = example;
      // The stack.json run gets a copy of it with the wrong token.
      const cwd = auth === 'stack.json' ? await mkdtemp(join(tmpdir(), 'sora-examples-')) : workDir;
      if (auth === 'stack.json') {
        await mkdir(join(cwd, '.local'));
        const info = { ...stack.info(), headers: { Authorization: 'Bearer not-a-token' } };
        await writeFile(join(cwd, '.local', 'stack.json'), JSON.stringify(info));
      }

      for (const tool of [example.command, ...example.needs]) await expectTool(tool);
      const result = await run(example.command, [...example.args, 'A quiet lake', output], {
        cwd,
        env: environment(example, 'not-a-token'),
      });

      expect(result.code).toBe(1);
      expect(result.stderr).toContain('POST /videos: HTTP 403: Forbidden');
      expect(existsSync(output)).toBe(false);
      if (cwd !== workDir) await rm(cwd, { recursive: true, force: true });
    },
  );
});
