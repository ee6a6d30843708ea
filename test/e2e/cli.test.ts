import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStackInfo } from '../../infra/local/local-stack.ts';
import { cliEnv } from '../support/cli-env.ts';
import { readMp4 } from '../support/mp4-reader.ts';
import { leftoverProcesses, processesUsing } from '../support/stack-processes.ts';
import { sha256 } from './local-stack-client.ts';

// The two commands a user runs, as child processes, exactly as `npm start` / `npm run generate`
// run them. Each run uses its own data directory, never the developer's .local/.
const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SPEED = '50';
// Every test waits for conditions (a stack ready, processes gone), never for a fixed time. The
// bound only turns a hang into a failure: on a loaded 2-core machine one stack start takes 20 s
// or more, and a test may start three.
const CLI_TIMEOUT = { timeout: 240_000 };
/** How long stopped processes may take to disappear before a test calls them leftovers. */

let dataDir: string;

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function launch(script: string, args: string[], env = cliEnv()): ChildProcess {
  return spawn(process.execPath, [join('infra/local', script), ...args], {
    cwd: PROJECT_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

async function run(script: string, args: string[], env?: NodeJS.ProcessEnv): Promise<CliResult> {
  const child = launch(script, args, env);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

/** `npm start` running in the background until `stop()`. */
interface RunningStart {
  child: ChildProcess;
  output: () => string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

// Every `npm start` of the suite, so that a failing test cannot leave one running.
const started = new Set<ChildProcess>();

async function start(extraArgs: string[] = []): Promise<RunningStart> {
  const child = launch('start.ts', [
    '--port',
    '0',
    '--speed',
    SPEED,
    '--data-dir',
    dataDir,
    ...extraArgs,
  ]);
  started.add(child);
  let output = '';
  const exited = once(child, 'exit') as Promise<[number | null]>;
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ctrl-C stops everything')) resolve();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    void exited.then(([code]) => reject(new Error(`npm start exited with ${code}: ${output}`)));
  });
  await ready;
  return {
    child,
    output: () => output,
    async stop(signal = 'SIGTERM') {
      child.kill(signal);
      const [code] = await exited;
      return code;
    },
  };
}

/** Resolves once `condition` holds (the test's own timeout bounds the wait). */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 50));
}

async function stackInfo(): Promise<LocalStackInfo> {
  return JSON.parse(await readFile(join(dataDir, 'stack.json'), 'utf8'));
}

async function listJobs(info: { apiUrl: string; headers: Record<string, string> }) {
  const response = await fetch(`${info.apiUrl}/videos`, { headers: info.headers });
  return ((await response.json()) as { videos: { id: string }[] }).videos.map((job) => job.id);
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'sora-cli-e2e-'));
});

afterAll(async () => {
  // SIGTERM, not SIGKILL: the stack must get to stop its java child.
  for (const child of started) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  }
  await rm(dataDir, { recursive: true, force: true });
});

describe('npm start and npm run generate', CLI_TIMEOUT, () => {
  let running: RunningStart;
  let generatedJobId = '';

  it('npm start prints the API, the console, how to authenticate and a curl example, and writes stack.json', async () => {
    running = await start();

    const info = await stackInfo();
    const response = await fetch(`${info.apiUrl}/videos`, { headers: info.headers });
    const consolePage = await fetch(info.consoleUrl);

    expect(running.output()).toContain(`API          ${info.apiUrl}`);
    expect(running.output()).toContain(`Console      ${info.consoleUrl}`);
    expect(info.consoleUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/#token=/);
    expect(info.consoleUrl).toContain(
      encodeURIComponent(String(info.headers.Authorization).replace(/^Bearer /, '')),
    );
    expect(consolePage.status).toBe(200);
    expect(await consolePage.text()).toContain('<script type="module" src="app.js">');
    // The bundle, built on the first request, and the configuration beside it.
    const consoleOrigin = new URL(info.consoleUrl).origin;
    const script = await fetch(`${consoleOrigin}/app.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect((await script.text()).length).toBeGreaterThan(1000);
    const config = (await (await fetch(`${consoleOrigin}/config.json`)).json()) as {
      apiUrl?: string;
    };
    expect(config.apiUrl).toBe(info.apiUrl.replace(/\/+$/, ''));
    expect(running.output()).toContain(`curl -s -X POST ${info.apiUrl}/videos`);
    expect(running.output()).toContain(String(info.headers.Authorization));
    expect(running.output()).toContain(
      `curl -s -X PUT --data-binary @prompts.jsonl ${info.s3Endpoint}/${info.bucket}/inbox/prompts.jsonl`,
    );
    expect(Object.keys(info).sort()).toEqual(
      [
        'apiUrl',
        'bedrockEndpoint',
        'bucket',
        'clients',
        'consoleUrl',
        'dropFolders',
        'dynamodbEndpoint',
        'headers',
        'providerBaseUrl',
        's3Endpoint',
        'schedule',
        'stateMachineArn',
        'table',
      ].sort(),
    );
    expect(response.status).toBe(200);
  });

  it('a second npm start on the same data directory exits at once, naming it and the running API', async () => {
    const info = await stackInfo();

    const second = await run('start.ts', ['--port', '0', '--data-dir', dataDir]);
    const stillServing = await fetch(`${info.apiUrl}/videos`, { headers: info.headers });

    expect(second.code).toBe(1);
    expect(second.stderr.trim().split('\n')).toEqual([
      `npm start: a local stack (npm start, pid ${running.child.pid}, API ${info.apiUrl}) already uses ${dataDir}; stop it first, or pass another --data-dir`,
    ]);
    expect(second.stdout).not.toContain('starting DynamoDB Local');
    expect(existsSync(join(dataDir, 'stack.json'))).toBe(true);
    expect(stillServing.status).toBe(200);
  });

  it('npm run generate refuses an --out that is a file before submitting anything', async () => {
    const info = await stackInfo();
    const file = join(dataDir, 'not-a-directory');
    await writeFile(file, 'taken');
    const before = await listJobs(info);

    const result = await run('generate.ts', ['A cat', '--data-dir', dataDir, '--out', file]);

    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^generate: --out .*not-a-directory is a file, not a directory/);
    expect(await listJobs(info)).toEqual(before);
  });

  it('npm run generate refuses a prompt of invisible characters before submitting anything', async () => {
    const info = await stackInfo();
    const before = await listJobs(info);

    const result = await run('generate.ts', ['\u200b\u202e\u200d', '--data-dir', dataDir]);

    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^generate: the prompt: .*visible/);
    expect(await listJobs(info)).toEqual(before);
  });

  it('npm run generate uses the running stack, saves the MP4 and prints a short summary', async () => {
    const out = join(dataDir, 'videos');

    const result = await run('generate.ts', [
      'A cat playing piano',
      '--data-dir',
      dataDir,
      '--out',
      out,
    ]);
    generatedJobId = /Job (\S+) submitted/.exec(result.stdout)?.[1] ?? '';
    const info = await stackInfo();
    const job = (await (
      await fetch(`${info.apiUrl}/videos/${generatedJobId}`, { headers: info.headers })
    ).json()) as { video: { sha256: string } };
    const saved = await readFile(join(out, `${generatedJobId}.mp4`));

    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Using the running local stack');
    expect(result.stdout).toMatch(/100% completed/);
    expect(result.stdout).toMatch(new RegExp(`Job +${generatedJobId} COMPLETED`));
    expect(result.stdout).toMatch(/Stored +s3:\/\/\S+\/\S+\.mp4/);
    // The table's internals stay internal.
    expect(result.stdout).not.toMatch(/gsi1pk|requestHash|"pk"|"sk"/);
    expect(sha256(saved)).toBe(job.video.sha256);
    // The simulated video is what was asked (the defaults: sora-2, 720x1280, 4 s).
    expect(readMp4(saved)).toMatchObject({ width: 720, height: 1280, movieSeconds: 4 });
  });

  it("npm start reports a failed job in one short line with the job's error code, no JSON or stack", async () => {
    const info = await stackInfo();
    const response = await fetch(`${info.apiUrl}/videos`, {
      method: 'POST',
      headers: { ...info.headers, 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'A cat [moderation-block]' }),
    });
    const { id } = (await response.json()) as { id: string };
    const from = running.output().length;

    await until(() => running.output().includes(`job ${id}: FAILED`));

    const printed = running.output().slice(from);
    expect(printed).toMatch(new RegExp(`job ${id}: FAILED moderation_blocked`));
    expect(printed).not.toMatch(/"stack"|\n\s+at /);
    expect(Math.max(...printed.split('\n').map((line) => line.length))).toBeLessThan(500);
  });

  it('npm run generate --model luma.ray-v2:0 renders on Bedrock (the simulator) out of the box', async () => {
    const out = join(dataDir, 'videos');

    const result = await run('generate.ts', [
      '--model',
      'luma.ray-v2:0',
      'A cat playing piano',
      '--data-dir',
      dataDir,
      '--out',
      out,
    ]);
    const jobId = /Job (\S+) submitted/.exec(result.stdout)?.[1] ?? '';
    const saved = await readFile(join(out, `${jobId}.mp4`));

    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/100% completed/);
    // Ray2 is served by Bedrock only: a completed Ray2 job went through StartAsyncInvoke.
    expect(result.stdout).toMatch(/Video +luma\.ray-v2:0, 1280x720, 5 s, estimated \$7\.50/);
    expect(saved.subarray(4, 8).toString('latin1')).toBe('ftyp');
    expect(readMp4(saved)).toMatchObject({ width: 1280, height: 720, movieSeconds: 5 });
  });

  it('npm run generate ends non-zero with the API message naming a bad --seconds', async () => {
    const result = await run('generate.ts', ['A cat', '--seconds', '5', '--data-dir', dataDir]);

    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^generate: .*seconds/);
  });

  it('SIGTERM stops every process of the stack, java included', async () => {
    expect(processesUsing(dataDir).some((line) => line.includes('java'))).toBe(true);

    const code = await running.stop('SIGTERM');

    expect(code).toBe(0);
    expect(await leftoverProcesses(dataDir)).toEqual([]);
    expect(existsSync(join(dataDir, 'stack.json'))).toBe(false);
  });

  // One restart serves both: the data kept across a clean stop, then a SIGKILL of that stack,
  // whose data directory the next start (--fresh) takes over.
  it('keeps the data across a restart; SIGKILL of npm start leaves no java behind, and the next start takes the data directory over; --fresh starts empty', async () => {
    const restarted = await start();
    const kept = await listJobs(await stackInfo());
    expect(processesUsing(dataDir).some((line) => line.includes('java'))).toBe(true);

    await restarted.stop('SIGKILL');
    const leftAfterKill = await leftoverProcesses(dataDir);
    const fresh = await start(['--fresh']);
    // Served by the new stack (the killed one's API is gone): the directory was taken over.
    const emptied = await listJobs(await stackInfo()).finally(() => fresh.stop());

    expect(kept).toContain(generatedJobId);
    expect(leftAfterKill).toEqual([]);
    expect(emptied).toEqual([]);
    expect(await leftoverProcesses(dataDir)).toEqual([]);
  });

  it('npm run generate starts a stack for the duration when none runs, and stops it', async () => {
    const out = join(dataDir, 'embedded');

    const result = await run('generate.ts', ['A dog surfing', '--data-dir', dataDir, '--out', out]);

    expect(result.code).toBe(0);
    expect(result.stdout).toContain('No running stack');
    expect(result.stdout).toMatch(/Saved .*\.mp4/);
    // The stack it started has stopped: none of its endpoints are worth printing.
    expect(result.stdout.slice(result.stdout.indexOf('Job '))).not.toMatch(/127\.0\.0\.1/);
    // No handler log lines or EMF metric lines in between: progress and the summary only.
    expect(`${result.stdout}${result.stderr}`).not.toMatch(/^\{/m);
    expect(await leftoverProcesses(dataDir)).toEqual([]);
  });
});

describe('npm start failures', CLI_TIMEOUT, () => {
  it('reports a taken port in one line and exits non-zero, leaving nothing running', async () => {
    const blocker = createServer();
    blocker.listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const address = blocker.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const dir = await mkdtemp(join(tmpdir(), 'sora-cli-port-'));

    const result = await run('start.ts', ['--port', String(port), '--data-dir', dir]);
    blocker.close();

    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual([
      `npm start: HTTP API (--port): port ${port} is already in use; stop what uses it or pick another port`,
    ]);
    expect(await leftoverProcesses(dir)).toEqual([]);
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a --speed other than 1 with a real provider, in one line, starting nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sora-cli-speed-'));
    const env = {
      ...cliEnv(),
      PROVIDER_BASE_URL: 'http://127.0.0.1:9/v1',
      PROVIDER_API_KEY: 'sk-not-used',
    };

    const result = await run('start.ts', ['--port', '0', '--speed', '10', '--data-dir', dir], env);

    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual([
      'npm start: --speed must be 1 with a real provider (it renders in real time), got 10',
    ]);
    expect(await leftoverProcesses(dir)).toEqual([]);
    await rm(dir, { recursive: true, force: true });
  });

  it('leaves nothing running when interrupted during start-up', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sora-cli-interrupt-'));
    const child = launch('start.ts', ['--port', '0', '--data-dir', dir]);
    const exited = once(child, 'exit') as Promise<[number | null]>;
    let output = '';
    await new Promise<void>((resolve) => {
      child.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        // DynamoDB Local has been launched by the time the simulator starts (the rest of the stack
        // loads once java is launched), and is still booting: the templates may come from the cache.
        if (output.includes('starting the provider simulator')) resolve();
      });
    });

    child.kill('SIGINT');
    const [code] = await exited;

    expect(code).toBe(130);
    expect(await leftoverProcesses(dir)).toEqual([]);
    await rm(dir, { recursive: true, force: true });
  });

  it('reports a missing Java in one line and exits non-zero', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sora-cli-java-'));

    const result = await run(
      'start.ts',
      ['--port', '0', '--data-dir', dir],
      cliEnv({ PATH: join(dir, 'no-bin') }),
    );

    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^npm start: DynamoDB Local needs Java 17 or newer/);
    expect(await leftoverProcesses(dir)).toEqual([]);
    await rm(dir, { recursive: true, force: true });
  });
});

describe('npm start under npm', CLI_TIMEOUT, () => {
  it('stops every process of the stack when npm itself is sent SIGTERM', async () => {
    const npmDataDir = await mkdtemp(join(tmpdir(), 'sora-cli-npm-'));
    const npm = spawn(
      'npm',
      ['start', '--', '--port', '0', '--speed', SPEED, '--data-dir', npmDataDir],
      { cwd: PROJECT_ROOT, env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    started.add(npm);
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Ctrl-C stops everything')) resolve();
      };
      npm.stdout?.on('data', onData);
      npm.stderr?.on('data', onData);
      npm.once('exit', (code) => reject(new Error(`npm start exited with ${code}: ${output}`)));
    });
    expect(processesUsing(npmDataDir).some((line) => line.includes('java'))).toBe(true);

    npm.kill('SIGTERM');

    // npm passes SIGTERM on to its script's process, which `exec`s node (package.json).
    expect(await leftoverProcesses(npmDataDir)).toEqual([]);
    await rm(npmDataDir, { recursive: true, force: true });
  });
});

describe('npm run generate under npm', CLI_TIMEOUT, () => {
  it('Ctrl-C sent to npm alone says the job is not cancelled and stops the stack it started', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sora-cli-interrupt-generate-'));
    // At speed 1 the simulator renders for about a minute: the job is still running when we stop.
    const npm = spawn(
      'npm',
      ['run', 'generate', '--', 'A slow cat', '--speed', '1', '--data-dir', dir, '--out', dir],
      { cwd: PROJECT_ROOT, env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    started.add(npm);
    let output = '';
    const exited = once(npm, 'exit') as Promise<[number | null]>;
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (/Job \S+ submitted/.test(output)) resolve();
      };
      npm.stdout?.on('data', onData);
      npm.stderr?.on('data', onData);
      void exited.then(([code]) => reject(new Error(`generate exited with ${code}: ${output}`)));
    });

    npm.kill('SIGINT');
    const [code] = await exited;

    expect(code).not.toBe(0);
    expect(output).toMatch(/Interrupted: job \S+ is not cancelled/);
    expect(output).not.toMatch(/fetch failed/);
    expect(await leftoverProcesses(dir)).toEqual([]);
    await rm(dir, { recursive: true, force: true });
  });
});

describe('npm run generate refusals', CLI_TIMEOUT, () => {
  it('refuses a duration the catalogue lacks before starting a stack for it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sora-cli-catalogue-'));

    const result = await run('generate.ts', [
      'A cat',
      '--seconds',
      '5',
      '--data-dir',
      dir,
      '--out',
      join(dir, 'videos'),
    ]);

    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual([
      'generate: --seconds: seconds "5" is not supported by model "sora-2"; allowed: 4, 8, 12',
    ]);
    expect(result.stdout).not.toContain('starting');
    expect(existsSync(join(dir, 'dynamodb'))).toBe(false);
    expect(existsSync(join(dir, 'videos'))).toBe(false);
    await rm(dir, { recursive: true, force: true });
  });
});
