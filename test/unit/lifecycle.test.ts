import { describe, expect, it } from 'vitest';
import { ServiceStartError, services, startServices } from '../../infra/local/lifecycle.ts';

interface Handles {
  db: string;
  files: string;
  api: string;
}

const service = services<Handles>();

/** A start that resolves when `release()` is called, recording when it began. */
function gate() {
  let release: () => void = () => {};
  const opened = new Promise<void>((resolve) => {
    release = resolve;
  });
  return { opened, release: () => release() };
}

describe('startServices', () => {
  it('starts independent services together and a dependent one after them', async () => {
    const log: string[] = [];
    const dbGate = gate();
    const filesGate = gate();
    const starting = startServices<Handles>([
      service({
        name: 'db',
        start: async () => {
          log.push('db starting');
          await dbGate.opened;
          return { handle: 'db-endpoint' };
        },
      }),
      service({
        name: 'files',
        start: async () => {
          log.push('files starting');
          await filesGate.opened;
          return { handle: 'files-endpoint' };
        },
      }),
      service({
        name: 'api',
        needs: ['db', 'files'],
        start: async ({ db, files }) => {
          log.push('api starting');
          return { handle: `api(${db},${files})` };
        },
      }),
    ]);
    await Promise.resolve();
    // Both independent starts began before either finished.
    await expect.poll(() => log).toEqual(['db starting', 'files starting']);
    filesGate.release();
    dbGate.release();
    const running = await starting;
    expect(log).toEqual(['db starting', 'files starting', 'api starting']);
    expect(running.handles.api).toBe('api(db-endpoint,files-endpoint)');
  });

  it('stops services in the reverse order they came up', async () => {
    const stopped: string[] = [];
    const stopping = (name: string) => async () => {
      stopped.push(name);
    };
    const running = await startServices<Handles>([
      service({
        name: 'api',
        needs: ['files'],
        start: async () => ({ handle: 'a', stop: stopping('api') }),
      }),
      service({
        name: 'files',
        needs: ['db'],
        start: async () => ({ handle: 'f', stop: stopping('files') }),
      }),
      service({ name: 'db', start: async () => ({ handle: 'd', stop: stopping('db') }) }),
    ]);
    await running.stop();
    expect(stopped).toEqual(['api', 'files', 'db']);
  });

  it('on a failed start stops what started, starts nothing after it, and names the service', async () => {
    const stopped: string[] = [];
    let apiStarted = false;
    const failure = startServices<Handles>([
      service({
        name: 'db',
        start: async () => ({ handle: 'd', stop: async () => void stopped.push('db') }),
      }),
      service({
        name: 'files',
        start: async () => {
          throw new Error('port 9000 is taken');
        },
      }),
      service({
        name: 'api',
        needs: ['db', 'files'],
        start: async () => {
          apiStarted = true;
          return { handle: 'a' };
        },
      }),
    ]);
    await expect(failure).rejects.toBeInstanceOf(ServiceStartError);
    await expect(failure).rejects.toMatchObject({
      service: 'files',
      message: 'files failed to start: port 9000 is taken',
    });
    expect(stopped).toEqual(['db']);
    expect(apiStarted).toBe(false);
  });

  it('stops a service that was still starting when another failed', async () => {
    const stopped: string[] = [];
    const dbGate = gate();
    const failure = startServices<Handles>([
      service({
        name: 'db',
        start: async () => {
          await dbGate.opened;
          return { handle: 'd', stop: async () => void stopped.push('db') };
        },
      }),
      service({
        name: 'files',
        start: async () => {
          throw new Error('no disk');
        },
      }),
    ]);
    let settled = false;
    void failure
      .catch(() => {})
      .finally(() => {
        settled = true;
      });
    await new Promise((resolve) => setImmediate(resolve));
    // The failure waits for db's start to end, so db can be stopped.
    expect(settled).toBe(false);
    dbGate.release();
    await expect(failure).rejects.toMatchObject({ service: 'files' });
    expect(stopped).toEqual(['db']);
  });

  it('refuses a dependency that is not declared, and a cycle', async () => {
    await expect(
      startServices<Handles>([
        service({ name: 'api', needs: ['db'], start: async () => ({ handle: 'a' }) }),
      ]),
    ).rejects.toThrow('Service api needs db, which is not declared');
    await expect(
      startServices<Handles>([
        service({ name: 'db', needs: ['api'], start: async () => ({ handle: 'd' }) }),
        service({ name: 'api', needs: ['db'], start: async () => ({ handle: 'a' }) }),
      ]),
    ).rejects.toThrow('Services depend on each other: db -> api -> db');
  });
});
