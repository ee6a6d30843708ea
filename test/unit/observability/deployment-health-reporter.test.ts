import { afterEach, describe, expect, it, vi } from 'vitest';
import type {
  DeploymentHealthEventDetail,
  DeploymentHealthEventPublisher,
} from '../../../functions/shared/events/deployment-health-events.ts';
import {
  type HealthChange,
  healthChangeReporter,
  recordDeploymentStates,
} from '../../../functions/shared/observability/deployment-health-reporter.ts';
import {
  inMetricsScope,
  publishMetrics,
  type RecordedMetric,
} from '../../../functions/shared/observability/pipeline-metrics.ts';
import { recordingLogger } from '../../support/recording-logger.ts';
import { capturedMetrics } from './emf-capture.ts';

const AT = new Date('2026-03-01T10:00:00.000Z');

afterEach(() => {
  vi.restoreAllMocks();
});

function world(publisher?: DeploymentHealthEventPublisher) {
  const published: DeploymentHealthEventDetail[] = [];
  const log = recordingLogger();
  const report = healthChangeReporter({
    publisher: publisher ?? {
      publishDeploymentHealth: async (detail) => {
        published.push(detail);
      },
    },
    logger: log.logger,
  });
  const metrics: RecordedMetric[] = [];
  const reported = (change: HealthChange) => inMetricsScope(metrics, () => report(change));
  return { published, log, metrics, reported };
}

describe('healthChangeReporter', () => {
  it('counts, logs and publishes an opening with its reason', async () => {
    const { published, log, metrics, reported } = world();

    await reported({
      deployment: 'eastus',
      outcome: 'opened',
      at: AT,
      reason: 'ProviderTransientError 503',
    });

    expect(metrics).toEqual([
      { name: 'DeploymentOpened', value: 1, dimensions: { deployment: 'eastus' } },
    ]);
    expect(published).toEqual([
      {
        version: '1',
        deployment: 'eastus',
        state: 'open',
        reason: 'ProviderTransientError 503',
        at: AT.toISOString(),
      },
    ]);
    expect(log.lines).toEqual([
      expect.objectContaining({
        level: 'warn',
        message: 'Deployment opened',
        extra: [{ deployment: 'eastus', reason: 'ProviderTransientError 503' }],
      }),
    ]);
  });

  it('counts, logs and publishes a closing without a reason', async () => {
    const { published, log, metrics, reported } = world();

    await reported({ deployment: 'westus', outcome: 'closed', at: AT });

    expect(metrics).toEqual([
      { name: 'DeploymentClosed', value: 1, dimensions: { deployment: 'westus' } },
    ]);
    expect(published).toEqual([
      { version: '1', deployment: 'westus', state: 'closed', reason: null, at: AT.toISOString() },
    ]);
    expect(log.lines.map((line) => [line.level, line.message])).toEqual([
      ['info', 'Deployment closed'],
    ]);
  });

  it.each(['counted', 'unchanged'] as const)('reports nothing for %s', async (outcome) => {
    const { published, log, metrics, reported } = world();

    await reported({ deployment: 'eastus', outcome, at: AT, reason: 'ProviderAuthError 401' });

    expect([published, log.lines, metrics]).toEqual([[], [], []]);
  });

  it('publishes a short reason, never a long message', async () => {
    const { published, reported } = world();

    await reported({ deployment: 'eastus', outcome: 'opened', at: AT, reason: 'x'.repeat(500) });

    expect(published[0]?.reason).toHaveLength(120);
  });

  it('counts and logs an event it could not publish, without failing the caller', async () => {
    const refusing: DeploymentHealthEventPublisher = {
      publishDeploymentHealth: async () => {
        throw new TypeError('EventBridge is down, prompt: a cat');
      },
    };
    const { log, metrics, reported } = world(refusing);

    await expect(
      reported({
        deployment: 'eastus',
        outcome: 'opened',
        at: AT,
        reason: 'ProviderAuthError 401',
      }),
    ).resolves.toBeUndefined();

    expect(metrics.map((metric) => metric.name)).toEqual([
      'DeploymentOpened',
      'JobEventsNotPublished',
    ]);
    expect(log.lines.at(-1)).toEqual(
      expect.objectContaining({
        message: 'Deployment health event not published',
        extra: [{ deployment: 'eastus', state: 'open', error: 'TypeError' }],
      }),
    );
    expect(log.text()).not.toContain('a cat');
  });

  it('only counts and logs where the function publishes no events', async () => {
    const log = recordingLogger();
    const metrics: RecordedMetric[] = [];
    const report = healthChangeReporter({ logger: log.logger });

    await inMetricsScope(metrics, () =>
      report({ deployment: 'eastus', outcome: 'closed', at: AT }),
    );

    expect(metrics.map((metric) => metric.name)).toEqual(['DeploymentClosed']);
    expect(log.lines).toHaveLength(1);
  });
});

describe('recordDeploymentStates', () => {
  it('records 1 for each deployment open or half-open and 0 for a closed one, published with their total', async () => {
    const metrics: RecordedMetric[] = [];
    const { metrics: sink, points } = capturedMetrics();

    await inMetricsScope(metrics, async () =>
      recordDeploymentStates({ eastus: 'open', westus: 'half_open', north: 'closed' }),
    );
    publishMetrics(metrics, sink);

    expect(points().map(({ name, value, dimensions }) => ({ name, value, dimensions }))).toEqual([
      { name: 'DeploymentsOpen', value: 1, dimensions: { deployment: 'eastus' } },
      { name: 'DeploymentsOpen', value: 1, dimensions: { deployment: 'westus' } },
      { name: 'DeploymentsOpen', value: 0, dimensions: { deployment: 'north' } },
      // The total the DeploymentOpen alarm watches: deployments out of use.
      { name: 'DeploymentsOpen', value: 2, dimensions: {} },
    ]);
  });
});
