import { dynamoDb, eventBridge } from '../aws/clients.ts';
import { DynamoJobStore } from '../jobs/dynamo-job-store.ts';
import type { JobStore } from '../jobs/job-store.ts';
import { EventBridgeJobEvents } from './event-bridge-job-events.ts';
import { JobStoreWithEvents } from './job-store-with-events.ts';

/**
 * The production job store on `tableName`. Where the function publishes job events (CDK's
 * `useJobEvents` sets JOB_EVENTS_BUS_NAME on every function that changes a job's status), each
 * stored state change is also put on that bus.
 */
export function productionJobStore(
  tableName: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): JobStore {
  const store = new DynamoJobStore({ client: dynamoDb, tableName });
  const busName = env.JOB_EVENTS_BUS_NAME;
  if (!busName) return store;
  return new JobStoreWithEvents(store, new EventBridgeJobEvents({ client: eventBridge, busName }));
}
