import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { EventBridgeJobEvents } from '../../../functions/shared/events/event-bridge-job-events.ts';
import {
  JOB_EVENT_DETAIL_TYPE,
  JOB_EVENT_SOURCE,
  type JobEventDetail,
  type JobEventPublisher,
} from '../../../functions/shared/events/job-events.ts';
import { JobStoreWithEvents } from '../../../functions/shared/events/job-store-with-events.ts';
import {
  inMetricsScope,
  type RecordedMetric,
} from '../../../functions/shared/observability/pipeline-metrics.ts';
import { InMemoryJobStore } from '../../support/in-memory-job-store.ts';
import { aJob } from '../../support/job-fixtures.ts';
import { recordingLogger } from '../../support/recording-logger.ts';

const AT = '2026-01-02T03:10:00.000Z';
const RESULT = {
  bucket: 'videos-bucket',
  key: 'videos/job_1/video.mp4',
  bytes: 1234,
  sha256: 'b'.repeat(64),
  contentType: 'video/mp4',
};

function world(publisher?: JobEventPublisher) {
  const published: JobEventDetail[] = [];
  const inner = new InMemoryJobStore({ now: () => new Date(AT) });
  const log = recordingLogger();
  const store = new JobStoreWithEvents(
    inner,
    publisher ?? {
      async publish(detail) {
        published.push(detail);
      },
    },
    log.logger,
  );
  return { inner, store, published, log };
}

describe('a job store with events', () => {
  it('publishes queued, started and completed as a job goes through, with where its video is', async () => {
    const { store, published } = world();
    const job = aJob({ jobId: 'job_1', source: 'inbox' });

    await store.create(job);
    await store.markCreateAttempt('job_1', AT);
    await store.recordProviderJob('job_1', {
      providerJobId: 'video_1',
      providerStatus: 'in_progress',
      progress: 5,
    });
    await store.recordCompleted('job_1', RESULT, AT, 0.4);

    expect(published.map((event) => event.status)).toEqual(['queued', 'started', 'completed']);
    expect(published[2]).toEqual({
      version: '1',
      jobId: 'job_1',
      status: 'completed',
      source: 'inbox',
      model: 'sora-2',
      size: '720x1280',
      seconds: '4',
      at: AT,
      providerJobId: 'video_1',
      error: null,
      video: { bucket: 'videos-bucket', key: RESULT.key, bytes: 1234, sha256: RESULT.sha256 },
      costUsd: 0.4,
    });
  });

  it('publishes cancelled once, not for a second cancel', async () => {
    const { store, published } = world();
    await store.create(aJob({ jobId: 'job_1' }));

    await store.recordCancelled('job_1', AT);
    await store.recordCancelled('job_1', AT);

    expect(published.map((event) => event.status)).toEqual(['queued', 'cancelled']);
  });

  it('publishes failed with the code only (no message, no prompt), once', async () => {
    const { store, published } = world();
    await store.create(aJob({ jobId: 'job_1' }));
    const error = {
      code: 'moderation_blocked',
      message: 'Your prompt "A red fox running" was blocked',
      retryable: false,
    };

    await store.recordFailed('job_1', error, AT);
    await store.recordFailed('job_1', error, AT);

    expect(published.map((event) => event.status)).toEqual(['queued', 'failed']);
    expect(published[1]?.error).toEqual({ code: 'moderation_blocked', retryable: false });
    expect(JSON.stringify(published)).not.toContain('red fox');
  });

  it('publishes nothing for a replayed submission', async () => {
    const { store, published } = world();
    const job = aJob({ jobId: 'job_1' });
    await store.create(job, 'key-1');

    const replay = await store.create({ ...job, jobId: 'job_2' }, 'key-1');

    expect(replay.created).toBe(false);
    expect(published.map((event) => event.status)).toEqual(['queued']);
  });

  it('keeps the change and counts the loss when the bus refuses the event', async () => {
    const { store, inner, log } = world({
      async publish() {
        throw new Error('EventBridge is down (A red fox running)');
      },
    });
    const metrics: RecordedMetric[] = [];

    await inMetricsScope(metrics, () => store.create(aJob({ jobId: 'job_1' })));

    expect(await inner.get('job_1')).toMatchObject({ status: 'QUEUED' });
    expect(metrics).toEqual([{ name: 'JobEventsNotPublished', value: 1, dimensions: {} }]);
    expect(log.lines).toEqual([
      expect.objectContaining({
        level: 'warn',
        message: 'Job event not published',
        extra: [{ jobId: 'job_1', status: 'queued', error: 'Error' }],
      }),
    ]);
    expect(log.text()).not.toContain('red fox');
  });
});

describe('EventBridge job events', () => {
  const eventBridge = mockClient(EventBridgeClient);
  afterEach(() => eventBridge.reset());
  const detail: JobEventDetail = {
    version: '1',
    jobId: 'job_1',
    status: 'queued',
    source: 'api',
    model: 'sora-2',
    size: '720x1280',
    seconds: '4',
    at: AT,
    providerJobId: null,
    error: null,
    video: null,
    costUsd: 0.4,
  };

  it('puts one event on the named bus with the documented source and detail-type', async () => {
    eventBridge
      .on(PutEventsCommand)
      .resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e1' }] });
    const publisher = new EventBridgeJobEvents({
      client: new EventBridgeClient({ region: 'us-east-1' }),
      busName: 'jobs-bus',
    });

    await publisher.publish(detail);

    expect(eventBridge.commandCalls(PutEventsCommand)[0]?.args[0].input).toEqual({
      Entries: [
        {
          EventBusName: 'jobs-bus',
          Source: JOB_EVENT_SOURCE,
          DetailType: JOB_EVENT_DETAIL_TYPE,
          Detail: JSON.stringify(detail),
          Resources: [],
          Time: new Date(AT),
        },
      ],
    });
  });

  it('throws when EventBridge answers with a failed entry', async () => {
    eventBridge
      .on(PutEventsCommand)
      .resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure' }] });
    const publisher = new EventBridgeJobEvents({
      client: new EventBridgeClient({ region: 'us-east-1' }),
      busName: 'jobs-bus',
    });

    await expect(publisher.publish(detail)).rejects.toThrow(
      /refused the queued event.*InternalFailure/,
    );
  });
});
