import { readFileSync } from 'node:fs';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { HANDLER_MODULES } from '../../infra/stacks/pipeline-stack.ts';
import { functionLogicalId, synthesizeForTest } from './synthesized-pipeline.ts';

let template: Template;

beforeAll(() => {
  template = synthesizeForTest().pipelineTemplate;
});

type Resource = { Properties: Record<string, unknown> };

const alarms = () => Object.values(template.findResources('AWS::CloudWatch::Alarm')) as Resource[];
const alarmNames = () => alarms().map((alarm) => JSON.stringify(alarm.Properties.AlarmName));
const onlyId = (type: string): string => {
  const ids = Object.keys(template.findResources(type));
  if (ids.length !== 1 || !ids[0]) throw new Error(`expected one ${type}, found ${ids.length}`);
  return ids[0];
};

/** The alarm whose name ends in `-<id>` (names are `<stack name>-<id>`). */
function alarm(id: string): Resource {
  const found = alarms().filter((candidate) =>
    JSON.stringify(candidate.Properties.AlarmName).endsWith(`-${id}"`),
  );
  if (found.length !== 1 || !found[0]) throw new Error(`expected one alarm ${id}`);
  return found[0];
}

describe('alarms', () => {
  const expected = [
    'JobFailureRate',
    'ExecutionsFailed',
    'ExecutionsTimedOut',
    'ExecutionsAborted',
    'OldestWaitingJob',
    'ProviderRateLimited',
    'ProviderServerErrors',
    'Api5xxRate',
    'OrphanedProviderJobs',
    'JobEventsNotPublished',
    'DeploymentOpen',
    'AsyncDeadLetters',
    ...Object.keys(HANDLER_MODULES).flatMap((name) => {
      const title = name.charAt(0).toUpperCase() + name.slice(1);
      return [`${title}Errors`, `${title}Throttles`];
    }),
  ];

  it.each(expected)('include %s', (id) => {
    expect(alarm(id).Properties.AlarmDescription).toEqual(
      expect.stringContaining('Runbook: docs/guide.md#9-operating-it'),
    );
  });

  it('fire on the first error of the authorizer, the intake and the scheduler, on 5 of the others', () => {
    const threshold = (id: string) => alarm(id).Properties.Threshold;

    expect(['AuthorizerErrors', 'IntakeErrors', 'SchedulerErrors'].map(threshold)).toEqual([
      1, 1, 1,
    ]);
    expect(['ApiErrors', 'CreateProviderJobErrors', 'DownloadVideoErrors'].map(threshold)).toEqual([
      5, 5, 5,
    ]);
  });

  it('all notify the one alarm topic, which is encrypted', () => {
    const topicId = onlyId('AWS::SNS::Topic');

    for (const each of alarms()) {
      expect(each.Properties.AlarmActions).toEqual([{ Ref: topicId }]);
    }
    template.hasResourceProperties('AWS::SNS::Topic', {
      KmsMasterKeyId: Match.anyValue(),
    });
  });

  it('each have a name of their own and a description', () => {
    expect(new Set(alarmNames()).size).toBe(alarms().length);
    for (const each of alarms()) {
      expect(String(each.Properties.AlarmDescription).length).toBeGreaterThan(40);
    }
  });

  it('each have a runbook entry in the guide', () => {
    const guide = readFileSync(new URL('../../docs/guide.md', import.meta.url), 'utf8');
    const runbook = guide.slice(guide.indexOf('## 9. Operating it'));

    expect(runbook).not.toBe(guide);
    for (const id of expected.filter(
      (id) => !/(Errors|Throttles)$/.test(id) || id === 'ProviderServerErrors',
    )) {
      expect(runbook, id).toContain(`\`${id}\``);
    }
    expect(runbook).toContain('`<Function>Errors`');
    expect(runbook).toContain('`<Function>Throttles`');
    expect(runbook).toContain('`DailySpend`');
  });

  it('watch the failure rate over the totals of failed and completed jobs, a missing one as 0', () => {
    const metrics = alarm('JobFailureRate').Properties.Metrics as {
      Id: string;
      Expression?: string;
      MetricStat?: { Metric: { MetricName: string; Dimensions: unknown[] } };
    }[];
    const totals = metrics.filter((metric) => metric.MetricStat !== undefined);

    expect(totals.map((metric) => [metric.Id, metric.MetricStat?.Metric.MetricName])).toEqual([
      ['failed', 'JobsFailed'],
      ['completed', 'JobsCompleted'],
    ]);
    for (const metric of totals) {
      expect(metric.MetricStat?.Metric.Dimensions).toEqual([
        { Name: 'service', Value: 'sora-pipeline' },
      ]);
    }
    expect(metrics.find((metric) => metric.Expression)?.Expression).toContain('FILL(completed, 0)');
  });

  it('watch the deployments out of use as the scheduler saw them and any opening in between, a missing one as 0', () => {
    const found = alarm('DeploymentOpen').Properties;
    const metrics = found.Metrics as {
      Id: string;
      Expression?: string;
      MetricStat?: { Metric: { MetricName: string; Dimensions: unknown[] }; Stat: string };
    }[];
    const inputs = metrics.filter((metric) => metric.MetricStat !== undefined);

    expect(
      inputs.map((metric) => [
        metric.Id,
        metric.MetricStat?.Metric.MetricName,
        metric.MetricStat?.Stat,
      ]),
    ).toEqual([
      ['out', 'DeploymentsOpen', 'Maximum'],
      ['opened', 'DeploymentOpened', 'Sum'],
    ]);
    // The totals over deployments: an alarm cannot sum a metric across dimension values.
    for (const metric of inputs) {
      expect(metric.MetricStat?.Metric.Dimensions).toEqual([
        { Name: 'service', Value: 'sora-pipeline' },
      ]);
    }
    expect(metrics.find((metric) => metric.Expression)?.Expression).toBe(
      'MAX([FILL(out, 0), FILL(opened, 0)])',
    );
    expect([found.Threshold, found.ComparisonOperator]).toEqual([
      1,
      'GreaterThanOrEqualToThreshold',
    ]);
  });

  it('watch spending only when there is a daily budget, at 80% of it', () => {
    expect(
      alarms().some((each) => JSON.stringify(each.Properties.AlarmName).endsWith('-DailySpend"')),
    ).toBe(false);

    const budgeted = synthesizeForTest({ 'budget:dailyUsd': '50' }).pipelineTemplate;
    budgeted.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'SpentTodayUsd',
      Threshold: 40,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });

  it('refuse a longest wait that is not a whole number of minutes', () => {
    expect(() => synthesizeForTest({ 'alarms:maxWaitMinutes': '1.5' })).toThrow(
      /alarms:maxWaitMinutes must be a whole number/,
    );
  });

  it('take the longest acceptable wait from context', () => {
    const patient = synthesizeForTest({ 'alarms:maxWaitMinutes': '240' }).pipelineTemplate;

    patient.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'OldestWaitingJobAge',
      Threshold: 240 * 60,
    });
  });
});

describe('the alarm topic', () => {
  it('has no subscription unless alarms:email is set', () => {
    template.resourceCountIs('AWS::SNS::Subscription', 0);

    const subscribed = synthesizeForTest({ 'alarms:email': 'ops@example.com' }).pipelineTemplate;
    subscribed.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
    });
  });

  it('refuses an alarms:email that is not an address', () => {
    expect(() => synthesizeForTest({ 'alarms:email': 'not-an-address' })).toThrow(/alarms:email/);
  });

  it('lets CloudWatch use its key', () => {
    const key = Object.values(template.findResources('AWS::KMS::Key'))[0] as Resource;

    expect(JSON.stringify(key.Properties.KeyPolicy)).toContain('cloudwatch.amazonaws.com');
    expect(key.Properties.EnableKeyRotation).toBe(true);
  });
});

describe('the dashboard', () => {
  it('shows jobs, durations, provider errors, waiting, spending and throughput', () => {
    const dashboard = Object.values(
      template.findResources('AWS::CloudWatch::Dashboard'),
    )[0] as Resource;
    const body = JSON.stringify(dashboard.Properties.DashboardBody);

    for (const title of [
      'Jobs submitted by source',
      'Jobs completed by source',
      'Jobs failed by code',
      'Job duration',
      'Provider errors by type',
      'Jobs waiting and in flight',
      'Spending today',
      'Download throughput',
      'Alarms',
      'Deployments open or half-open',
      'Deployments opened and closed',
    ]) {
      expect(body).toContain(title);
    }
  });

  it("shows each deployment's state, and its openings and closings, one line per deployment", () => {
    const dashboard = Object.values(
      template.findResources('AWS::CloudWatch::Dashboard'),
    )[0] as Resource;
    // The body is JSON joined around references (alarm ARNs, the region): read it with those
    // left out.
    const join = dashboard.Properties.DashboardBody as { 'Fn::Join': [string, unknown[]] };
    const body = JSON.parse(
      join['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : 'ref')).join(''),
    ) as { widgets: { properties: { title?: string; metrics?: unknown[][] } }[] };
    const searchesOf = (title: string) =>
      (
        body.widgets.find((widget) => widget.properties.title?.startsWith(title))?.properties
          .metrics ?? []
      )
        .flat()
        .flatMap((metric) =>
          typeof metric === 'object' && metric !== null && 'expression' in metric
            ? [String(metric.expression)]
            : [],
        );
    const byDeployment = (name: string, statistic: string) =>
      `SEARCH('{SoraPipeline,deployment,service} MetricName="${name}" service="sora-pipeline"', '${statistic}', 300)`;

    expect(searchesOf('Deployments open or half-open')).toEqual([
      byDeployment('DeploymentsOpen', 'Maximum'),
    ]);
    expect(searchesOf('Deployments opened and closed')).toEqual([
      byDeployment('DeploymentOpened', 'Sum'),
      byDeployment('DeploymentClosed', 'Sum'),
    ]);
  });
});

describe('dead letters', () => {
  const queueId = () => onlyId('AWS::SQS::Queue');
  const invokeConfigOf = (handlerModule: string) => {
    const functionId = functionLogicalId(template, handlerModule);
    const configs = Object.values(template.findResources('AWS::Lambda::EventInvokeConfig')).filter(
      (config) =>
        JSON.stringify(config.Properties.FunctionName) === JSON.stringify({ Ref: functionId }),
    );
    expect(configs).toHaveLength(1);
    return (configs[0] as Resource).Properties;
  };

  it("keep the intake's failed S3 events after two retries within an hour", () => {
    expect(invokeConfigOf(HANDLER_MODULES.intake)).toEqual({
      FunctionName: expect.anything(),
      Qualifier: '$LATEST',
      MaximumRetryAttempts: 2,
      MaximumEventAgeInSeconds: 3600,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [queueId(), 'Arn'] } } },
    });
  });

  it('record a failed scheduler run without retrying it, and a run EventBridge could not deliver', () => {
    expect(invokeConfigOf(HANDLER_MODULES.scheduler)).toMatchObject({
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 600,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [queueId(), 'Arn'] } } },
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: Match.anyValue(),
      Targets: [
        Match.objectLike({ DeadLetterConfig: { Arn: { 'Fn::GetAtt': [queueId(), 'Arn'] } } }),
      ],
    });
  });

  it('are encrypted, SSL only, and kept 14 days', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 14 * 24 * 3600,
    });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  it('may only be sent to by the intake and the scheduler, and only SendMessage', () => {
    const senders = Object.entries(template.findResources('AWS::IAM::Policy')).flatMap(
      ([id, policy]) =>
        (policy.Properties.PolicyDocument.Statement as { Action: unknown; Resource: unknown }[])
          .filter((statement) => JSON.stringify(statement.Action).includes('sqs:'))
          .map((statement) => ({ id, action: statement.Action, resource: statement.Resource })),
    );

    expect(senders).toEqual([
      {
        id: expect.stringMatching(/^Intake/),
        action: 'sqs:SendMessage',
        resource: { 'Fn::GetAtt': [queueId(), 'Arn'] },
      },
      {
        id: expect.stringMatching(/^Scheduler/),
        action: 'sqs:SendMessage',
        resource: { 'Fn::GetAtt': [queueId(), 'Arn'] },
      },
    ]);
  });

  it('raise an alarm on the first message', () => {
    expect(alarm('AsyncDeadLetters').Properties).toMatchObject({
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });
});

describe('job events', () => {
  it('have a bus of their own, and functions may only PutEvents on it', () => {
    const busId = onlyId('AWS::Events::EventBus');
    const statements = Object.entries(template.findResources('AWS::IAM::Policy')).flatMap(
      ([policyId, policy]) =>
        (policy.Properties.PolicyDocument.Statement as { Action: unknown; Resource: unknown }[])
          .filter((statement) => JSON.stringify(statement.Action).includes('events:'))
          .map((statement) => ({ policyId, ...statement })),
    );
    // Policy ids start with the function's construct id (`AdmitJobRoleDefaultPolicy...`).
    const publishers = statements.map(({ policyId }) => policyId.replace(/Role.*$/, '')).sort();

    // Every function that changes a job's status: AdmitJob and every hand-off (poll's included)
    // cancel a waiting job whose start timeout passed.
    expect(publishers).toEqual([
      'AdmitJob',
      'Api',
      'CreateProviderJob',
      'DownloadVideo',
      'Intake',
      'PollProviderJob',
      'RecordFailure',
      'Scheduler',
    ]);
    for (const statement of statements) {
      expect(statement.Action).toBe('events:PutEvents');
      expect(statement.Resource).toEqual({ 'Fn::GetAtt': [busId, 'Arn'] });
    }
  });
});
