import { beforeAll, describe, expect, it } from 'vitest';
import { parseS3Event } from '../../functions/intake/s3-event.ts';
import type { CfnTemplate } from '../../infra/local/cfn-template.ts';
import type { LambdaInvokeResult } from '../../infra/local/in-process-lambdas.ts';
import { LocalEventSources } from '../../infra/local/local-event-sources.ts';
import { localResolver } from '../../infra/local/local-resources.ts';
import {
  bucketNotificationsFromTemplate,
  type LocalBucketNotification,
  notificationMatches,
  rateIntervalMs,
  s3LambdaEvent,
  schedulesFromTemplate,
} from '../../infra/local/local-triggers.ts';
import { synthesizePipeline } from '../../infra/synth-pipeline.ts';

// The local stack's S3 events and schedule, read from the template CDK synthesizes.

let pipeline: CfnTemplate;
let stacks: Record<string, CfnTemplate>;

beforeAll(() => {
  const synthesized = synthesizePipeline({
    context: {
      'provider:baseUrl': 'http://127.0.0.1:9/v1',
      'schedule:expression': 'rate(2 minutes)',
    },
  });
  pipeline = synthesized.templates.pipeline;
  stacks = synthesized.stacks;
});

describe('the template’s triggers, as the local stack reads them', () => {
  it('finds the drop folder notifications: the videos bucket, inbox/ and batches/, the intake', () => {
    const notifications = bucketNotificationsFromTemplate(
      pipeline,
      localResolver(pipeline, stacks),
    );

    expect(notifications).toEqual([
      {
        bucket: expect.stringMatching(/videosbucket/),
        functionLogicalId: expect.stringMatching(/^IntakeFunction/),
        events: ['s3:ObjectCreated:*'],
        prefix: 'inbox/',
      },
      expect.objectContaining({ prefix: 'batches/', events: ['s3:ObjectCreated:*'] }),
    ]);
  });

  it('finds the schedule rule with its expression and the scheduler as target', () => {
    expect(schedulesFromTemplate(pipeline)).toEqual([
      {
        ruleLogicalId: expect.stringMatching(/^BatchScheduleRule/),
        expression: 'rate(2 minutes)',
        functionLogicalIds: [expect.stringMatching(/^SchedulerFunction/)],
      },
    ]);
  });
});

describe('rateIntervalMs', () => {
  it('reads rate expressions and leaves cron to the fallback', () => {
    expect(rateIntervalMs('rate(1 minute)')).toBe(60_000);
    expect(rateIntervalMs('rate(5 minutes)')).toBe(300_000);
    expect(rateIntervalMs('rate(2 hours)')).toBe(7_200_000);
    expect(rateIntervalMs('cron(0 * * * ? *)')).toBeUndefined();
  });
});

const inbox: LocalBucketNotification = {
  bucket: 'videos',
  functionLogicalId: 'IntakeFunction',
  events: ['s3:ObjectCreated:*'],
  prefix: 'inbox/',
};

describe('notificationMatches', () => {
  it('matches created objects under the prefix of the same bucket only', () => {
    expect(notificationMatches(inbox, 'videos', 'inbox/a.txt', 'ObjectCreated:Put')).toBe(true);
    expect(notificationMatches(inbox, 'videos', 'inbox/a.txt', 'ObjectCreated:Copy')).toBe(true);
    expect(notificationMatches(inbox, 'videos', 'inbox/a.txt', 'ObjectRemoved:Delete')).toBe(false);
    expect(
      notificationMatches(inbox, 'videos', 'inbox-results/a.txt.json', 'ObjectCreated:Put'),
    ).toBe(false);
    expect(notificationMatches(inbox, 'other', 'inbox/a.txt', 'ObjectCreated:Put')).toBe(false);
  });
});

describe('s3LambdaEvent', () => {
  it('has the AWS shape the intake parses back to the same object', () => {
    const event = s3LambdaEvent(
      {
        eventName: 'ObjectCreated:Put',
        s3: {
          bucket: { name: 'videos' },
          object: { key: 'inbox/my prompt+1.txt', size: 5, eTag: 'abc' },
        },
      },
      'config-1',
      'v1',
    );

    expect(event.Records[0]).toMatchObject({
      eventVersion: '2.1',
      eventSource: 'aws:s3',
      s3: {
        configurationId: 'config-1',
        bucket: { name: 'videos', arn: 'arn:aws:s3:::videos' },
        object: { key: 'inbox/my+prompt%2B1.txt', size: 5, eTag: 'abc', versionId: 'v1' },
      },
    });
    expect(parseS3Event(event).objects).toEqual([
      { bucket: 'videos', key: 'inbox/my prompt+1.txt', size: 5, eTag: 'abc', versionId: 'v1' },
    ]);
  });
});

describe('LocalEventSources', () => {
  const record = (key: string) => ({
    eventName: 'ObjectCreated:Put',
    s3: { bucket: { name: 'videos' }, object: { key, size: 1, eTag: 'e' } },
  });

  it('invokes the function once per matching record, and retries a failed invocation twice', async () => {
    const calls: unknown[] = [];
    const failure: LambdaInvokeResult = {
      functionError: { errorType: 'Error', errorMessage: 'DynamoDB down', trace: [] },
    };
    const errors: string[] = [];
    const sources = new LocalEventSources({
      invoke: async (_name, payload) => {
        calls.push(payload);
        return failure;
      },
      notifications: [inbox],
      schedules: [],
      // Retry delays of 1 and 2 minutes become 1 and 2 ms.
      speed: 60_000,
      timer: false,
      onError: (source, error) => errors.push(`${source}: ${error.errorMessage}`),
    });

    sources.s3Event({ Records: [record('inbox/a.txt'), record('elsewhere/b.txt')] });
    await sources.whenIdle();

    expect(calls).toHaveLength(3);
    expect(errors).toEqual(Array(3).fill('S3 event: DynamoDB down'));
    await sources.close();
  });

  it('runs the schedule on demand, one run at a time, and returns the function’s answer', async () => {
    let running = 0;
    let overlapped = false;
    const sources = new LocalEventSources({
      invoke: async (name) => {
        running += 1;
        overlapped ||= running > 1;
        await new Promise((resolve) => setTimeout(resolve, 20));
        running -= 1;
        return { payload: { ran: name } };
      },
      notifications: [],
      schedules: [
        { ruleLogicalId: 'Rule', expression: 'rate(5 minutes)', functionLogicalIds: ['Scheduler'] },
      ],
      speed: 1,
      timer: false,
    });

    const answers = await Promise.all([sources.runSchedule(), sources.runSchedule()]);

    expect(answers).toEqual([{ ran: 'Scheduler' }, { ran: 'Scheduler' }]);
    expect(overlapped).toBe(false);
    await sources.close();
  });

  it('runs the schedule on its timer, the rate divided by the speed', async () => {
    let runs = 0;
    const sources = new LocalEventSources({
      invoke: async () => {
        runs += 1;
        return { payload: null };
      },
      notifications: [],
      schedules: [
        { ruleLogicalId: 'Rule', expression: 'rate(1 minute)', functionLogicalIds: ['S'] },
      ],
      // One minute becomes 100 ms.
      speed: 600,
      timer: true,
    });

    const started = Date.now();
    while (runs < 2 && Date.now() - started < 5_000) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await sources.close();

    expect(runs).toBeGreaterThanOrEqual(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  });
});
