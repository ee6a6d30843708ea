import { type EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
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

/** Publishes job events to one EventBridge bus (JOB_EVENTS_BUS_NAME). */
export class EventBridgeJobEvents implements JobEventPublisher {
  readonly #client: EventBridgeClient;
  readonly #busName: string;

  constructor(options: { client: EventBridgeClient; busName: string }) {
    this.#client = options.client;
    this.#busName = options.busName;
  }

  async publish(detail: JobEventDetail): Promise<void> {
    const output = await this.#client.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: this.#busName,
            Source: JOB_EVENT_SOURCE,
            DetailType: JOB_EVENT_DETAIL_TYPE,
            Detail: JSON.stringify(detail),
            Resources: [],
            Time: new Date(detail.at),
          },
        ],
      }),
    );
    const [entry] = output.Entries ?? [];
    if ((output.FailedEntryCount ?? 0) > 0 || entry?.ErrorCode) {
      throw new JobEventNotPublishedError(
        `EventBridge refused the ${detail.status} event of ${detail.jobId}: ${entry?.ErrorCode ?? 'unknown error'}`,
      );
    }
  }
}
