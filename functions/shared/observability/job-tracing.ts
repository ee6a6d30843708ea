/**
 * The job id on the trace, as it is on every log line: an X-Ray annotation, so a job's traces
 * are found with `annotation.jobId = "<id>"`.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { tracer } from './observability.ts';

export type AnnotateJobId = (jobId: string) => void;

/** Annotates the current trace segment with the job id (a no-op when tracing is off). */
export const annotateJobId: AnnotateJobId = (jobId) => tracer.putAnnotation('jobId', jobId);

export type KeyedLogger = Pick<
  Logger,
  'info' | 'warn' | 'error' | 'appendKeys' | 'resetKeys' | 'addContext'
>;

/**
 * The logger, also annotating the trace whenever a `jobId` is appended to its keys: handlers that
 * learn the job id midway (the HTTP API) tag logs and trace in one place.
 */
export function annotatingJobIds(
  logger: KeyedLogger,
  annotate: AnnotateJobId = annotateJobId,
): KeyedLogger {
  return {
    info: logger.info.bind(logger),
    warn: logger.warn.bind(logger),
    error: logger.error.bind(logger),
    resetKeys: logger.resetKeys.bind(logger),
    addContext: logger.addContext.bind(logger),
    appendKeys: (keys) => {
      logger.appendKeys(keys);
      if (typeof keys.jobId === 'string') annotate(keys.jobId);
    },
  };
}
