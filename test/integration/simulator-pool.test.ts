import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DeploymentStartError,
  deploymentJournalFile,
  type RunningSimulatorPool,
  type SimulatorPoolOptions,
  startSimulatorPool,
} from '../../infra/local/simulator/pool.ts';
import { catalogueOnPool, simulatorCatalogue } from '../../infra/local/simulator-catalogue.ts';

const apiKey = 'sk-pool';
const start = Date.parse('2026-03-01T12:00:00Z');

const pools: RunningSimulatorPool[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.close()));
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function pool(options: SimulatorPoolOptions) {
  const running = await startSimulatorPool({ apiKey, now: () => start, ...options });
  pools.push(running);
  const client = (id: string) =>
    new OpenAI({ apiKey, baseURL: running.get(id).baseURL, maxRetries: 0 });
  return { pool: running, client };
}

/** Whether the port can be listened on again (nothing holds it). */
function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

describe('simulator pool: independent deployments', () => {
  it('serves each deployment on its own port with its own knobs and stats', async () => {
    const { pool: running, client } = await pool({
      maxConcurrentJobs: 2,
      deployments: [
        { id: 'eastus', knobs: { maxConcurrentJobs: 1 } },
        { id: 'westus', knobs: { unavailable: true } },
      ],
    });
    const east = running.get('eastus');
    const west = running.get('westus');

    const created = await client('eastus').videos.create({ prompt: 'A kite' });
    const overLimit = client('eastus').videos.create({ prompt: 'A second kite' });
    const down = client('westus').videos.create({ prompt: 'A kite elsewhere' });

    await expect(overLimit).rejects.toMatchObject({ status: 429 });
    await expect(down).rejects.toMatchObject({ status: 503 });
    expect(running.ids).toEqual(['eastus', 'westus']);
    expect(east.port).not.toBe(west.port);
    expect(east.knobs.maxConcurrentJobs).toBe(1);
    expect(west.knobs).toMatchObject({ maxConcurrentJobs: 2, unavailable: true });
    expect(east.stats).toMatchObject({ requests: 2, creates: 1, rateLimited: 1, serverErrors: 0 });
    expect(east.stats.videos.map((video) => video.id)).toEqual([created.id]);
    expect(west.stats).toMatchObject({ requests: 1, creates: 0, rateLimited: 0, serverErrors: 1 });
    expect(west.stats.videos).toEqual([]);
  });

  it('changes one deployment at runtime without touching the others', async () => {
    const { pool: running, client } = await pool({
      deployments: [{ id: 'eastus' }, { id: 'westus' }],
    });

    running.get('westus').configure({ unavailable: true });
    const east = await client('eastus').videos.list();
    const west = client('westus').videos.list();

    expect(east.data).toEqual([]);
    await expect(west).rejects.toMatchObject({ status: 503 });
    expect(running.get('eastus').knobs.unavailable).toBe(false);
  });

  it('gives each deployment its own ids from a shared seed: a job is found only where it was created', async () => {
    const { client } = await pool({
      seed: 7,
      deployments: [{ id: 'eastus' }, { id: 'westus' }],
    });

    const east = await client('eastus').videos.create({ prompt: 'A fox' });
    const west = await client('westus').videos.create({ prompt: 'A fox' });
    const crossed = client('westus').videos.retrieve(east.id);

    expect(west.id).not.toBe(east.id);
    await expect(crossed).rejects.toMatchObject({ status: 404, code: 'video_not_found' });
  });

  it('draws the same ids again for the same seed', async () => {
    const ids = async () => {
      const { pool: running, client } = await pool({
        seed: 7,
        deployments: [{ id: 'eastus' }, { id: 'westus' }],
      });
      const east = await client('eastus').videos.create({ prompt: 'A fox' });
      const west = await client('westus').videos.create({ prompt: 'A fox' });
      await running.close();
      return [east.id, west.id];
    };

    expect(await ids()).toEqual(await ids());
  });

  it('lists itself as a catalogue does, limits taken from the knobs that enforce them', async () => {
    const { pool: running } = await pool({
      deployments: [
        { id: 'eastus', knobs: { maxConcurrentJobs: 2, requestsPerMinute: 10 } },
        { id: 'westus', knobs: { requestsPerMinute: 30, rateLimitScope: 'all' } },
      ],
    });

    expect(running.deployments()).toEqual([
      {
        id: 'eastus',
        baseUrl: running.get('eastus').baseURL,
        weight: 1,
        maxConcurrent: 2,
        requestsPerMinute: 10,
      },
      // A limit on every request (polls included) is not a per-minute limit on creates.
      { id: 'westus', baseUrl: running.get('westus').baseURL, weight: 1 },
    ]);
  });

  it('keeps one journal per deployment', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sim-pool-'));
    dirs.push(dir);
    const journalFile = join(dir, 'simulator.jsonl');
    const { client } = await pool({
      journalFile,
      deployments: [{ id: 'eastus' }, { id: 'westus' }],
    });

    const east = await client('eastus').videos.create({ prompt: 'A fox' });
    const west = await client('westus').videos.create({ prompt: 'A heron' });

    const eastJournal = await readFile(join(dir, 'simulator-eastus.jsonl'), 'utf8');
    const westJournal = await readFile(join(dir, 'simulator-westus.jsonl'), 'utf8');
    expect(eastJournal).toContain(east.id);
    expect(eastJournal).not.toContain(west.id);
    expect(westJournal).toContain(west.id);
    expect(westJournal).not.toContain(east.id);
  });

  it('listens on the port a deployment is given', async () => {
    const probe = await pool({ deployments: [{ id: 'probe' }] });
    const free = probe.pool.get('probe').port;
    await probe.pool.close();

    const { pool: running } = await pool({ deployments: [{ id: 'eastus', port: free }] });

    expect(running.get('eastus').port).toBe(free);
    expect(running.get('eastus').baseURL).toBe(`http://127.0.0.1:${free}/v1`);
  });
});

describe('simulator pool: refusals', () => {
  it('names the deployment that could not start and closes the ones already started', async () => {
    const taken = await pool({ deployments: [{ id: 'taken' }] });
    const takenPort = taken.pool.get('taken').port;
    const probe = await pool({ deployments: [{ id: 'probe' }] });
    const firstPort = probe.pool.get('probe').port;
    await probe.pool.close();

    const error = await startSimulatorPool({
      deployments: [
        { id: 'eastus', port: firstPort },
        { id: 'westus', port: takenPort },
      ],
    }).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(DeploymentStartError);
    expect(error).toMatchObject({
      deployment: 'westus',
      port: takenPort,
      cause: { code: 'EADDRINUSE' },
    });
    expect(await isFree(firstPort), 'eastus, started first, was closed again').toBe(true);
  });

  it.each([
    [[], 'at least one deployment'],
    [[{ id: 'East' }], "deployment id 'East' must be 1 to 40 lowercase letters"],
    [[{ id: 'eastus' }, { id: 'eastus' }], "deployment id 'eastus' is listed twice"],
  ])('refuses the deployments %j', async (deployments, message) => {
    await expect(startSimulatorPool({ deployments })).rejects.toThrow(message);
  });

  it('refuses a knob it does not know, naming the deployment and the knob', async () => {
    const knobs = { journalFile: '/tmp/elsewhere.jsonl' } as never;

    const started = startSimulatorPool({ deployments: [{ id: 'eastus', knobs }] });

    await expect(started).rejects.toThrow(/deployment eastus: .*journalFile/);
  });
});

describe('deploymentJournalFile', () => {
  it.each([
    ['.local/simulator.jsonl', '.local/simulator-eastus.jsonl'],
    ['/data/sim.v2.jsonl', '/data/sim.v2-eastus.jsonl'],
    ['/data.d/journal', '/data.d/journal-eastus'],
    ['/data/.journal', '/data/.journal-eastus'],
  ])('%s -> %s', (file, expected) => {
    expect(deploymentJournalFile(file, 'eastus')).toBe(expected);
  });
});

describe('catalogueOnPool', () => {
  const deployments = [
    { id: 'eastus', baseUrl: 'http://127.0.0.1:8101/v1', weight: 1, maxConcurrent: 2 },
    { id: 'westus', baseUrl: 'http://127.0.0.1:8102/v1', weight: 1 },
  ];

  it('serves every /v1/videos model by the pool and leaves Bedrock models alone', () => {
    const catalogue = JSON.parse(catalogueOnPool(simulatorCatalogue(), deployments));

    expect(catalogue['sora-2'].deployments).toEqual(deployments);
    expect(catalogue['sora-2-pro'].deployments).toEqual(deployments);
    expect(catalogue['luma.ray-v2:0'].provider).toBe('bedrock');
    expect(catalogue['luma.ray-v2:0']).not.toHaveProperty('deployments');
  });

  it('keeps the deployments a model names itself', () => {
    const own = [{ id: 'solo', baseUrl: 'http://127.0.0.1:9000/v1', weight: 1 }];
    const given = JSON.stringify({ 'veo-3': { sizes: ['1280x720'], deployments: own } });

    const catalogue = JSON.parse(catalogueOnPool(given, deployments));

    expect(catalogue['veo-3'].deployments).toEqual(own);
  });
});
