import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { FlagError } from '../../../infra/local/cli-flags.ts';
import { requestFlagFields } from '../../../infra/local/request-flags.ts';

const PRIORITY_REFUSAL = '--priority: must be one of high, normal, low';
const TIMEOUT_REFUSAL =
  '--start-timeout: must be a whole number of seconds from 1 to 604800 (7 days)';

function refusal(values: Parameters<typeof requestFlagFields>[0]): string {
  try {
    requestFlagFields(values);
  } catch (error) {
    expect(error).toBeInstanceOf(FlagError);
    return (error as Error).message;
  }
  throw new Error(`${JSON.stringify(values)} was accepted`);
}

describe('requestFlagFields', () => {
  it('asks for nothing when neither flag is given', () => {
    expect(requestFlagFields({})).toEqual({});
  });

  it('turns --priority and --start-timeout into the request fields', () => {
    expect(requestFlagFields({ priority: 'high', 'start-timeout': '600' })).toEqual({
      priority: 'high',
      startTimeoutSeconds: 600,
    });
    expect(requestFlagFields({ priority: 'low' })).toEqual({ priority: 'low' });
    expect(requestFlagFields({ 'start-timeout': '604800' })).toEqual({
      startTimeoutSeconds: 604800,
    });
  });

  it.each(['urgent', 'HIGH', ''])(
    'refuses --priority "%s", naming the flag and the allowed values',
    (priority) => {
      expect(refusal({ priority })).toBe(PRIORITY_REFUSAL);
    },
  );

  it.each(['0', '-5', '1.5', '10m', ' 60', '1e3', '604801', ''])(
    'refuses --start-timeout "%s", naming the flag and the range',
    (startTimeout) => {
      expect(refusal({ 'start-timeout': startTimeout })).toBe(TIMEOUT_REFUSAL);
    },
  );
});

describe('the CLI and npm run generate with a bad request flag', () => {
  const run = promisify(execFile);
  const root = new URL('../../../', import.meta.url);

  /**
   * Runs a command to its end, answering its exit code and stderr. Its data directory does not
   * exist: a command that got past the flags would find no stack (or, for generate, start one
   * there, which the timeout ends).
   */
  async function exitOf(script: string, args: string[]) {
    const dataDir = join(tmpdir(), `request-flags-${process.pid}-none`);
    try {
      await run(process.execPath, [script, ...args, '--data-dir', dataDir], {
        cwd: root,
        timeout: 20_000,
      });
      return { code: 0, stderr: '' };
    } catch (error) {
      const { code, stderr } = error as { code: number; stderr: string };
      return { code, stderr };
    }
  }

  it('the CLI refuses an unknown --priority as a usage error, before looking for an API', async () => {
    const result = await exitOf('infra/cli/cli.ts', ['generate', 'A cat', '--priority', 'urgent']);

    expect(result).toEqual({ code: 2, stderr: `sora-pipeline: ${PRIORITY_REFUSAL}\n` });
  });

  it('the CLI refuses a bad --start-timeout on remix the same way', async () => {
    const result = await exitOf('infra/cli/cli.ts', [
      'remix',
      'job_x',
      'A cat',
      '--start-timeout',
      '10m',
    ]);

    expect(result).toEqual({ code: 2, stderr: `sora-pipeline: ${TIMEOUT_REFUSAL}\n` });
  });

  it('npm run generate refuses a bad --start-timeout before starting a stack', async () => {
    const result = await exitOf('infra/local/generate.ts', ['A cat', '--start-timeout', '0']);

    expect(result.code).not.toBe(0);
    expect(result.stderr).toBe(`generate: ${TIMEOUT_REFUSAL}\n`);
  });
});
