import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import type { DeploymentHealthEventDetail } from '../../../functions/shared/events/deployment-health-events.ts';
import { EventBridgeJobEvents } from '../../../functions/shared/events/event-bridge-job-events.ts';
import { JOB_EVENT_SOURCE } from '../../../functions/shared/events/job-events.ts';

const eventBridge = mockClient(EventBridgeClient);

afterEach(() => {
  eventBridge.reset();
});

const AT = '2026-03-01T10:00:00.000Z';
const detail: DeploymentHealthEventDetail = {
  version: '1',
  deployment: 'eastus',
  state: 'open',
  reason: 'ProviderTransientError 503',
  at: AT,
};
const publisher = () =>
  new EventBridgeJobEvents({
    client: new EventBridgeClient({ region: 'us-east-1' }),
    busName: 'jobs-bus',
  });

describe('EventBridgeJobEvents.publishDeploymentHealth', () => {
  it("puts one event on the job events bus with the pipeline's source and its own detail-type", async () => {
    eventBridge
      .on(PutEventsCommand)
      .resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e1' }] });

    await publisher().publishDeploymentHealth(detail);

    expect(eventBridge.commandCalls(PutEventsCommand)[0]?.args[0].input).toEqual({
      Entries: [
        {
          EventBusName: 'jobs-bus',
          Source: JOB_EVENT_SOURCE,
          DetailType: 'Deployment Health Changed',
          Detail: JSON.stringify(detail),
          Resources: [],
          Time: new Date(AT),
        },
      ],
    });
  });

  it('throws, naming the deployment, when EventBridge answers with a failed entry', async () => {
    eventBridge
      .on(PutEventsCommand)
      .resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure' }] });

    await expect(publisher().publishDeploymentHealth(detail)).rejects.toThrow(
      'EventBridge refused the open event of deployment eastus: InternalFailure',
    );
  });
});
