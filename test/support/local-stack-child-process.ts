import type { ClientShareSettings } from '../../functions/shared/admission/client-share.ts';
// A local stack in a child process, for tests that kill it (SIGKILL, as a crash would) and start
// it again on the same data directory: `child_process.fork('test/support/local-stack-child.ts',
// [JSON.stringify(options)])`, the entry that loads this module. What `npm start` runs (infra/local/start.ts), minus the terminal
// output, plus an IPC channel: it sends `{ type: 'ready', info }` once the stack is up, runs the
// scheduler on `{ type: 'runScheduler', id }` (answering `{ type: 'scheduler', id, summary }` or
// `{ ..., error }`) and stops cleanly on `{ type: 'stop' }` or SIGTERM. A real provider comes
// from the environment, as for npm start (PROVIDER_BASE_URL, PROVIDER_API_KEY, PROVIDER_MODELS).

import { startLocalStack } from '../../infra/local/local-stack.ts';
import { providerFromShell } from '../../infra/local/provider-from-shell.ts';

/** What the parent passes as the first argument (JSON). */
export interface LocalStackChildOptions {
  dataDir: string;
  speed?: number;
  context?: Record<string, string>;
  scheduleTimer?: boolean;
  /** Resume at start what the previous run left in flight (default: yes, as npm start does). */
  resumeAtStart?: boolean;
  logLevel?: string;
  clients?: string[];
  clientSettings?: Record<string, ClientShareSettings>;
}

export type LocalStackChildMessage =
  | { type: 'ready'; info: ReturnType<Awaited<ReturnType<typeof startLocalStack>>['info']> }
  | { type: 'scheduler'; id: number; summary?: unknown; error?: string }
  | { type: 'failed'; error: string };

const send = (message: LocalStackChildMessage) => process.send?.(message);

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? '{}') as LocalStackChildOptions;
  const provider = providerFromShell();
  const stack = await startLocalStack({
    dataDir: options.dataDir,
    speed: options.speed ?? 1,
    ...(provider ? { provider } : {}),
    ...(options.context ? { context: options.context } : {}),
    scheduleTimer: options.scheduleTimer ?? true,
    ...(options.resumeAtStart === undefined ? {} : { resumeAtStart: options.resumeAtStart }),
    ...(options.clients ? { clients: options.clients } : {}),
    ...(options.clientSettings ? { clientSettings: options.clientSettings } : {}),
    logLevel: options.logLevel ?? 'SILENT',
  });
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= stack.stop().then(() => process.exit(0));
    return stopping;
  };
  process.on('SIGTERM', () => void stop());
  // The parent is gone (it failed, or was killed): do not outlive it.
  process.on('disconnect', () => void stop());
  process.on('message', (message: { type?: string; id?: number }) => {
    if (message.type === 'stop') void stop();
    if (message.type === 'runScheduler') {
      const id = message.id ?? 0;
      stack.runScheduler().then(
        (summary) => send({ type: 'scheduler', id, summary }),
        (error: unknown) => send({ type: 'scheduler', id, error: String(error) }),
      );
    }
  });
  send({ type: 'ready', info: stack.info() });
}

main().catch((error: unknown) => {
  send({
    type: 'failed',
    error: error instanceof Error ? (error.stack ?? error.message) : String(error),
  });
  process.exit(1);
});
