import { createServer } from 'node:net';
import { LocalStackError } from './local-errors.ts';

/**
 * Asks the OS for a free TCP port on 127.0.0.1. Only for processes that cannot listen on port 0
 * themselves (DynamoDB Local): the port is free now, a race with another process stays possible
 * and surfaces as a `port-in-use` error.
 */
export function findFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Throws `port-in-use` naming the service when something already listens on the port. */
export function assertPortFree(port: number, service: string, host = '127.0.0.1'): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'EADDRINUSE'
          ? portInUse(port, service)
          : new LocalStackError(
              'emulator-failed',
              `${service}: cannot listen on ${host}:${port} (${error.code ?? error.message})`,
              { cause: error },
            ),
      );
    });
    server.listen(port, host, () => server.close(() => resolve()));
  });
}

export function portInUse(port: number, service: string): LocalStackError {
  return new LocalStackError(
    'port-in-use',
    `${service}: port ${port} is already in use; stop what uses it or pick another port`,
  );
}
