/**
 * Deployment health events: when a provider deployment's circuit breaker opens (it is taken out
 * after repeated definite refusals) or closes (its probe succeeded), an event goes on the job
 * events bus, so operators route it like a job event. Opened and closed alternate for one
 * deployment: a failed probe keeps the opening it belongs to (deployment-health.ts).
 *
 * Delivery is best effort, as for job events (job-events.ts): a failure to publish is logged
 * and counted (JobEventsNotPublished) and never fails the create that reported it.
 */
import { JOB_EVENT_SOURCE } from './job-events.ts';

/** The `source` of a deployment health event: the pipeline's, as for job events. */
export const DEPLOYMENT_HEALTH_EVENT_SOURCE = JOB_EVENT_SOURCE;
/** The `detail-type` of a deployment health event. */
export const DEPLOYMENT_HEALTH_DETAIL_TYPE = 'Deployment Health Changed';
/** Bumped only on a breaking change of the detail. */
export const DEPLOYMENT_HEALTH_SCHEMA_VERSION = '1';

/** The `detail` of a deployment health event. */
export interface DeploymentHealthEventDetail {
  version: typeof DEPLOYMENT_HEALTH_SCHEMA_VERSION;
  /** The deployment's id in the model catalogue (`eastus`). */
  deployment: string;
  state: 'open' | 'closed';
  /** `open`: the refusal that opened it, a short code (`ProviderTransientError 503`); `closed`: null. */
  reason: string | null;
  /** When it changed, on the pipeline's clock. */
  at: string;
}

/** Puts deployment health events somewhere (the bus, a test's list). Throws when it could not. */
export interface DeploymentHealthEventPublisher {
  publishDeploymentHealth(detail: DeploymentHealthEventDetail): Promise<void>;
}
