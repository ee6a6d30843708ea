/**
 * The wrapper every Lambda entry applies: a trace subsegment for the invocation and a metrics
 * scope published when it ends, on success and on failure alike; an error it ends with carries
 * its stack in source positions (source-mapped-stack.ts).
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { loggableError } from './loggable-error.ts';
import { logger, metrics, tracer } from './observability.ts';
import {
  inMetricsScope,
  type MetricsSink,
  publishMetrics,
  type RecordedMetric,
} from './pipeline-metrics.ts';
import { mapErrorStack } from './source-mapped-stack.ts';

/** What the wrapper uses of the tracer (xray-tracer.ts). */
export interface HandlerTracer {
  isTracingEnabled(): boolean;
  traceInvocation<T>(name: string, work: () => Promise<T>): Promise<T>;
}

export interface ObservabilityTools {
  metrics: MetricsSink;
  tracer: HandlerTracer;
  logger: Pick<Logger, 'warn'>;
}

export type LambdaHandler<TEvent, TResult> = (event: TEvent, context?: Context) => Promise<TResult>;

const productionTools: ObservabilityTools = { metrics, tracer, logger };

/**
 * `handler` traced as the subsegment `## <name>` (when tracing is on: in Lambda only), with the
 * metrics it records published as the invocation ends. A failure to publish is logged, never
 * thrown: metrics do not change an invocation's outcome.
 */
export function withObservability<TEvent, TResult>(
  name: string,
  handler: LambdaHandler<TEvent, TResult>,
  tools: ObservabilityTools = productionTools,
): LambdaHandler<TEvent, TResult> {
  return async (event, context) => {
    const recorded: RecordedMetric[] = [];
    try {
      return await traced(tools, name, () =>
        inMetricsScope(recorded, async () => {
          try {
            return await handler(event, context);
          } catch (error) {
            // The trace Lambda reports for a failed invocation, in source positions.
            mapErrorStack(error);
            throw error;
          }
        }),
      );
    } finally {
      try {
        publishMetrics(recorded, tools.metrics);
      } catch (error) {
        tools.logger.warn('Metrics not published', { error: loggableError(error) });
      }
    }
  };
}

function traced<T>(tools: ObservabilityTools, name: string, work: () => Promise<T>): Promise<T> {
  return tools.tracer.isTracingEnabled() ? tools.tracer.traceInvocation(name, work) : work();
}
