import { dynamoDb } from '../aws/dynamodb-client.ts';
import { eventBridge } from '../aws/eventbridge-client.ts';
import { DynamoJobStore } from '../jobs/dynamo-job-store.ts';
import type { JobStore } from '../jobs/job-store.ts';
import {
  type HealthChangeReporter,
  healthChangeReporter,
} from '../observability/deployment-health-reporter.ts';
import { EventBridgeJobEvents } from './event-bridge-job-events.ts';
import { JobStoreWithEvents } from './job-store-with-events.ts';

/**
 * The production job store on `tableName`. Where the function publishes job events (CDK's
 * `useJobEvents` sets JOB_EVENTS_BUS_NAME on every function that changes a job's status; read
 * by readConfig's `jobEventsBusName`), each stored state change is also put on that bus.
 */
export function productionJobStore(tableName: string, busName: string | undefined): JobStore {
  const store = new DynamoJobStore({ client: dynamoDb(), tableName });
  if (!busName) return store;
  return new JobStoreWithEvents(
    store,
    new EventBridgeJobEvents({ client: eventBridge(), busName }),
  );
}

/**
 * The deployment health reporter of a function (see healthChangeReporter): its events go on
 * `busName`, where the function publishes job events; without a bus, metrics and logs only.
 */
export function productionHealthChangeReporter(busName: string | undefined): HealthChangeReporter {
  return healthChangeReporter({
    publisher: busName ? new EventBridgeJobEvents({ client: eventBridge(), busName }) : undefined,
  });
}
