/**
 * Powertools logger and metrics, and the pipeline's X-Ray tracer, one of each per process.
 * Handlers append `jobId` to the logger's keys so every line of a job's work carries it, and
 * annotate their trace with it. Prompts and keys are never logged at info level or above.
 *
 * Outside Lambda the tracer is inert (it enables itself only where AWS_EXECUTION_ENV is set, and
 * the local stack also sets POWERTOOLS_TRACE_ENABLED=false), and the local stack and the tests
 * set POWERTOOLS_METRICS_DISABLED=true so no EMF lines reach stdout.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { XRayTracer } from './xray-tracer.ts';

/** The CloudWatch namespace of every pipeline metric. */
export const METRICS_NAMESPACE = 'SoraPipeline';

const serviceName = process.env.POWERTOOLS_SERVICE_NAME ?? 'sora-pipeline';

/** A Metrics instance on the pipeline's namespace (the shared one below; tests make their own). */
export function createPipelineMetrics(): Metrics {
  return new Metrics({ serviceName, namespace: METRICS_NAMESPACE });
}

export const logger = new Logger({ serviceName });
export const metrics = createPipelineMetrics();
export const tracer = new XRayTracer({ serviceName });
