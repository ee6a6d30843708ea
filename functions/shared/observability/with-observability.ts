/**
 * The wrapper every Lambda entry applies: a trace subsegment for the invocation and a metrics
 * scope published when it ends, on success and on failure alike. Written against the Tracer's
 * own helpers (getSegment/setSegment, the manual form of captureLambdaHandler) instead of a
 * middleware framework.
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

interface TraceSegment {
  addNewSubsegment(name: string): TraceSubsegment;
}
interface TraceSubsegment extends TraceSegment {
  close(): void;
}

/** What the wrapper uses of the Powertools Tracer. */
export interface HandlerTracer {
  isTracingEnabled(): boolean;
  getSegment(): TraceSegment | undefined;
  setSegment(segment: TraceSegment): void;
  annotateColdStart(): void;
  addServiceNameAnnotation(): void;
  addErrorAsMetadata(error: Error): void;
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
        inMetricsScope(recorded, () => handler(event, context)),
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

async function traced<T>(
  tools: ObservabilityTools,
  name: string,
  work: () => Promise<T>,
): Promise<T> {
  const { tracer } = tools;
  if (!tracer.isTracingEnabled()) return work();
  const parent = tracer.getSegment();
  const subsegment = parent?.addNewSubsegment(`## ${name}`);
  if (subsegment) tracer.setSegment(subsegment);
  tracer.annotateColdStart();
  tracer.addServiceNameAnnotation();
  try {
    return await work();
  } catch (error) {
    if (error instanceof Error) tracer.addErrorAsMetadata(error);
    throw error;
  } finally {
    if (parent && subsegment) {
      try {
        subsegment.close();
      } catch (error) {
        tools.logger.warn('Trace subsegment not closed', { error: loggableError(error) });
      }
      tracer.setSegment(parent);
    }
  }
}
