import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../infra/local/local-stack.ts';
import { writeStackInfo } from '../../infra/local/stack-info.ts';
import { eventually, type StackClient, sha256, stackClient } from './local-stack-client.ts';

// `npm run cli -- <command>` as a child process against a local stack in this process (its
// stack.json in a data directory of its own), and against the same API as a "deployed" one
// through SORA_API_URL and SORA_API_TOKEN.
const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));

let stack: LocalStack;
let client: StackClient;
let dataDir: string;
let outDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'sora-cli-'));
  outDir = join(dataDir, 'videos');
  stack = await startLocalStack({
    dataDir,
    speed: 50,
    clients: ['alice', 'bob'],
    scheduleTimer: false,
    logLevel: process.env.E2E_LOG_LEVEL ?? 'SILENT',
  });
  await writeStackInfo(dataDir, stack.info());
  client = stackClient(stack);
});

afterAll(async () => {
  await stack?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `npm run cli -- <args>` to its end. */
function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return startCli(args, env).result;
}

/** Starts `npm run cli -- <args>`: its output so far, and its result once it exits. */
function startCli(args: string[], env: Record<string, string> = {}) {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  if (!('SORA_API_URL' in env)) delete childEnv.SORA_API_URL;
  const child = spawn(process.execPath, ['infra/cli/cli.ts', ...args, '--data-dir', dataDir], {
    cwd: PROJECT_ROOT,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const result = once(child, 'exit').then(([code]) => ({
    code: code as number | null,
    stdout,
    stderr,
  }));
  return { child, result, stderr: () => stderr };
}

describe('npm run cli', () => {
  it("list --json prints the caller's jobs, and only theirs", async () => {
    const alices = await client.api('POST', '/videos', {
      body: { prompt: 'Alice, deferred', defer: true },
      headers: { ...stack.clients.alice?.headers },
    });
    await client.api('POST', '/videos', {
      body: { prompt: 'Bob, deferred', defer: true },
      headers: { ...stack.clients.bob?.headers },
    });

    const result = await cli(['list', '--json', '--client', 'alice']);

    expect(result).toMatchObject({ code: 0, stderr: '' });
    const { videos } = JSON.parse(result.stdout) as { videos: { id: string; client: string }[] };
    expect(videos.map((video) => video.id)).toEqual([(alices.body as { id: string }).id]);
  });

  it('list pages past its limit with --cursor, printing the command for the next page', async () => {
    const bob = { ...stack.clients.bob?.headers };
    for (const n of [1, 2, 3]) {
      await client.api('POST', '/videos', {
        body: { prompt: `Bob's page clip ${n}`, defer: true },
        headers: bob,
      });
    }
    const all = await client.api('GET', '/videos?limit=100', { headers: bob });
    const expected = (all.body as { videos: { id: string }[] }).videos.map((video) => video.id);

    const seen: string[] = [];
    let args = ['list', '--client', 'bob', '--limit', '2'];
    for (let page = 0; page < 10; page++) {
      const result = await cli(args);
      expect(result).toMatchObject({ code: 0, stderr: '' });
      seen.push(...[...result.stdout.matchAll(/^(job_\w+) /gm)].map((match) => match[1] ?? ''));
      const next = /^next page: npm run cli -- (list .*)$/m.exec(result.stdout)?.[1];
      if (next === undefined) break;
      // The hint names the data directory this test passes to every command itself.
      args = next.replace(/ --data-dir \S+/, '').split(' ');
    }

    expect(expected.length).toBeGreaterThanOrEqual(3);
    expect(seen).toEqual(expected);
  });

  it("models lists the stack's catalogue with sizes, seconds and prices, and no provider secret", async () => {
    const text = await cli(['models']);
    const json = await cli(['models', '--json']);

    expect(text).toMatchObject({ code: 0, stderr: '' });
    expect(text.stdout).toMatch(/^sora-2 \(default model\) {2}openai-videos$/m);
    expect(text.stdout).toContain('  seconds  4 (default), 8, 12\n');
    expect(text.stdout).toMatch(
      /^luma\.ray-v2:0 {2}bedrock\n.*\n.*\n {2}price {4}\$1\.50 per second; \$0\.75 at /m,
    );
    expect(json.code).toBe(0);
    const catalogue = JSON.parse(json.stdout) as { defaultModel: string; models: { id: string }[] };
    expect(catalogue.defaultModel).toBe('sora-2');
    expect(catalogue.models.map((model) => model.id)).toEqual(
      expect.arrayContaining(['sora-2', 'sora-2-pro', 'luma.ray-v2:0']),
    );
    expect(json.stdout).not.toMatch(/baseUrl|apiKey|http:\/\//);
  });

  it('follow shows a job until it ends; Ctrl-C only stops following and names the command to go on', async () => {
    const waiting = (
      await client.api('POST', '/videos', { body: { prompt: 'Followed', defer: true } })
    ).body as { id: string };

    const following = startCli(['follow', waiting.id]);
    await eventually(() => following.stderr().includes('% queued'));
    following.child.kill('SIGINT');
    const detached = await following.result;
    const stillWaiting = await client.api('GET', `/videos/${waiting.id}`);
    await client.api('POST', `/videos/${waiting.id}/cancel`);
    const again = await cli(['follow', waiting.id]);

    expect(detached.code).toBe(130);
    expect(detached.stderr).toContain(
      `Stopped following ${waiting.id}; it keeps running (Ctrl-C does not cancel it). Follow it again with:\n  npm run cli -- follow ${waiting.id} --data-dir ${dataDir}\n`,
    );
    expect(stillWaiting.body).toMatchObject({ status: 'QUEUED' });
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(new RegExp(`^sora-pipeline: ${waiting.id} CANCELLED`, 'm'));
  });

  it('follow and remix --wait show progress on stderr, then save the video', async () => {
    const id = await client.submit({ prompt: 'A followed clip', seconds: '4' });

    const followed = await cli(['follow', id, '--out', outDir]);
    const remix = await cli(['remix', id, 'At dusk', '--wait', '--out', outDir]);

    for (const result of [followed, remix]) {
      expect(result.code).toBe(0);
      // Not a terminal: one line per status, the last one the end.
      expect(result.stderr).toMatch(/^\[#{30}\] 100% completed\n$/m);
      expect(result.stdout).toMatch(/^Saved .*\.mp4 \(sha256 verified\)$/m);
    }
    expect(followed.stdout).toContain(`Following ${id}`);
  });

  it('gets, downloads (sha256 checked) and cancels, with a table for list', async () => {
    const done = await client.submit({ prompt: 'A CLI clip', seconds: '4' });
    await client.executionEnd(done);
    const waiting = (
      await client.api('POST', '/videos', { body: { prompt: 'To cancel', defer: true } })
    ).body as { id: string };

    const get = await cli(['get', done]);
    const download = await cli(['download', done, '--out', outDir]);
    const cancel = await cli(['cancel', waiting.id]);
    const cancelDone = await cli(['cancel', done]);
    const list = await cli(['list', '--status', 'CANCELLED']);
    const view = await client.api('GET', `/videos/${done}`);

    expect(get).toMatchObject({ code: 0 });
    expect(get.stdout).toContain(`${done}  COMPLETED  100%`);
    expect(download).toMatchObject({ code: 0 });
    const bytes = await readFile(join(outDir, `${done}.mp4`));
    expect(sha256(bytes)).toBe((view.body as { video: { sha256: string } }).video.sha256);
    expect(cancel).toMatchObject({ code: 0, stdout: `${waiting.id} CANCELLED\n` });
    expect(cancelDone.code).toBe(1);
    expect(cancelDone.stderr).toMatch(/^sora-pipeline: .*COMPLETED or FAILED/);
    expect(list.stdout.split('\n')[0]).toMatch(/^ID\s+STATUS\s+%\s+MODEL/);
    expect(list.stdout).toContain(waiting.id);
  });

  it('talks to a deployed API through SORA_API_URL and SORA_API_TOKEN (usage and remix)', async () => {
    const source = await client.submit({ prompt: 'A clip to remix', seconds: '4' });
    await client.executionEnd(source);
    const token = String(stack.clients.alice?.headers.Authorization).replace('Bearer ', '');
    const env = { SORA_API_URL: `${stack.apiUrl}/`, SORA_API_TOKEN: token };

    const usage = await cli(['usage', '--json'], env);
    const notHers = await cli(['remix', source, 'At night'], env);
    const remix = await cli(['remix', source, 'At night'], {
      ...env,
      SORA_API_TOKEN: String(stack.headers.Authorization).replace('Bearer ', ''),
    });

    expect(usage.code).toBe(0);
    expect(JSON.parse(usage.stdout)).toMatchObject({ client: { client: 'alice' } });
    expect(notHers).toMatchObject({ code: 1 });
    expect(notHers.stderr).toMatch(/No video with this id/);
    expect(remix.code).toBe(0);
    expect(remix.stdout).toMatch(new RegExp(`^Submitted job_\\w+ \\(remix of ${source}\\)`));
  });

  it('shows escape sequences in a prompt and in an API error escaped, their words still readable', async () => {
    // Clears the line, retitles the window and prints a fake status in red, when printed raw;
    // the prompt adds the 8-bit CSI (clear the screen) and a right-to-left override.
    const hostile = '\u001b[2K\r\u001b]0;TITLE\u0007\u001b[31mFAKE: all jobs COMPLETED';
    const prompt = `\u009b2J\u202e${hostile}`;
    const submitted = await client.api('POST', '/videos', { body: { prompt, defer: true } });
    const id = (submitted.body as { id: string }).id;

    const get = await cli(['get', id]);
    const list = await cli(['list']);
    const listJson = await cli(['list', '--json']);
    // The API quotes an unknown model in its refusal, which the CLI prints as its error.
    const refused = await cli(['generate', 'A cat', '--model', hostile, '--client', 'alice']);

    expect(submitted.status).toBe(202);
    expect(get.code).toBe(0);
    expect(get.stdout).toContain(
      '  prompt   \\u009b2J\\u202e\\x1b[2K\\r\\x1b]0;TITLE\\x07\\x1b[31mFAKE: all jobs COMPLETED',
    );
    expect(list.code).toBe(0);
    // The table shows the prompt's first 40 characters, escaped.
    expect(list.stdout).toMatch(new RegExp(`^${id} .*\\\\u009b2J.*FAKE: all jobs`, 'm'));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^sora-pipeline: model ".*FAKE: all jobs COMPLETED" is not/);
    expect(JSON.parse(listJson.stdout)).toMatchObject({
      videos: expect.arrayContaining([expect.objectContaining({ id, prompt })]),
    });
    // ESC, BEL, the 8-bit CSI and a bidi override: none reaches the terminal.
    for (const output of [get.stdout, list.stdout, refused.stderr, listJson.stdout]) {
      for (const control of ['\u001b', '\u0007', '\u009b', '\u202e']) {
        expect(output).not.toContain(control);
      }
    }
  });

  it('says which token was refused, and that a FAILED video cannot be remixed', async () => {
    const failed = await client.submit({ prompt: 'A cat [moderation-block]', seconds: '4' });
    await client.executionEnd(failed);

    const badToken = await cli(['list'], {
      SORA_API_URL: stack.apiUrl,
      SORA_API_TOKEN: 'not-a-token',
    });
    const remix = await cli(['remix', failed, 'At night']);

    expect(badToken).toMatchObject({ code: 1, stdout: '' });
    expect(badToken.stderr).toBe(
      "sora-pipeline: the API refused the token (403 Forbidden): check SORA_API_TOKEN (it must be one of the deployment's API tokens)\n",
    );
    expect(remix.code).toBe(1);
    expect(remix.stderr).toBe(
      `sora-pipeline: Job ${failed} is FAILED and cannot be remixed: only a COMPLETED video can\n`,
    );
  });

  it('answers usage errors with one line and exit code 2', async () => {
    const unknown = await cli(['frobnicate']);
    const noId = await cli(['get']);
    const badClient = await cli(['list', '--client', 'carol']);
    const halfRemote = await cli(['list'], { SORA_API_URL: stack.apiUrl });
    const typo = await cli(['generate', 'A cat', '--secnds', '4']);

    for (const result of [unknown, noId, badClient, halfRemote, typo]) {
      expect(result.code).toBe(2);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect(typo.stderr).toBe('sora-pipeline: unknown option --secnds (did you mean --seconds?)\n');
    expect(badClient.stderr).toMatch(/no client "carol"/);
    expect(halfRemote.stderr).toMatch(/SORA_API_TOKEN/);
  });
});
