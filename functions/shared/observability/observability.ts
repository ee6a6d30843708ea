/**
 * Powertools logger, metrics and tracer, one of each per process. Handlers append `jobId` to
 * the logger's keys so every line of a job's work carries it. Prompts and keys are never logged
 * at info level or above.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';

const serviceName = process.env.POWERTOOLS_SERVICE_NAME ?? 'sora-pipeline';

export const logger = new Logger({ serviceName });
export const metrics = new Metrics({ serviceName, namespace: 'SoraPipeline' });
export const tracer = new Tracer({ serviceName });
