import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildConsole } from '../console/build-console.ts';
import {
  type ConsoleOrigins,
  contentSecurityPolicy,
  SECURITY_HEADERS,
} from '../console/console-headers.ts';

export interface ConsoleServerOptions {
  /** `config.json`: the API URL and the model catalogue (console/src/console-config.ts). */
  config: unknown;
  origins: ConsoleOrigins;
  /** 0 or absent picks a free port. */
  port?: number;
}

export interface RunningConsoleServer {
  /** http://127.0.0.1:PORT, the console's origin. */
  url: string;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '/index.html': 'text/html; charset=utf-8',
  '/app.js': 'text/javascript; charset=utf-8',
  '/app.css': 'text/css; charset=utf-8',
  '/favicon.svg': 'image/svg+xml',
};

/**
 * The web console on its own origin, as CloudFront serves it on AWS: the bundled files, the
 * `config.json` CDK would deploy, and the same security headers as the response headers policy.
 * The console calls the API cross-origin, so the API's CORS is exercised here too. The bundle is
 * built on the first request, not at start: most stacks (`npm run generate`, the tests) never
 * serve it, and the build took about 150 ms and 0.3 CPU-seconds of every start.
 */
export async function startConsoleServer(
  options: ConsoleServerOptions,
): Promise<RunningConsoleServer> {
  const config = Buffer.from(JSON.stringify(options.config));
  let bundle: Promise<Map<string, Buffer>> | undefined;
  const file = async (name: string): Promise<Buffer | undefined> => {
    if (name === '/config.json') return config;
    bundle ??= bundledFiles();
    return (await bundle).get(name);
  };
  const headers = {
    ...SECURITY_HEADERS,
    'content-security-policy': contentSecurityPolicy(options.origins),
  };

  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const name = path === '/' ? '/index.html' : path;
    const body = await file(name);
    if ((req.method !== 'GET' && req.method !== 'HEAD') || body === undefined) {
      res.writeHead(req.method === 'GET' || req.method === 'HEAD' ? 404 : 405, {
        ...headers,
        'content-type': 'text/plain; charset=utf-8',
      });
      res.end('Not found\n');
      return;
    }
    res.writeHead(200, {
      ...headers,
      'content-type': TYPES[name] ?? 'application/json; charset=utf-8',
      'content-length': String(body.length),
      'cache-control': 'no-store',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  const server = createServer((req, res) => {
    serve(req, res).catch((error: unknown) => {
      // The bundle did not build: the console's sources are broken, which the page says.
      res.writeHead(500, { ...headers, 'content-type': 'text/plain; charset=utf-8' });
      res.end(`The console could not be built: ${(error as Error).message}\n`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The console's bundled files by path, built once into a temporary directory and read back. */
async function bundledFiles(): Promise<Map<string, Buffer>> {
  const dir = await mkdtemp(join(tmpdir(), 'sora-console-'));
  try {
    buildConsole(dir);
    const files = new Map<string, Buffer>();
    for (const path of Object.keys(TYPES)) {
      files.set(path, await readFile(join(dir, path.slice(1))));
    }
    return files;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
