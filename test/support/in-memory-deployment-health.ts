import {
  coolDownEnd,
  type DeploymentHealth,
  type DeploymentHealthRecord,
  type DeploymentState,
  FAILURES_TO_OPEN,
  shortReason,
  stateAt,
} from '../../functions/shared/admission/deployment-health.ts';

/**
 * The deployment breakers in memory, with DynamoDeploymentHealth's semantics (the contract in
 * deployment-health-contract.ts holds both to them), for unit tests of the code that routes by
 * them. Each method's body runs without an await, so concurrent calls see each other's writes as
 * DynamoDB's conditional writes do.
 */
export class InMemoryDeploymentHealth implements DeploymentHealth {
  readonly #records = new Map<string, DeploymentHealthRecord>();

  /** A deployment's stored record (undefined: never recorded), for assertions. */
  record(id: string): DeploymentHealthRecord | undefined {
    const record = this.#records.get(id);
    return record === undefined ? undefined : { ...record };
  }

  async states(ids: readonly string[], now: Date): Promise<Record<string, DeploymentState>> {
    return Object.fromEntries(ids.map((id) => [id, stateAt(this.#records.get(id), now)]));
  }

  async recordFailure(id: string, now: Date, reason: string): Promise<'opened' | 'counted'> {
    const record = this.#records.get(id) ?? { failures: 0, state: 'closed' };
    record.failures += 1;
    record.lastReason = shortReason(reason);
    this.#records.set(id, record);
    if (record.state === 'closed' && record.failures >= FAILURES_TO_OPEN) {
      record.state = 'open';
      record.openedAt = now.toISOString();
      record.openUntil = coolDownEnd(now);
      delete record.probeTakenAt;
      return 'opened';
    }
    if (record.state === 'open' && record.probeTakenAt !== undefined) {
      record.openUntil = coolDownEnd(now);
      delete record.probeTakenAt;
    }
    return 'counted';
  }

  async recordSuccess(id: string, _now: Date): Promise<'closed' | 'unchanged'> {
    const record = this.#records.get(id);
    if (record === undefined) return 'unchanged';
    const wasOpen = record.state === 'open';
    this.#records.set(id, { failures: 0, state: 'closed', ...pickReason(record) });
    return wasOpen ? 'closed' : 'unchanged';
  }

  async takeProbe(id: string, now: Date): Promise<boolean> {
    const record = this.#records.get(id);
    if (record === undefined || stateAt(record, now) !== 'half_open') return false;
    record.probeTakenAt = now.toISOString();
    record.openUntil = coolDownEnd(now);
    return true;
  }
}

function pickReason(record: DeploymentHealthRecord): Pick<DeploymentHealthRecord, 'lastReason'> {
  return record.lastReason === undefined ? {} : { lastReason: record.lastReason };
}
