import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { synthesizeForTest } from './synthesized-pipeline.ts';

let template: Template;

beforeAll(() => {
  template = synthesizeForTest().pipelineTemplate;
});

function onlyResource(type: string) {
  const [entry, ...others] = Object.entries(template.findResources(type));
  if (!entry || others.length > 0) throw new Error(`expected one ${type}`);
  return { id: entry[0], properties: entry[1].Properties };
}

const distribution = () => onlyResource('AWS::CloudFront::Distribution');
const consoleBucket = () => {
  const origin = distribution().properties.DistributionConfig.Origins[0];
  const bucketId = origin.DomainName['Fn::GetAtt'][0] as string;
  return { id: bucketId, properties: template.toJSON().Resources[bucketId].Properties };
};

describe('console bucket', () => {
  it('is private, encrypted and refuses plain HTTP', () => {
    const bucket = consoleBucket();

    expect(bucket.properties).toMatchObject({
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          { ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } },
        ],
      },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucket.id },
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

  it('lets only this distribution read it, through origin access control', () => {
    const bucket = consoleBucket();
    const oac = onlyResource('AWS::CloudFront::OriginAccessControl');

    expect(oac.properties.OriginAccessControlConfig).toMatchObject({
      OriginAccessControlOriginType: 's3',
      SigningBehavior: 'always',
      SigningProtocol: 'sigv4',
    });
    expect(distribution().properties.DistributionConfig.Origins[0]).toMatchObject({
      OriginAccessControlId: { 'Fn::GetAtt': [oac.id, 'Id'] },
      S3OriginConfig: { OriginAccessIdentity: '' },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucket.id },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'cloudfront.amazonaws.com' },
            Action: 's3:GetObject',
            Condition: {
              StringEquals: {
                'AWS:SourceArn': Match.objectLike({ 'Fn::Join': Match.anyValue() }),
              },
            },
          }),
        ]),
      },
    });
  });
});

describe('distribution', () => {
  it('serves HTTPS only, GET and HEAD, index.html at the root', () => {
    expect(distribution().properties.DistributionConfig).toMatchObject({
      DefaultRootObject: 'index.html',
      DefaultCacheBehavior: {
        ViewerProtocolPolicy: 'https-only',
        AllowedMethods: ['GET', 'HEAD'],
      },
    });
  });

  it('adds a strict CSP and the security headers to every answer', () => {
    const policy = onlyResource('AWS::CloudFront::ResponseHeadersPolicy');
    const headers = policy.properties.ResponseHeadersPolicyConfig.SecurityHeadersConfig;

    expect(distribution().properties.DistributionConfig.DefaultCacheBehavior).toMatchObject({
      ResponseHeadersPolicyId: { Ref: policy.id },
    });
    expect(headers).toMatchObject({
      StrictTransportSecurity: { IncludeSubdomains: true, Override: true },
      ContentTypeOptions: { Override: true },
      FrameOptions: { FrameOption: 'DENY', Override: true },
      ReferrerPolicy: { ReferrerPolicy: 'no-referrer', Override: true },
    });
    expect(headers.StrictTransportSecurity.AccessControlMaxAgeSec).toBeGreaterThanOrEqual(
      31_536_000,
    );
    const csp = JSON.stringify(headers.ContentSecurityPolicy.ContentSecurityPolicy);
    for (const directive of [
      "default-src 'none'",
      "script-src 'self'",
      "style-src 'self'",
      "frame-ancestors 'none'",
      "object-src 'none'",
      "base-uri 'none'",
    ]) {
      expect(csp).toContain(directive);
    }
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
  });
});

describe('API CORS and the deployment', () => {
  it('allows only the console origin to call the API from a browser', () => {
    const api = onlyResource('AWS::ApiGatewayV2::Api');

    expect(api.properties.CorsConfiguration).toMatchObject({
      AllowOrigins: [
        { 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [distribution().id, 'DomainName'] }]] },
      ],
      AllowMethods: ['GET', 'POST'],
      AllowHeaders: expect.arrayContaining(['authorization', 'content-type', 'idempotency-key']),
    });
    expect(api.properties.CorsConfiguration.AllowCredentials).toBeUndefined();
  });

  it('deploys the console and a config.json naming the API into the bucket, cached for a minute', () => {
    const deployment = onlyResource('Custom::CDKBucketDeployment');

    expect(deployment.properties).toMatchObject({
      DestinationBucketName: { Ref: consoleBucket().id },
      Prune: true,
      SystemMetadata: { 'cache-control': 'public, max-age=60' },
    });
    // config.json's apiUrl is filled in at deploy time from the API's id.
    const markers = JSON.stringify(deployment.properties.SourceMarkers);
    expect(markers).toContain(onlyResource('AWS::ApiGatewayV2::Api').id);
  });

  it('outputs the console URL', () => {
    template.hasOutput('ConsoleUrl', {
      Value: {
        'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [distribution().id, 'DomainName'] }, '/']],
      },
    });
  });
});
