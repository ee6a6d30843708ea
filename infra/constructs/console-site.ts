import {
  DefaultStackSynthesizer,
  DockerImage,
  Duration,
  RemovalPolicy,
  Stack,
  Validations,
} from 'aws-cdk-lib';
import {
  AllowedMethods,
  CachePolicy,
  Distribution,
  HeadersFrameOption,
  HeadersReferrerPolicy,
  HttpVersion,
  PriceClass,
  ResponseHeadersPolicy,
  ViewerProtocolPolicy,
} from 'aws-cdk-lib/aws-cloudfront';
import { S3BucketOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  type IBucket,
  ObjectOwnership,
} from 'aws-cdk-lib/aws-s3';
import { BucketDeployment, CacheControl, Source } from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import { buildConsole, CONSOLE_SOURCE_DIR } from '../console/build-console.ts';
import { contentSecurityPolicy, SECURITY_HEADERS } from '../console/console-headers.ts';
import { acknowledgeWildcards, wildcardResourceFinding } from './nag-acknowledgments.ts';

export interface ConsoleSiteProps {
  /** The videos bucket: presigned content links point at it (the CSP's img-src and media-src). */
  videosBucket: IBucket;
  /** Bundle the console with esbuild (deployments); false deploys a placeholder page (fast). */
  bundle: boolean;
}

/**
 * The web console: a private S3 bucket behind CloudFront (origin access control, HTTPS only)
 * with a strict Content-Security-Policy and security headers on every answer. The files and
 * `config.json` are deployed by `deploy()` once the API exists (the API's CORS needs `origin`
 * first).
 */
export class ConsoleSite extends Construct {
  readonly bucket: Bucket;
  readonly distribution: Distribution;
  readonly responseHeadersPolicy: ResponseHeadersPolicy;
  /** `https://<distribution domain>`: the origin the API's CORS allows. */
  readonly origin: string;
  readonly url: string;
  private readonly bundle: boolean;

  constructor(scope: Construct, id: string, props: ConsoleSiteProps) {
    super(scope, id);
    this.bundle = props.bundle;
    const { region, urlSuffix } = Stack.of(this);

    // Only CloudFront reads it (origin access control); the files are rebuilt from the
    // repository on every deploy, so the bucket goes with the stack.
    this.bucket = new Bucket(this, 'Bucket', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      encryption: BucketEncryption.S3_MANAGED,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    // The API's origin cannot be named here: the API allows this distribution's origin (CORS),
    // so naming the API in the distribution's policy would make a cycle. Scripts are our own
    // files only, so the region's execute-api domain is as far as an injected request could go.
    const bucketName = props.videosBucket.bucketName;
    const content = [
      `https://${bucketName}.s3.${region}.${urlSuffix}`,
      `https://${bucketName}.s3.${urlSuffix}`,
    ].join(' ');
    this.responseHeadersPolicy = new ResponseHeadersPolicy(this, 'SecurityHeaders', {
      comment: 'sora-pipeline console: strict CSP and security headers',
      securityHeadersBehavior: {
        contentSecurityPolicy: {
          contentSecurityPolicy: contentSecurityPolicy({
            api: `https://*.execute-api.${region}.${urlSuffix}`,
            content,
          }),
          override: true,
        },
        strictTransportSecurity: {
          accessControlMaxAge: Duration.days(730),
          includeSubdomains: true,
          override: true,
        },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: HeadersFrameOption.DENY, override: true },
        referrerPolicy: { referrerPolicy: HeadersReferrerPolicy.NO_REFERRER, override: true },
      },
      customHeadersBehavior: {
        customHeaders: [
          {
            header: 'Permissions-Policy',
            value: SECURITY_HEADERS['permissions-policy'],
            override: true,
          },
          {
            header: 'Cross-Origin-Opener-Policy',
            value: SECURITY_HEADERS['cross-origin-opener-policy'],
            override: true,
          },
        ],
      },
    });

    this.distribution = new Distribution(this, 'Distribution', {
      comment: 'sora-pipeline web console',
      defaultRootObject: 'index.html',
      httpVersion: HttpVersion.HTTP2_AND_3,
      priceClass: PriceClass.PRICE_CLASS_100,
      defaultBehavior: {
        origin: S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: ViewerProtocolPolicy.HTTPS_ONLY,
        allowedMethods: AllowedMethods.ALLOW_GET_HEAD,
        cachePolicy: CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: this.responseHeadersPolicy,
        compress: true,
      },
    });
    this.origin = `https://${this.distribution.distributionDomainName}`;
    this.url = `${this.origin}/`;

    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'Holds only the console files built from the repository, read by CloudFront alone; requests are visible in CloudFront.',
    });
    const distributionFindings: [string, string][] = [
      [
        'AwsSolutions-CFR1',
        'The console is for the API token holders wherever they are; the API itself authenticates every call.',
      ],
      [
        'AwsSolutions-CFR2',
        'Static files only, no server-side logic; every request that matters goes to the authenticated, throttled API.',
      ],
      [
        'AwsSolutions-CFR3',
        'Static files of the repository only; the API keeps its own access logs.',
      ],
      [
        'AwsSolutions-CFR4',
        'The default *.cloudfront.net certificate: CloudFront negotiates TLSv1.2+ with current browsers; attach a custom domain and certificate to pin the minimum version.',
      ],
    ];
    for (const [finding, reason] of distributionFindings) {
      Validations.of(this.distribution).acknowledge({ id: finding, reason });
    }
  }

  /**
   * Deploys the console files and `config.json` (the API's URL and catalogue: no secret) into
   * the bucket.
   */
  deploy(config: Record<string, unknown>): BucketDeployment {
    const files = this.bundle
      ? Source.asset(CONSOLE_SOURCE_DIR, {
          exclude: ['tsconfig.json'],
          bundling: {
            // esbuild runs in this process: no container is ever started.
            image: DockerImage.fromRegistry('scratch'),
            local: {
              tryBundle(outputDir) {
                buildConsole(outputDir);
                return true;
              },
            },
          },
        })
      : Source.data(
          'index.html',
          '<!doctype html><title>console placeholder (bundle=false)</title>',
        );
    const deployment = new BucketDeployment(this, 'Deployment', {
      destinationBucket: this.bucket,
      sources: [files, Source.jsonData('config.json', config)],
      // A minute in CloudFront's cache, so a deploy shows within a minute without invalidations
      // (which CDK can only grant on every distribution of the account).
      cacheControl: [CacheControl.setPublic(), CacheControl.maxAge(Duration.minutes(1))],
      prune: true,
      retainOnDelete: false,
      memoryLimit: 256,
    });
    // CDK's own deployment function (one per stack, shared by every BucketDeployment): its
    // grants are CDK's, acknowledged by their exact findings on the policy that holds them.
    const handler = deployment.handlerRole.node.scope;
    const policy = deployment.handlerRole.node.tryFindChild('DefaultPolicy');
    if (handler && policy) {
      const stack = Stack.of(this);
      const assetsBucketArn = `arn:${stack.partition}:s3:::cdk-${DefaultStackSynthesizer.DEFAULT_QUALIFIER}-assets-${stack.account}-${stack.region}`;
      acknowledgeWildcards(
        policy,
        [
          ...['Abort*', 'DeleteObject*', 'GetBucket*', 'GetObject*', 'List*'].map(
            (action) => `Action::s3:${action}`,
          ),
          wildcardResourceFinding(policy, assetsBucketArn, '/*'),
          wildcardResourceFinding(policy, this.bucket.bucketArn, '/*'),
        ],
        "CDK's BucketDeployment: reads the CDK asset objects, writes and prunes the console bucket's objects.",
      );
      Validations.of(handler).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason: "CDK's BucketDeployment function writes its logs with the basic execution role.",
      });
      Validations.of(handler).acknowledge({
        id: 'AwsSolutions-L1',
        reason:
          "CDK's BucketDeployment function runs the Python runtime CDK pins; it runs only during deployments.",
      });
    }
    return deployment;
  }
}
