import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { JOB_INDEXES } from '../../functions/shared/jobs/jobs-table.ts';
import { synthesizeForTest } from './synthesized-pipeline.ts';

let template: Template;

beforeAll(() => {
  template = synthesizeForTest().statefulTemplate;
});

function onlyResource(type: string, idPrefix: string) {
  const matches = Object.entries(template.findResources(type)).filter(([id]) =>
    id.startsWith(idPrefix),
  );
  const [match] = matches;
  if (!match || matches.length !== 1) throw new Error(`expected one ${type} ${idPrefix}*`);
  return { id: match[0], resource: match[1] };
}

const videosBucket = () => onlyResource('AWS::S3::Bucket', 'VideosBucket');
const logsBucket = () => onlyResource('AWS::S3::Bucket', 'AccessLogsBucket');

function bucketPolicyStatements(bucketId: string) {
  const policies = Object.values(template.findResources('AWS::S3::BucketPolicy')).filter(
    (policy) => policy.Properties.Bucket.Ref === bucketId,
  );
  return policies.flatMap((policy) => policy.Properties.PolicyDocument.Statement);
}

describe.each([
  ['videos bucket', videosBucket],
  ['access logs bucket', logsBucket],
])('the %s', (_name, bucket) => {
  it('blocks every kind of public access', () => {
    expect(bucket().resource.Properties.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
  });

  it('refuses requests that are not over TLS 1.2+', () => {
    const denials = bucketPolicyStatements(bucket().id).filter((s) => s.Effect === 'Deny');

    expect(denials).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Action: 's3:*',
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        }),
        expect.objectContaining({
          Action: 's3:*',
          Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } },
        }),
      ]),
    );
  });

  it('encrypts objects at rest', () => {
    expect(bucket().resource.Properties.BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [
        { ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } },
      ],
    });
  });

  it('aborts incomplete multipart uploads after a day', () => {
    const rules = bucket().resource.Properties.LifecycleConfiguration.Rules;

    expect(rules).toContainEqual(
      expect.objectContaining({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }),
    );
  });

  it('survives the deletion of its stack', () => {
    expect(bucket().resource).toMatchObject({
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });
});

describe('the videos bucket', () => {
  it('expires what Bedrock left under its output prefix after a week', () => {
    const rules = videosBucket().resource.Properties.LifecycleConfiguration.Rules;

    expect(rules).toContainEqual(
      expect.objectContaining({
        Prefix: 'bedrock-output/',
        ExpirationInDays: 7,
        Status: 'Enabled',
      }),
    );
  });

  it('is versioned, with old versions expiring', () => {
    const { Properties } = videosBucket().resource;

    expect(Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    expect(Properties.LifecycleConfiguration.Rules).toContainEqual(
      expect.objectContaining({ NoncurrentVersionExpiration: { NoncurrentDays: 30 } }),
    );
  });

  it('sends server access logs to the separate log bucket', () => {
    expect(videosBucket().resource.Properties.LoggingConfiguration).toEqual({
      DestinationBucketName: { Ref: logsBucket().id },
      LogFilePrefix: 'videos-bucket/',
    });
  });

  it('has no fixed physical name', () => {
    expect(videosBucket().resource.Properties).not.toHaveProperty('BucketName');
  });
});

describe('the jobs table', () => {
  const table = () => onlyResource('AWS::DynamoDB::Table', 'JobsTable').resource;

  it('is keyed by pk and sk', () => {
    expect(table().Properties.KeySchema).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
  });

  it('is on demand, with point-in-time recovery, encryption and deletion protection', () => {
    expect(table().Properties).toMatchObject({
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
      DeletionProtectionEnabled: true,
    });
  });

  it('expires the limits bookkeeping (request counters, budget records) by its expiresAt TTL', () => {
    expect(table().Properties.TimeToLiveSpecification).toEqual({
      AttributeName: 'expiresAt',
      Enabled: true,
    });
  });

  it.each(JOB_INDEXES)(
    'has the $name index over $partitionKey/$sortKey, projecting everything',
    (index) => {
      expect(table().Properties.GlobalSecondaryIndexes).toContainEqual({
        IndexName: index.name,
        KeySchema: [
          { AttributeName: index.partitionKey, KeyType: 'HASH' },
          { AttributeName: index.sortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      });
    },
  );

  it('survives the deletion of its stack', () => {
    expect(table()).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });
});

describe('the secrets', () => {
  const secret = (idPrefix: string) =>
    onlyResource('AWS::SecretsManager::Secret', idPrefix).resource;

  it.each(['ProviderApiKeySecret', 'ApiTokensSecret'])(
    '%s is generated: no value in the template, retained on delete',
    (idPrefix) => {
      expect(secret(idPrefix).Properties).not.toHaveProperty('SecretString');
      expect(secret(idPrefix).Properties.GenerateSecretString).toBeDefined();
      expect(secret(idPrefix)).toMatchObject({ DeletionPolicy: 'Retain' });
    },
  );

  it('starts the API tokens secret in the shape the authorizer reads, with no token accepted', () => {
    const generate = secret('ApiTokensSecret').Properties.GenerateSecretString;

    expect(JSON.parse(generate.SecretStringTemplate)).toEqual({ tokens: [] });
    expect(generate.GenerateStringKey).not.toBe('tokens');
  });
});

describe('outputs and exports', () => {
  it.each(['VideosBucketName', 'JobsTableName', 'ProviderApiKeySecretName', 'ApiTokensSecretName'])(
    'outputs %s',
    (name) => {
      template.hasOutput(name, { Value: Match.anyValue() });
    },
  );

  it('explains how to set each secret after deploy', () => {
    template.hasOutput('ProviderApiKeySecretName', {
      Description: Match.stringLikeRegexp('aws secretsmanager put-secret-value'),
    });
    template.hasOutput('ApiTokensSecretName', {
      Description: Match.stringLikeRegexp('put-secret-value.*clients.*tokenSha256'),
    });
  });

  it('exports exactly what the pipeline stack imports, under stable names', () => {
    const exported = Object.values(template.findOutputs('*'))
      .map((output) => output.Export?.Name)
      .filter(Boolean)
      .sort();

    expect(exported).toEqual([
      'SoraPipelineStateful-ApiTokensSecretArn',
      'SoraPipelineStateful-JobsTableName',
      'SoraPipelineStateful-ProviderApiKeySecretArn',
      'SoraPipelineStateful-VideosBucketName',
      'SoraPipelineStateful-WebhookSigningSecretArn',
    ]);
  });
});
