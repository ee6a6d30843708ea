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
