import { randomInt } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttp2Server, type Http2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { BedrockInvocations, type InvocationSnapshot } from './bedrock.ts';
import { SimulatorJournal } from './journal.ts';
import { defaultKnobs, parseKnobs, type SimulatorKnobs } from './knobs.ts';
import type { Counters } from './responses.ts';
import { handleRequest, type SimulatorContext } from './routes.ts';
import { TrafficControl } from './traffic.ts';
import { type VideoSnapshot, VideoStore } from './video-store.ts';

export type { InvocationSnapshot } from './bedrock.ts';
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
  /** Where Bedrock invocations write their MP4 (an S3 endpoint); see also `connectS3()`. */
  s3Endpoint?: string;
  /**
   * A file that keeps the jobs across restarts (journal.ts): read at start, one line appended
   * per change. Meant with a clock that never goes back (the local stack's); absent, jobs live
   * in memory only.
   */
  journalFile?: string;
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
  /** Bedrock async invocations, oldest first. */
  bedrockInvocations: InvocationSnapshot[];
}

export interface RunningSimulator {
  /** http://HOST:PORT */
  url: string;
  /** url + '/v1', what an SDK client takes as baseURL. */
  baseURL: string;
  /** Bedrock Runtime's endpoint (the server's root): `AWS_ENDPOINT_URL_BEDROCK_RUNTIME`. */
  bedrockEndpoint: string;
  /** Where Bedrock invocations write their MP4 (an S3 endpoint, e.g. s3rver's). */
  connectS3(endpoint: string): void;
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
  const {
    port = 0,
    host = '127.0.0.1',
    now = Date.now,
    logError,
    s3Endpoint,
    journalFile,
    ...knobOptions
  } = options;
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
    counters: emptyCounters(),
    closing: closing.signal,
    logError: logError ?? (() => {}),
    bedrock: new BedrockInvocations(knobs.seed),
    journal: journalFile === undefined ? undefined : new SimulatorJournal(journalFile),
  };
  if (ctx.journal) await replay(ctx, ctx.journal);
  if (s3Endpoint) ctx.bedrock.connectS3(s3Endpoint);
  const server = createServer((req, res) => {
    void handleRequest(ctx, req, res);
  });
  await listen(server, port, host);
  // Bedrock Runtime's SDK client speaks HTTP/2 only (h2c against an http:// endpoint): Bedrock's
  // API gets a cleartext HTTP/2 listener of its own, same routes, same state.
  const bedrockServer = createHttp2Server((req, res) => {
    void handleRequest(ctx, req as unknown as IncomingMessage, res as unknown as ServerResponse);
  });
  trackSessions(bedrockServer);
  await listen(bedrockServer, 0, host);
  const address = server.address() as AddressInfo;
  const origin = (at: AddressInfo) =>
    `http://${at.family === 'IPv6' ? `[${at.address}]` : at.address}:${at.port}`;
  const url = origin(address);
  let closed: Promise<void> | null = null;

  return {
    url,
    baseURL: `${url}/v1`,
    bedrockEndpoint: origin(bedrockServer.address() as AddressInfo),
    connectS3(endpoint) {
      ctx.bedrock.connectS3(endpoint);
    },
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
        ctx.bedrock.store.reseed(parsed.seed + 1);
        ctx.traffic.reseed(parsed.seed);
      }
    },
    close() {
      closing.abort();
      closed ??= Promise.all([
        new Promise<void>((resolve, reject) => {
          server.close((error) => (error ? reject(error) : resolve()));
          server.closeAllConnections();
        }),
        closeHttp2(bedrockServer),
      ]).then(() => {});
      return closed;
    },
  };
}

/** Puts back the jobs a previous simulator on the same journal created (and deleted). */
async function replay(ctx: SimulatorContext, journal: SimulatorJournal): Promise<void> {
  for (const entry of await journal.entries()) {
    if (entry.kind === 'video') {
      ctx.store.restore(entry.record);
    } else if (entry.kind === 'invocation') {
      if (ctx.bedrock.byToken(entry.token)) continue;
      ctx.bedrock.add(ctx.bedrock.store.restore(entry.record), entry.token, entry.s3Uri);
    } else {
      try {
        ctx.store.delete(entry.id, entry.atMs);
      } catch {
        // deleted twice, or its creation was never written: nothing to delete
      }
    }
  }
}

/** Closes an HTTP/2 server, its open sessions included (they would hold `close` forever). */
function closeHttp2(server: Http2Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    for (const session of sessions.get(server) ?? []) session.destroy();
  });
}

const sessions = new WeakMap<Http2Server, Set<import('node:http2').ServerHttp2Session>>();

function trackSessions(server: Http2Server): void {
  const open = new Set<import('node:http2').ServerHttp2Session>();
  sessions.set(server, open);
  server.on('session', (session) => {
    open.add(session);
    session.on('close', () => open.delete(session));
  });
}

function listen(server: Server | Http2Server, port: number, host: string): Promise<void> {
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
    bedrockInvocations: ctx.bedrock.snapshots(nowMs),
  };
}
