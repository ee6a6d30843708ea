import { describe, expect, it } from 'vitest';
import {
  COOL_DOWN_SECONDS,
  type DeploymentHealth,
  FAILURES_TO_OPEN,
} from '../../functions/shared/admission/deployment-health.ts';

/**
 * One contract for every DeploymentHealth: the in-memory one unit tests route with and
 * DynamoDeploymentHealth on DynamoDB Local, where concurrent callers race through real
 * conditional writes. Each factory call returns a fresh, empty instance.
 */
export function deploymentHealthContract(
  name: string,
  fresh: () => Promise<DeploymentHealth>,
): void {
  const T0 = new Date('2026-03-01T10:00:00.000Z');
  const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);
  const coolDown = COOL_DOWN_SECONDS;
  const PARALLEL = 12;

  async function failTimes(
    health: DeploymentHealth,
    id: string,
    times: number,
    when = T0,
  ): Promise<('opened' | 'counted')[]> {
    const outcomes: ('opened' | 'counted')[] = [];
    for (let i = 0; i < times; i += 1) {
      outcomes.push(await health.recordFailure(id, when, 'ProviderTransientError 503'));
    }
    return outcomes;
  }

  /** A deployment opened at T0 by FAILURES_TO_OPEN refusals. */
  async function opened(id = 'eastus'): Promise<DeploymentHealth> {
    const health = await fresh();
    await failTimes(health, id, FAILURES_TO_OPEN);
    return health;
  }

  describe(`DeploymentHealth contract, opening: ${name}`, () => {
    it('knows every deployment it never heard of as closed', async () => {
      const health = await fresh();

      expect(await health.states(['eastus', 'westus'], T0)).toEqual({
        eastus: 'closed',
        westus: 'closed',
      });
    });

    it(`opens on refusal number ${FAILURES_TO_OPEN} in a row, answering 'opened' to that one only`, async () => {
      const health = await fresh();

      const outcomes = await failTimes(health, 'eastus', FAILURES_TO_OPEN + 1);

      expect(outcomes).toEqual([
        ...Array<string>(FAILURES_TO_OPEN - 1).fill('counted'),
        'opened',
        'counted',
      ]);
      expect(await health.states(['eastus', 'westus'], T0)).toEqual({
        eastus: 'open',
        westus: 'closed',
      });
    });

    it('starts the count again after a success', async () => {
      const health = await fresh();

      await failTimes(health, 'eastus', FAILURES_TO_OPEN - 1);
      expect(await health.recordSuccess('eastus', T0)).toBe('unchanged');
      const outcomes = await failTimes(health, 'eastus', FAILURES_TO_OPEN - 1);

      expect(outcomes).not.toContain('opened');
      expect(await health.states(['eastus'], T0)).toEqual({ eastus: 'closed' });
    });

    it(`answers 'opened' exactly once when ${PARALLEL} refusals arrive at once`, async () => {
      const health = await fresh();

      const outcomes = await Promise.all(
        Array.from({ length: PARALLEL }, () =>
          health.recordFailure('eastus', T0, 'ProviderTransientError 503'),
        ),
      );

      expect(outcomes.filter((outcome) => outcome === 'opened')).toHaveLength(1);
      expect(await health.states(['eastus'], T0)).toEqual({ eastus: 'open' });
    });

    it('answers unchanged to the successes of a closed deployment', async () => {
      const health = await fresh();

      expect(await health.recordSuccess('eastus', T0)).toBe('unchanged');
      expect(await health.states(['eastus'], T0)).toEqual({ eastus: 'closed' });
    });
  });

  describe(`DeploymentHealth contract, cool-down and probes: ${name}`, () => {
    it(`stays open for ${COOL_DOWN_SECONDS} s on the given clock, then is half-open`, async () => {
      const health = await opened();

      expect(await health.states(['eastus'], new Date(at(coolDown).getTime() - 1))).toEqual({
        eastus: 'open',
      });
      expect(await health.states(['eastus'], at(coolDown))).toEqual({ eastus: 'half_open' });
    });

    it('keeps its cool-down when a create sent before it opened fails late', async () => {
      const health = await opened();

      expect(await health.recordFailure('eastus', at(30), 'ProviderTransientError 503')).toBe(
        'counted',
      );

      expect(await health.states(['eastus'], at(coolDown))).toEqual({ eastus: 'half_open' });
    });

    it('gives no probe while closed or cooling down', async () => {
      const health = await opened();

      expect(await health.takeProbe('eastus', at(coolDown - 1))).toBe(false);
      expect(await health.takeProbe('westus', at(coolDown))).toBe(false);
    });

    it(`gives the probe to exactly one of ${PARALLEL} callers once half-open, and shows it open while the probe is out`, async () => {
      const health = await opened();

      const taken = await Promise.all(
        Array.from({ length: PARALLEL }, () => health.takeProbe('eastus', at(coolDown))),
      );

      expect(taken.filter(Boolean)).toHaveLength(1);
      expect(await health.states(['eastus'], at(coolDown + 1))).toEqual({ eastus: 'open' });
      expect(await health.takeProbe('eastus', at(coolDown + 1))).toBe(false);
    });

    it('gives the probe again when its answer has not come within another cool-down', async () => {
      const health = await opened();
      expect(await health.takeProbe('eastus', at(coolDown))).toBe(true);

      expect(await health.takeProbe('eastus', at(2 * coolDown - 1))).toBe(false);
      expect(await health.states(['eastus'], at(2 * coolDown))).toEqual({ eastus: 'half_open' });
      expect(await health.takeProbe('eastus', at(2 * coolDown))).toBe(true);
    });

    it('re-opens for another cool-down when the probe fails, without a second opening', async () => {
      const health = await opened();
      await health.takeProbe('eastus', at(coolDown));

      const outcome = await health.recordFailure(
        'eastus',
        at(coolDown + 5),
        'ProviderAuthError 401',
      );

      expect(outcome).toBe('counted');
      expect(await health.states(['eastus'], at(2 * coolDown + 4))).toEqual({ eastus: 'open' });
      expect(await health.states(['eastus'], at(2 * coolDown + 5))).toEqual({
        eastus: 'half_open',
      });
      expect(await health.takeProbe('eastus', at(2 * coolDown + 5))).toBe(true);
    });

    it(`closes on the probe's success, answering 'closed' to exactly one of ${PARALLEL} successes`, async () => {
      const health = await opened();
      await health.takeProbe('eastus', at(coolDown));

      const outcomes = await Promise.all(
        Array.from({ length: PARALLEL }, () => health.recordSuccess('eastus', at(coolDown + 5))),
      );

      expect(outcomes.filter((outcome) => outcome === 'closed')).toHaveLength(1);
      expect(await health.states(['eastus'], at(coolDown + 5))).toEqual({ eastus: 'closed' });
      expect(await health.takeProbe('eastus', at(3 * coolDown))).toBe(false);
    });

    it('counts from zero after closing: it takes as many refusals to open again', async () => {
      const health = await opened();
      await health.recordSuccess('eastus', at(coolDown));

      const outcomes = await failTimes(health, 'eastus', FAILURES_TO_OPEN, at(coolDown + 1));

      expect(outcomes.at(-1)).toBe('opened');
      expect(outcomes.slice(0, -1)).not.toContain('opened');
      expect(await health.states(['eastus'], at(2 * coolDown))).toEqual({ eastus: 'open' });
      expect(await health.states(['eastus'], at(2 * coolDown + 1))).toEqual({
        eastus: 'half_open',
      });
    });

    it('keeps deployments apart', async () => {
      const health = await opened('eastus');
      await failTimes(health, 'westus', FAILURES_TO_OPEN - 1);

      expect(await health.states(['eastus', 'westus'], T0)).toEqual({
        eastus: 'open',
        westus: 'closed',
      });
      expect(await health.recordSuccess('westus', T0)).toBe('unchanged');
      expect(await health.states(['eastus'], T0)).toEqual({ eastus: 'open' });
    });
  });
}
