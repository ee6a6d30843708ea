import { type App, Validations } from 'aws-cdk-lib';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { createPipelineApp } from '../../infra/synth-pipeline.ts';
import { acknowledgmentsIn, acknowledgmentsUsed } from './nag-acknowledgment-usage.ts';
import { TEST_PROVIDER_CONTEXT } from './synthesized-pipeline.ts';

/**
 * cdk-nag 3 is a CDK validation plugin: findings are not construct annotations any more but
 * a report (`validateScope`), and synthesis fails on an unacknowledged error. Acknowledgments
 * are `Validations.of(construct).acknowledge()` metadata.
 */

let app: App;

beforeAll(() => {
  ({ app } = createPipelineApp({ bundle: false, context: TEST_PROVIDER_CONTEXT }));
  // Cross-stack references and grants are final only after synthesis.
  app.synth();
});

describe('AwsSolutions checks', () => {
  it('report no unacknowledged finding, error or warning, in either stack', () => {
    const report = new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(app);
    const findings = report.violations.map(
      (violation) =>
        `${violation.severity} ${violation.ruleName} at ${violation.violatingResources
          .map((resource) => resource.constructPath)
          .join(', ')}`,
    );

    expect(findings).toEqual([]);
  });

  it('would report a non-compliant resource (the check is live)', () => {
    const { app: probe, stateful } = createPipelineApp({
      bundle: false,
      context: TEST_PROVIDER_CONTEXT,
    });
    new Bucket(stateful, 'UnloggedPlainBucket');
    probe.synth();

    const report = new AwsSolutionsChecks().validateScope(probe);

    expect(report.violations.map((violation) => violation.ruleName)).toEqual(
      expect.arrayContaining(['AwsSolutions-S1', 'AwsSolutions-S10']),
    );
  });

  it('report nothing with a concrete account and region, as the CDK command line sets them', () => {
    // `cdk synth` and `cdk deploy` always resolve an environment; an acknowledgement written with
    // region/account tokens would then stop matching the finding.
    vi.stubEnv('CDK_DEFAULT_ACCOUNT', '123456789012');
    vi.stubEnv('CDK_DEFAULT_REGION', 'eu-west-1');
    try {
      const { app: located } = createPipelineApp({
        bundle: false,
        nag: true,
        context: TEST_PROVIDER_CONTEXT,
      });

      expect(() => located.synth()).not.toThrow();
      const report = new AwsSolutionsChecks().validateScope(located);
      expect(report.violations.map((violation) => violation.ruleName)).toEqual([]);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('pass when run as a validation plugin, as `cdk synth` runs them', () => {
    const { app: checked } = createPipelineApp({
      bundle: false,
      nag: true,
      context: TEST_PROVIDER_CONTEXT,
    });

    expect(() => checked.synth()).not.toThrow();
  });
});

describe('acknowledgments', () => {
  it('each silence a finding cdk-nag reports (none is stale)', () => {
    const used = acknowledgmentsUsed(app);
    const stale = acknowledgmentsIn(app)
      .filter((a) => a.id.startsWith('AwsSolutions-'))
      .filter((a) => !used.has(`${a.path} ${a.id}`))
      .map((a) => `${a.path} ${a.id}`);

    expect(stale).toEqual([]);
  });

  it('would report a stale acknowledgment (the check is live)', () => {
    const { app: probe, pipeline } = createPipelineApp({
      bundle: false,
      context: TEST_PROVIDER_CONTEXT,
    });
    Validations.of(pipeline.functions.api.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::arn:aws:s3:::nothing/*]',
      reason: 'A probe acknowledgment that matches no finding of the pipeline at all.',
    });
    probe.synth();
    const used = acknowledgmentsUsed(probe);

    expect(
      used.has('SoraPipeline/Api/Role AwsSolutions-IAM5[Resource::arn:aws:s3:::nothing/*]'),
    ).toBe(false);
    expect(used.size).toBeGreaterThan(0);
  });

  it('each give a specific reason', () => {
    for (const acknowledgment of acknowledgmentsIn(app)) {
      expect(acknowledgment.reason.length, acknowledgment.id).toBeGreaterThanOrEqual(60);
    }
  });

  it('name the exact wildcard for IAM5, never the whole rule', () => {
    const iam5 = acknowledgmentsIn(app).filter((a) => a.id.startsWith('AwsSolutions-IAM5'));

    expect(iam5.length).toBeGreaterThan(0);
    for (const acknowledgment of iam5) {
      expect(acknowledgment.id).toMatch(/^AwsSolutions-IAM5\[(Action|Resource)::.+\]$/);
    }
  });

  it('acknowledge only wildcards and rules with a documented exception', () => {
    const rules = new Set(acknowledgmentsIn(app).map((a) => a.id.replace(/\[.*\]$/, '')));

    expect([...rules].sort()).toEqual([
      'AwsSolutions-CFR1',
      'AwsSolutions-CFR2',
      'AwsSolutions-CFR3',
      'AwsSolutions-CFR4',
      'AwsSolutions-IAM4',
      'AwsSolutions-IAM5',
      'AwsSolutions-L1',
      'AwsSolutions-S1',
      'AwsSolutions-SMG4',
      'AwsSolutions-SQS3',
    ]);
  });

  it('acknowledge a queue without its own dead-letter queue only on the dead-letter queue', () => {
    const sqs3 = acknowledgmentsIn(app).filter((a) => a.id === 'AwsSolutions-SQS3');

    expect(sqs3.map((a) => a.path)).toEqual(['SoraPipeline/AsyncDeadLetters/Queue']);
  });

  it('acknowledge wildcards on the policy holding the statement, never on a whole function', () => {
    const iam5 = acknowledgmentsIn(app).filter((a) => a.id.startsWith('AwsSolutions-IAM5'));

    for (const acknowledgment of iam5) {
      // CDK's own functions name their role ServiceRole (the console's BucketDeployment).
      expect(acknowledgment.path, acknowledgment.id).toMatch(
        /\/((Service)?Role\/DefaultPolicy|Tracing)$/,
      );
    }
  });

  it("acknowledge CloudFront's geo, WAF, logging and certificate rules only on the console's distribution", () => {
    const cloudFront = acknowledgmentsIn(app).filter((a) => a.id.startsWith('AwsSolutions-CFR'));

    expect(new Set(cloudFront.map((a) => a.path))).toEqual(
      new Set(['SoraPipeline/Console/Distribution']),
    );
  });

  it("acknowledge an old runtime only on CDK's console deployment function", () => {
    const l1 = acknowledgmentsIn(app).filter((a) => a.id === 'AwsSolutions-L1');

    expect(l1.map((a) => a.path)).toEqual([
      'SoraPipeline/Custom::CDKBucketDeployment8693BB64968944B69AAFB0CC9EB8756C256MiB',
    ]);
  });

  it("acknowledge missing access logs only on the console's files", () => {
    const s1 = acknowledgmentsIn(app).filter((a) => a.id === 'AwsSolutions-S1');

    expect(s1.map((a) => a.path)).toEqual(['SoraPipeline/Console/Bucket']);
  });

  it("acknowledge a managed policy only on CDK's bucket notifications and console deployment handlers", () => {
    const iam4 = acknowledgmentsIn(app).filter((a) => a.id.startsWith('AwsSolutions-IAM4'));

    expect(iam4).toEqual([
      expect.objectContaining({
        path: 'SoraPipeline/Custom::CDKBucketDeployment8693BB64968944B69AAFB0CC9EB8756C256MiB',
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      }),
      expect.objectContaining({
        path: 'SoraPipeline/BucketNotificationsHandler050a0587b7544547bf325f094a3db834',
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      }),
    ]);
  });

  it('acknowledge an index wildcard only where jobs are listed: a hand-off queries byQueue by name', () => {
    const indexWildcards = acknowledgmentsIn(app)
      .filter((a) => a.id.startsWith('AwsSolutions-IAM5') && a.id.includes('/index/'))
      .map((a) => `${a.path} ${a.id.replace(/^.*(\/index\/.*)\]$/, '$1')}`)
      .sort();

    expect(indexWildcards).toEqual([
      'SoraPipeline/Api/Role/DefaultPolicy /index/*',
      'SoraPipeline/Scheduler/Role/DefaultPolicy /index/*',
    ]);
  });

  it("acknowledge Resource::* only on policies whose '*' is X-Ray or log delivery", () => {
    const paths = acknowledgmentsIn(app)
      .filter((a) => a.id === 'AwsSolutions-IAM5[Resource::*]')
      .map((a) => a.path)
      .sort();

    expect(paths).toEqual([
      'SoraPipeline/AdmitJob/Tracing',
      'SoraPipeline/Api/Tracing',
      'SoraPipeline/Authorizer/Tracing',
      'SoraPipeline/CreateProviderJob/Tracing',
      'SoraPipeline/DeliverWebhook/Tracing',
      'SoraPipeline/DownloadVideo/Tracing',
      'SoraPipeline/Generation/StateMachine/Role/DefaultPolicy',
      'SoraPipeline/Intake/Tracing',
      'SoraPipeline/PollProviderJob/Tracing',
      'SoraPipeline/RecordFailure/Tracing',
      'SoraPipeline/Scheduler/Tracing',
      'SoraPipeline/Webhooks/StateMachine/Role/DefaultPolicy',
    ]);
  });
});
