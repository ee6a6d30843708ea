import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  inMetricsScope,
  publishMetrics,
  type RecordedMetric,
  recordMetric,
} from '../../../functions/shared/observability/pipeline-metrics.ts';
import { capturedMetrics } from './emf-capture.ts';

afterEach(() => {
  vi.restoreAllMocks();
});

async function recordedIn(work: () => void): Promise<RecordedMetric[]> {
  const recorded: RecordedMetric[] = [];
  await inMetricsScope(recorded, async () => work());
  return recorded;
}

describe('recordMetric', () => {
  it('collects metrics in the scope of the current invocation', async () => {
    const recorded = await recordedIn(() => {
      recordMetric('JobsCompleted');
      recordMetric('VideoBytesStored', 2048);
    });

    expect(recorded).toEqual([
      { name: 'JobsCompleted', value: 1, dimensions: {} },
      { name: 'VideoBytesStored', value: 2048, dimensions: {} },
    ]);
  });

  it('keeps concurrent invocations apart', async () => {
    const first: RecordedMetric[] = [];
    const second: RecordedMetric[] = [];
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });

    await Promise.all([
      inMetricsScope(first, async () => {
        await gate;
        recordMetric('JobsCompleted');
      }),
      inMetricsScope(second, async () => {
        recordMetric('JobsFailed', 1, { code: 'video_expired' });
        release();
      }),
    ]);

    expect(first.map((metric) => metric.name)).toEqual(['JobsCompleted']);
    expect(second.map((metric) => metric.name)).toEqual(['JobsFailed']);
  });

  it('drops metrics recorded outside an invocation', async () => {
    recordMetric('JobsCompleted');

    const recorded = await recordedIn(() => recordMetric('RateLimitWaits'));

    expect(recorded.map((metric) => metric.name)).toEqual(['RateLimitWaits']);
  });

  it('turns a dimension value into a short printable token', async () => {
    const recorded = await recordedIn(() => {
      recordMetric('JobsFailed', 1, { code: `bad code\n${'x'.repeat(100)}` });
      recordMetric('JobsFailed', 1, { code: '' });
    });

    expect(recorded.map((metric) => metric.dimensions.code)).toEqual([
      `bad_code_${'x'.repeat(55)}`,
      'unknown',
    ]);
  });
});

describe('publishMetrics', () => {
  it('writes EMF on the SoraPipeline namespace with each metric in its unit', () => {
    const { metrics, points } = capturedMetrics();

    publishMetrics(
      [
        { name: 'JobsCompleted', value: 1, dimensions: {} },
        { name: 'VideoBytesStored', value: 2048, dimensions: {} },
        { name: 'JobDuration', value: 95.5, dimensions: {} },
      ],
      metrics,
    );

    expect(points()).toEqual([
      { namespace: 'SoraPipeline', name: 'JobsCompleted', unit: 'Count', value: 1, dimensions: {} },
      {
        namespace: 'SoraPipeline',
        name: 'VideoBytesStored',
        unit: 'Bytes',
        value: 2048,
        dimensions: {},
      },
      {
        namespace: 'SoraPipeline',
        name: 'JobDuration',
        unit: 'Seconds',
        value: 95.5,
        dimensions: {},
      },
    ]);
  });

  it("publishes one line per set of dimensions, so no metric takes another one's dimensions", () => {
    const { metrics, lines, points } = capturedMetrics();

    publishMetrics(
      [
        { name: 'JobsSubmitted', value: 1, dimensions: { source: 'inbox' } },
        { name: 'JobsSubmitted', value: 1, dimensions: { source: 'batch' } },
        { name: 'JobsCompleted', value: 1, dimensions: {} },
      ],
      metrics,
    );

    expect(lines()).toHaveLength(3);
    expect(points().map(({ name, value, dimensions }) => ({ name, value, dimensions }))).toEqual([
      { name: 'JobsSubmitted', value: 1, dimensions: { source: 'inbox' } },
      { name: 'JobsSubmitted', value: 1, dimensions: { source: 'batch' } },
      { name: 'JobsCompleted', value: 1, dimensions: {} },
    ]);
  });

  it('sums counts of one metric and keeps other values apart', () => {
    const { metrics, points } = capturedMetrics();
    const submitted = { name: 'JobsSubmitted', value: 1, dimensions: { source: 'batch' } } as const;

    publishMetrics(
      [
        ...Array.from({ length: 250 }, () => submitted),
        { name: 'JobDuration', value: 10, dimensions: {} },
        { name: 'JobDuration', value: 20, dimensions: {} },
      ],
      metrics,
    );

    expect(points().map(({ name, value }) => ({ name, value }))).toEqual([
      { name: 'JobsSubmitted', value: 250 },
      { name: 'JobDuration', value: [10, 20] },
    ]);
  });
});
