import { afterEach, describe, expect, it, vi } from 'vitest';
import { recordMetric } from '../../../functions/shared/observability/pipeline-metrics.ts';
import {
  type HandlerTracer,
  type ObservabilityTools,
  withObservability,
} from '../../../functions/shared/observability/with-observability.ts';
import { capturedMetrics } from './emf-capture.ts';

afterEach(() => {
  vi.restoreAllMocks();
});

/** A tracer that is on, keeping what the wrapper does with it. */
function recordingTracer() {
  const events: string[] = [];
  const errors: unknown[] = [];
  const tracer: HandlerTracer = {
    isTracingEnabled: () => true,
    async traceInvocation(name, work) {
      events.push(`open ${name}`);
      try {
        return await work();
      } catch (error) {
        errors.push(error);
        throw error;
      } finally {
        events.push('close');
      }
    },
  };
  return { tracer, events, errors };
}

function tools(overrides: Partial<ObservabilityTools> = {}) {
  const captured = capturedMetrics();
  const warn = vi.fn();
  return { ...captured, warn, tools: { ...captured.tools, logger: { warn }, ...overrides } };
}

describe('withObservability', () => {
  it('publishes what the invocation recorded when it succeeds', async () => {
    const { points, tools: observed } = tools();
    const handler = withObservability(
      'download-video',
      async () => {
        recordMetric('JobsCompleted');
        return 'done';
      },
      observed,
    );

    const result = await handler({});

    expect(result).toBe('done');
    expect(points().map((point) => point.name)).toEqual(['JobsCompleted']);
  });

  it('publishes what the invocation recorded when it fails, and rethrows', async () => {
    const { points, tools: observed } = tools();
    const failure = new Error('provider down');
    const handler = withObservability(
      'create-provider-job',
      async () => {
        recordMetric('ProviderErrors', 1, { error: 'ProviderTransientError' });
        throw failure;
      },
      observed,
    );

    await expect(handler({})).rejects.toBe(failure);
    expect(points()).toMatchObject([
      { name: 'ProviderErrors', value: 1, dimensions: { error: 'ProviderTransientError' } },
    ]);
  });

  it('publishes nothing (and warns of nothing) when nothing was recorded', async () => {
    const { lines, warn, tools: observed } = tools();
    const publish = vi.spyOn(observed.metrics, 'publishStoredMetrics');

    await withObservability('api', async () => 'ok', observed)({});

    expect(lines()).toEqual([]);
    expect(publish).not.toHaveBeenCalled();
    expect(warn).not.toHaveBeenCalled();
  });

  it('starts each invocation with no metrics of the previous one', async () => {
    const { points, tools: observed } = tools();
    let call = 0;
    const handler = withObservability(
      'poll-provider-job',
      async () => {
        call += 1;
        if (call === 1) recordMetric('RateLimitWaits');
      },
      observed,
    );

    await handler({});
    await handler({});

    expect(points().map((point) => point.name)).toEqual(['RateLimitWaits']);
  });

  it('returns the result when publishing fails, and logs a warning', async () => {
    const { warn, tools: observed } = tools();
    vi.spyOn(observed.metrics, 'publishStoredMetrics').mockImplementation(() => {
      throw new Error('EMF serialization failed');
    });
    const handler = withObservability(
      'record-failure',
      async () => {
        recordMetric('JobsFailed', 1, { code: 'x' });
        return 'recorded';
      },
      observed,
    );

    await expect(handler({})).resolves.toBe('recorded');
    expect(warn).toHaveBeenCalledWith('Metrics not published', expect.anything());
  });

  it('runs the handler inside the invocation trace named after it', async () => {
    const { tracer, events } = recordingTracer();
    const { tools: observed } = tools({ tracer });
    const handler = withObservability(
      'create-provider-job',
      async () => {
        events.push('handler');
      },
      observed,
    );

    await handler({});

    expect(events).toEqual(['open create-provider-job', 'handler', 'close']);
  });

  it('hands a thrown error to the trace, then rethrows it', async () => {
    const { tracer, events, errors } = recordingTracer();
    const { tools: observed } = tools({ tracer });
    const failure = new Error('boom');

    await expect(
      withObservability(
        'download-video',
        async () => {
          throw failure;
        },
        observed,
      )({}),
    ).rejects.toBe(failure);

    expect(errors).toEqual([failure]);
    expect(events.at(-1)).toBe('close');
  });

  it('opens no trace when tracing is off', async () => {
    const { tracer, events } = recordingTracer();
    const off: HandlerTracer = { ...tracer, isTracingEnabled: () => false };
    const { tools: observed } = tools({ tracer: off });

    await withObservability('api', async () => 'ok', observed)({});

    expect(events).toEqual([]);
  });
});
