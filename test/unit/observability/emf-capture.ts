import { vi } from 'vitest';
import {
  createPipelineMetrics,
  logger,
  tracer,
} from '../../../functions/shared/observability/observability.ts';
import type { ObservabilityTools } from '../../../functions/shared/observability/with-observability.ts';

/** One metric value as CloudWatch reads it from an EMF line. */
export interface MetricPoint {
  namespace: string;
  name: string;
  unit: string;
  value: unknown;
  /** The line's dimensions without the `service` default. */
  dimensions: Record<string, unknown>;
}

interface EmfLine {
  _aws: {
    CloudWatchMetrics: {
      Namespace: string;
      Dimensions: string[][];
      Metrics: { Name: string; Unit: string }[];
    }[];
  };
  [field: string]: unknown;
}

/**
 * The pipeline's Metrics (its real namespace and serializer), enabled despite the test
 * environment, writing its EMF lines to a spied console instead of stdout. Call in a test or a
 * beforeEach; restore with vi.restoreAllMocks().
 */
export function capturedMetrics() {
  const saved = {
    disabled: process.env.POWERTOOLS_METRICS_DISABLED,
    dev: process.env.POWERTOOLS_DEV,
  };
  // Read once by the constructor: dev mode writes to the global console, which is spied on.
  process.env.POWERTOOLS_METRICS_DISABLED = 'false';
  process.env.POWERTOOLS_DEV = 'true';
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  const metrics = createPipelineMetrics();
  restore('POWERTOOLS_METRICS_DISABLED', saved.disabled);
  restore('POWERTOOLS_DEV', saved.dev);

  /** Every EMF line published so far, parsed. */
  const lines = (): EmfLine[] =>
    log.mock.calls
      .map(([first]) => (typeof first === 'string' ? safeParse(first) : undefined))
      .filter((line): line is EmfLine => line !== undefined && '_aws' in line);

  /** Every metric value published so far, one entry per metric per line. */
  const points = (): MetricPoint[] =>
    lines().flatMap((line) =>
      line._aws.CloudWatchMetrics.flatMap((directive) =>
        directive.Metrics.map((metric) => ({
          namespace: directive.Namespace,
          name: metric.Name,
          unit: metric.Unit,
          value: line[metric.Name],
          dimensions: Object.fromEntries(
            (directive.Dimensions[0] ?? [])
              .filter((key) => key !== 'service')
              .map((key) => [key, line[key]]),
          ),
        })),
      ),
    );

  /** The production tracer and logger (both inert in tests) with these metrics. */
  const tools: ObservabilityTools = { metrics, tracer, logger };
  return { metrics, lines, points, tools };
}

function restore(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

function safeParse(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
