import { type EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import {
  DEPLOYMENT_HEALTH_DETAIL_TYPE,
  DEPLOYMENT_HEALTH_EVENT_SOURCE,
  type DeploymentHealthEventDetail,
  type DeploymentHealthEventPublisher,
} from './deployment-health-events.ts';
import {
  JOB_EVENT_DETAIL_TYPE,
  JOB_EVENT_SOURCE,
  type JobEventDetail,
  type JobEventPublisher,
} from './job-events.ts';

/** Raised when EventBridge refused an event (PutEvents answers 200 with a failed entry). */
export class JobEventNotPublishedError extends Error {
  override readonly name = 'JobEventNotPublishedError';
}

/**
 * Publishes the pipeline's events to one EventBridge bus (JOB_EVENTS_BUS_NAME): job state
 * changes and deployment health changes.
 */
export class EventBridgeJobEvents implements JobEventPublisher, DeploymentHealthEventPublisher {
  readonly #client: EventBridgeClient;
  readonly #busName: string;

  constructor(options: { client: EventBridgeClient; busName: string }) {
    this.#client = options.client;
    this.#busName = options.busName;
  }

  publish(detail: JobEventDetail): Promise<void> {
    return this.#put(
      { source: JOB_EVENT_SOURCE, detailType: JOB_EVENT_DETAIL_TYPE, detail, at: detail.at },
      `the ${detail.status} event of ${detail.jobId}`,
    );
  }

  publishDeploymentHealth(detail: DeploymentHealthEventDetail): Promise<void> {
    return this.#put(
      {
        source: DEPLOYMENT_HEALTH_EVENT_SOURCE,
        detailType: DEPLOYMENT_HEALTH_DETAIL_TYPE,
        detail,
        at: detail.at,
      },
      `the ${detail.state} event of deployment ${detail.deployment}`,
    );
  }

  async #put(
    event: { source: string; detailType: string; detail: object; at: string },
    what: string,
  ): Promise<void> {
    const output = await this.#client.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: this.#busName,
            Source: event.source,
            DetailType: event.detailType,
            Detail: JSON.stringify(event.detail),
            Resources: [],
            Time: new Date(event.at),
          },
        ],
      }),
    );
    const [entry] = output.Entries ?? [];
    if ((output.FailedEntryCount ?? 0) > 0 || entry?.ErrorCode) {
      throw new JobEventNotPublishedError(
        `EventBridge refused ${what}: ${entry?.ErrorCode ?? 'unknown error'}`,
      );
    }
  }
}
