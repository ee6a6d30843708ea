/**
 * Several simulators at once, one per deployment of a provider pool (two Azure regions, two keys
 * behind a gateway): each has its own port, knobs, jobs, stats and journal, and knows nothing of
 * the others, as two regions know nothing of each other. The pipeline spreads a model's jobs over
 * them (`deployments` in its catalogue entry); tests break one and watch the others.
 */
import { InvalidKnobError, parseKnobs, type SimulatorKnobs } from './knobs.ts';
import { type RunningSimulator, type SimulatorOptions, startSimulator } from './simulator.ts';

/** A deployment id as the catalogue takes it (`deployments[].id`). */
export const DEPLOYMENT_ID_PATTERN = /^[a-z0-9-]{1,40}$/;

export interface SimulatorDeployment {
  /** The deployment's id in the catalogue, e.g. `eastus`. */
  id: string;
  /** Its listen port; absent: the pool's `port` plus its index (all 0 with port 0). */
  port?: number;
  /** Knobs of this deployment only, over the pool's (e.g. `{ unavailable: true }`). */
  knobs?: Partial<SimulatorKnobs>;
}

export interface SimulatorPoolOptions extends Omit<SimulatorOptions, 'port'> {
  deployments: readonly SimulatorDeployment[];
  /** Where the deployments without a port of their own start counting (default 0: free ports). */
  port?: number;
}

/** A deployment as a catalogue entry lists it (`deployments` of a model in PROVIDER_MODELS). */
export interface SimulatedDeployment {
  id: string;
  baseUrl: string;
  weight: number;
  /** The simulator's `maxConcurrentJobs`, when it has one: the quota the pipeline must keep to. */
  maxConcurrent?: number;
  /** The simulator's `requestsPerMinute`, when it counts creates (the provider's published limit). */
  requestsPerMinute?: number;
}

export interface RunningSimulatorPool {
  /** The deployment ids, in the order given. */
  readonly ids: readonly string[];
  /** The running simulators by deployment id. */
  readonly byId: Readonly<Record<string, RunningSimulator>>;
  /** The simulator of one deployment; throws naming the id when there is none. */
  get(id: string): RunningSimulator;
  /** The pool as a catalogue's `deployments` list, limits taken from each one's knobs now. */
  deployments(): SimulatedDeployment[];
  close(): Promise<void>;
}

/** A deployment that could not start; `cause` is the listen or knob error. */
export class DeploymentStartError extends Error {
  readonly deployment: string;
  readonly port: number;

  constructor(deployment: string, port: number, cause: unknown) {
    super(`deployment ${deployment}: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
    this.name = 'DeploymentStartError';
    this.deployment = deployment;
    this.port = port;
  }
}

/**
 * Starts one independent simulator per deployment. Shared options (clock, key, speed, knobs)
 * apply to all, each deployment's `knobs` over them. A shared `seed` is offset by the index
 * (seed, seed + 1, ...): the run stays reproducible, yet no two deployments draw the same video
 * ids (a status call sent to the wrong deployment must find nothing) or the same faults. A
 * shared `journalFile` becomes one file per deployment (`simulator.jsonl` ->
 * `simulator-eastus.jsonl`). If one cannot start, those already started are closed.
 */
export async function startSimulatorPool(
  options: SimulatorPoolOptions,
): Promise<RunningSimulatorPool> {
  const { deployments, port = 0, journalFile, seed, ...shared } = options;
  checkDeploymentIds(deployments.map((deployment) => deployment.id));
  const byId: Record<string, RunningSimulator> = {};
  const started: RunningSimulator[] = [];
  for (const [index, deployment] of deployments.entries()) {
    const listenPort = deployment.port ?? (port === 0 ? 0 : port + index);
    try {
      const simulator = await startSimulator({
        ...shared,
        ...(seed === undefined ? {} : { seed: seed + index }),
        // Knobs only: a `port` or `journalFile` here is refused, not taken as an option.
        ...parseKnobs(deployment.knobs ?? {}),
        port: listenPort,
        ...(journalFile === undefined
          ? {}
          : { journalFile: deploymentJournalFile(journalFile, deployment.id) }),
      });
      started.push(simulator);
      byId[deployment.id] = simulator;
    } catch (error) {
      await Promise.all(started.map((simulator) => simulator.close()));
      throw new DeploymentStartError(deployment.id, listenPort, error);
    }
  }
  const ids = deployments.map((deployment) => deployment.id);
  const get = (id: string): RunningSimulator => {
    const simulator = byId[id];
    if (!simulator) {
      throw new Error(`no simulated deployment '${id}' (the pool has ${ids.join(', ')})`);
    }
    return simulator;
  };
  let closed: Promise<void> | null = null;
  return {
    ids,
    byId,
    get,
    deployments: () => ids.map((id) => simulatedDeployment(id, get(id))),
    close() {
      closed ??= Promise.all(started.map((simulator) => simulator.close())).then(() => {});
      return closed;
    },
  };
}

/** One deployment's catalogue entry: its URL, weight 1, and the limits its knobs enforce. */
export function simulatedDeployment(id: string, simulator: RunningSimulator): SimulatedDeployment {
  const { maxConcurrentJobs, requestsPerMinute, rateLimitScope } = simulator.knobs;
  return {
    id,
    baseUrl: simulator.baseURL,
    weight: 1,
    ...(maxConcurrentJobs === null ? {} : { maxConcurrent: maxConcurrentJobs }),
    // A limit counting every request (polls too) is not the catalogue's per-minute create limit.
    ...(requestsPerMinute !== null && rateLimitScope === 'create' ? { requestsPerMinute } : {}),
  };
}

/** `dir/simulator.jsonl` -> `dir/simulator-eastus.jsonl` (the id before the extension). */
export function deploymentJournalFile(file: string, id: string): string {
  const match = /^(.*[^/\\])(\.[^./\\]*)$/.exec(file);
  return match ? `${match[1]}-${id}${match[2]}` : `${file}-${id}`;
}

function checkDeploymentIds(ids: readonly string[]): void {
  if (ids.length === 0)
    throw new InvalidKnobError('a simulator pool needs at least one deployment');
  const seen = new Set<string>();
  for (const id of ids) {
    if (!DEPLOYMENT_ID_PATTERN.test(id)) {
      throw new InvalidKnobError(
        `deployment id '${id}' must be 1 to 40 lowercase letters, digits or dashes`,
      );
    }
    if (seen.has(id)) throw new InvalidKnobError(`deployment id '${id}' is listed twice`);
    seen.add(id);
  }
}
