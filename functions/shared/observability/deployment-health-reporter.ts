/**
 * What an operator sees of the deployment breakers (admission/deployment-health.ts): a metric,
 * a log line and an event on the job events bus when a deployment opens or closes, and a gauge
 * of the deployments out of use for the alarm and the dashboard.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { type DeploymentState, shortReason } from '../admission/deployment-health.ts';
import {
  DEPLOYMENT_HEALTH_SCHEMA_VERSION,
  type DeploymentHealthEventPublisher,
} from '../events/deployment-health-events.ts';
import { logger } from './observability.ts';
import { recordMetric } from './pipeline-metrics.ts';

/** A breaker's answer to `recordFailure` or `recordSuccess`, with what it was about. */
export interface HealthChange {
  deployment: string;
  outcome: 'opened' | 'counted' | 'closed' | 'unchanged';
  /** The time given to the breaker (the pipeline's clock). */
  at: Date;
  /** The refusal's reason given to `recordFailure`. */
  reason?: string;
}

export interface HealthChangeReporterOptions {
  /** Where the events go (the job events bus); none: metrics and logs only. */
  publisher?: DeploymentHealthEventPublisher | undefined;
  logger?: Pick<Logger, 'info' | 'warn'>;
}

export type HealthChangeReporter = (change: HealthChange) => Promise<void>;

/**
 * Reports a breaker's answer: 'opened' and 'closed' are counted (DeploymentOpened,
 * DeploymentClosed by deployment), logged and published; 'counted' and 'unchanged' are nothing
 * to report. Never throws for the event: an event that cannot be put is logged and counted
 * (JobEventsNotPublished), as for job events.
 */
export function healthChangeReporter(
  options: HealthChangeReporterOptions = {},
): HealthChangeReporter {
  const log = options.logger ?? logger;
  return async ({ deployment, outcome, at, reason }) => {
    if (outcome !== 'opened' && outcome !== 'closed') return;
    const state = outcome === 'opened' ? 'open' : 'closed';
    const why = outcome === 'opened' ? shortReason(reason ?? 'unknown') : null;
    if (outcome === 'opened') {
      recordMetric('DeploymentOpened', 1, { deployment });
      log.warn('Deployment opened', { deployment, reason: why });
    } else {
      recordMetric('DeploymentClosed', 1, { deployment });
      log.info('Deployment closed', { deployment });
    }
    if (options.publisher === undefined) return;
    try {
      await options.publisher.publishDeploymentHealth({
        version: DEPLOYMENT_HEALTH_SCHEMA_VERSION,
        deployment,
        state,
        reason: why,
        at: at.toISOString(),
      });
    } catch (error) {
      recordMetric('JobEventsNotPublished');
      log.warn('Deployment health event not published', {
        deployment,
        state,
        error: error instanceof Error ? error.name : 'unknown',
      });
    }
  };
}

/**
 * Records the DeploymentsOpen gauge from `states` (DeploymentHealth.states of every
 * deployment): 1 for each deployment open or half-open, 0 for each closed one; published also
 * as a total, the number out of use, which the DeploymentOpen alarm watches. For the scheduler,
 * once a run.
 */
export function recordDeploymentStates(states: Readonly<Record<string, DeploymentState>>): void {
  for (const [deployment, state] of Object.entries(states)) {
    recordMetric('DeploymentsOpen', state === 'closed' ? 0 : 1, { deployment });
  }
}
