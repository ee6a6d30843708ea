import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { HANDLER_MODULES } from '../../infra/stacks/pipeline-stack.ts';
import { functionLogicalId, synthesizeForTest } from './synthesized-pipeline.ts';

interface Statement {
  Action: string | string[];
  Resource: unknown;
}

let template: Template;
let intakeId: string;
let schedulerId: string;

beforeAll(() => {
  template = synthesizeForTest().pipelineTemplate;
  intakeId = functionLogicalId(template, HANDLER_MODULES.intake);
  schedulerId = functionLogicalId(template, HANDLER_MODULES.scheduler);
});

function statementsOf(functionId: string): Statement[] {
  const fn = template.findResources('AWS::Lambda::Function')[functionId];
  const roleId = fn?.Properties.Role['Fn::GetAtt'][0];
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((policy) =>
      policy.Properties.Roles.some((role: { Ref: string }) => role.Ref === roleId),
    )
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement);
}

const actions = (statement: Statement) =>
  Array.isArray(statement.Action) ? statement.Action : [statement.Action];
const resources = (statement: Statement) =>
  (Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource]).map((r) =>
    JSON.stringify(r),
  );

/** The bucket ARN + a literal suffix, as grants on the imported videos bucket write it. */
const objectsUnder = (suffix: string) =>
  JSON.stringify({
    'Fn::Join': [
      '',
      [
        'arn:',
        { Ref: 'AWS::Partition' },
        ':s3:::',
        { 'Fn::ImportValue': 'SoraPipelineStateful-VideosBucketName' },
        ...(suffix ? [suffix] : []),
      ],
    ],
  });

describe('the drop folder notification', () => {
  it('sends object-created events of inbox/ and batches/ (and nothing else) to the intake', () => {
    template.hasResourceProperties('Custom::S3BucketNotifications', {
      BucketName: { 'Fn::ImportValue': 'SoraPipelineStateful-VideosBucketName' },
      NotificationConfiguration: {
        LambdaFunctionConfigurations: [
          {
            Events: ['s3:ObjectCreated:*'],
            Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'inbox/' }] } },
            LambdaFunctionArn: { 'Fn::GetAtt': [intakeId, 'Arn'] },
          },
          {
            Events: ['s3:ObjectCreated:*'],
            Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'batches/' }] } },
            LambdaFunctionArn: { 'Fn::GetAtt': [intakeId, 'Arn'] },
          },
        ],
      },
      // The bucket belongs to the stateful stack: only this stack's own entries are managed.
      Managed: false,
    });
  });

  it('lets only S3, for the videos bucket in this account, invoke the intake', () => {
    template.hasResourceProperties('AWS::Lambda::Permission', {
      FunctionName: { 'Fn::GetAtt': [intakeId, 'Arn'] },
      Principal: 's3.amazonaws.com',
      SourceAccount: { Ref: 'AWS::AccountId' },
      SourceArn: JSON.parse(objectsUnder('')),
    });
  });
});

describe('the intake grants', () => {
  it('read objects only under the drop folder prefixes', () => {
    const reads = statementsOf(intakeId).filter((s) => actions(s).includes('s3:GetObject'));
    const objectResources = reads.flatMap(resources).filter((r) => r.includes('/'));

    expect(objectResources.sort()).toEqual([objectsUnder('/batches/*'), objectsUnder('/inbox/*')]);
  });

  it('write objects only under the results prefixes, so reports never trigger the intake', () => {
    const writes = statementsOf(intakeId).filter((s) => actions(s).includes('s3:PutObject'));

    expect(writes.flatMap(resources).sort()).toEqual([
      objectsUnder('/batches-results/*'),
      objectsUnder('/inbox-results/*'),
    ]);
  });

  it('start executions but never describe them', () => {
    const states = statementsOf(intakeId)
      .flatMap(actions)
      .filter((a) => a.startsWith('states:'));

    expect(states).toEqual(['states:StartExecution']);
  });
});

describe('the schedule', () => {
  it('runs the scheduler every 5 minutes by default, with a short retry window', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(5 minutes)',
      State: 'ENABLED',
      Targets: [
        {
          Arn: { 'Fn::GetAtt': [schedulerId, 'Arn'] },
          Id: Match.anyValue(),
          RetryPolicy: { MaximumEventAgeInSeconds: 600, MaximumRetryAttempts: 2 },
        },
      ],
    });
  });

  it('takes its expression from the schedule:expression context', () => {
    const custom = synthesizeForTest({ 'schedule:expression': 'rate(1 minute)' }).pipelineTemplate;

    custom.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 minute)' });
  });

  it.each(['rate(5 minute)', 'rate(1 minutes)', 'every 5 minutes', 'cron(0 * * *)'])(
    'refuses the malformed expression %s at synth, naming the key',
    (expression) => {
      expect(() => synthesizeForTest({ 'schedule:expression': expression })).toThrow(
        /schedule:expression/,
      );
    },
  );

  it('lets the scheduler describe executions of the generation state machine only', () => {
    const describe = statementsOf(schedulerId).filter((s) =>
      actions(s).includes('states:DescribeExecution'),
    );

    expect(describe).toHaveLength(1);
    expect(resources(describe[0] as Statement)).toEqual([
      expect.stringMatching(
        /:execution:.*"Fn::Select":\[6,\{"Fn::Split":\[":",\{"Ref":"GenerationStateMachine\w+"\}\]\}\]\}.*:\*"/,
      ),
    ]);
  });
});
