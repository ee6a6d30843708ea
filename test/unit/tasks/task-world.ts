import { parseProviderConfig } from '../../../functions/shared/provider/provider-config.ts';
import { VideoProvider } from '../../../functions/shared/provider/video-provider.ts';
import {
  type RunningSimulator,
  type SimulatorOptions,
  startSimulator,
} from '../../../infra/local/simulator/simulator.ts';
import { InMemoryJobStore } from '../../support/in-memory-job-store.ts';

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
  close(): Promise<void>;
}

export async function startTaskWorld(options: SimulatorOptions = {}): Promise<TaskWorld> {
  let nowMs = Date.parse('2026-03-01T10:00:00.000Z');
  const sim = await startSimulator({ apiKey: API_KEY, seed: 7, now: () => nowMs, ...options });
  const provider = new VideoProvider(
    parseProviderConfig({ baseUrl: sim.baseURL, apiKey: API_KEY, timeoutMs: 5_000, maxRetries: 0 }),
  );
  const clock = () => new Date(nowMs);
  return {
    sim,
    provider,
    store: new InMemoryJobStore({ now: clock }),
    clock,
    advance(seconds) {
      nowMs += seconds * 1000;
    },
    close: () => sim.close(),
  };
}
