import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { type RunningSimulator, startSimulator } from '../../infra/local/simulator/simulator.ts';

const cli = fileURLToPath(new URL('../../infra/local/simulator/cli.ts', import.meta.url));

const children: ChildProcess[] = [];
const simulators: RunningSimulator[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  await Promise.all(simulators.splice(0).map((sim) => sim.close()));
});

function launch(args: string[]) {
  const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const output = { stdout: '', stderr: '' };
  child.stdout?.on('data', (chunk: Buffer) => {
    output.stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output.stderr += chunk.toString();
  });
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return { child, output, exited };
}

/** Resolves with the first match of `pattern` in stdout; rejects if the process exits first. */
function waitForOutput(
  child: ChildProcess,
  output: { stdout: string },
  pattern: RegExp,
): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      child.stdout?.off('data', check);
      child.off('exit', onExit);
    };
    // Registered after launch()'s collector, so it sees each chunk already appended.
    const check = () => {
      const match = pattern.exec(output.stdout);
      if (!match) return;
      cleanup();
      resolve(match);
    };
    const onExit = () => {
      cleanup();
      reject(new Error(`simulator exited before printing ${pattern}: ${output.stdout}`));
    };
    child.stdout?.on('data', check);
    child.once('exit', onExit);
    check();
  });
}

describe('simulator CLI', () => {
  it('serves with the given flags, prints the base URL and a curl example, stops on SIGTERM', async () => {
    const { child, output, exited } = launch([
      '--port',
      '0',
      '--api-key',
      'cli-key',
      '--speed',
      '10',
    ]);
    const [, baseURL] = await waitForOutput(child, output, /listening on (http:\/\/\S+\/v1)/);

    const accepted = await fetch(`${baseURL}/videos`, {
      headers: { authorization: 'Bearer cli-key' },
    });
    const refused = await fetch(`${baseURL}/videos`, {
      headers: { authorization: 'Bearer other' },
    });
    child.kill('SIGTERM');

    expect(accepted.status).toBe(200);
    expect(refused.status).toBe(401);
    expect(output.stdout).toContain(`curl -s ${baseURL}/videos -H 'Authorization: Bearer cli-key'`);
    expect(await exited).toBe(0);
  });

  it('runs one simulator per deployment, each with its own knobs, and prints their catalogue entry', async () => {
    const { child, output, exited } = launch([
      '--port',
      '0',
      '--api-key',
      'cli-key',
      '--max-concurrent-jobs',
      '2',
      '--deployments',
      'eastus,westus',
      '--knobs',
      'westus={"unavailable":true}',
    ]);
    const [, list] = await waitForOutput(child, output, /"deployments": (\[.*\])\n/);
    const deployments = JSON.parse(list ?? '') as {
      id: string;
      baseUrl: string;
    }[];
    const [east, west] = deployments;
    const listVideos = (baseUrl = '') =>
      fetch(`${baseUrl}/videos`, { headers: { authorization: 'Bearer cli-key' } });

    const eastAnswer = await listVideos(east?.baseUrl);
    const westAnswer = await listVideos(west?.baseUrl);
    child.kill('SIGTERM');

    expect(deployments).toEqual([
      {
        id: 'eastus',
        baseUrl: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/v1$/),
        weight: 1,
        maxConcurrent: 2,
      },
      {
        id: 'westus',
        baseUrl: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/v1$/),
        weight: 1,
        maxConcurrent: 2,
      },
    ]);
    expect(east?.baseUrl).not.toBe(west?.baseUrl);
    expect(eastAnswer.status).toBe(200);
    expect(westAnswer.status).toBe(503);
    expect(output.stdout).toContain(
      `Deployment westus: provider simulator listening on ${west?.baseUrl}`,
    );
    expect(output.stdout).toContain('answering 503 to everything');
    expect(await exited).toBe(0);
  });

  it.each([
    [['--deployments', 'eastus:99999'], "--deployments: the port of 'eastus' must be 0 to 65535"],
    [
      ['--deployments', 'eastus', '--knobs', 'westus={}'],
      "--knobs names 'westus', which is not in --deployments",
    ],
    [['--deployments', 'eastus', '--knobs', 'eastus'], "--knobs expects ID=JSON, got 'eastus'"],
    [['--knobs', 'eastus={}'], '--knobs needs --deployments'],
  ])('refuses %j naming what is wrong', async (args, message) => {
    const { output, exited } = launch(args);

    expect(await exited).toBe(2);
    expect(output.stderr).toContain(message);
  });

  it('names the deployment whose port is taken', async () => {
    const taken = await startSimulator();
    simulators.push(taken);

    const { output, exited } = launch(['--deployments', `eastus:0,westus:${taken.port}`]);

    expect(await exited).toBe(1);
    expect(output.stderr).toContain(
      `deployment westus: port 127.0.0.1:${taken.port} is already in use; pick another in --deployments`,
    );
  });

  it('explains a taken port in one line, without a stack trace', async () => {
    const taken = await startSimulator();
    simulators.push(taken);

    const { output, exited } = launch(['--port', String(taken.port)]);

    expect(await exited).toBe(1);
    expect(output.stderr).toContain(`port 127.0.0.1:${taken.port} is already in use`);
    expect(output.stderr).not.toMatch(/^\s+at /m);
  });

  it('refuses a flag that is not a number', async () => {
    const { output, exited } = launch(['--speed', 'fast']);

    expect(await exited).toBe(2);
    expect(output.stderr).toContain("--speed expects a number, got 'fast'");
  });

  it('refuses an unknown flag', async () => {
    const { output, exited } = launch(['--sped', '10']);

    expect(await exited).toBe(2);
    expect(output.stderr).toContain("Unknown option '--sped'");
  });

  it('refuses an out-of-range knob naming it', async () => {
    const { output, exited } = launch(['--port', '0', '--server-error-rate', '2']);

    expect(await exited).toBe(1);
    expect(output.stderr).toContain('serverErrorRate');
    expect(output.stderr).not.toMatch(/^\s+at /m);
  });
});
