import { randomInt } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadMedia } from './content.ts';
import { defaultKnobs, parseKnobs, type SimulatorKnobs } from './knobs.ts';
import type { Counters } from './responses.ts';
import { handleRequest, type SimulatorContext } from './routes.ts';
import { TrafficControl } from './traffic.ts';
import { type VideoSnapshot, VideoStore } from './video-store.ts';

export type { ModelCatalogue, ModelSpec, SimulatorKnobs } from './knobs.ts';
export { InvalidKnobError } from './knobs.ts';
export type { InputReference, VideoSnapshot } from './video-store.ts';

export interface SimulatorOptions extends Partial<SimulatorKnobs> {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Defaults to 127.0.0.1. */
  host?: string;
  /**
   * The clock in ms since the epoch (default Date.now); tests can move time by hand. A caller
   * with its own accelerated clock (the local stack) passes it with `speed` 1.
   */
  now?: () => number;
  /** Receives unexpected errors (simulator bugs), which are answered as a bare 500. */
  logError?: (error: unknown) => void;
}

/** A snapshot of what the simulator has seen and done, computed when read. */
export interface SimulatorStats {
  /** Every HTTP request received. */
  requests: number;
  /** Create and remix requests, accepted or not. */
  createRequests: number;
  /** Jobs actually started (creates and remixes). */
  creates: number;
  /** 429 answers (per-minute limit and concurrent-job limit). */
  rateLimited: number;
  /** 5xx answers, injected or not. */
  serverErrors: number;
  /** Creates whose job started but whose response was dropped (`dropNextCreateResponses`). */
  droppedCreateResponses: number;
  responsesByStatus: Record<number, number>;
  /** Jobs queued or in progress now. */
  currentConcurrentJobs: number;
  /** The most jobs that were queued or in progress at the same instant, ever. */
  maxConcurrentJobs: number;
  /** Every job created, deleted ones included, oldest first. */
  videos: VideoSnapshot[];
}

export interface RunningSimulator {
  /** http://HOST:PORT */
  url: string;
  /** url + '/v1', what an SDK client takes as baseURL. */
  baseURL: string;
  port: number;
  readonly stats: SimulatorStats;
  /** The knobs in force (a copy). */
  readonly knobs: SimulatorKnobs;
  /** Changes knobs at runtime; jobs already created keep their timeline. */
  configure(partial: Partial<SimulatorKnobs>): void;
  close(): Promise<void>;
}

/** Starts a /v1/videos provider simulator; see `SimulatorKnobs` for what can be tuned. */
export async function startSimulator(options: SimulatorOptions = {}): Promise<RunningSimulator> {
  const { port = 0, host = '127.0.0.1', now = Date.now, logError, ...knobOptions } = options;
  const knobs: SimulatorKnobs = {
    ...defaultKnobs,
    seed: randomInt(2 ** 31),
    ...parseKnobs(knobOptions),
  };
  const closing = new AbortController();
  const ctx: SimulatorContext = {
    knobs,
    now,
    store: new VideoStore(knobs.seed),
    traffic: new TrafficControl(knobs.seed),
    media: await loadMedia(),
    counters: emptyCounters(),
    closing: closing.signal,
    logError: logError ?? (() => {}),
  };
  const server = createServer((req, res) => {
    void handleRequest(ctx, req, res);
  });
  await listen(server, port, host);
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  let closed: Promise<void> | null = null;

  return {
    url,
    baseURL: `${url}/v1`,
    port: address.port,
    get stats() {
      return snapshotStats(ctx);
    },
    get knobs() {
      return structuredClone(knobs);
    },
    configure(partial) {
      const parsed = parseKnobs(partial);
      Object.assign(knobs, parsed);
      if (parsed.seed !== undefined) {
        ctx.store.reseed(parsed.seed);
        ctx.traffic.reseed(parsed.seed);
      }
    },
    close() {
      closed ??= new Promise<void>((resolve, reject) => {
        closing.abort();
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function emptyCounters(): Counters {
  return {
    requests: 0,
    createRequests: 0,
    creates: 0,
    rateLimited: 0,
    serverErrors: 0,
    droppedCreateResponses: 0,
    responsesByStatus: {},
  };
}

function snapshotStats(ctx: SimulatorContext): SimulatorStats {
  const nowMs = ctx.now();
  return {
    ...ctx.counters,
    responsesByStatus: { ...ctx.counters.responsesByStatus },
    currentConcurrentJobs: ctx.store.activeJobsAt(nowMs),
    maxConcurrentJobs: ctx.store.maxConcurrentJobs(nowMs),
    videos: ctx.store.snapshots(nowMs),
  };
}
