import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventBridgeJobEvents } from '../../functions/shared/events/event-bridge-job-events.ts';
import { jobEventDetail } from '../../functions/shared/events/job-events.ts';
import {
  type RunningLocalAwsEndpoint,
  startLocalAwsEndpoint,
} from '../../infra/local/local-aws-endpoint.ts';
import {
  describeBusEvent,
  type LocalBusEvent,
  LocalEventBus,
} from '../../infra/local/local-event-bus.ts';
import { LocalSecrets } from '../../infra/local/local-secrets.ts';
import { LocalStepFunctions } from '../../infra/local/local-step-functions.ts';
import { aJob } from '../support/job-fixtures.ts';

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };

let dir: string;
let bus: LocalEventBus;
let shown: LocalBusEvent[];
let endpoint: RunningLocalAwsEndpoint;
let stepFunctions: LocalStepFunctions;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sora-events-'));
  shown = [];
  bus = new LocalEventBus({
    file: join(dir, 'data', 'events.jsonl'),
    onEvent: (event) => shown.push(event),
  });
  stepFunctions = new LocalStepFunctions();
  endpoint = await startLocalAwsEndpoint({
    stepFunctions,
    secrets: new LocalSecrets(),
    eventBus: bus,
  });
});

afterEach(async () => {
  await endpoint.close();
  await stepFunctions.close();
  await rm(dir, { recursive: true, force: true });
});

describe('the local event bus', () => {
  it('takes the events the production publisher puts, keeps, shows and writes them', async () => {
    const publisher = new EventBridgeJobEvents({
      client: new EventBridgeClient({
        endpoint: endpoint.url,
        region: 'us-east-1',
        credentials,
        maxAttempts: 1,
      }),
      busName: 'jobs-bus',
    });
    const detail = jobEventDetail(aJob({ jobId: 'job_1', source: 'batch' }), 'queued');

    await publisher.publish(detail);

    const [event] = bus.events();
    expect(event).toMatchObject({
      source: 'sora-pipeline',
      'detail-type': 'Video Job State Changed',
      eventBusName: 'jobs-bus',
      time: detail.at,
      detail,
    });
    expect(shown).toEqual(bus.events());
    const lines = (await readFile(join(dir, 'data', 'events.jsonl'), 'utf8')).trim().split('\n');
    expect(lines.map((line) => JSON.parse(line))).toEqual(bus.events());
    expect(describeBusEvent(event as LocalBusEvent)).toBe(
      'event  Video Job State Changed  job_1 queued (batch)',
    );
  });

  it("takes a deployment's health events and shows which deployment, its state and why", async () => {
    const publisher = new EventBridgeJobEvents({
      client: new EventBridgeClient({
        endpoint: endpoint.url,
        region: 'us-east-1',
        credentials,
        maxAttempts: 1,
      }),
      busName: 'jobs-bus',
    });
    const detail = {
      version: '1',
      deployment: 'eastus',
      state: 'open',
      reason: 'ProviderTransientError 503',
      at: '2026-03-01T10:00:00.000Z',
    } as const;

    await publisher.publishDeploymentHealth(detail);

    const [event] = bus.events();
    expect(event).toMatchObject({ 'detail-type': 'Deployment Health Changed', detail });
    expect(describeBusEvent(event as LocalBusEvent)).toBe(
      'event  Deployment Health Changed  eastus open ProviderTransientError 503',
    );
  });

  it('answers a malformed entry as a failed entry, which the publisher throws', async () => {
    const answer = bus.putEvents({
      Entries: [{ Source: 'sora-pipeline', DetailType: 'x', Detail: '{not json' }],
    });

    expect(answer).toMatchObject({
      FailedEntryCount: 1,
      Entries: [{ ErrorCode: 'MalformedDetail' }],
    });
    expect(bus.events()).toEqual([]);
  });
});
