import type { Job, ProviderStatus } from '../../../functions/shared/jobs/job.ts';
import { parseProviderConfig } from '../../../functions/shared/provider/provider-config.ts';
import { VideoProvider } from '../../../functions/shared/provider/video-provider.ts';
import {
  type RunningSimulator,
  type SimulatorOptions,
  startSimulator,
} from '../../../infra/local/simulator/simulator.ts';
import { InMemoryJobStore } from '../../support/in-memory-job-store.ts';
import { aJob } from '../../support/job-fixtures.ts';

const API_KEY = 'sk-sim-task-handlers-0123456789';

/**
 * What a task handler test works against: the real provider simulator and the in-memory job
 * store, both on one hand-moved clock, so progress and expiry are exact.
 */
export interface TaskWorld {
  sim: RunningSimulator;
  provider: VideoProvider;
  store: InMemoryJobStore;
  clock: () => Date;
  /** Moves the shared clock forward. */
  advance(seconds: number): void;
  /**
   * Creates a provider job at the simulator now and seeds our job as the create step leaves it
   * (IN_PROGRESS, attempt stamped, provider id recorded). `providerStatus` defaults to what the
   * provider answered; advance the clock to let the video finish.
   */
  seedJobWithProviderJob(overrides?: Partial<Job>, providerStatus?: ProviderStatus): Promise<Job>;
  close(): Promise<void>;
}

export async function startTaskWorld(options: SimulatorOptions = {}): Promise<TaskWorld> {
  let nowMs = Date.parse('2026-03-01T10:00:00.000Z');
  const sim = await startSimulator({ apiKey: API_KEY, seed: 7, now: () => nowMs, ...options });
  const provider = new VideoProvider(
    parseProviderConfig({ baseUrl: sim.baseURL, apiKey: API_KEY, timeoutMs: 5_000, maxRetries: 0 }),
  );
  const clock = () => new Date(nowMs);
  const store = new InMemoryJobStore({ now: clock });
  return {
    sim,
    provider,
    store,
    clock,
    advance(seconds) {
      nowMs += seconds * 1000;
    },
    async seedJobWithProviderJob(overrides = {}, providerStatus) {
      const now = clock().toISOString();
      const base = aJob({ createdAt: now, updatedAt: now, ...overrides });
      const video = await provider.create({
        prompt: base.prompt,
        model: base.model,
        size: base.size,
        seconds: base.seconds,
        idempotencyKey: `key-${base.jobId}`,
      });
      const job: Job = {
        ...base,
        status: 'IN_PROGRESS',
        createAttemptedAt: now,
        providerJobId: video.id,
        providerStatus: providerStatus ?? video.status,
      };
      store.seed(job);
      return job;
    },
    close: () => sim.close(),
  };
}
